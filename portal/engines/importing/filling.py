"""Text links (``link_by_text:``) and conditional defaults (``defaults:``) of imported rows.

An import writes with Core INSERTs, past the session hooks that fill these for single records
(:mod:`portal.engines.filling`), so it fills them itself, the same way: while rows are checked,
a text is matched against the target records (read once per target, trimmed, ignoring case)
and a new record's conditional defaults are worked out; a text naming no record is a problem
of its row unless the rule creates one. The records to create are made when the import is
written, through the ORM (creator, numbers, defaults, audit), in the import's transaction, once
per distinct text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.engines.access import Principal
from portal.engines.record_defaults import (
    chosen_values,
    defaults_of,
    is_plain,
    transient_record,
)
from portal.engines.scoping import UNSCOPED
from portal.engines.text_links import TextLinker, refusal
from portal.engines.validation import is_empty
from portal.spec.model import EntitySpec, Registry
from portal.spec.text_links import TextLinkSpec


@dataclass(frozen=True)
class NewTarget:
    """A record a row names by text, to be created when the import is written."""

    rule: TextLinkSpec
    text: str


@dataclass(frozen=True)
class RowProblem:
    """A text of a row naming no record (its field, the text, why)."""

    field: str
    text: str
    message: str


class RowFilling:
    """Fills the rows of one import."""

    def __init__(self, session: Session, registry: Registry, models: Mapping[str, type],
                 principal: Principal) -> None:
        self.session, self.registry, self.models = session, registry, models
        self.principal = principal
        self.linker = TextLinker(session, registry, models, principal)
        self._ids: dict[tuple[str, str], dict[str, int]] = {}
        self._names: dict[tuple[str, str], dict[int, str]] = {}
        #: The records the file names that do not exist yet: (target, text) -> None.
        self.to_create: dict[tuple[str, str], None] = {}

    def fill(self, entity: EntitySpec, values: dict[str, Any], new: bool) -> list[RowProblem]:
        """Fill ``values`` (a row of ``entity``, links as ids); the texts naming nothing."""
        problems: list[RowProblem] = []
        spec = self.linker.spec_of(entity.name)
        for rule in spec.links.values() if spec is not None else ():
            problem = self._link(entity, rule, values)
            if problem is not None:
                problems.append(problem)
        if new:
            self._defaults(entity, values)
        return problems

    def _link(self, entity: EntitySpec, rule: TextLinkSpec, values: dict[str, Any]
              ) -> Optional[RowProblem]:
        linked, typed = values.get(rule.link), values.get(rule.text)
        if linked is not None:
            if is_empty(typed) and not isinstance(linked, NewTarget):
                name = self._stored(rule)[1].get(linked)
                limit = entity.fields[rule.text].max_length
                values[rule.text] = name[:limit] if name and limit else name
            return None
        if is_empty(typed):
            return None
        found = self._stored(rule)[0].get(str(typed).strip().lower())
        if found is not None:
            values[rule.link] = found
        elif rule.create:
            values[rule.link] = NewTarget(rule, str(typed).strip())
            self.to_create[(rule.target, str(typed).strip().lower())] = None
        else:
            return RowProblem(rule.text, str(typed), refusal(rule, str(typed)))
        return None

    def _stored(self, rule: TextLinkSpec) -> tuple[dict[str, int], dict[int, str]]:
        """The target's records by their match text (the oldest of equal ones), and back."""
        key = (rule.target, rule.match)
        if key not in self._ids:
            model = self.models[rule.target]
            query = select(model.id, getattr(model, rule.match)).order_by(model.id) \
                .execution_options(**{UNSCOPED: True})
            ids: dict[str, int] = {}
            names: dict[int, str] = {}
            for record_id, name in self.session.execute(query):
                if name is not None:
                    ids.setdefault(str(name).strip().lower(), record_id)
                    names[record_id] = name
            self._ids[key], self._names[key] = ids, names
        return self._ids[key], self._names[key]

    def _defaults(self, entity: EntitySpec, values: dict[str, Any]) -> None:
        spec = defaults_of(self.registry, entity.name)
        if spec is None:
            return
        plain = {name for name in spec.fields
                 if is_plain(entity.fields[name], values.get(name), self.principal)}
        if not plain:
            return
        item = transient_record(self.models[entity.name], entity, {
            k: v for k, v in values.items() if not isinstance(v, NewTarget)})
        for name, value in chosen_values(self.session, spec, item, self.principal).items():
            if name in plain:
                values[name] = value

    def settle(self, rows: Iterable[dict[str, Any]]) -> int:
        """Create the records ``rows`` name by text (once per text) and put their ids in the
        rows; how many records were created."""
        waiting = [(values, name, value) for values in rows for name, value in values.items()
                   if isinstance(value, NewTarget)]
        if not waiting:
            return 0
        before = len(self.session.new)
        records = {id(value): self.linker.target(value.rule, value.text)
                   for _, _, value in waiting}
        created = len(self.session.new) - before
        self.session.flush()
        for values, name, value in waiting:
            values[name] = records[id(value)].id
        return created
