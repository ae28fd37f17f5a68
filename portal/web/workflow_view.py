"""A record's workflow as pages and the API show it: state, the caller's actions, timeline."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from portal.engines import workflow
from portal.runtime import acting_principal
from portal.web.i18n import current_locale, humanize


def workflow_summary(session: Session, item: Any) -> dict[str, Any]:
    """``{state, state_label, actions, timeline}`` for ``item`` as the current user sees it;
    ``actions`` are those the user may take now (each with ``on_behalf_of`` when taken as a
    substitute). Empty values for an entity without a workflow."""
    spec = workflow.workflow_of(item)
    if spec is None:
        return {"state": None, "state_label": None, "actions": [], "timeline": []}
    locale = current_locale()
    state = workflow.state_of(spec, item)
    state_spec = spec.states.get(state)
    actions = [{
        "name": a.transition.name,
        "label": a.transition.label.get(locale, humanize(a.transition.name)),
        "comment_required": a.transition.comment_required,
        "on_behalf_of": a.acting.on_behalf_of.username if a.acting.on_behalf_of else None,
        "countersign": bool(a.transition.by and a.transition.by.is_countersign),
    } for a in workflow.available_actions(session, item, acting_principal())]
    steps = workflow.timeline(session, type(item).__entity__.name, item.id)
    for step in steps:
        if isinstance(step["at"], dt.datetime):
            step["at"] = step["at"].isoformat()
        for key in ("from", "to"):
            s = spec.states.get(step[key])
            step[f"{key}_label"] = s.label.get(locale, humanize(s.name)) if s else step[key]
    return {
        "state": state,
        "state_label": state_spec.label.get(locale, humanize(state)) if state_spec else state,
        "locked": bool(state_spec and state_spec.locked),
        "actions": actions,
        "timeline": steps,
    }
