"""``portal migrate``: the plan, the apply and the history, without starting the portal (a
portal behind its YAML refuses to start)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask_appbuilder import Model
from sqlalchemy import event
from sqlalchemy.engine import Engine

from portal.generators.models import EntityModels, build_models
from portal.migrate import runner, versions
from portal.migrate.planner import Plan
from portal.migrate.runner import MigrationRefused
from portal.migrate.steps import BLOCKED, DROP, REVIEW, SAFE
from portal.spec.compiler import compile_schema_dir
from portal.spec.model import Registry

Echo = Callable[[str], None]


@dataclass
class MigrationSetup:
    """The compiled YAML, its models and the database a migration works on."""

    registry: Registry
    models: EntityModels
    engine: Engine
    schema_dir: Path
    backup_dir: Path

    @classmethod
    def from_settings(cls, config: Mapping[str, Any]) -> MigrationSetup:
        """Compile the configured schema folder (raises ``SpecErrors``) and open the
        configured database, with the portal's own tables created if missing."""
        registry = compile_schema_dir(config["SCHEMA_DIR"])
        models = build_models(registry)
        engine = sa.create_engine(config["SQLALCHEMY_DATABASE_URI"])
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _foreign_keys_on)
        import portal.system_models  # noqa: F401  (registers the portal's tables)

        with engine.begin() as conn:
            Model.metadata.create_all(conn)
        return cls(registry, models, engine, Path(config["SCHEMA_DIR"]),
                   Path(config["INSTANCE_DIR"]) / "backups")

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    def run(self, mode: str, drop: bool, who: str, echo: Echo) -> int:
        """Carry out ``mode`` (plan, apply or history); the exit code."""
        if mode == "history":
            return self._history(echo)
        if mode == "plan":
            plan = runner.plan_only(self.engine, self.registry, self.models.metadata, drop)
            _show(plan, echo)
            if not plan.changes:
                echo("the database matches the YAML: nothing to apply")
                return 0
            echo("apply it with: portal migrate --apply" + (" --drop" if drop else "")
                 if not plan.blocked else "fix the [blocked] steps first; nothing can be "
                 "applied until then")
            return 1 if plan.blocked else 0
        try:
            outcome = runner.apply(self.engine, self.registry, self.models.metadata,
                                   self.schema_dir, who, self.backup_dir, drop)
        except MigrationRefused as exc:
            _show(exc.plan, echo)
            echo(f"nothing applied: {exc}")
            return 1
        _show(outcome.plan, echo)
        for path in outcome.backups:
            echo(f"backup of dropped data: {path}")
        echo(f"applied {len(outcome.plan.changes)} change(s); recorded as run by {who}")
        return 0

    def _history(self, echo: Echo) -> int:
        rows = versions.history(self.engine)
        if not rows:
            echo("no migration recorded yet")
        for row in rows:
            echo(f"#{row['id']}  {row['applied_at']:%Y-%m-%d %H:%M:%S} UTC  by {row['applied_by']}"
                 f"  yaml {row['yaml_hash'][:12]}")
            for line in (row["steps"] or "").splitlines():
                echo(f"    {line}")
        return 0


def _show(plan: Plan, echo: Echo) -> None:
    for line in plan.lines():
        echo(line)
    counts = {level: sum(1 for s in plan.changes if s.level == level)
              for level in (SAFE, REVIEW, BLOCKED, DROP)}
    if plan.changes:
        echo(f"{len(plan.changes)} change(s): " + ", ".join(
            f"{n} {level}" for level, n in counts.items() if n))


def _foreign_keys_on(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
