"""Start-up time of the portal with many entities, in fresh Python processes.

    .venv/bin/python bench/startup.py [--entities 120] [--backend both|sqlite|postgres]
                                      [--repeat 5] [--no-scaling] [--no-gc-row]

What is measured, in a new process each time (``python -c``): the import of
``portal.app_factory`` (the whole stack), then ``create_app`` on a folder of synthetic
entities (10 fields of mixed types, access rules for one role each; see ``bench/_util.py``):

* first start: an empty database (SQLite file or a new PostgreSQL schema);
* restart: the same database again (tables and permissions already there).

Baseline, in the same run and the same way: a fresh process importing flask, sqlalchemy and
flask_appbuilder, run before every repetition. Ratios are start-up time / baseline. Each
figure is the median of ``--repeat`` processes (each first start on a new database, followed
by a restart on it). Wall-clock times are judged; the CPU column helps to tell a slow machine
from a slow start. ``--entities N`` also runs 2N entities to check linear growth
(``create_app`` time at 2N at most twice that at N; ``--no-scaling`` skips it). The extra
row "restart, FREEZE_GC off" shows the restart without ``portal.startup_gc``'s freeze
(the setting the test suite runs with).

Targets (issue): restart <= 2.0 s and first start <= 4.0 s in total (import included) with
120 entities; 2N entities <= 2x the time of N. The PostgreSQL server is
``PORTAL_BENCH_DATABASE_URL`` (default postgresql://postgres@127.0.0.1:5432/test); each
run uses its own schema, dropped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _util import (  # noqa: E402
    ROOT,
    app_overrides,
    database,
    median,
    table,
    temp_dir,
    verdict,
    write_synthetic_schema,
)

BASELINE_CODE = """
import time
t0, c0 = time.perf_counter(), time.process_time()
import flask, sqlalchemy, flask_appbuilder
print({"import": time.perf_counter() - t0, "cpu": time.process_time() - c0})
"""

CHILD_CODE = """
import time
t0, c0 = time.perf_counter(), time.process_time()
import portal.app_factory
t1 = time.perf_counter()
import json, logging, sys
from pathlib import Path
logging.disable(logging.WARNING)
overrides = json.loads(sys.argv[1])
overrides["SCHEMA_DIR"] = Path(overrides["SCHEMA_DIR"])
overrides["INSTANCE_DIR"] = Path(overrides["INSTANCE_DIR"])
t2 = time.perf_counter()
app = portal.app_factory.create_app(overrides)
t3 = time.perf_counter()
print({"import": t1 - t0, "create": t3 - t2, "cpu": time.process_time() - c0,
       "rules": len(list(app.url_map.iter_rules()))})
"""

RESTART_TARGET, FIRST_TARGET, GROWTH_TARGET = 2.0, 4.0, 2.0


def run_child(code: str, *args: str) -> dict[str, float]:
    """Run ``code`` in a fresh interpreter; its last line of output is a dict of timings."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True,
                          text=True, check=False)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"child failed:\n{proc.stderr[-3000:]}")
    out = eval(proc.stdout.strip().splitlines()[-1])  # a dict literal printed by the child
    out["wall"] = wall
    return out


def start_app(db_url: str, schema: Path, instance: Path, **extra: Any) -> dict[str, float]:
    overrides = app_overrides(db_url, schema, instance)
    overrides.pop("TESTING")  # measure the production path (TESTING also turns FREEZE_GC off)
    overrides.update(extra)
    return run_child(CHILD_CODE, json.dumps({k: str(v) if isinstance(v, Path) else v
                                             for k, v in overrides.items()}))


def summarise(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: median([r[key] for r in runs]) for key in ("import", "create", "wall", "cpu")
            } | {"total": median([r["import"] + r["create"] for r in runs]),
                 "rules": runs[0]["rules"]}


def measure(backend: str, n: int, repeat: int, tmp: Path, gc_row: bool,
            baseline: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """First starts and restarts, each repetition on a new database; a baseline process
    runs before each repetition, so that baseline and start-ups see the same machine."""
    schema = write_synthetic_schema(tmp / f"schema-{n}", n)
    instance = tmp / f"instance-{backend}-{n}"
    runs: dict[str, list[dict[str, float]]] = {"first start": [], "restart": []}
    if gc_row:
        runs["restart, FREEZE_GC off"] = []
    for i in range(repeat):
        baseline.append(run_child(BASELINE_CODE))
        with database(backend, tmp, f"b{n}_{i}") as url:
            runs["first start"].append(start_app(url, schema, instance))
            runs["restart"].append(start_app(url, schema, instance))
            if gc_row:
                runs["restart, FREEZE_GC off"].append(
                    start_app(url, schema, instance, FREEZE_GC=False))
    return {kind: summarise(r) for kind, r in runs.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entities", type=int, default=120)
    parser.add_argument("--backend", choices=["both", "sqlite", "postgres"], default="both")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-scaling", action="store_true")
    parser.add_argument("--no-gc-row", action="store_true")
    args = parser.parse_args()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    sizes = [args.entities] if args.no_scaling else [args.entities, 2 * args.entities]

    load_before = os.getloadavg()[0]
    baseline_runs: list[dict[str, float]] = []
    results: dict[tuple[str, int], dict[str, dict[str, float]]] = {}
    with temp_dir() as tmp:
        for backend in backends:
            for n in sizes:
                results[(backend, n)] = measure(backend, n, args.repeat, tmp,
                                                not args.no_gc_row and n == sizes[0],
                                                baseline_runs)
    baseline = median([r["import"] for r in baseline_runs])
    baseline_cpu = median([r["cpu"] for r in baseline_runs])

    rows = [[f"baseline: import flask+sqlalchemy+FAB ({len(baseline_runs)} runs)", "-", "-",
             "-", "-", f"{baseline:.3f}", "1.00", f"{baseline_cpu:.3f}"]]
    for (backend, n), kinds in results.items():
        for kind, r in kinds.items():
            rows.append([f"{backend}, {n} entities, {kind}", f"{r['rules']}",
                         f"{r['import']:.3f}", f"{r['create']:.3f}", f"{r['wall']:.3f}",
                         f"{r['total']:.3f}", f"{r['total'] / baseline:.2f}",
                         f"{r['cpu']:.3f}"])
    print(f"Start-up, median of {args.repeat} fresh processes per case (seconds); "
          "total = import + create_app; ratio = total / baseline; cpu = the process's CPU "
          "time for the same span")
    print(table(["case", "url rules", "import", "create_app", "process wall", "total",
                 "ratio", "cpu"], rows))
    print(f"(1-min load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after)")
    print()

    checks = []
    for backend in backends:
        small = results[(backend, sizes[0])]
        checks.append([f"{backend}: restart total, {sizes[0]} entities",
                       f"<= {RESTART_TARGET:.1f} s", f"{small['restart']['total']:.3f} s",
                       verdict(small["restart"]["total"] <= RESTART_TARGET)])
        checks.append([f"{backend}: first start total, {sizes[0]} entities",
                       f"<= {FIRST_TARGET:.1f} s", f"{small['first start']['total']:.3f} s",
                       verdict(small["first start"]["total"] <= FIRST_TARGET)])
        if len(sizes) == 2:
            big = results[(backend, sizes[1])]
            for kind in ("restart", "first start"):
                growth = big[kind]["create"] / small[kind]["create"]
                checks.append([f"{backend}: {kind} create_app {sizes[1]} / {sizes[0]}",
                               f"<= {GROWTH_TARGET:.1f}x", f"{growth:.2f}x",
                               verdict(growth <= GROWTH_TARGET)])
    print(table(["target", "wanted", "measured", "verdict"], checks))


if __name__ == "__main__":
    main()
