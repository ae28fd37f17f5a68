"""Own-scoped REST list against the unscoped list on PostgreSQL with a million rows.

    .venv/bin/python bench/scoped_list.py [--rows 1000000] [--owners 50] [--iterations 30]
                                          [--keep-plans]

Builds its own PostgreSQL schema (``PORTAL_BENCH_DATABASE_URL``, default
postgresql://postgres@127.0.0.1:5432/test), dropped at the end: a portal with synthetic
entities, ``--owners`` users and ``--rows`` rows of ``e0000`` written with one
``INSERT ... SELECT generate_series`` (owners spread evenly), then ``ANALYZE``.

Then, interleaved, ``--iterations`` times each (median, milliseconds):

* admin (unscoped): ``GET /api/v1/e0000/?q=(page_size:25)``, page 1 in the default order;
* rep (own scope, one owner's 1/``--owners`` of the rows): the same request.

FAB's list runs two statements, a ``COUNT`` and the page query; both are also timed alone
through the app's session (with the same scope) and shown with their PostgreSQL plans
(``EXPLAIN ANALYZE``, first node and the indexes used). Counts stay exact.

Target (issue): rep list <= 1.2x admin list (median); the rep's page query must be an index
scan with no sort (on ``ix_e0000_scope`` (owner, id) or, when the planner finds the owner's
rows dense enough, backwards on the primary key).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _util import (  # noqa: E402
    QueryCounter,
    add_user,
    app_overrides,
    login_headers,
    pg_schema,
    table,
    temp_dir,
    verdict,
    write_synthetic_schema,
)

ENTITY = "e0000"
TARGET = 1.2
PAGE = 25


def fill(app: Any, rows: int, owners: int) -> float:
    """``owners - 1`` extra users and ``rows`` rows spread over them and ``rep1``; seconds."""
    from sqlalchemy import insert, text

    from portal.system_models import PortalUser

    with app.app_context():
        session = app.appbuilder.session
        session.execute(insert(PortalUser.__table__), [{
            "first_name": f"owner{i}", "last_name": "", "username": f"owner{i}",
            "email": f"owner{i}@example.com", "active": True, "password": "-",
        } for i in range(owners - 1)])
        session.commit()
        start = time.perf_counter()
        session.execute(text(f"""
            INSERT INTO {ENTITY} (created_at, updated_at, created_by_id, owner_id, f00_string,
                                  f01_enum, f02_money, f03_date, f04_bool, f05_int, f06_email,
                                  f09_text)
            SELECT now(), now(), o.id, o.id, 'record ' || g, (ARRAY['low','mid','high'])[1 + g % 3],
                   (g % 100000) / 100.0, date '2024-01-01' + (g % 365), g % 2 = 0, g,
                   'r' || g || '@example.com', 'some notes about record ' || g
            FROM generate_series(1, :rows) AS g
            JOIN (SELECT id, (row_number() OVER (ORDER BY id)) - 1 AS k FROM ab_user
                  WHERE username LIKE 'owner%' OR username = 'rep1') AS o
              ON o.k = g % :owners
        """), {"rows": rows, "owners": owners})
        session.commit()
        took = time.perf_counter() - start
        # The steady state autovacuum reaches: statistics and a visibility map (which lets
        # counts use index-only scans).
        engine = app.extensions["sqlalchemy"].engine
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f"VACUUM ANALYZE {ENTITY}"))
        return took


def plan_summary(app: Any, sql: str, params: dict[str, Any]) -> tuple[str, float]:
    """The plan's node types (with index names) and its execution time in ms (``sql`` and
    ``params`` as the driver received them)."""
    with app.app_context():
        conn = app.appbuilder.session.connection()
        lines = [r[0] for r in conn.exec_driver_sql("EXPLAIN (ANALYZE, COSTS OFF) " + sql,
                                                    params)]
        app.appbuilder.session.rollback()
    nodes = []
    took = 0.0
    for line in lines:
        body = line.strip().lstrip("->").strip()
        if body.startswith("Execution Time"):
            took = float(body.split(":")[1].split()[0])
        elif line.lstrip().startswith("->") or line == lines[0]:
            nodes.append(body.split("  (")[0])
    return " > ".join(nodes), took


def capture_sql(app: Any, client: Any, url: str, headers: dict[str, str]
                ) -> tuple[list[tuple[str, Any]], int]:
    """The entity's statements (SQL and parameters) of one request, and its count value."""
    from sqlalchemy import event

    with app.app_context():
        engine = app.extensions["sqlalchemy"].engine
    seen: list[tuple[str, Any]] = []

    def on(conn: Any, cursor: Any, statement: str, parameters: Any, *rest: Any) -> None:
        if f"FROM {ENTITY}" in statement:
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", on)
    try:
        resp = client.get(url, headers=headers)
    finally:
        event.remove(engine, "before_cursor_execute", on)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return seen, resp.get_json()["count"]


def explain_request(app: Any, statements: list[tuple[str, Any]]) -> list[tuple[str, float]]:
    out = []
    for sql, params in statements:
        out.append(plan_summary(app, sql, params))
    return out


def run(rows: int, owners: int, iterations: int) -> dict[str, Any]:
    with temp_dir() as tmp, pg_schema("scoped") as url:
        schema = write_synthetic_schema(tmp / "schema", 2)
        from portal.app_factory import create_app

        app = create_app(app_overrides(url, schema, tmp / "instance"))
        add_user(app, "admin1", ["Admin"])
        add_user(app, "rep1", ["rep"])
        fill_s = fill(app, rows, owners)
        admin = login_headers(app, "admin1")
        rep = login_headers(app, "rep1")
        client = app.test_client()
        url = f"/api/v1/{ENTITY}/?q=(page_size:{PAGE})"

        stmts = {}
        counts = {}
        for who, headers in (("admin", admin), ("rep", rep)):
            stmts[who], counts[who] = capture_sql(app, client, url, headers)
        with app.app_context():
            engine = app.extensions["sqlalchemy"].engine
        with QueryCounter(engine) as counter:
            client.get(url, headers=rep)
        total_queries = counter.count

        times: dict[str, list[float]] = {"admin": [], "rep": []}
        for _ in range(3):
            client.get(url, headers=admin)
            client.get(url, headers=rep)
        for _ in range(iterations):
            for who, headers in (("admin", admin), ("rep", rep)):
                start = time.perf_counter()
                resp = client.get(url, headers=headers)
                times[who].append(time.perf_counter() - start)
                assert resp.status_code == 200
        plans = {who: explain_request(app, stmts[who]) for who in stmts}
        with app.app_context():
            app.appbuilder.session.remove()
            engine.dispose()
    return {"times": times, "plans": plans, "counts": counts, "fill": fill_s,
            "queries": total_queries, "stmts": stmts}


def _kind(sql: str) -> str:
    """What a statement of the list is: the page (with the count riding along as a scalar
    subquery, as the REST list sends it), the page alone, or a separate count."""
    text = sql.lower()
    if "limit" in text:
        return "page + count" if "count(" in text else "page"
    return "count"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--owners", type=int, default=50)
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--keep-plans", action="store_true",
                        help="print the SQL of the page and count statements too")
    args = parser.parse_args()
    import logging

    logging.disable(logging.WARNING)
    r = run(args.rows, args.owners, args.iterations)
    admin_ms = statistics.median(r["times"]["admin"]) * 1000
    rep_ms = statistics.median(r["times"]["rep"]) * 1000

    print(f"PostgreSQL, {args.rows:,} rows of {ENTITY} over {args.owners} owners "
          f"(filled in {r['fill']:.1f} s); page 1, page_size {PAGE}, default order "
          f"(id desc); {args.iterations} requests each, interleaved")
    rows = [
        ["admin (unscoped): REST list", f"{admin_ms:.2f}", f"{r['counts']['admin']:,}", "1.00"],
        ["rep (own scope): REST list", f"{rep_ms:.2f}", f"{r['counts']['rep']:,}",
         f"{rep_ms / admin_ms:.2f}"],
    ]
    print(table(["case", "median ms", "count", "ratio"], rows))
    print()
    plan_rows = []
    for who in ("admin", "rep"):
        for (sql, _), (nodes, took) in zip(r["stmts"][who], r["plans"][who], strict=True):
            kind = _kind(sql)
            plan_rows.append([f"{who}: {kind} query", f"{took:.2f}", nodes])
            if args.keep_plans:
                print(f"-- {who} {kind}: {' '.join(sql.split())}")
    print("Statements of one request, timed by EXPLAIN ANALYZE (ms) and their plans; "
          f"{r['queries']} SQL statements per rep request in all")
    print(table(["statement", "exec ms", "plan"], plan_rows, left=(0, 2)))
    print()

    rep_page = next(nodes for (sql, _), (nodes, _) in zip(r["stmts"]["rep"], r["plans"]["rep"],
                                                          strict=True)
                    if _kind(sql) != "count")
    index_ok = "Index" in rep_page and "Sort" not in rep_page and "Seq Scan" not in rep_page
    checks = [
        ["rep list / admin list (median)", f"<= {TARGET:.1f}x", f"{rep_ms / admin_ms:.2f}x",
         verdict(rep_ms / admin_ms <= TARGET)],
        ["rep page query: an index scan, no sort", "yes",
         "yes" if index_ok else "no", verdict(index_ok)],
        ["counts exact", "yes",
         f"{r['counts']['admin']:,} / {r['counts']['rep']:,}",
         verdict(r["counts"]["admin"] == args.rows
                 and r["counts"]["rep"] == args.rows // args.owners)],
    ]
    print(table(["target", "wanted", "measured", "verdict"], checks))


if __name__ == "__main__":
    main()
