"""Tables the portal itself needs, whatever the YAML says.

They live on FAB's ``Model`` metadata beside FAB's security tables, because users and
departments are referenced by FAB's own views. Generated entity models live on a metadata of
their own, built per compile (``portal.generators.models``).
"""

from __future__ import annotations

import datetime as dt
from typing import Optional

from flask_appbuilder import Model
from flask_appbuilder.security.sqla.models import Role, User, assoc_user_role
from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    select,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, mapped_column, relationship


def utcnow() -> dt.datetime:
    """The current time in UTC, without tzinfo (stored as naive UTC on every backend)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def role_member_ids(conn: Connection, role: str) -> list[int]:
    """The ids of the users who have role ``role``."""
    query = select(assoc_user_role.c.user_id).join(
        Role, Role.id == assoc_user_role.c.role_id).where(Role.name == role)
    return [user_id for (user_id,) in conn.execute(query)]


class Department(Model):
    """An organisational unit; ``department`` record scopes compare users' departments."""

    __tablename__ = "portal_department"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True, nullable=False)
    parent_id: Mapped[Optional[int]] = mapped_column(ForeignKey("portal_department.id"))
    parent: Mapped[Optional[Department]] = relationship(remote_side=[id])
    #: The department's head: approvals naming ``head_of`` go to this user.
    head_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id", use_alter=True),
                                                   nullable=True)
    head: Mapped[Optional[PortalUser]] = relationship("PortalUser", foreign_keys=[head_id])

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


class WorkflowStep(Model):
    """One step of a record's approval flow: a transition, or one approval of a countersign
    that is still waiting for others. Written in the same transaction; never edited.

    ``kind`` is ``transition`` (a person moved the record), ``automatic`` (a condition did)
    or ``approval`` (one of several required approvals). ``on_behalf_of`` names the user a
    substitute acted for. User ids are not foreign keys: history outlives users.
    """

    __tablename__ = "portal_workflow_step"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    entity: Mapped[str] = mapped_column(String(64), nullable=False)
    record_id: Mapped[int] = mapped_column(Integer, nullable=False)
    workflow: Mapped[str] = mapped_column(String(64), nullable=False)
    transition: Mapped[str] = mapped_column(String(64), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    from_state: Mapped[str] = mapped_column(String(64), nullable=False)
    to_state: Mapped[str] = mapped_column(String(64), nullable=False)
    at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    actor_id: Mapped[Optional[int]] = mapped_column(Integer, nullable=True)
    actor_name: Mapped[str] = mapped_column(String(128), nullable=False)
    on_behalf_of_id: Mapped[Optional[int]] = mapped_column(Integer, nullable=True)
    on_behalf_of_name: Mapped[Optional[str]] = mapped_column(String(128), nullable=True)
    comment: Mapped[Optional[str]] = mapped_column(Text, nullable=True)

    __table_args__ = (Index("ix_portal_workflow_step_record", "entity", "record_id", "id"),
                      Index("ix_portal_workflow_step_actor", "actor_id", "entity"))


class WorkflowTask(Model):
    """A record waiting for someone: one row per (transition, slot) that needs a person.
    ``user_id`` names one user, or ``role`` a role whose members may act. The open rows
    (``closed_at`` empty) are those of the state the record is in now, so the approvers'
    queues are one indexed query; rows are closed, not deleted, when the record moves or
    the part is signed, because whoever was asked keeps reading the record."""

    __tablename__ = "portal_workflow_task"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    entity: Mapped[str] = mapped_column(String(64), nullable=False)
    record_id: Mapped[int] = mapped_column(Integer, nullable=False)
    transition: Mapped[str] = mapped_column(String(64), nullable=False)
    slot: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    user_id: Mapped[Optional[int]] = mapped_column(Integer, nullable=True)
    role: Mapped[Optional[str]] = mapped_column(String(64), nullable=True)
    since: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    closed_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime, nullable=True)

    __table_args__ = (Index("ix_portal_workflow_task_user", "user_id"),
                      Index("ix_portal_workflow_task_role", "role"),
                      Index("ix_portal_workflow_task_record", "entity", "record_id"))


class WorkflowVote(Model):
    """One approval towards a countersign or quorum, per pass through the state (``round``:
    the record's number of state changes so far). Unique per slot, so two people filling the
    same slot at once cannot both count."""

    __tablename__ = "portal_workflow_vote"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    entity: Mapped[str] = mapped_column(String(64), nullable=False)
    record_id: Mapped[int] = mapped_column(Integer, nullable=False)
    round: Mapped[int] = mapped_column(Integer, nullable=False)
    transition: Mapped[str] = mapped_column(String(64), nullable=False)
    slot: Mapped[int] = mapped_column(Integer, nullable=False)
    user_id: Mapped[Optional[int]] = mapped_column(Integer, nullable=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)

    __table_args__ = (UniqueConstraint("entity", "record_id", "round", "transition", "slot",
                                       name="uq_portal_workflow_vote_slot"),)


class Delegation(Model):
    """``user`` is away from ``starts`` to ``ends`` (dates, inclusive): ``substitute`` may
    act on the user's approvals meanwhile, recorded as on the user's behalf."""

    __tablename__ = "portal_delegation"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("ab_user.id"), nullable=False, index=True)
    user: Mapped[PortalUser] = relationship(PortalUser, foreign_keys=[user_id])
    substitute_id: Mapped[int] = mapped_column(ForeignKey("ab_user.id"), nullable=False,
                                               index=True)
    substitute: Mapped[PortalUser] = relationship(PortalUser, foreign_keys=[substitute_id])
    starts: Mapped[dt.date] = mapped_column(Date, nullable=False)
    ends: Mapped[dt.date] = mapped_column(Date, nullable=False)

    def __repr__(self) -> str:
        return f"{self.user} -> {self.substitute} ({self.starts} - {self.ends})"


class Notification(Model):
    """A message in a user's in-app inbox (and, when SMTP is configured, an email)."""

    __tablename__ = "portal_notification"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, nullable=False)
    at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    title: Mapped[str] = mapped_column(String(255), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False, default="")
    entity: Mapped[Optional[str]] = mapped_column(String(64), nullable=True)
    record_id: Mapped[Optional[int]] = mapped_column(Integer, nullable=True)
    read_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime, nullable=True)
    # Email delivery (only when SMTP is configured): None = not mailed, "sent", "failed"
    # (kept for ``portal mail --retry``) or "no-address" (the user has no email).
    mail_status: Mapped[Optional[str]] = mapped_column(String(16), nullable=True)
    mailed_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime, nullable=True)
    mail_error: Mapped[Optional[str]] = mapped_column(Text, nullable=True)
    mail_attempts: Mapped[Optional[int]] = mapped_column(Integer, nullable=True)

    __table_args__ = (Index("ix_portal_notification_user", "user_id", "read_at", "id"),)

#: ``session.info`` key listing the ids of notifications written in the session's current
#: transaction, for whatever delivers them after commit (email).
NEW_NOTIFICATIONS = "portal_new_notifications"


class SchemaVersion(Model):
    """One applied ``portal migrate`` (or the first start that created the tables): the
    structure it brought the database to, the YAML it came from, who ran it and when."""

    __tablename__ = "portal_schema_version"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    applied_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    applied_by: Mapped[str] = mapped_column(String(128), nullable=False)
    #: sha256 of the YAML files' text, and of the compiled structure the database matches.
    yaml_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    structure_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    #: The compiled structure as JSON: what the next migration compares types and enums with.
    snapshot: Mapped[str] = mapped_column(Text, nullable=False)
    #: What was done, one line per step.
    steps: Mapped[str] = mapped_column(Text, nullable=False, default="")


class SchemaRename(Model):
    """A table or column renamed by ``portal migrate`` (``renamed_from`` in the YAML). The
    audit trail, which can never be rewritten, is read through these: a record's history
    stays attached under its new names."""

    __tablename__ = "portal_schema_rename"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), nullable=False)  # "entity" or "field"
    entity: Mapped[str] = mapped_column(String(64), nullable=False)  # its name after the rename
    old_name: Mapped[str] = mapped_column(String(64), nullable=False)
    new_name: Mapped[str] = mapped_column(String(64), nullable=False)
    at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)


class ImportJob(Model):
    """An import started on screen: the uploaded file, its mapping (YAML), where it stands
    (``uploaded``, ``checking``, ``checked``, ``applying``, ``done``, ``failed``), its
    progress and its report (JSON)."""

    __tablename__ = "portal_import_job"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entity: Mapped[str] = mapped_column(String(64), nullable=False)
    user_id: Mapped[int] = mapped_column(Integer, nullable=False, index=True)
    filename: Mapped[str] = mapped_column(String(255), nullable=False)
    path: Mapped[str] = mapped_column(String(1024), nullable=False)
    mapping: Mapped[str] = mapped_column(Text, nullable=False, default="")
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="uploaded")
    done: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    total: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    report: Mapped[str] = mapped_column(Text, nullable=False, default="{}")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)


class SavedImportMapping(Model):
    """A column mapping saved from the import screen, reusable for the next file."""

    __tablename__ = "portal_import_mapping"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entity: Mapped[str] = mapped_column(String(64), nullable=False)
    name: Mapped[str] = mapped_column(String(120), nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    user_id: Mapped[Optional[int]] = mapped_column(Integer, nullable=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)

    __table_args__ = (UniqueConstraint("entity", "name", name="uq_portal_import_mapping"),)


class AgendaReminder(Model):
    """A reminder sent for an agenda plan (``portal.engines.agenda_reminders``): one row per
    record, kind (``before`` or ``overdue``) and due date, inserted before the notification
    in the same transaction. The unique key is the claim: of two ``portal tick`` runs at once
    only the one whose insert lands sends; a plan moved to another date is due again."""

    __tablename__ = "portal_agenda_reminder"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    entity: Mapped[str] = mapped_column(String(64), nullable=False)
    record_id: Mapped[int] = mapped_column(Integer, nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    #: The due date or datetime the reminder was for, in ISO form.
    due: Mapped[str] = mapped_column(String(32), nullable=False)
    user_id: Mapped[Optional[int]] = mapped_column(Integer, nullable=True)
    sent_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)

    __table_args__ = (UniqueConstraint("entity", "record_id", "kind", "due",
                                       name="uq_portal_agenda_reminder"),)


class RateCounter(Model):
    """Requests counted per key (e.g. a public form and a client address) in a window that
    opens with the first request: shared by every worker, bumped by one atomic upsert
    (``portal.engines.rate_limit``). Times are milliseconds since the epoch."""

    __tablename__ = "portal_rate_counter"
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    started_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
    expires_ms: Mapped[int] = mapped_column(BigInteger, nullable=False, index=True)
    count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
