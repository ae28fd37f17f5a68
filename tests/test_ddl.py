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
