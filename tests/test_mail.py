"""Email for notifications, through a real SMTP server on localhost (aiosmtpd), on the
test-only approval flow (tests/flow_schema.py), on SQLite and PostgreSQL."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from conftest import ApiUser, WebUser, add_user
from flow_schema import write_flow_schema
from sqlalchemy import text

from portal.settings import ConfigError

USERS = (("lena", ["lead"], None), ("alice", ["clerk"], "lena"))  # name, roles, manager
SENDER = "CRM Portal <portal@example.com>"


class Inbox:
    """An aiosmtpd handler keeping every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = message_from_bytes(envelope.original_content, policy=policy.default)
        with self.lock:
            self.messages.append(msg)  # type: ignore[arg-type]
        return "250 OK"

    def to(self, user: str) -> list[EmailMessage]:
        """The messages addressed to ``user``@example.com."""
        with self.lock:
            return [m for m in self.messages if parseaddr(str(m["To"]))[1] ==
                    f"{user}@example.com"]

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_smtp(port: int) -> tuple[Controller, Inbox]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, inbox


@pytest.fixture
def smtp_port() -> int:
    return free_port()


@pytest.fixture
def inbox(smtp_port: int) -> Iterator[Inbox]:
    controller, box = start_smtp(smtp_port)
    yield box
    controller.stop()


def mail_portal(make_portal: Any, tmp_path: Path, backend: str, port: int, **config: Any) -> Any:
    app = make_portal(write_flow_schema(tmp_path / "schema"), backend=backend,
                      SMTP_HOST="127.0.0.1", SMTP_PORT=port, MAIL_SENDER=SENDER, **config)
    for name, roles, manager in USERS:
        add_user(app, name, roles, manager=manager)
    return app


def new_claim(user: ApiUser, title: str = "Taxi") -> int:
    resp = user.post("/api/v1/claim/", {"title": title, "amount": "120.00",
                                         "purpose": "client visit"})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["id"]


def act(user: ApiUser, pk: int, action: str, comment: Any = None) -> Any:
    body = {} if comment is None else {"comment": comment}
    return user.post(f"/api/v1/claim/{pk}/actions/{action}", body)


def sql(app: Any, statement: str, **params: Any) -> list[Any]:
    with app.app_context():
        session = app.appbuilder.session
        result = session.execute(text(statement), params)
        rows = result.all() if result.returns_rows else []
        session.commit()
        return rows


def mail_rows(app: Any) -> list[tuple[str, str, Any, Any, Any]]:
    """(username, title, mail_status, mail_attempts, mail_error) of every notification."""
    return [tuple(r) for r in sql(app, "SELECT u.username, n.title, n.mail_status, "
                                  "n.mail_attempts, n.mail_error FROM portal_notification n "
                                  "JOIN ab_user u ON u.id = n.user_id ORDER BY n.id")]


def subject(msg: EmailMessage) -> str:
    """The subject as a mail client shows it (Python's parser keeps the space of a fold)."""
    return str(msg["Subject"]).strip()


def body_of(msg: EmailMessage) -> str:
    part = msg.get_body(("plain",))
    assert part is not None
    return part.get_content().replace("\r\n", "\n")  # SMTP's line ends, as a client reads


def test_approver_and_owner_get_one_email_each(tmp_path: Path, make_portal: Any, backend: str,
                                               smtp_port: int, inbox: Inbox) -> None:
    """covers: PL10(email to the approver when a record reaches her queue, with a link to
    the record; email to the owner when someone else moves it; rows marked sent)"""
    app = mail_portal(make_portal, tmp_path, backend, smtp_port)
    alice, lena = ApiUser(app, "alice"), ApiUser(app, "lena")
    pk = new_claim(alice, "Taxi to the airport")
    assert inbox.messages == []  # a draft waits for nobody
    assert act(alice, pk, "submit").status_code == 200
    [mail] = inbox.to("lena")
    assert len(inbox.messages) == 1
    assert subject(mail) == "Claim Taxi to the airport waits for your approval"
    assert parseaddr(str(mail["From"]))[1] == "portal@example.com"
    assert mail["Message-ID"] and mail["Date"]
    link = f"http://localhost/claim/show/{pk}"
    assert link in body_of(mail)
    assert WebUser(app, "lena").get(link).status_code == 200  # the link opens the record

    inbox.clear()
    assert act(lena, pk, "lead_approve").get_json()["state"] == "approved"
    subjects = sorted(subject(m) for m in inbox.to("alice"))
    assert subjects == ["Claim Taxi to the airport: lead_approve by lena, then "
                        "small_approve (now 'approved')",
                        "Your claim was approved"]
    assert inbox.to("lena") == []
    assert all(link in body_of(m) for m in inbox.to("alice"))
    assert {(status, attempts) for _u, _t, status, attempts, _e in mail_rows(app)} == \
        {("sent", 1)}


def test_refused_action_sends_nothing_and_rejection_is_mailed(
        tmp_path: Path, make_portal: Any, backend: str, smtp_port: int, inbox: Inbox) -> None:
    """covers: PL10(a refused action writes and mails nothing; a rejection is mailed to the
    owner)"""
    app = mail_portal(make_portal, tmp_path, backend, smtp_port)
    alice, lena = ApiUser(app, "alice"), ApiUser(app, "lena")
    pk = new_claim(alice)
    act(alice, pk, "submit")
    inbox.clear()
    before = mail_rows(app)
    refused = act(lena, pk, "reject")
    assert refused.status_code == 422 and "comment" in refused.get_json()["message"]
    assert inbox.messages == [] and mail_rows(app) == before
    assert act(lena, pk, "reject", "receipt missing").get_json()["state"] == "rejected"
    [mail] = inbox.messages
    assert parseaddr(str(mail["To"]))[1] == "alice@example.com"
    assert subject(mail) == "Claim Taxi: reject by lena (now 'rejected')"
    assert "lena: receipt missing" in body_of(mail)  # the reason travels with the news
    assert f"/claim/show/{pk}" in body_of(mail)


def test_user_without_email_or_inactive(tmp_path: Path, make_portal: Any, backend: str,
                                        smtp_port: int, inbox: Inbox) -> None:
    """covers: PL10(no address: nothing sent, the row says so, the approval goes on)"""
    app = mail_portal(make_portal, tmp_path, backend, smtp_port)
    sql(app, "UPDATE ab_user SET email = '' WHERE username = 'lena'")
    alice, lena = ApiUser(app, "alice"), ApiUser(app, "lena")
    pk = new_claim(alice)
    assert act(alice, pk, "submit").status_code == 200
    assert inbox.messages == []
    assert [(u, s) for u, _t, s, _a, _e in mail_rows(app)] == [("lena", "no-address")]
    sql(app, "UPDATE ab_user SET active = false WHERE username = 'alice'")
    resp = act(lena, pk, "lead_approve")
    assert resp.status_code == 200 and resp.get_json()["state"] == "approved"
    assert inbox.messages == []
    assert {s for _u, _t, s, _a, _e in mail_rows(app)} == {"no-address"}


def test_smtp_down_then_retry_from_the_cli(tmp_path: Path, make_portal: Any,
                                           backend: str) -> None:
    """covers: PL10(SMTP down: the action succeeds, rows failed with the reason;
    `portal mail --retry` sends them once, a second retry sends nothing; `--test`)"""
    port = free_port()  # nothing listens here yet
    app = mail_portal(make_portal, tmp_path, backend, port,
                      BASE_URL="https://crm.example.test/")
    alice, lena = ApiUser(app, "alice"), ApiUser(app, "lena")
    pk = new_claim(alice)
    assert act(alice, pk, "submit").status_code == 200
    resp = act(lena, pk, "lead_approve")
    assert resp.status_code == 200 and resp.get_json()["state"] == "approved"
    rows = mail_rows(app)
    assert len(rows) == 3 and {(s, a) for _u, _t, s, a, _e in rows} == {("failed", 1)}
    assert all(f"cannot reach 127.0.0.1:{port}" in e and "Connection refused" in e
               for *_rest, e in rows)
    runner = app.test_cli_runner()
    down = runner.invoke(args=["portal", "mail", "--test", "ops@example.com"])
    assert down.exit_code == 1 and "not sent" in down.output and "refused" in down.output

    controller, inbox = start_smtp(port)
    try:
        first = runner.invoke(args=["portal", "mail", "--retry"])
        assert first.exit_code == 0, first.output
        assert first.output.startswith("sent 3, failed 0, no address 0")
        assert len(inbox.to("lena")) == 1 and len(inbox.to("alice")) == 2
        assert all(f"https://crm.example.test/claim/show/{pk}" in body_of(m)
                   for m in inbox.messages)
        assert {(s, a, e) for _u, _t, s, a, e in mail_rows(app)} == {("sent", 2, None)}
        again = runner.invoke(args=["portal", "mail", "--retry"])
        assert again.exit_code == 0 and again.output.startswith("sent 0, failed 0")
        assert len(inbox.messages) == 3
        ok = runner.invoke(args=["portal", "mail", "--test", "ops@example.com"])
        assert ok.exit_code == 0 and "test email sent to ops@example.com" in ok.output
        assert [subject(m) for m in inbox.messages[3:]] == ["Test email from the portal"]
    finally:
        controller.stop()


def test_chinese_text_arrives_intact(tmp_path: Path, make_portal: Any, backend: str,
                                     smtp_port: int, inbox: Inbox) -> None:
    """covers: PL10(Chinese titles, bodies and names arrive intact in UTF-8; a notification
    without a record has no link)"""
    from portal.engines.mail import deliver, mail_settings
    from portal.web.notification_mail import record_link

    app = mail_portal(make_portal, tmp_path, backend, smtp_port)
    sql(app, "UPDATE ab_user SET first_name = '李', last_name = '娜' WHERE username = 'lena'")
    alice = ApiUser(app, "alice")
    act(alice, new_claim(alice, "差旅报销：上海"), "submit")
    [mail] = inbox.to("lena")
    assert subject(mail) == "Claim 差旅报销：上海 waits for your approval"
    assert mail["To"].addresses[0].display_name == "李 娜"
    assert "差旅报销：上海" in body_of(mail)

    [(lena_id,)] = sql(app, "SELECT id FROM ab_user WHERE username = 'lena'")
    sql(app, "INSERT INTO portal_notification (user_id, at, kind, title, body) "
        "VALUES (:u, CURRENT_TIMESTAMP, 'workflow', '成本中心预算预警', :b)",
        u=lena_id, b="华东区本月已用 92%。\n请尽快处理。")
    [(nid,)] = sql(app, "SELECT max(id) FROM portal_notification")
    with app.app_context():
        engine = app.extensions["sqlalchemy"].engine
        settings = mail_settings(app.config)
        assert settings is not None
        report = deliver(engine, settings, [nid], record_link("https://crm.example.test"))
        assert (report.sent, report.failed) == (1, 0)
        assert deliver(engine, settings, [nid], record_link(None)).sent == 0  # only once
    notice = inbox.messages[-1]
    assert subject(notice) == "成本中心预算预警"
    assert body_of(notice) == "成本中心预算预警\n\n华东区本月已用 92%。\n请尽快处理。\n"


def test_bad_mail_settings_refuse_to_start(make_portal: Any, smtp_port: int) -> None:
    """covers: PL10(a bad SMTP setting stops start-up naming the variable; `portal mail`
    says when email is not configured)"""
    for bad, variable in (({"SMTP_PORT": "abc"}, "PORTAL_SMTP_PORT"),
                          ({"SMTP_TIMEOUT": "soon"}, "PORTAL_SMTP_TIMEOUT"),
                          ({"MAIL_SENDER": ""}, "PORTAL_MAIL_SENDER"),
                          ({"BASE_URL": "crm.example.com"}, "PORTAL_BASE_URL")):
        with pytest.raises(ConfigError, match=variable) as caught:
            make_portal(SMTP_HOST="127.0.0.1", **bad)
        assert str(caught.value).startswith(variable)
    app = make_portal()
    result = app.test_cli_runner().invoke(args=["portal", "mail", "--retry"])
    assert result.exit_code == 1 and "PORTAL_SMTP_HOST" in result.output


def test_mail_goes_only_after_the_whole_transaction_commits(
        tmp_path: Path, make_portal: Any, backend: str, smtp_port: int, inbox: Inbox) -> None:
    """covers: PL10(a rolled-back transaction mails nothing, not even at the session's next
    commit; a savepoint released inside a transaction does not send early)"""
    from portal.system_models import NEW_NOTIFICATIONS, Notification

    app = mail_portal(make_portal, tmp_path, backend, smtp_port)
    [(lena_id,)] = sql(app, "SELECT id FROM ab_user WHERE username = 'lena'")

    def notify(session: Any, title: str) -> None:
        note = Notification(user_id=lena_id, kind="workflow", title=title, body="")
        session.add(note)
        session.flush()
        session.info.setdefault(NEW_NOTIFICATIONS, []).append(note.id)

    with app.app_context():
        session = app.appbuilder.session
        notify(session, "never happened")
        session.rollback()
        assert NEW_NOTIFICATIONS not in session.info  # forgotten, not kept for the next commit
        session.execute(text("SELECT 1"))
        session.commit()
        assert inbox.messages == []
        notify(session, "happened")
        with session.begin_nested():
            session.execute(text("SELECT 1"))
        assert inbox.messages == []  # the transaction is still open
        session.commit()
    assert [subject(m) for m in inbox.messages] == ["happened"]
    assert [(t, s) for _u, t, s, _a, _e in mail_rows(app)] == [("happened", "sent")]


def test_concurrent_deliveries_send_each_notification_once(
        tmp_path: Path, make_portal: Any, backend: str, smtp_port: int, inbox: Inbox) -> None:
    """covers: PL10(rows are claimed atomically: workers delivering the same notifications
    at the same moment send each one exactly once)"""
    from portal.engines.mail import deliver, mail_settings
    from portal.web.notification_mail import record_link

    app = mail_portal(make_portal, tmp_path, backend, smtp_port)
    [(lena_id,)] = sql(app, "SELECT id FROM ab_user WHERE username = 'lena'")
    for i in range(12):
        sql(app, "INSERT INTO portal_notification (user_id, at, kind, title, body) "
            "VALUES (:u, CURRENT_TIMESTAMP, 'workflow', :t, '')", u=lena_id, t=f"note {i}")
    ids = [pk for (pk,) in sql(app, "SELECT id FROM portal_notification")]
    with app.app_context():
        engine = app.extensions["sqlalchemy"].engine
        settings = mail_settings(app.config)
    assert settings is not None
    start, reports = threading.Barrier(4), []

    def worker() -> None:
        start.wait()
        reports.append(deliver(engine, settings, ids, record_link(None)))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r.sent for r in reports) == 12 and sum(r.failed for r in reports) == 0
    assert sorted(subject(m) for m in inbox.messages) == sorted(f"note {i}" for i in range(12))
    assert {(s, a) for _u, _t, s, a, _e in mail_rows(app)} == {("sent", 1)}
