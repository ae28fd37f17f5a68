"""The CSRF check of the portal's own forms (FAB's forms check theirs)."""

from __future__ import annotations

from flask import abort, request
from flask_wtf.csrf import validate_csrf
from wtforms.validators import ValidationError


def require_csrf() -> None:
    """Stop the request (400) unless the posted form carries a valid CSRF token."""
    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError:
        abort(400, description="the form expired; reload the page and try again")
