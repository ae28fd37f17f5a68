"""Creating the schema is all or nothing, on SQLite as on PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, text


def test_failed_first_start_creates_no_tables(tmp_path: Path, make_portal: Any,
                                              databases: Any, backend: str) -> None:
    """covers: PL1 — when creating the entity tables fails half-way (an index name is taken
    by an existing table), the start is refused and none of the entity tables exist."""
    from lowcode import write_lowcode_schema

    url = databases.url(backend)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE ix_tag_scope (x INTEGER)"))  # not a name to index with
    with pytest.raises(Exception, match="ix_tag_scope"):
        make_portal(write_lowcode_schema(tmp_path / "schema"), DATABASE_URL=url)
    created = set(inspect(engine).get_table_names())
    engine.dispose()
    assert not created & {"gadget", "gadget_part", "maker", "tag"}, created


def test_missing_system_column_is_added_on_start(tmp_path: Path, make_portal: Any,
                                                 databases: Any, backend: str) -> None:
    """covers: PL1 — a database made by an older portal (departments without a head) gets
    the new nullable column at start-up, and its rows are kept."""
    from lowcode import write_lowcode_schema

    url = databases.url(backend)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE portal_department (id INTEGER PRIMARY KEY, "
                          "name VARCHAR(120) NOT NULL UNIQUE, parent_id INTEGER)"))
        conn.execute(text("INSERT INTO portal_department (id, name) VALUES (1, 'ops')"))
    app = make_portal(write_lowcode_schema(tmp_path / "schema"), DATABASE_URL=url)
    columns = {c["name"] for c in inspect(engine).get_columns("portal_department")}
    engine.dispose()
    assert "head_id" in columns
    with app.app_context():
        from portal.system_models import Department

        ops = app.appbuilder.session.get(Department, 1)
        assert (ops.name, ops.head_id) == ("ops", None)
