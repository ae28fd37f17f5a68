"""Email the notifications a transaction wrote, once it has committed.

The workflow engine lists the ids of the notifications it inserts in ``session.info``
(``NEW_NOTIFICATIONS``). When the transaction commits they are mailed; when it rolls back (a
refused action, an error) they are forgotten, so nothing is sent for what did not happen.

Delivery is synchronous, right after the commit and before the response: the portal talks to
an intranet SMTP server, so a queue and a worker would add more to run than they save. A slow
or dead server delays the response by at most ``PORTAL_SMTP_TIMEOUT`` and never changes it:
the rows are marked "failed" for ``portal mail --retry``.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

from flask import Flask, has_request_context, request
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, SessionTransaction

from portal.engines.mail import LinkFn, MailSettings, deliver
from portal.system_models import NEW_NOTIFICATIONS

log = logging.getLogger(__name__)


def record_link(base_url: Optional[str]) -> LinkFn:
    """``link(entity, record_id)``: the record's show page (the generated ModelView's
    ``/<entity>/show/<id>``) under ``base_url``, or under the current request's host when
    ``base_url`` is empty. Outside a request without ``base_url`` the link is a bare path."""

    def link(entity: str, record_id: int) -> str:
        root = base_url or (request.host_url if has_request_context() else "")
        return f"{root.rstrip('/')}/{entity}/show/{record_id}"

    return link


def install_notification_mail(app: Flask, session_factory: Any,
                              settings: MailSettings) -> None:
    """Mail new notifications after each commit of ``session_factory``'s sessions."""
    with app.app_context():
        engine: Engine = app.extensions["sqlalchemy"].engine
    link = record_link(settings.base_url)

    def after_commit(session: Session) -> None:
        if session.get_nested_transaction() is not None:
            return  # a savepoint was released: the transaction itself goes on
        ids = session.info.pop(NEW_NOTIFICATIONS, None)
        if ids:
            _deliver_quietly(engine, settings, ids, link)

    def forget(session: Session, transaction: SessionTransaction) -> None:
        # Only the whole transaction's end counts: the ids a rolled-back savepoint wrote are no
        # longer in the table, so delivering them later claims nothing.
        if transaction.parent is None:
            session.info.pop(NEW_NOTIFICATIONS, None)

    event.listen(session_factory, "after_commit", after_commit)
    event.listen(session_factory, "after_soft_rollback", forget)
    # A session closed without commit or rollback ends its transaction without either event.
    event.listen(session_factory, "after_transaction_end", forget)


def _deliver_quietly(engine: Engine, settings: MailSettings, ids: list[int],
                     link: LinkFn) -> None:
    """The committed action stands whatever happens to its email: nothing is raised."""
    try:
        report = deliver(engine, settings, ids, link)
    except Exception:  # a database error while marking rows; the action is already committed
        log.exception("email for notification(s) %s not sent", ids)
        return
    log.info("notification email: %s", str(report).splitlines()[0])
