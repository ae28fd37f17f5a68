"""The start-up check: a portal never runs on a database behind its YAML.

A fresh database gets every table and its first recorded version; a database whose last
migration matches the YAML starts at once (one query). Otherwise the plan is computed: with
nothing to change the new version is just recorded; with ``PORTAL_AUTO_MIGRATE=safe`` safe
changes are applied by themselves; anything else stops the start with the plan and the
command to run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from portal.migrate import versions
from portal.migrate.snapshot import structure_hash, yaml_hash
from portal.migrate.steps import BLOCKED, SAFE
from portal.spec.model import Registry

#: ``PORTAL_AUTO_MIGRATE`` values.
AUTO_MODES = ("off", "safe")


class SchemaBehind(Exception):
    """The database is behind the YAML and the portal will not start on it."""


def database_state(conn: Connection, metadata: sa.MetaData, shape: dict[str, Any]) -> str:
    """``current`` (matches the YAML), ``fresh`` (no entity table yet), ``behind`` (an
    older recorded structure) or ``unrecorded`` (tables from before migrations existed)."""
    latest = versions.latest_version(conn)
    if latest is not None:
        return "current" if latest.structure_hash == structure_hash(shape) else "behind"
    existing = set(sa.inspect(conn).get_table_names())
    return "unrecorded" if existing & set(metadata.tables) else "fresh"


def record_first_start(engine: Engine, shape: dict[str, Any], schema_dir: Path) -> None:
    """Record the structure a fresh database was just created with."""
    with engine.begin() as conn:
        versions.record(conn, shape, yaml_hash(schema_dir), "first start",
                      ["create every table"])


def describe(plan: Any) -> str:
    """The plan's changes, one per line, with what to do about them."""
    lines = plan.lines()
    if plan.blocked:
        lines.append("fix the [blocked] steps first (each says how), then run: "
                     "portal migrate --apply")
    else:
        lines.append("run: portal migrate   (to review the plan), then: portal migrate --apply")
    return "\n".join(lines)


def settle(engine: Engine, registry: Registry, metadata: sa.MetaData, schema_dir: Path,
           backup_dir: Path, auto: str) -> str:
    """Bring a ``behind`` or ``unrecorded`` database level with the YAML if that needs no
    decision; what was done. Raises :class:`SchemaBehind` with the plan otherwise."""
    from portal.migrate import runner  # the planner and Alembic: only when needed

    plan = runner.plan_only(engine, registry, metadata)
    if not plan.changes:
        runner.apply(engine, registry, metadata, schema_dir, "start-up (nothing to change)",
                     backup_dir)
        return "recorded"
    safe_only = plan.only(SAFE) and not any(s.level == BLOCKED for s in plan.steps)
    if auto == "safe" and safe_only:
        runner.apply(engine, registry, metadata, schema_dir,
                     "start-up (PORTAL_AUTO_MIGRATE=safe)", backup_dir, only_safe=True)
        return "applied"
    if auto == "safe":
        why = " (PORTAL_AUTO_MIGRATE=safe applies only the [safe] ones)"
    else:
        why = " (all safe: PORTAL_AUTO_MIGRATE=safe would apply them by itself)" \
            if safe_only else ""
    raise SchemaBehind(f"the database is behind the YAML: {len(plan.changes)} change(s) to "
                       f"apply{why}:\n{describe(plan)}")
