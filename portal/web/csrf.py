"""The CSRF check of the portal's own forms (FAB's forms check theirs)."""

from __future__ import annotations

from flask import abort, request
from flask_wtf.csrf import validate_csrf
from wtforms.validators import ValidationError

#: What a refused token means to the user.
EXPIRED = "the form expired; reload the page and try again"


def csrf_ok() -> bool:
    """True when the request carries a valid CSRF token: the posted form's ``csrf_token``,
    or the ``X-CSRFToken`` header of a script's JSON request."""
    try:
        validate_csrf(request.form.get("csrf_token") or request.headers.get("X-CSRFToken"))
    except ValidationError:
        return False
    return True


def require_csrf() -> None:
    """Stop the request (400) unless the posted form carries a valid CSRF token."""
    if not csrf_ok():
        abort(400, description=EXPIRED)
