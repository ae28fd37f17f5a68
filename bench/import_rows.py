"""Importing 100,000 rows from a CSV file against a raw bulk insert of the same rows.

    .venv/bin/python bench/import_rows.py [--rows 100000] [--backend sqlite|postgres|both]
                                          [--repeat 3]

Both sides start from the same CSV file on disk and end with the rows committed in an
empty table of the same entity (a synthetic ``deal``: text, enum, integer, money, date and a
link to one of 50 ``account`` records), in one transaction:

* raw (the baseline): ``csv.reader`` over the file, each cell turned into its Python value
  with the builtins (``int``, ``Decimal``, ``date.fromisoformat``, the link by a dict of
  names), and SQLAlchemy Core ``INSERT`` with executemany in chunks of 1,000;
* import: ``portal.engines.importing`` with a mapping: the whole pipeline (read, map,
  convert, check every value and reference, uniqueness, then the bulk write with creator,
  timestamps and one audit entry per record).

Each side runs ``--repeat`` times on a fresh table (alternating), the median is reported.
Speed ratio = raw time / import time. Target (issue): at least 0.5 (the import takes at
most twice the raw insert).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import random
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _util import app_overrides, database, table, temp_dir, verdict  # noqa: E402

TARGET = 0.5
ACCOUNTS = 50
SCHEMA = {
    "roles.yaml": "roles:\n  rep: Rep\n",
    "entities/sales/account.yaml": """
entity: account
title: name
fields:
  name: {type: string, max: 80, required: true, unique: true}
access: {rep: {read: all}}
""",
    "entities/sales/deal.yaml": """
entity: deal
title: ref
fields:
  ref:    {type: string, max: 20, required: true}
  title:  {type: string, max: 120, required: true}
  stage:  {type: enum, values: [open, won, lost], required: true}
  units:  {type: int, min: 0}
  amount: {type: money, min: 0}
  closed: {type: date}
  account: {type: link, entity: account}
  note:   {type: text}
access: {rep: {read: all, create: true}}
""",
    "imports/deals.yaml": """
import: bench_deals
entity: deal
columns: {Ref: ref, Title: title, Stage: stage, Units: units, Amount: amount,
          Closed: closed, Account: account, Note: note}
formats: {closed: yyyy-mm-dd}
""",
}


def write_files(folder: Path, rows: int) -> Path:
    """The schema folder and the CSV of ``rows`` deals; the CSV's path."""
    for rel, text in SCHEMA.items():
        path = folder / "schema" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    rnd = random.Random(7)
    data = folder / "deals.csv"
    with data.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["Ref", "Title", "Stage", "Units", "Amount", "Closed", "Account",
                         "Note"])
        for i in range(rows):
            writer.writerow([f"D{i:07d}", f"Deal {i} 商机", rnd.choice(["open", "won", "lost"]),
                             rnd.randint(1, 500), f"{rnd.randint(0, 10**7) / 100:.2f}",
                             (dt.date(2020, 1, 1) + dt.timedelta(days=i % 1500)).isoformat(),
                             f"Account {i % ACCOUNTS}", "" if i % 3 else "follow up"])
    return data


def raw_insert(app: Any, data: Path) -> float:
    """The baseline: builtins over the CSV, then Core executemany; seconds."""
    from sqlalchemy import insert, select

    model = app.extensions["portal"].models.classes["deal"]
    account = app.extensions["portal"].models.classes["account"]
    engine = app.extensions["sqlalchemy"].engine
    start = time.perf_counter()
    with engine.begin() as conn:
        ids = dict(conn.execute(select(account.name, account.id)).all())
        with data.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            next(reader)
            batch = []
            for ref, title, stage, units, amount, closed, acc, note in reader:
                batch.append({"ref": ref, "title": title, "stage": stage,
                              "units": int(units) if units else None,
                              "amount": Decimal(amount) if amount else None,
                              "closed": dt.date.fromisoformat(closed) if closed else None,
                              "account_id": ids.get(acc), "note": note or None})
                if len(batch) == 1000:
                    conn.execute(insert(model.__table__), batch)
                    batch = []
            if batch:
                conn.execute(insert(model.__table__), batch)
    return time.perf_counter() - start


def portal_import(app: Any, data: Path) -> float:
    """The import pipeline, committed; seconds."""
    from portal.engines.access import SYSTEM
    from portal.engines.importing.run import run_import
    from portal.engines.importing.source import read_source

    rt = app.extensions["portal"]
    session = app.appbuilder.session
    start = time.perf_counter()
    report = run_import(session, rt.registry, rt.models.classes,
                        rt.registry.imports["bench_deals"], read_source(data), SYSTEM,
                        apply=True)
    session.commit()
    elapsed = time.perf_counter() - start
    assert report.applied and not report.problem_count, report.summary()
    return elapsed


def empty(app: Any) -> None:
    """Remove the deals (and their audit entries are left: they do not slow inserts)."""
    from sqlalchemy import delete

    model = app.extensions["portal"].models.classes["deal"]
    with app.extensions["sqlalchemy"].engine.begin() as conn:
        conn.execute(delete(model.__table__))


def run(backend: str, rows: int, repeat: int) -> list[Any]:
    """Median seconds of both sides on ``backend``."""
    from portal.app_factory import create_app

    with temp_dir() as tmp, database(backend, tmp) as url:
        data = write_files(tmp, rows)
        app = create_app(app_overrides(url, tmp / "schema", tmp / "instance"))
        with app.app_context():
            account = app.extensions["portal"].models.classes["account"]
            session = app.appbuilder.session
            session.add_all([account(name=f"Account {i}") for i in range(ACCOUNTS)])
            session.commit()
            raws, imports = [], []
            for _ in range(repeat):
                raws.append(raw_insert(app, data))
                empty(app)
                imports.append(portal_import(app, data))
                empty(app)
            app.appbuilder.session.remove()
            app.extensions["sqlalchemy"].engine.dispose()
    raw, imp = statistics.median(raws), statistics.median(imports)
    return [f"{backend}, {rows:,} rows", f"{raw:.2f}", f"{imp:.2f}", f"{raw / imp:.2f}",
            verdict(raw / imp >= TARGET)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    results = [run(b, args.rows, args.repeat) for b in backends]
    print(f"Import of a CSV file vs a raw bulk insert of the same rows (median of "
          f"{args.repeat}; seconds; speed ratio = raw / import, target >= {TARGET})")
    print(table(["case", "raw insert", "import", "speed ratio", "verdict"], results))


if __name__ == "__main__":
    main()
