"""A schema written only for the record-filling tests (no Python names its entities).

``rival`` is a library of competitors (numbered, owned by their creator, names unique);
``visit`` is a follow-up whose inline ``rivals`` rows (``visit_rival``: name, price,
strengths) create or link a rival by name (``link_by_text`` with ``create: true``); losing a
visit (a workflow) creates a row naming whom it was lost to. ``client`` has an A/B/C grade;
a ``case`` (a ticket) names its client by text (``create: false``: only existing clients) and
gets its priority from the client's grade and its team from its parts (``defaults``).
"""

from __future__ import annotations

from pathlib import Path

from conftest import write_tree

ROLES = """
roles:
  rep:  {label: {en: Sales rep}}
  boss: {label: {en: Director}}
"""

CLIENT = """
entity: client
module: sales
title: name
fields:
  name:  {type: string, max: 120, required: true, unique: true}
  grade: {type: enum, values: [A, B, C], default: C}
access:
  rep:  {read: all, create: true, update: all}
  boss: {read: all, create: true, update: all}
"""

RIVAL = """
entity: rival
module: sales
title: name
fields:
  code:  {type: number, format: "RIV-{####}"}
  name:  {type: string, max: 120, required: true, unique: true}
  owner: {type: user, default: current_user}
  tier:  {type: enum, values: [unknown, niche, major], default: unknown}
access:
  rep:  {read: all, create: true}
  boss: {read: all, create: true, update: all, delete: all}
"""

VISIT = """
entity: visit
module: sales
title: subject
fields:
  subject: {type: string, max: 80, required: true}
  client:  {type: link, entity: client}
  lost_to: {type: string, max: 60}
  status:  {type: enum, values: [open, lost], default: open}
  owner:   {type: user, default: current_user}
  rivals:  {type: children, entity: visit_rival}
access:
  rep:  {read: own, create: true, update: own}
  boss: {read: all, create: true, update: all}
---
entity: visit_rival
module: sales
fields:
  visit:     {type: link, entity: visit, required: true}
  name:      {type: string, max: 80}
  rival:     {type: link, entity: rival}
  price:     {type: money}
  strengths: {type: string, max: 200}
link_by_text:
  rival: {text: name, match: name, create: true}
checks:
  priced:
    rule: "price == null or price > 0"
    field: price
    message: {en: A price must be above zero}
access:
  rep:  {read: all, create: true, update: all, delete: all}
  boss: {read: all, create: true, update: all, delete: all}
"""

CASE = """
entity: case
module: service
title: title
fields:
  title:       {type: string, max: 80, required: true}
  client_name: {type: string, max: 120}
  client:      {type: link, entity: client}
  priority:    {type: enum, values: [low, normal, high], default: normal}
  team:        {type: enum, values: [desk, field]}
  due:         {type: date}
  parts:       {type: children, entity: case_part}
link_by_text:
  client: {text: client_name, match: name}
defaults:
  - field: priority
    value: high
    when: "client.grade == 'A'"
  - field: priority
    value: low
    when: "client.grade == 'C'"
  - field: team
    value: field
    when: "count(parts) > 0"
  - field: due
    value: "2030-01-31"
    when: "client.grade == 'A'"
access:
  rep:  {read: all, create: true, update: all}
  boss: {read: all, create: true, update: all}
---
entity: case_part
module: service
fields:
  case: {type: link, entity: case, required: true}
  part: {type: string, max: 60}
access:
  rep:  {read: all, create: true, update: all, delete: all}
  boss: {read: all, create: true, update: all, delete: all}
"""

VISIT_FLOW = """
workflow: visit_flow
entity: visit
state_field: status
states:
  open: {}
  lost:
    effects:
      - create: {entity: visit_rival, values: {visit: $id, name: $lost_to}}
transitions:
  lose: {from: open, to: lost, by: owner}
"""

FILES = {
    "roles.yaml": ROLES,
    "entities/sales/client.yaml": CLIENT,
    "entities/sales/rival.yaml": RIVAL,
    "entities/sales/visit.yaml": VISIT,
    "entities/service/case.yaml": CASE,
    "workflows/visit_flow.yaml": VISIT_FLOW,
}


def write_filling_schema(folder: Path, **replace: str) -> Path:
    """Write the schema under ``folder`` (``replace``: file -> other text) and return it."""
    return write_tree(folder, {**FILES, **replace})
