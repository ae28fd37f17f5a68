"""The recorded migrations: the last one (what the database matches), recording one, the
list. Kept apart from the planner so that a start-up that finds nothing to do stays light."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from portal.migrate.snapshot import structure_hash
from portal.system_models import SchemaVersion, utcnow


def latest_version(conn: Connection) -> Optional[Any]:
    """The last migration recorded, None when there is none."""
    return conn.execute(sa.select(SchemaVersion).order_by(SchemaVersion.id.desc())
                        .limit(1)).first()


def snapshots(conn: Connection) -> list[Mapping[str, Any]]:
    """Every recorded structure, newest first."""
    return [json.loads(text) for text in conn.execute(
        sa.select(SchemaVersion.snapshot).order_by(SchemaVersion.id.desc())).scalars()]


def record(conn: Connection, shape: Mapping[str, Any], source_hash: str, who: str,
           lines: list[str]) -> None:
    """Record a migration (or the first start) as the database's current structure."""
    conn.execute(sa.insert(SchemaVersion).values(
        applied_at=utcnow(), applied_by=who[:128], yaml_hash=source_hash,
        structure_hash=structure_hash(dict(shape)),
        snapshot=json.dumps(shape, sort_keys=True, ensure_ascii=False),
        steps="\n".join(lines)))


def history(engine: Engine) -> list[dict[str, Any]]:
    """Every recorded migration, oldest first."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(SchemaVersion.id, SchemaVersion.applied_at,
                                      SchemaVersion.applied_by, SchemaVersion.yaml_hash,
                                      SchemaVersion.structure_hash, SchemaVersion.steps)
                            .order_by(SchemaVersion.id))
        return [dict(r._mapping) for r in rows]
