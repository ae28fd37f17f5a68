"""A counter the database bumps whenever users, roles or permissions change.

Deciding whether a request may do something needs the user, the user's roles and their
permissions: three queries per request when they are read afresh. They change rarely, so the
security manager keeps them per process in a :class:`GenerationCache`, valid for one value of
the *security generation*: a single row that triggers on FAB's security tables bump in the
same transaction as any insert, update or delete there (from a screen, ``portal init``, a
script or raw SQL, in any worker). A request reads the generation once (one indexed row) and
uses the cache only while it is unchanged, so a revoked permission or a deactivated user
applies to the next request everywhere, as without the cache.

Login bookkeeping (``last_login``, ``login_count``, ...) is the one change that does not bump
the generation: it rewrites the user row at every login and nothing cached depends on it.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Hashable, Mapping
from typing import Any, Optional, TypeVar

from sqlalchemy import Table, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from portal.system_models import SecurityGeneration

#: FAB's tables that decide who a user is and what the user may do.
WATCHED_TABLES = ("ab_user", "ab_role", "ab_user_role", "ab_group", "ab_user_group",
                  "ab_group_role", "ab_permission", "ab_view_menu", "ab_permission_view",
                  "ab_permission_view_role", "ab_api_key")
#: Columns of ``ab_user`` that every login rewrites; changing only these bumps nothing.
LOGIN_BOOKKEEPING = frozenset({"last_login", "login_count", "fail_login_count", "changed_on",
                               "changed_by_fk"})
_TRIGGER_PREFIX = "portal_secgen_"
_BUMP = "UPDATE portal_security_generation SET value = value + 1 WHERE id = 1"
_PG_FUNCTION = ("CREATE OR REPLACE FUNCTION portal_bump_security_generation() RETURNS trigger "
                f"LANGUAGE plpgsql AS $$ BEGIN {_BUMP}; RETURN NULL; END $$")
_ROW = SecurityGeneration.__table__
_READ = select(_ROW.c.value).where(_ROW.c.id == 1)

T = TypeVar("T")


def _watched_columns(table: Table) -> list[str]:
    return [c.name for c in table.c if c.name not in LOGIN_BOOKKEEPING]


def _trigger_ddl(dialect: str, tables: Mapping[str, Table]) -> dict[str, str]:
    """``{trigger name: CREATE statement}``; a name carries a hash of its statement, so a
    changed definition (a column added to ``ab_user``) is a new trigger."""
    wanted: dict[str, str] = {}
    for name in WATCHED_TABLES:
        table = tables.get(name)
        if table is None:
            continue
        update = "UPDATE" if name != "ab_user" else \
            f"UPDATE OF {', '.join(_watched_columns(table))}"
        if dialect == "postgresql":
            bodies = {"all": f"AFTER INSERT OR DELETE OR TRUNCATE OR {update} ON {name} "
                             "FOR EACH STATEMENT EXECUTE FUNCTION "
                             "portal_bump_security_generation()"}
        else:
            bodies = {op: f"AFTER {op} ON {name} FOR EACH ROW BEGIN {_BUMP}; END"
                      for op in ("INSERT", "DELETE", update)}
        for op, body in bodies.items():
            digest = hashlib.sha1(body.encode()).hexdigest()[:8]
            trigger = f"{_TRIGGER_PREFIX}{name}_{op.split()[0].lower()}_{digest}"
            wanted[trigger] = f"CREATE TRIGGER {trigger} {body}"
    return wanted


def _existing_triggers(conn: Connection) -> dict[str, str]:
    """``{trigger name: its table}`` of the portal's generation triggers."""
    if conn.dialect.name == "postgresql":
        # Only this schema's: another portal's schema in the same database has its own.
        query = ("SELECT t.tgname, c.relname FROM pg_trigger t JOIN pg_class c "
                 "ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
                 "WHERE NOT t.tgisinternal AND t.tgname LIKE :prefix "
                 "AND n.nspname = current_schema()")
    else:
        query = "SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger' " \
                "AND name LIKE :prefix"
    return dict(conn.execute(text(query), {"prefix": f"{_TRIGGER_PREFIX}%"}).all())


def install_generation_triggers(conn: Connection, tables: Mapping[str, Table]) -> None:
    """Create the generation row and the triggers that bump it (only what is missing; stale
    triggers are dropped), on ``conn``'s transaction."""
    dialect = conn.dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    conn.execute(insert(_ROW).values(id=1, value=0).on_conflict_do_nothing())
    wanted = _trigger_ddl(dialect, tables)
    existing = _existing_triggers(conn)
    missing = [name for name in wanted if name not in existing]
    if missing and dialect == "postgresql":
        conn.execute(text(_PG_FUNCTION))
    for name, table in existing.items():
        if name not in wanted:
            on = f" ON {table}" if dialect == "postgresql" else ""
            conn.execute(text(f"DROP TRIGGER IF EXISTS {name}{on}"))
    for name in missing:
        conn.execute(text(wanted[name]))


def read_generation(conn: Connection) -> Optional[int]:
    """The current generation, or None if the row is missing (then nothing is cached)."""
    return conn.execute(_READ).scalar()


class GenerationCache:
    """Values computed from the security tables, kept while the generation stays the same.

    A value computed after reading generation ``n`` reflects at least generation ``n``, so
    it may serve every request that reads ``n``; the first request to read another
    generation starts an empty cache.
    """

    def __init__(self) -> None:
        self._state: tuple[Optional[int], dict[Hashable, Any]] = (None, {})
        self._lock = threading.Lock()

    def get(self, generation: int, key: Hashable, compute: Callable[[], T]) -> T:
        """The value of ``key`` for ``generation``, computed once."""
        cached_generation, values = self._state
        if cached_generation != generation:
            with self._lock:
                if self._state[0] != generation:
                    self._state = (generation, {})
                cached_generation, values = self._state
        if key in values:
            return values[key]
        value = compute()
        if cached_generation == generation:
            values[key] = value
        return value
