"""A schema written only for the tests: no Python anywhere names these entities.

``write_lowcode_schema(folder)`` writes it into a temporary folder; the tests then prove
that screens, API, scopes, hidden fields and history work for it end to end.
"""

from __future__ import annotations

from pathlib import Path

ROLES = """
roles:
  clerk:   {label: {en: Clerk, zh_CN: 文员}}
  boss:    {label: {en: Boss, zh_CN: 老板}}
  auditor: {label: {en: Auditor, zh_CN: 审计}}
  teamlead: {label: {en: Team lead}}
"""

GADGET = """
entity: gadget
module: workshop
label: {en: Gadget, zh_CN: 小工具, zh_TW: 小工具}
title: name
fields:
  ref:      {type: number, format: "GD-{YYYY}-{####}"}
  name:     {type: string, max: 60, required: true, unique: true, label: {zh_CN: 名称}}
  colour:   {type: enum, values: [red, green, blue], label: {zh_CN: 颜色}}
  size:     {type: enum, values: {s: {en: Small, zh_CN: 小}, l: {en: Large, zh_CN: 大}}, default: s}
  price:    {type: money, min: 0, label: {zh_CN: 价格}}
  cost:     {type: money, label: {zh_CN: 成本}}
  weight:   {type: decimal, scale: 3, digits: 10}
  stock:    {type: int, min: 0, max: 100000}
  released: {type: date}
  active:   {type: bool, default: true}
  contact:  {type: email}
  hotline:  {type: phone}
  homepage: {type: url}
  notes:    {type: text}
  owner:    {type: user, default: current_user}
  maker:    {type: link, entity: maker}
  tags:     {type: many, entity: tag}
  parts:    {type: children, entity: gadget_part}
  manual:   {type: file}
list:
  columns: [ref, name, colour, price, owner]
  search: [name]
  filters: [colour, owner]
  order: -id
access:
  clerk:    {read: own, create: true, update: own, delete: own}
  teamlead: {read: department, create: true, update: department}
  boss:     {read: all, create: true, update: all, delete: all}
  auditor:  {read: all, hide: [cost, manual]}
"""

GADGET_PART = """
entity: gadget_part
module: workshop
title: label
fields:
  gadget:   {type: link, entity: gadget, required: true}
  label:    {type: string, max: 40, required: true}
  qty:      {type: int, min: 1, required: true}
access:
  clerk:    {read: own, create: true, update: own, delete: own}
  teamlead: {read: department, create: true, update: department}
  boss:     {read: all, create: true, update: all, delete: all}
  auditor:  {read: all}
"""

MAKER = """
entity: maker
module: workshop
title: name
fields:
  name:  {type: string, required: true, unique: true}
  owner: {type: user, default: current_user}
access:
  clerk:    {read: own, create: true, update: own}
  teamlead: {read: department, create: true}
  boss:     {read: all, create: true, update: all, delete: all}
  auditor:  {read: all}
"""

TAG = """
entity: tag
module: workshop
title: word
fields:
  word: {type: string, max: 30, required: true, unique: true}
access:
  clerk:    {read: all, create: true}
  teamlead: {read: all}
  boss:     {read: all, create: true, update: all, delete: all}
  auditor:  {read: all}
"""


def write_lowcode_schema(folder: Path) -> Path:
    """Write the test-only schema under ``folder`` and return it."""
    entities = folder / "entities" / "workshop"
    entities.mkdir(parents=True, exist_ok=True)
    (folder / "roles.yaml").write_text(ROLES, encoding="utf-8")
    for name, text in {"gadget": GADGET, "gadget_part": GADGET_PART, "maker": MAKER,
                       "tag": TAG}.items():
        (entities / f"{name}.yaml").write_text(text, encoding="utf-8")
    return folder
