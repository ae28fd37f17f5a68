"""REST list of 100 rows against a bare query + json.dumps, in one app process.

    .venv/bin/python bench/rest_list.py [--backend sqlite|postgres|both] [--iterations 300]
                                        [--rows 400] [--show-sql]

Both sides go through the Flask test client of the same app, interleaved, after a warm-up:

* API: ``GET /api/v1/e0000/?q=(page_size:100)`` with a JWT of a non-admin user whose role
  reads ``e0000`` with the ``own`` scope (half of the rows are theirs);
* raw (the baseline): a bare Flask view added to the same app that selects the same columns
  of the same 100 rows (``WHERE owner_id = :me ORDER BY id DESC LIMIT 100``) with SQLAlchemy
  Core and returns them with ``json.dumps``. No authentication, no count, no schema;
* raw ORM (shown for reference): the same view loading the rows as model instances with an
  ORM ``select`` (``load_only`` the same columns) before ``json.dumps``.

The table gives the median (and 90th percentile) per request over ``--iterations`` requests
each, the ratios to raw, and the SQL statements one API request sends (counted with an
SQLAlchemy ``before_cursor_execute`` listener; ``--show-sql`` prints them). The rows are
also checked to be the same on both sides.

Target (issue): API median <= 2x raw (Core) median.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _util import (  # noqa: E402
    QueryCounter,
    add_user,
    app_overrides,
    database,
    login_headers,
    table,
    temp_dir,
    verdict,
    write_synthetic_schema,
)

ENTITY = "e0000"
TARGET = 2.0
PAGE = 100


def build(backend: str, url: str, tmp: Path, rows: int) -> tuple[Any, int]:
    """An app with a few synthetic entities and ``rows`` rows of ``e0000``, half owned by
    the benchmark's sales rep; returns the app and the rep's user id."""
    from sqlalchemy import insert

    from portal.app_factory import create_app

    schema = write_synthetic_schema(tmp / "schema", 4)
    app = create_app(app_overrides(url, schema, tmp / f"instance-{backend}"))
    rep = add_user(app, "rep1", ["rep"])
    other = add_user(app, "rep2", ["rep"])
    with app.app_context():
        model = app.extensions["portal"].models.classes[ENTITY]
        session = app.appbuilder.session
        now = dt.datetime(2024, 1, 1)
        session.execute(insert(model.__table__), [{
            "created_at": now, "updated_at": now,
            "created_by_id": rep if i % 2 else other, "owner_id": rep if i % 2 else other,
            "f00_string": f"record {i}", "f01_enum": ("low", "mid", "high")[i % 3],
            "f02_money": Decimal(i) / 4, "f03_date": dt.date(2024, 1, 1 + i % 28),
            "f04_bool": bool(i % 3), "f05_int": i, "f06_email": f"r{i}@example.com",
            "f09_text": "x" * 40,
        } for i in range(rows)])
        session.commit()
    return app, rep


def add_raw_view(app: Any, rep_id: int, columns: list[str]) -> None:
    """The baseline: ``/bench/raw`` selects the API's list columns of the same rows."""
    from flask import Response
    from sqlalchemy import select
    from sqlalchemy.orm import load_only

    from portal.engines.scoping import UNSCOPED

    model = app.extensions["portal"].models.classes[ENTITY]
    table_ = model.__table__
    stmt = (select(*(table_.c[c] for c in columns)).where(table_.c.owner_id == rep_id)
            .order_by(table_.c.id.desc()).limit(PAGE)
            .execution_options(**{UNSCOPED: True}))

    def raw() -> Response:
        rows = app.appbuilder.session.execute(stmt).mappings().all()
        body = json.dumps({"result": [dict(r) for r in rows]}, default=str)
        return Response(body, mimetype="application/json")

    attrs = [getattr(model, c) for c in columns]
    orm_stmt = (select(model).options(load_only(*attrs)).where(model.owner_id == rep_id)
                .order_by(model.id.desc()).limit(PAGE).execution_options(**{UNSCOPED: True}))

    def raw_orm() -> Response:
        items = app.appbuilder.session.scalars(orm_stmt).all()
        body = json.dumps({"result": [{c: getattr(i, c) for c in columns} for i in items]},
                          default=str)
        return Response(body, mimetype="application/json")

    app.add_url_rule("/bench/raw", "bench_raw", raw)
    app.add_url_rule("/bench/raw_orm", "bench_raw_orm", raw_orm)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(backend: str, iterations: int, rows: int, show_sql: bool) -> dict[str, Any]:
    with temp_dir() as tmp, database(backend, tmp, "rest") as url:
        app, rep = build(backend, url, tmp, rows)
        columns = ["id", "f00_string", "f01_enum", "f02_money", "f03_date", "f04_bool",
                   "f05_int"]
        add_raw_view(app, rep, columns)
        headers = login_headers(app, "rep1")
        client = app.test_client()
        api_url = f"/api/v1/{ENTITY}/?q=(page_size:{PAGE})"

        first = client.get(api_url, headers=headers)
        assert first.status_code == 200, first.get_data(as_text=True)
        payload = first.get_json()
        raw_payload = client.get("/bench/raw").get_json()
        api_ids = [r["id"] for r in payload["result"]]
        assert len(api_ids) == PAGE, len(api_ids)
        assert api_ids == [r["id"] for r in raw_payload["result"]], "API and raw rows differ"
        assert sorted(payload["result"][0]) == sorted(columns), sorted(payload["result"][0])
        bad = client.get(f"/api/v1/{ENTITY}/?q=(page_size:'x')", headers=headers)
        assert bad.status_code == 400, bad.status_code  # FAB's rison schema still applies

        with app.app_context():
            engine = app.extensions["sqlalchemy"].engine
        with QueryCounter(engine) as counter:
            client.get(api_url, headers=headers)
        statements = list(counter.statements)

        def api_call() -> None:
            resp = client.get(api_url, headers=headers)
            assert resp.status_code == 200

        def raw_call() -> None:
            resp = client.get("/bench/raw")
            assert resp.status_code == 200

        def raw_orm_call() -> None:
            resp = client.get("/bench/raw_orm")
            assert resp.status_code == 200

        calls = {"api": api_call, "raw": raw_call, "raw_orm": raw_orm_call}
        for _ in range(20):  # warm-up
            for call in calls.values():
                call()
        times: dict[str, list[float]] = {name: [] for name in calls}
        for _ in range(iterations):  # interleaved, so all see the same machine load
            for name, call in calls.items():
                start = time.perf_counter()
                call()
                times[name].append(time.perf_counter() - start)
        with app.app_context():
            app.appbuilder.session.remove()
        engine.dispose()
    if show_sql:
        print(f"-- SQL of one API request ({backend}):")
        for s in statements:
            print("   ", " ".join(s.split())[:160])
    return {**times, "queries": len(statements), "count": payload["count"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["both", "sqlite", "postgres"], default="both")
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--rows", type=int, default=400)
    parser.add_argument("--show-sql", action="store_true")
    args = parser.parse_args()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    import logging

    logging.disable(logging.WARNING)
    results = {b: run(b, args.iterations, args.rows, args.show_sql) for b in backends}

    rows = []
    checks = []
    for backend, r in results.items():
        api_ms = statistics.median(r["api"]) * 1000
        raw_ms = statistics.median(r["raw"]) * 1000
        orm_ms = statistics.median(r["raw_orm"]) * 1000
        rows.append([f"{backend}: raw Core select + json.dumps (baseline)", f"{raw_ms:.2f}",
                     f"{percentile(r['raw'], 0.9) * 1000:.2f}", "1.00", "1"])
        rows.append([f"{backend}: raw ORM select + json.dumps (reference)", f"{orm_ms:.2f}",
                     f"{percentile(r['raw_orm'], 0.9) * 1000:.2f}", f"{orm_ms / raw_ms:.2f}",
                     "1"])
        rows.append([f"{backend}: GET /api/v1/{ENTITY}/ page_size 100, own scope (JWT)",
                     f"{api_ms:.2f}", f"{percentile(r['api'], 0.9) * 1000:.2f}",
                     f"{api_ms / raw_ms:.2f}", str(r["queries"])])
        checks.append([f"{backend}: API / raw Core (median)", f"<= {TARGET:.1f}x",
                       f"{api_ms / raw_ms:.2f}x", verdict(api_ms / raw_ms <= TARGET)])
        checks.append([f"{backend}: API / raw ORM (median, reference)", f"<= {TARGET:.1f}x",
                       f"{api_ms / orm_ms:.2f}x", verdict(api_ms / orm_ms <= TARGET)])
    print(f"REST list of {PAGE} rows ({args.rows} rows in the table, {args.iterations} "
          "requests each, interleaved; milliseconds per request)")
    print(table(["case", "median ms", "p90 ms", "ratio", "SQL statements"], rows))
    print()
    print(table(["target", "wanted", "measured", "verdict"], checks))


if __name__ == "__main__":
    main()
