"""Workflow transitions stay atomic when real gunicorn worker processes race on PostgreSQL.

``tests/test_workflow.py`` races two threads against one in-process app; here the portal
runs as ``portal serve --workers 3`` (separate OS processes, each with its own connection
pool) on one PostgreSQL schema, and two approvers fire the same action on the same record
at the same moment over separate HTTP connections. Two races of the test-only claim flow
(``tests/flow_schema.py``) are run:

* ``pay`` (approved -> paid, by role finance): fiona and frank are both finance, and
  entering ``paid`` creates a payout record, so a double move would show as two payouts;
* ``lead_approve`` on a big claim (submitted -> lead_ok, by the owner's manager): lena and
  sam, her substitute for today; entering ``lead_ok`` replaces the approvers' queue, so a
  double move would show as duplicated queue rows.

Each raced record is compared with a control record moved by one approver alone.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import pytest
from conftest import PG_SKIP, PG_URL, ROOT, ApiUser, Databases, add_user
from flow_schema import write_flow_schema
from sqlalchemy import create_engine, select, text

pytestmark = pytest.mark.postgres

#: name, roles, manager. lena and sam read a claim only because it waits (or waited) for
#: them: the loser of a race must still find it and be told it moved (409), not 404.
USERS = (
    ("lena", ["lead"], None), ("alice", ["clerk"], "lena"),
    ("fiona", ["finance"], "lena"), ("frank", ["finance"], None), ("lea", ["legal"], None),
    ("sam", ["clerk"], None),
)
PASSWORD = "secret-pass-1"
WORKERS = 3
CLAIMS_PER_RACE = 20
#: claims raced all at once (many records in flight together, not one pair at a time)
BURST_CLAIMS = 16
#: action -> (the two approvers racing for it, the state it leads to)
RACES: dict[str, tuple[tuple[str, str], str]] = {
    "pay": (("fiona", "frank"), "paid"),
    "lead_approve": (("lena", "sam"), "lead_ok"),
}


@dataclass
class Prepared:
    """A PostgreSQL schema with the claim flow's tables, users and claims ready to race."""

    url: str
    schema_dir: Path
    claims: dict[str, list[int]] = field(default_factory=dict)
    #: per action, a claim the first approver moved alone (no race)
    controls: dict[str, int] = field(default_factory=dict)
    #: approved claims both finance users pay all at once, every record at the same time
    burst: list[int] = field(default_factory=list)


@dataclass
class Server:
    """A running ``portal serve --workers N``: its master process and port."""

    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@dataclass
class Shot:
    """One approver's request in a race."""

    who: str
    status: int
    body: dict[str, Any]


@pytest.fixture
def prepared(tmp_path: Path, databases: Databases, make_portal: Any) -> Prepared:
    """Tables, users and claims built in-process; the app's connections closed after."""
    if not PG_URL:
        pytest.skip(PG_SKIP)
    from portal.system_models import Delegation, PortalUser

    url = databases.url("postgres")
    schema_dir = write_flow_schema(tmp_path / "schema")
    app = make_portal(schema_dir, backend="postgres", DATABASE_URL=url)
    for name, roles, manager in USERS:
        add_user(app, name, roles, manager=manager, password=PASSWORD)
    with app.app_context():
        session = app.appbuilder.session
        ids = {u.username: u.id for u in session.scalars(select(PortalUser))}
        today = dt.date.today()
        session.add(Delegation(user_id=ids["lena"], substitute_id=ids["sam"],
                               starts=today - dt.timedelta(days=1),
                               ends=today + dt.timedelta(days=1)))
        session.commit()
    alice, lena = ApiUser(app, "alice", PASSWORD), ApiUser(app, "lena", PASSWORD)

    def claim(amount: str) -> int:
        resp = alice.post("/api/v1/claim/", {"title": "Taxi", "amount": amount,
                                             "purpose": "client visit"})
        assert resp.status_code == 201, resp.get_json()
        pk: int = resp.get_json()["id"]
        assert alice.post(f"/api/v1/claim/{pk}/actions/submit", {}).status_code == 200
        return pk

    def approved() -> int:
        pk = claim("1200.00")
        done = lena.post(f"/api/v1/claim/{pk}/actions/lead_approve", {})
        assert done.get_json()["state"] == "approved", done.get_json()
        return pk

    ready = Prepared(url=url, schema_dir=schema_dir)
    ready.claims = {"pay": [approved() for _ in range(CLAIMS_PER_RACE)],
                    "lead_approve": [claim("9000.00") for _ in range(CLAIMS_PER_RACE)]}
    ready.burst = [approved() for _ in range(BURST_CLAIMS)]
    ready.controls = {"pay": approved(), "lead_approve": claim("9000.00")}
    for action, ((first, _), target) in RACES.items():
        pk = ready.controls[action]
        done = ApiUser(app, first, PASSWORD).post(f"/api/v1/claim/{pk}/actions/{action}", {})
        assert done.get_json()["state"] == target, done.get_json()
    with app.app_context():
        app.appbuilder.session.remove()
        app.extensions["sqlalchemy"].engine.dispose()
    return ready


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate the master and its workers (their own process group), then reap."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        except ProcessLookupError:
            pass
    with contextlib.suppress(ProcessLookupError):  # workers that outlived the master
        os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture
def server(prepared: Prepared, tmp_path: Path) -> Iterator[Server]:
    """``portal serve --workers 3`` on the prepared schema, stopped (with its workers) after."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    env.update({
        "PORTAL_DATABASE_URL": prepared.url,
        "PORTAL_SCHEMA_DIR": str(prepared.schema_dir),
        "PORTAL_SECRET_KEY": "workers-test-secret-key-long-enough-for-hmac-sha256",
        "PORTAL_INSTANCE_DIR": str(tmp_path / "serve-instance"),
        "PORTAL_LOGIN_RATE_LIMIT": "1000 per minute",
    })
    port = _free_port()
    log = tmp_path / "serve.log"
    portal_bin = Path(sys.executable).parent / "portal"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [str(portal_bin), "serve", "--workers", str(WORKERS), "--host", "127.0.0.1",
             "--port", str(port)], cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT,
            start_new_session=True)
    running = Server(proc=proc, port=port, log=log)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"portal serve exited with {proc.returncode}:\n{running.output()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"portal serve did not answer in 60 s:\n{running.output()}")
            time.sleep(0.3)
        yield running
    finally:
        _stop(proc)


def _request(port: int, path: str, body: Any, token: Optional[str] = None,
             conn: Optional[http.client.HTTPConnection] = None) -> tuple[int, dict[str, Any]]:
    """POST ``body`` as JSON on a connection of its own; the status and the JSON answer."""
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        conn.request("POST", path, body=json.dumps(body), headers=headers)
        resp = conn.getresponse()
        raw = resp.read().decode("utf-8", errors="replace")
    finally:
        conn.close()
    try:
        answer = json.loads(raw) if raw else {}
    except ValueError:
        answer = {"raw": raw[:2000]}
    return resp.status, answer if isinstance(answer, dict) else {"json": answer}


def _login(port: int, username: str) -> str:
    status, body = _request(port, "/api/v1/security/login", {
        "username": username, "password": PASSWORD, "provider": "db"})
    assert status == 200, (username, status, body)
    token: str = body["access_token"]
    return token


def _workers(master: int) -> list[int]:
    """The pids of the gunicorn master's worker processes."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == master:
            children.append(int(entry.name))
    return sorted(children)


def _cpu_ticks(pid: int) -> int:
    """User plus system CPU time of a process, in clock ticks."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def _race(pool: ThreadPoolExecutor, port: int, pk: int, action: str,
          shooters: list[tuple[str, str]]) -> list[Shot]:
    """Both approvers send ``action`` on claim ``pk`` at the same moment, each on a
    connection opened beforehand (a sync worker serves one connection at a time, so the
    two requests are taken by two different workers)."""
    barrier = threading.Barrier(len(shooters), timeout=30)

    def shoot(who: str, token: str) -> Shot:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.connect()
        barrier.wait()
        status, body = _request(port, f"/api/v1/claim/{pk}/actions/{action}", {}, token, conn)
        return Shot(who, status, body)

    futures = [pool.submit(shoot, who, token) for who, token in shooters]
    return [f.result(timeout=90) for f in futures]


def test_concurrent_approvers_on_several_gunicorn_workers(prepared: Prepared,
                                                          server: Server) -> None:
    """covers: PL4(atomic transition under concurrent approvers, several gunicorn workers,
    PostgreSQL): two approvers firing the same action on the same record at once, from
    separate connections served by separate worker processes, get exactly one 200 and one
    409 that says someone acted first; the record moves once, with one workflow step, one
    effect (payout) and an approvers' queue without duplicates. Then many records at once:
    both pay requests of 16 claims all in flight together, still one 200 and one 409 per
    record and one payout each."""
    names = {n for (pair, _) in RACES.values() for n in pair}
    tokens = {name: _login(server.port, name) for name in sorted(names)}
    deadline = time.monotonic() + 15  # the master forks its workers one after another
    while len(workers := _workers(server.proc.pid)) < WORKERS and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(workers) == WORKERS, (workers, server.output())
    cpu_before = {pid: _cpu_ticks(pid) for pid in workers}

    shots: dict[tuple[str, int], list[Shot]] = {}
    with ThreadPoolExecutor(max_workers=2) as pool:
        for action, ((first, second), _) in RACES.items():
            for i, pk in enumerate(prepared.claims[action]):
                # whoever reaches the barrier last is released first: alternate who that is
                order = [first, second] if i % 2 else [second, first]
                shots[(action, pk)] = _race(pool, server.port, pk, action,
                                            [(who, tokens[who]) for who in order])
        # many records at once: every pay request of every burst claim in flight together
        burst = [(who, pk) for pk in prepared.burst for who in ("fiona", "frank")]
        random.Random(7).shuffle(burst)  # records and approvers interleaved
        start = threading.Barrier(len(burst), timeout=60)

        def fire(who: str, pk: int) -> tuple[int, Shot]:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=90)
            start.wait()
            status, body = _request(server.port, f"/api/v1/claim/{pk}/actions/pay", {},
                                    tokens[who], conn)
            return pk, Shot(who, status, body)

        with ThreadPoolExecutor(max_workers=len(burst)) as many:
            fired = [f.result(timeout=120) for f in
                     [many.submit(fire, who, pk) for who, pk in burst]]
    cpu_used = {pid: _cpu_ticks(pid) - before for pid, before in cpu_before.items()}
    by_record: dict[int, list[int]] = {}
    for pk, shot in fired:
        by_record.setdefault(pk, []).append(shot.status)
        assert shot.status in (200, 409), (pk, shot)
    assert {pk: sorted(codes) for pk, codes in by_record.items()} == \
        dict.fromkeys(prepared.burst, [200, 409])

    log = server.output()
    assert "Traceback" not in log, log
    winners: dict[str, Counter[str]] = {action: Counter() for action in RACES}
    for (action, pk), pair in shots.items():
        target = RACES[action][1]
        outcome = sorted(pair, key=lambda s: s.status)
        assert [s.status for s in outcome] == [200, 409], (action, pk, pair)
        won, lost = outcome
        assert (won.body["state"], won.body["moved"]) == (target, True), (action, pk, won)
        assert "acted first" in lost.body["message"], (action, pk, lost)
        assert f"'{target}' now" in lost.body["message"], (action, pk, lost)
        winners[action][won.who] += 1

    engine = create_engine(prepared.url)
    try:
        with engine.connect() as conn:

            def queue(pk: int) -> Counter[tuple[Any, ...]]:
                return Counter(tuple(r) for r in conn.execute(text(
                    "SELECT transition, slot, user_id, role FROM portal_workflow_task "
                    "WHERE entity = 'claim' AND record_id = :pk"), {"pk": pk}))

            for action, (_, target) in RACES.items():
                pks = prepared.claims[action]
                expected_queue = queue(prepared.controls[action])
                states = dict(conn.execute(text(
                    "SELECT id, status FROM claim WHERE id = ANY(:ids)"), {"ids": pks}).all())
                assert states == dict.fromkeys(pks, target), (action, states)
                steps = Counter(r for (r,) in conn.execute(text(
                    "SELECT record_id FROM portal_workflow_step WHERE entity = 'claim' "
                    "AND transition = :t AND record_id = ANY(:ids)"), {"t": action, "ids": pks}))
                assert steps == dict.fromkeys(pks, 1), (action, steps)
                assert all(n == 1 for n in expected_queue.values()), expected_queue
                for pk in pks:
                    assert queue(pk) == expected_queue, (action, pk, queue(pk))
            paid = prepared.claims["pay"] + prepared.burst
            payouts = Counter(r for (r,) in conn.execute(text(
                "SELECT claim_id FROM payout WHERE claim_id = ANY(:ids)"), {"ids": paid}))
            assert payouts == dict.fromkeys(paid, 1), payouts
            states = dict(conn.execute(text("SELECT id, status FROM claim WHERE id = "
                                            "ANY(:ids)"), {"ids": prepared.burst}).all())
            assert states == dict.fromkeys(prepared.burst, "paid"), states
    finally:
        engine.dispose()

    # the race is real: each approver won some, and several worker processes served them
    for action, ((first, second), _) in RACES.items():
        assert winners[action][first] and winners[action][second], (action, winners)
    busy = [pid for pid, ticks in cpu_used.items() if ticks >= 2]
    assert len(busy) >= 2, cpu_used
