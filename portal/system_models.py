"""Tables the portal itself needs, whatever the YAML says.

They live on FAB's ``Model`` metadata beside FAB's security tables, because users and
departments are referenced by FAB's own views. Generated entity models live on a metadata of
their own, built per compile (``portal.generators.models``).
"""

from __future__ import annotations

import datetime as dt
from typing import Optional

from flask_appbuilder import Model
from flask_appbuilder.security.sqla.models import User
from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship


def utcnow() -> dt.datetime:
    """The current time in UTC, without tzinfo (stored as naive UTC on every backend)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Department(Model):
    """An organisational unit; ``department`` record scopes compare users' departments."""

    __tablename__ = "portal_department"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True, nullable=False)
    parent_id: Mapped[Optional[int]] = mapped_column(ForeignKey("portal_department.id"))
    parent: Mapped[Optional[Department]] = relationship(remote_side=[id])

    def __repr__(self) -> str:
        return self.name


class PortalUser(User):
    """FAB's user, with the department and manager that scopes and approvals need."""

    __tablename__ = "ab_user"
    __table_args__ = {"extend_existing": True}
    department_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("portal_department.id"), nullable=True, index=True
    )
    department: Mapped[Optional[Department]] = relationship(
        Department, foreign_keys=[department_id]
    )
    manager_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id"), nullable=True)
    manager: Mapped[Optional[PortalUser]] = relationship(
        "PortalUser", remote_side="PortalUser.id", foreign_keys=[manager_id]
    )
    locale: Mapped[Optional[str]] = mapped_column(String(8), nullable=True)

    def __repr__(self) -> str:
        full = f"{self.first_name or ''} {self.last_name or ''}".strip()
        return full or self.username


class AuditLog(Model):
    """One create, update or delete of a record. Written in the same transaction; never edited.

    ``user_id`` is deliberately not a foreign key: history must outlive the user.
    ``changes`` is JSON ``{field: [before, after]}``.
    """

    __tablename__ = "portal_audit_log"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    entity: Mapped[str] = mapped_column(String(64), nullable=False)
    record_id: Mapped[int] = mapped_column(Integer, nullable=False)
    action: Mapped[str] = mapped_column(String(16), nullable=False)
    at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    user_id: Mapped[Optional[int]] = mapped_column(Integer, nullable=True)
    username: Mapped[str] = mapped_column(String(128), nullable=False)
    changes: Mapped[str] = mapped_column(Text, nullable=False, default="{}")
    #: For a child row (a ``children`` field's record): the parent record it belongs to,
    #: so the parent's history shows changes to its rows too.
    parent_entity: Mapped[Optional[str]] = mapped_column(String(64), nullable=True)
    parent_id: Mapped[Optional[int]] = mapped_column(Integer, nullable=True)

    __table_args__ = (
        Index("ix_portal_audit_log_record", "entity", "record_id", "id"),
        Index("ix_portal_audit_log_parent", "parent_entity", "parent_id", "id"),
    )


class NumberSeries(Model):
    """The last number handed out per entity, field and period (e.g. a year)."""

    __tablename__ = "portal_number_series"
    entity: Mapped[str] = mapped_column(String(64), primary_key=True)
    field: Mapped[str] = mapped_column(String(64), primary_key=True)
    period: Mapped[str] = mapped_column(String(16), primary_key=True)
    last: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)


class Attachment(Model):
    """An uploaded file. The bytes live under the instance folder at ``storage_key``."""

    __tablename__ = "portal_attachment"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    storage_key: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    filename: Mapped[str] = mapped_column(String(255), nullable=False)
    content_type: Mapped[str] = mapped_column(String(127), nullable=False)
    size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    uploaded_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    uploaded_by_id: Mapped[Optional[int]] = mapped_column(Integer, nullable=True)
    #: The record and field the file belongs to: downloads are checked against them.
    entity: Mapped[str] = mapped_column(String(64), nullable=False)
    field: Mapped[str] = mapped_column(String(64), nullable=False)

    def __repr__(self) -> str:
        return self.filename


class SecurityGeneration(Model):
    """One row whose ``value`` the database bumps on every change to users, roles or
    permissions (see ``portal.security_generation``)."""

    __tablename__ = "portal_security_generation"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
