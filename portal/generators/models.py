"""Compiled entity definitions -> SQLAlchemy model classes (pure: touches no app)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Optional

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, object_session, relationship

from portal.dbtypes import ExactDecimal
from portal.spec.computed import computed_of
from portal.spec.model import (
    DEFAULT_TEXT_LENGTHS,
    DynamicDefault,
    EntitySpec,
    FieldSpec,
    Registry,
)
from portal.system_models import Attachment, PortalUser, utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s",
    "pk": "pk_%(table_name)s",
}


@dataclass(frozen=True)
class EntityModels:
    """The generated classes of one compile: ``classes`` maps entity name to model class."""

    metadata: MetaData
    classes: Mapping[str, type]


def class_name(entity: str) -> str:
    """The Python class name of an entity's model: ``sales_order`` -> ``SalesOrder``."""
    return "".join(part.capitalize() for part in entity.split("_") if part) or entity


def column_name(f: FieldSpec) -> str:
    """The stored column of a field: foreign keys end in ``_id``, others keep the name."""
    return f"{f.name}_id" if f.type in {"link", "user", "file"} else f.name


def owner_column(entity: EntitySpec) -> str:
    """The column that ``own`` and ``department`` scopes compare with the user."""
    return f"{entity.owner}_id" if entity.owner else "created_by_id"


def scope_index_columns(entity: EntitySpec) -> list[str]:
    """The columns of ``ix_<entity>_scope``: the owner column, the list's order column (when
    the YAML sets one), then ``id``. An own-scoped list page in its default order (FAB adds
    ``id`` as the tie-breaker) is then read straight off the index, without a sort."""
    columns = [owner_column(entity)]
    order = entity.list.order_by
    if order and order != "id":
        f = entity.fields.get(order)
        stored = column_name(f) if f is not None else order
        if stored not in columns:
            columns.append(stored)
    return columns + ["id"]


def build_models(registry: Registry) -> EntityModels:
    """Build one model class per entity on a fresh metadata (one per compile)."""

    class Base(DeclarativeBase):
        metadata = MetaData(naming_convention=NAMING_CONVENTION)

    classes: dict[str, type] = {}
    for entity in registry.entities.values():
        classes[entity.name] = _build_entity(Base, entity, registry, classes)
    return EntityModels(metadata=Base.metadata, classes=MappingProxyType(classes))


def _column_default(default: Any) -> Any:
    """The insert default of a value column: the constant, or a function for ``today`` and
    ``now`` (the lifecycle hook fills them before the flush; the column default also tells
    the REST schema that a required field may be left out)."""
    if not isinstance(default, DynamicDefault):
        return default
    if default.kind == "today":
        return lambda: utcnow().date()
    return utcnow if default.kind == "now" else None


def _target(classes: Mapping[str, type], name: str) -> Callable[[], type]:
    return lambda: classes[name]


def _build_entity(base: type, entity: EntitySpec, registry: Registry,
                  classes: Mapping[str, type]) -> type:
    user_id = PortalUser.__table__.c.id
    attrs: dict[str, Any] = {
        "__tablename__": entity.name,
        "__entity__": entity,
        "__workflow__": registry.workflow_of(entity.name),
        "__owner_column__": owner_column(entity),
        # Fields whose value is a formula (``computed:``): derived, so not audited.
        "__computed__": frozenset(computed_of(registry, entity.name)),
        # (parent entity, link field) pairs for which this entity is an inline child row.
        "__parents__": tuple((parent.name, f.via)
                             for parent, f in registry.parents_of(entity.name)),
        "id": Column(Integer, primary_key=True),
        "created_at": Column(DateTime, nullable=False, default=utcnow),
        "updated_at": Column(DateTime, nullable=False, default=utcnow, onupdate=utcnow),
        "created_by_id": Column(Integer, ForeignKey(user_id), nullable=True,
                                index=owner_column(entity) != "created_by_id"),
        "updated_by_id": Column(Integer, ForeignKey(user_id), nullable=True),
    }
    attrs["created_by"] = _user_of("created_by_id")
    attrs["updated_by"] = _user_of("updated_by_id")
    table_args: list[Any] = []

    for f in entity.fields.values():
        if f.type == "children":
            child = registry.entity(f.target)
            attrs[f.name] = relationship(
                _target(classes, f.target),
                back_populates=f.via,
                cascade="all, delete-orphan",
                foreign_keys=lambda c=child, t=f.target, via=f.via: [
                    classes[t].__table__.c[f"{via}_id"]
                ],
                order_by=lambda t=f.target: classes[t].id,
            )
        elif f.type == "many":
            assoc = Table(
                f"{entity.name}__{f.name}",
                base.metadata,
                Column("left_id", Integer, ForeignKey(f"{entity.name}.id", ondelete="CASCADE"),
                       primary_key=True),
                Column("right_id", Integer, ForeignKey(f"{f.target}.id", ondelete="CASCADE"),
                       primary_key=True, index=True),
            )
            attrs[f.name] = relationship(_target(classes, f.target), secondary=assoc)
        elif f.type in {"link", "user", "file"}:
            fk = _foreign_key(f)
            # The owner column leads ix_<entity>_scope, which serves its lookups too.
            col = Column(f"{f.name}_id", Integer, fk, nullable=not f.required,
                         index=f"{f.name}_id" != owner_column(entity))
            attrs[f"{f.name}_id"] = col
            attrs[f.name] = _many_to_one(f, col, entity, registry, classes)
        else:
            attrs[f.name] = Column(
                f.name, column_type(f), nullable=not f.required or f.type == "number",
                unique=f.unique or f.type == "number", index=f.index and not f.unique,
                default=_column_default(f.default),
            )

    # The index that keeps an own-scoped list as fast as an unscoped one.
    table_args.append(Index(f"ix_{entity.name}_scope", *scope_index_columns(entity)))
    if any(f.unique for f in entity.fields.values() if f.type in {"link", "user"}):
        table_args.extend(
            UniqueConstraint(f"{f.name}_id") for f in entity.fields.values()
            if f.unique and f.type in {"link", "user"}
        )
    attrs["__table_args__"] = tuple(table_args)
    attrs["__repr__"] = _title_repr(entity)
    return type(class_name(entity.name), (base,), attrs)


def _user_of(column: str) -> property:
    """The user whose id is in ``column``, read through the record's session.

    Only the show page reads creator and last editor, so they are plain properties rather
    than relationships: two relationships per entity were half of the mapper configuration
    at start-up. The user is usually in the session's identity map already (no query)."""

    def user(record: Any) -> Optional[PortalUser]:
        user_id = getattr(record, column)
        session = object_session(record)
        return session.get(PortalUser, user_id) if user_id is not None and session else None

    return property(user, doc=f"The user of ``{column}`` (read-only).")


def _foreign_key(f: FieldSpec) -> ForeignKey:
    if f.type == "user":
        return ForeignKey(PortalUser.__table__.c.id)
    if f.type == "file":
        return ForeignKey(Attachment.__table__.c.id)
    return ForeignKey(f"{f.target}.id")


def _many_to_one(f: FieldSpec, col: Column, entity: EntitySpec, registry: Registry,
                 classes: Mapping[str, type]) -> Any:
    if f.type == "user":
        return relationship(PortalUser, foreign_keys=[col])
    if f.type == "file":
        return relationship(Attachment, foreign_keys=[col])
    parent = registry.entity(f.target)
    back = next((c.name for c in parent.fields.values()
                 if c.type == "children" and c.target == entity.name and c.via == f.name), None)
    if back:
        return relationship(_target(classes, f.target), foreign_keys=[col], back_populates=back)
    if f.target == entity.name:  # a link to the same entity: one record, not a collection
        return relationship(_target(classes, f.target), foreign_keys=[col],
                            remote_side=lambda t=f.target: [classes[t].__table__.c.id])
    return relationship(_target(classes, f.target), foreign_keys=[col])


def column_type(f: FieldSpec) -> Any:
    """The SQL type of a stored field (not links, users, files, children, many)."""
    if f.type in {"string", "email", "phone", "url", "enum", "number"}:
        return String(f.max_length or f.length or DEFAULT_TEXT_LENGTHS[f.type])
    if f.type == "text":
        return Text()
    if f.type == "int":
        return BigInteger().with_variant(Integer, "sqlite")
    if f.type == "decimal":
        return ExactDecimal(f.digits, f.scale)
    if f.type == "money":
        return ExactDecimal(18, 2)
    if f.type == "bool":
        return Boolean()
    if f.type == "date":
        return Date()
    if f.type == "datetime":
        return DateTime()
    raise AssertionError(f"no column type for field type {f.type!r}")  # a portal bug


def _title_repr(entity: EntitySpec) -> Callable[[Any], str]:
    title = entity.title

    def __repr__(self: Any) -> str:
        value = getattr(self, title, None) if title else None
        return str(value) if value not in (None, "") else f"#{self.id}"

    return __repr__
