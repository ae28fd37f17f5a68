"""Link fields filled from text fields (``link_by_text:``, :mod:`portal.spec.text_links`).

A record saved with the link empty and the text filled is linked to the target record whose
match field equals the text (trimmed, ignoring case; the oldest when several do), or to a new
one made from the text when the rule says ``create: true``; otherwise the save is refused. A
record saved with the link set and the text empty gets the text from the linked record.

Creating is safe with several workers: on PostgreSQL the creator takes a transaction-scoped
advisory lock on the (target, text) pair and looks again before inserting, so a second save
naming the same new text waits for the first to commit and then links its record. (SQLite
has one writer at a time.) Records made here go through the ordinary session hooks (creator,
numbers, defaults, audit) in the same transaction as the record that named them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional

from sqlalchemy import func, inspect, select, text
from sqlalchemy.orm import Session

from portal.engines.access import Principal
from portal.engines.scoping import UNSCOPED
from portal.engines.validation import is_empty
from portal.spec.model import DynamicDefault, EntitySpec, Registry
from portal.spec.text_links import KEY, TextLinkSpec, TextLinksSpec


class LinkRefused(Exception):
    """Texts that name no record where the rule may not create one: ``errors`` maps the
    field (the text field, or the children field of a child row) to reasons."""

    def __init__(self, errors: Mapping[str, list[str]]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {', '.join(v)}" for k, v in self.errors.items()))


def refusal(rule: TextLinkSpec, typed: str) -> str:
    """Why ``typed`` cannot fill ``rule``'s link."""
    return (f"no {rule.target} has {rule.match} '{typed.strip()}', so '{rule.link}' cannot be "
            f"linked; pick an existing {rule.target} or correct the text")


def lock_key(rule: TextLinkSpec, typed: str) -> str:
    """The advisory lock key of creating a ``rule.target`` from ``typed``."""
    return f"portal.link_by_text:{rule.target}.{rule.match}:{typed.strip().lower()}"


class TextLinker:
    """Fills the text links of the records of one save (or one flush).

    The records it creates are remembered, so rows naming the same new text in one save
    share one record.
    """

    def __init__(self, session: Session, registry: Registry, models: Mapping[str, type],
                 principal: Principal) -> None:
        self.session, self.registry, self.models = session, registry, models
        self.principal = principal
        self.made: dict[tuple[str, str, str], Any] = {}

    def spec_of(self, entity: str) -> Optional[TextLinksSpec]:
        """The text links of ``entity`` (None without any)."""
        return self.registry.feature(KEY, entity)

    def fill(self, item: Any) -> None:
        """Fill ``item``'s links from its texts and its empty texts from its links; raises
        :class:`LinkRefused` for texts naming nothing that may not be created."""
        entity: EntitySpec = type(item).__entity__
        spec = self.spec_of(entity.name)
        if spec is None:
            return
        errors: dict[str, list[str]] = {}
        with self.session.no_autoflush:
            for rule in spec.links.values():
                reason = self._fill_one(entity, item, rule)
                if reason:
                    errors.setdefault(rule.text, []).append(reason)
        if errors:
            raise LinkRefused(errors)

    def fill_with_children(self, item: Any) -> None:
        """:meth:`fill` for ``item`` and the rows of its children fields (a child row's
        refusal is reported at the children field, with its row number)."""
        entity: EntitySpec = type(item).__entity__
        errors: dict[str, list[str]] = {}
        try:
            self.fill(item)
        except LinkRefused as exc:
            errors.update(exc.errors)
        for f in entity.fields.values():
            if f.type != "children" or self.spec_of(f.target or "") is None:
                continue
            for number, row in enumerate(getattr(item, f.name) or (), start=1):
                try:
                    self.fill(row)
                except LinkRefused as exc:
                    errors.setdefault(f.name, []).extend(
                        f"row {number}: {m}" for messages in exc.errors.values()
                        for m in messages)
        if errors:
            raise LinkRefused(errors)

    def _fill_one(self, entity: EntitySpec, item: Any, rule: TextLinkSpec) -> Optional[str]:
        linked = self._linked(item, rule)
        typed = getattr(item, rule.text, None)
        if linked is not None:
            if is_empty(typed):
                setattr(item, rule.text, _fit(getattr(linked, rule.match, None),
                                              entity.fields[rule.text].max_length))
            return None
        if is_empty(typed):
            return None
        target = self.target(rule, str(typed))
        if target is None:
            return refusal(rule, str(typed))
        setattr(item, rule.link, target)
        if target.id is not None:
            setattr(item, f"{rule.link}_id", target.id)
        return None

    def _linked(self, item: Any, rule: TextLinkSpec) -> Any:
        """The record ``item`` links to as it will be saved: the relationship when it was set
        in this change (a form sets it, even to nothing), else the stored key's record."""
        attr = inspect(item).attrs[rule.link]
        if attr.history.has_changes():
            return attr.value
        key = getattr(item, f"{rule.link}_id", None)
        if key is None:
            return None
        return self.session.get(self.models[rule.target], key,
                                execution_options={UNSCOPED: True})

    def target(self, rule: TextLinkSpec, typed: str) -> Any:
        """The record ``typed`` names for ``rule`` (found, or made when the rule creates),
        None when there is none and the rule does not create."""
        made_key = (rule.target, rule.match, typed.strip().lower())
        if made_key in self.made:
            return self.made[made_key]
        found = self.find(rule, typed)
        if found is None and rule.create:
            self._lock(rule, typed)
            found = self.find(rule, typed)  # another save may have made it meanwhile
            if found is None:
                found = self._make(rule, typed)
        if found is not None:
            self.made[made_key] = found
        return found

    def find(self, rule: TextLinkSpec, typed: str) -> Any:
        """The record of ``rule.target`` whose match field equals ``typed`` (trimmed, any
        case; the oldest of several), including records made but not yet written."""
        model = self.models[rule.target]
        wanted = typed.strip().lower()
        for obj in self.session.new:
            if type(obj) is model and \
                    str(getattr(obj, rule.match, None) or "").strip().lower() == wanted:
                return obj
        column = getattr(model, rule.match)
        query = select(model).where(func.lower(func.trim(column)) == func.lower(typed.strip())) \
            .order_by(model.id).limit(1).execution_options(**{UNSCOPED: True})
        with self.session.no_autoflush:
            return self.session.scalars(query).first()

    def _lock(self, rule: TextLinkSpec, typed: str) -> None:
        conn = self.session.connection()
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                         {"key": lock_key(rule, typed)})

    def _make(self, rule: TextLinkSpec, typed: str) -> Any:
        """A new ``rule.target`` record named ``typed``, created by the acting user (and
        owned by them where a user field defaults to ``current_user``)."""
        entity = self.registry.entity(rule.target)
        record = self.models[rule.target]()
        setattr(record, rule.match, typed.strip())
        user = self.principal.user_id
        if user is not None:
            record.created_by_id = user
            for f in entity.fields.values():
                if f.type == "user" and isinstance(f.default, DynamicDefault):
                    setattr(record, f"{f.name}_id", user)
        self.session.add(record)
        return record


def _fit(value: Any, limit: Optional[int]) -> Any:
    """``value`` cut to ``limit`` characters (the text field may be shorter than the name)."""
    if isinstance(value, str) and limit is not None:
        return value[:limit]
    return value
