"""A record's workflow as pages and the API show it: state, the caller's actions, timeline."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import flash, request
from sqlalchemy.orm import Session

from portal.engines import workflow
from portal.engines.access import AccessDenied
from portal.runtime import acting_principal, runtime
from portal.web.csrf import require_csrf
from portal.web.i18n import current_locale, humanize
from portal.web.ui_text import ui_text


def workflow_summary(session: Session, item: Any) -> dict[str, Any]:
    """``{state, state_label, actions, timeline}`` for ``item`` as the current user sees it;
    ``actions`` are those the user may take now (each with ``on_behalf_of`` when taken as a
    substitute). Empty values for an entity without a workflow."""
    spec = workflow.workflow_of(item)
    if spec is None:
        return {"state": None, "state_label": None, "actions": [], "timeline": []}
    state = workflow.state_of(spec, item)
    state_spec = spec.states.get(state)
    actions = action_labels(workflow.available_actions(session, item, acting_principal()))
    steps = workflow.timeline(session, type(item).__entity__.name, item.id)
    for step in steps:
        if isinstance(step["at"], dt.datetime):
            step["at"] = step["at"].isoformat()
        for key in ("from", "to"):
            step[f"{key}_label"] = state_label(spec, step[key])
        step["label"] = transition_label(spec, step["transition"])
    return {
        "state": state,
        "state_label": state_label(spec, state),
        "locked": bool(state_spec and state_spec.locked),
        "actions": actions,
        "timeline": steps,
    }


def action_labels(actions: list[workflow.Action]) -> list[dict[str, Any]]:
    """The caller's actions as pages and the API show them."""
    locale = current_locale()
    return [{
        "name": a.transition.name,
        "label": a.transition.label.get(locale, humanize(a.transition.name)),
        "comment_required": a.transition.comment_required,
        "on_behalf_of": a.acting.on_behalf_of.username if a.acting.on_behalf_of else None,
        "countersign": bool(a.transition.by and a.transition.by.is_countersign),
    } for a in actions]


def transition_label(spec: workflow.WorkflowSpec, name: str) -> str:
    """The label of transition ``name`` in the reader's language."""
    found = spec.transitions.get(name)
    return found.label.get(current_locale(), humanize(name)) if found else humanize(name)


def state_label(spec: workflow.WorkflowSpec, state: str) -> str:
    """The label of ``state`` in the reader's language."""
    found = spec.states.get(state)
    return found.label.get(current_locale(), humanize(state)) if found else state


def act_from_form(session: Session, item: Any, name: str) -> bool:
    """Take action ``name`` on ``item`` from a posted form (CSRF-checked, with its
    ``comment``), commit, and flash what happened; False when refused (nothing written)."""
    require_csrf()
    rt = runtime()
    try:
        outcome = workflow.perform(session, rt.registry, rt.models.classes, item, name,
                                   acting_principal(), request.form.get("comment"),
                                   locale=current_locale())
        session.commit()
    except (AccessDenied, workflow.TransitionConflict) as exc:
        session.rollback()
        flash(str(exc), "danger")
        return False
    except workflow.TransitionRefused as exc:
        session.rollback()
        for reasons in exc.errors.values():
            for reason in reasons:
                flash(reason, "danger")
        return False
    flash(ui_text("Done: %(steps)s", steps="; ".join(outcome.steps)) if outcome.moved
          else ui_text("Approved; waiting for %(n)s more approval(s).", n=outcome.waiting),
          "success")
    return True
