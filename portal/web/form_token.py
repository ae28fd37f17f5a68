"""Signed, time-stamped tokens for anonymous forms: a sender must have loaded the form.

A token is ``<issued ms>.<HMAC-SHA256 of form and time>`` under the app's secret key. It is
refused when forged or for another form (``bad``), when older than the form's lifetime
(``expired``: the page is shown again with the values kept), and when sent sooner than a
person could fill the form in (``fast``: answered like a success, and nothing is saved).
No session or cookie is involved.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Literal, Optional

#: How long a loaded form may be sent (milliseconds).
LIFETIME_MS = 6 * 3600 * 1000

Verdict = Literal["ok", "bad", "expired", "fast"]


def _now_ms() -> int:
    return int(time.time() * 1000)


def _signature(secret: str, form: str, issued: int) -> str:
    message = f"public-form\x00{form}\x00{issued}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def issue(secret: str, form: str, now_ms: Optional[int] = None) -> str:
    """A token for ``form`` issued now (or at ``now_ms``)."""
    issued = _now_ms() if now_ms is None else now_ms
    return f"{issued}.{_signature(secret, form, issued)}"


def verdict(secret: str, form: str, token: object, min_seconds: float,
            now_ms: Optional[int] = None) -> Verdict:
    """Whether ``token`` lets a submission of ``form`` through."""
    if not isinstance(token, str) or token.count(".") != 1:
        return "bad"
    issued_text, signature = token.split(".")
    if not issued_text.isdigit() or len(issued_text) > 16:
        return "bad"
    issued = int(issued_text)
    if not hmac.compare_digest(signature, _signature(secret, form, issued)):
        return "bad"
    age = (_now_ms() if now_ms is None else now_ms) - issued
    if age > LIFETIME_MS:
        return "expired"
    if age < min_seconds * 1000:
        return "fast"
    return "ok"
