"""A record's history as the show page displays it: labels and readable values."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.engines import audit
from portal.engines.merge import MERGE_KEY
from portal.spec.model import EntitySpec, Registry
from portal.system_models import PortalUser
from portal.web.i18n import current_locale, enum_label, humanize
from portal.web.workflow_view import state_label, transition_label


def history_rows(session: Session, registry: Registry, models: dict[str, type] | Any,
                 entity: EntitySpec, record_id: int,
                 hidden_of: Callable[[EntitySpec], frozenset[str]]) -> list[dict[str, Any]]:
    """The audit entries of a record and of its inline child rows, newest first.

    Each entry: ``at``, ``username``, ``action``, ``subject`` (None for the record itself,
    e.g. "Products #12" for a child row) and ``changes`` as (label, before, after) texts.
    Fields hidden from the reader are left out.
    """
    locale = current_locale()
    out = []
    for row in audit.history(session.connection(), entity.name, record_id):
        subject_entity = registry.entities.get(row["entity"])
        if subject_entity is None:
            continue  # an entity removed from the YAML since
        subject = None if row["entity"] == entity.name else _row_subject(entity, row, locale)
        hidden = hidden_of(subject_entity)
        changes = [
            (_field_title(subject_entity, name, locale),
             _show_value(session, registry, models, subject_entity, name, before),
             _show_value(session, registry, models, subject_entity, name, after))
            for name, (before, after) in sorted(
                (k, v) for k, v in row["changes"].items() if k in subject_entity.fields)
            if name not in hidden
        ]
        out.append({"at": row["at"], "username": row["username"], "action": row["action"],
                    "subject": subject, "changes": changes,
                    "workflow": _workflow_step(registry, subject_entity, row),
                    # A merge entry: the ids merged into this record.
                    "merged": (row["changes"].get(MERGE_KEY) or {}).get("merged")})
    return out


def _workflow_step(registry: Registry, entity: EntitySpec, row: dict[str, Any]
                   ) -> Optional[dict[str, Any]]:
    """The transition of a workflow entry, labelled: ``label``, ``comment``,
    ``on_behalf_of``; None for an ordinary change."""
    step = row["changes"].get(audit.WORKFLOW_KEY)
    if not isinstance(step, dict):
        return None
    spec = registry.workflow_of(entity.name)
    name = step.get("transition") or ""
    return {"label": transition_label(spec, name) if spec else humanize(name),
            "comment": step.get("comment"), "on_behalf_of": step.get("on_behalf_of")}


def _row_subject(parent: EntitySpec, row: dict[str, Any], locale: str) -> str:
    for f in parent.fields.values():
        if f.type == "children" and f.target == row["entity"]:
            return f"{f.label.get(locale, humanize(f.name))} #{row['record_id']}"
    return f"{row['entity']} #{row['record_id']}"


def _field_title(entity: EntitySpec, name: str, locale: str) -> str:
    return entity.fields[name].label.get(locale, humanize(name))


def _show_value(session: Session, registry: Registry, models: Any, entity: EntitySpec,
                name: str, value: Any) -> Optional[str]:
    if value is None:
        return ""
    f = entity.fields[name]
    flow = registry.workflow_of(entity.name)
    if flow is not None and name == flow.state_field:
        return state_label(flow, value)
    if f.type == "enum":
        return enum_label(f, value)
    if f.type in {"link", "user", "many"}:
        model = PortalUser if f.type == "user" else models[f.target]
        ids = value if isinstance(value, list) else [value]
        # Through the ORM: a linked record the reader may not see shows as its id only.
        found = {o.id: str(o) for o in session.scalars(select(model).where(model.id.in_(ids)))}
        return ", ".join(found.get(i, f"#{i}") for i in ids)
    if f.type == "file":
        return f"#{value}"
    if f.type == "bool":
        return "✓" if value else "✗"
    return str(value)
