"""Email for in-app notifications, over SMTP (no Flask: the web layer wires it to commits).

A notification is mailed at most once, whichever process gets to it: ``deliver`` first claims
its rows in a short transaction of its own (``mail_status`` NULL or "failed" -> "sending", one
more attempt counted), and only what it claimed is sent. Each row then ends "sent",
"failed" (with the SMTP error, for ``retry_failed``) or "no-address" (the user has no email or
is inactive). An unreachable server never raises into the caller: it is logged and reported.
While a row is "sending", ``mailed_at`` is when it was claimed; otherwise the last attempt.
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
import ssl
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from email.errors import MessageError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Any, Optional

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.engine import Engine, Row

from portal.system_models import Notification, PortalUser, utcnow

log = logging.getLogger(__name__)

#: ``link(entity, record_id)``: the absolute URL of a record's page.
LinkFn = Callable[[str, int], str]

SENT, FAILED, NO_ADDRESS, SENDING = "sent", "failed", "no-address", "sending"
#: A failed email is tried this many times in all, then left for a person to look at.
MAX_ATTEMPTS = 5
#: A row still "sending" after this long belongs to a process that died mid-send.
STALE_CLAIM = dt.timedelta(hours=1)
#: Ids per ``IN (...)``: far below every backend's limit on bound parameters.
CHUNK = 500
#: Errors that concern one message only: the connection is still good for the next one.
_MESSAGE_ERRORS = (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused,
                   smtplib.SMTPDataError, smtplib.SMTPNotSupportedError)
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}


class MailConfigError(ValueError):
    """An SMTP setting is wrong; the message names the ``PORTAL_*`` variable to fix."""


@dataclass(frozen=True)
class MailSettings:
    """How to reach the SMTP server and what the emails say about their origin."""

    host: str
    port: int = 25
    username: str = ""
    password: str = field(default="", repr=False)
    starttls: bool = False
    ssl: bool = False
    sender: str = "CRM Portal <portal@localhost>"
    timeout: float = 10.0
    base_url: Optional[str] = None


@dataclass(frozen=True)
class DeliveryReport:
    """What one delivery did: counts, and ``(notification id, reason)`` for each failure."""

    sent: int = 0
    failed: int = 0
    no_address: int = 0
    failures: tuple[tuple[int, str], ...] = ()

    def __str__(self) -> str:
        lines = [f"sent {self.sent}, failed {self.failed}, no address {self.no_address}"]
        lines += [f"  notification {pk}: {reason}" for pk, reason in self.failures]
        return "\n".join(lines)


@dataclass
class _Tally:
    """Collects one call's outcomes (a local of ``deliver``, never shared)."""

    sent: int = 0
    no_address: int = 0
    failures: list[tuple[int, str]] = field(default_factory=list)

    def report(self) -> DeliveryReport:
        return DeliveryReport(self.sent, len(self.failures), self.no_address,
                              tuple(self.failures))


# -- configuration ----------------------------------------------------------------------------

def mail_settings(config: Mapping[str, Any]) -> Optional[MailSettings]:
    """The SMTP settings of a Flask config, or None when ``SMTP_HOST`` is empty (no email).

    Raises ``MailConfigError`` (a ``ValueError``) naming the ``PORTAL_*`` variable at fault.
    """
    host = str(config.get("SMTP_HOST") or "").strip()
    if not host:
        return None
    starttls = _flag(config, "SMTP_STARTTLS")
    use_ssl = _flag(config, "SMTP_SSL")
    if starttls and use_ssl:
        raise MailConfigError("PORTAL_SMTP_STARTTLS and PORTAL_SMTP_SSL are both on: use "
                              "PORTAL_SMTP_SSL for implicit TLS (port 465) or "
                              "PORTAL_SMTP_STARTTLS (port 587), not both")
    return MailSettings(
        host=host, port=_port(config.get("SMTP_PORT", 25)),
        username=str(config.get("SMTP_USERNAME") or ""),
        password=str(config.get("SMTP_PASSWORD") or ""),
        starttls=starttls, ssl=use_ssl, sender=_sender(config.get("MAIL_SENDER")),
        timeout=_timeout(config.get("SMTP_TIMEOUT", 10)),
        base_url=_base_url(config.get("BASE_URL")),
    )


def _port(value: Any) -> int:
    try:
        port = int(str(value).strip())
    except ValueError:
        port = 0
    if isinstance(value, bool) or not 1 <= port <= 65535:
        raise MailConfigError(f"PORTAL_SMTP_PORT is '{value}'; use a port number from 1 to "
                              "65535 (25, 465 with PORTAL_SMTP_SSL, 587 with "
                              "PORTAL_SMTP_STARTTLS)")
    return port


def _timeout(value: Any) -> float:
    try:
        seconds = float(str(value).strip())
    except ValueError:
        seconds = 0.0
    if isinstance(value, bool) or not 0 < seconds <= 600:
        raise MailConfigError(f"PORTAL_SMTP_TIMEOUT is '{value}'; use a number of seconds "
                              "above 0 and at most 600")
    return seconds


def _flag(config: Mapping[str, Any], key: str) -> bool:
    value = config.get(key, False)
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE | _FALSE:
        return text in _TRUE
    raise MailConfigError(f"PORTAL_{key} is '{value}'; use 1 or 0 (true or false)")


def _sender(value: Any) -> str:
    sender = str(value or "").strip()
    _name, addr = parseaddr(sender)
    if "@" not in addr or "\n" in sender or "\r" in sender:
        raise MailConfigError(f"PORTAL_MAIL_SENDER is '{sender}'; set the From address of "
                              "the emails, e.g. 'CRM Portal <portal@example.com>'")
    return sender


def _base_url(value: Any) -> Optional[str]:
    url = str(value or "").strip().rstrip("/")
    if url and not url.startswith(("http://", "https://")):
        raise MailConfigError(f"PORTAL_BASE_URL is '{value}'; use the portal's address as "
                              "users reach it, e.g. 'https://crm.example.com'")
    return url or None


# -- delivery ---------------------------------------------------------------------------------

def deliver(engine: Engine, settings: MailSettings, ids: Iterable[int],
            link: LinkFn) -> DeliveryReport:
    """Email the notifications ``ids`` (one SMTP connection), each at most once in all.

    Rows another process has claimed or already sent are skipped. SMTP errors are recorded on
    the rows and in the report, never raised; database errors are raised.
    """
    tally = _Tally()
    rows = _claim(engine, sorted(set(ids)))
    if not rows:
        return tally.report()
    mailable = [r for r in rows if _mailable(r)]
    unmailable = [r.id for r in rows if not _mailable(r)]
    if unmailable:
        _mark(engine, unmailable, NO_ADDRESS)
        tally.no_address += len(unmailable)
    if mailable:
        _send_all(engine, settings, mailable, link, tally)
    return tally.report()


def retry_failed(engine: Engine, settings: MailSettings, link: LinkFn,
                 limit: int = 500) -> DeliveryReport:
    """Re-send up to ``limit`` notifications whose email failed (fewer than
    ``MAX_ATTEMPTS`` tries so far), and those left "sending" by a process that died."""
    t = Notification.__table__
    with engine.connect() as conn:
        ids = conn.execute(select(t.c.id).where(_retryable(utcnow())).order_by(t.c.id)
                           .limit(limit)).scalars().all()
    return deliver(engine, settings, ids, link)


def send_test(settings: MailSettings, address: str) -> Optional[str]:
    """Send one test email to ``address``: None when the server accepted it, else why not."""
    try:
        msg = _envelope(settings, "Test email from the portal", Address(addr_spec=address))
        msg.set_content(f"The portal can send email through {settings.host}:{settings.port}.\n")
        with _connect(settings) as smtp:
            smtp.send_message(msg, from_addr=_sender_address(settings), to_addrs=[address])
    except (OSError, ValueError, MessageError) as exc:
        return _reason(exc)
    return None


def _mailable(row: Row[Any]) -> bool:
    """An active user with an address (a deleted user has neither)."""
    return bool(row.active and (row.email or "").strip())


def _retryable(now: dt.datetime) -> Any:
    t = Notification.__table__
    tries_left = func.coalesce(t.c.mail_attempts, 0) < MAX_ATTEMPTS
    return or_(and_(t.c.mail_status == FAILED, tries_left),
               and_(t.c.mail_status == SENDING, t.c.mailed_at < now - STALE_CLAIM, tries_left))


def _claim(engine: Engine, ids: Sequence[int]) -> list[Row[Any]]:
    """Take the rows no one else is mailing, in one short transaction, and read them."""
    t, u = Notification.__table__, PortalUser.__table__
    now, claimed = utcnow(), []
    with engine.begin() as conn:
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start:start + CHUNK]
            claimed += conn.execute(
                update(t).where(t.c.id.in_(chunk),
                                or_(t.c.mail_status.is_(None), _retryable(now)))
                .values(mail_status=SENDING, mailed_at=now, mail_error=None,
                        mail_attempts=func.coalesce(t.c.mail_attempts, 0) + 1)
                .returning(t.c.id)).scalars().all()
        if not claimed:
            return []
        return list(conn.execute(
            select(t.c.id, t.c.title, t.c.body, t.c.entity, t.c.record_id, u.c.email,
                   u.c.username, u.c.first_name, u.c.last_name, u.c.active)
            .select_from(t.outerjoin(u, u.c.id == t.c.user_id))
            .where(t.c.id.in_(claimed)).order_by(t.c.id)))


def _mark(engine: Engine, ids: Sequence[int], status: str, error: Optional[str] = None) -> None:
    t = Notification.__table__
    with engine.begin() as conn:
        conn.execute(update(t).where(t.c.id.in_(ids), t.c.mail_status == SENDING)
                     .values(mail_status=status, mail_error=error, mailed_at=utcnow()))


def _send_all(engine: Engine, settings: MailSettings, rows: list[Row[Any]], link: LinkFn,
              tally: _Tally) -> None:
    """One connection for all ``rows``; each row is marked as soon as its fate is known, so
    that a crash halfway re-sends nothing already sent."""
    try:
        smtp = _connect(settings)
    except OSError as exc:
        _fail(engine, settings, rows, f"cannot reach {settings.host}:{settings.port}: "
                                      f"{_reason(exc)}", tally)
        return
    try:
        for i, row in enumerate(rows):
            try:
                smtp.send_message(_message(settings, row, link),
                                  from_addr=_sender_address(settings), to_addrs=[row.email])
            except (*_MESSAGE_ERRORS, ValueError, MessageError) as exc:
                _fail(engine, settings, [row], _reason(exc), tally)
                continue
            except OSError as exc:  # the connection is gone: the rest cannot go either
                _fail(engine, settings, rows[i:], f"connection to {settings.host}:"
                                                  f"{settings.port} lost: {_reason(exc)}", tally)
                return
            _mark(engine, [row.id], SENT)
            tally.sent += 1
    finally:
        _close(smtp)


def _fail(engine: Engine, settings: MailSettings, rows: Sequence[Row[Any]], reason: str,
          tally: _Tally) -> None:
    log.warning("email for notification(s) %s not sent via %s:%s: %s",
                ", ".join(str(r.id) for r in rows), settings.host, settings.port, reason)
    _mark(engine, [r.id for r in rows], FAILED, reason)
    tally.failures += [(r.id, reason) for r in rows]


# -- SMTP and the message ---------------------------------------------------------------------

def _connect(settings: MailSettings) -> smtplib.SMTP:
    """An open, authenticated SMTP connection (implicit TLS, STARTTLS or plain)."""
    if settings.ssl:
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(settings.host, settings.port,
                                              timeout=settings.timeout,
                                              context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    try:
        if settings.starttls:
            smtp.starttls(context=ssl.create_default_context())
        if settings.username:
            smtp.login(settings.username, settings.password)
    except BaseException:
        smtp.close()
        raise
    return smtp


def _close(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except OSError:
        smtp.close()


def _message(settings: MailSettings, row: Row[Any], link: LinkFn) -> EmailMessage:
    name = f"{row.first_name or ''} {row.last_name or ''}".strip() or row.username or ""
    msg = _envelope(settings, row.title, Address(display_name=_one_line(name),
                                                 addr_spec=row.email))
    parts = [row.title, row.body or ""]
    if row.entity and row.record_id is not None:
        parts.append(link(row.entity, row.record_id))
    msg.set_content("\n\n".join(p for p in parts if p.strip()) + "\n", charset="utf-8")
    return msg


def _envelope(settings: MailSettings, subject: str, to: Address) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = _one_line(subject)
    msg["From"] = settings.sender
    msg["To"] = to
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain=_sender_address(settings).rpartition("@")[2])
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies, please
    return msg


def _sender_address(settings: MailSettings) -> str:
    return parseaddr(settings.sender)[1]


def _one_line(text: str) -> str:
    """Header values may not hold line breaks (they would inject headers)."""
    return " ".join(str(text).split())


def _reason(exc: BaseException) -> str:
    """The server's own words where there are some (code and text), else the OS error."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(f"{addr}: {code} {_decode(text)}"
                         for addr, (code, text) in exc.recipients.items())
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_decode(exc.smtp_error)}"
    return f"{type(exc).__name__}: {exc}"


def _decode(text: Any) -> str:
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
