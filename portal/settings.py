"""Turn ``config.py`` and explicit overrides into the Flask/FAB configuration."""

from __future__ import annotations

import importlib
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Optional

from portal.web.i18n import LANGUAGES


class ConfigError(Exception):
    """The configuration cannot run: says what is wrong and how to fix it."""


def load_settings(overrides: Optional[Mapping[str, Any]] = None) -> dict[str, Any]:
    """Flask config for the portal: ``config.py`` values, then ``overrides`` (tests, CLI)."""
    cfg = importlib.import_module("config")
    values = {k: getattr(cfg, k) for k in dir(cfg) if k.isupper()}
    values.update(overrides or {})
    instance = Path(values["INSTANCE_DIR"])
    debug = bool(values.get("DEBUG")) or bool(values.get("TESTING"))
    secret = values.get("SECRET_KEY") or ""
    if not secret:
        if not debug:
            raise ConfigError(
                "PORTAL_SECRET_KEY is not set: sessions and CSRF tokens would be forgeable. "
                "Set PORTAL_SECRET_KEY to a long random string (or PORTAL_DEBUG=1 for a "
                "throw-away key in development)."
            )
        secret = secrets.token_hex(32)
    if values.get("AUTO_MIGRATE", "off") not in ("off", "safe"):
        raise ConfigError(f"PORTAL_AUTO_MIGRATE is '{values['AUTO_MIGRATE']}'; use off or safe")
    locale = values.get("DEFAULT_LOCALE", "en")
    if locale not in LANGUAGES:
        raise ConfigError(f"PORTAL_DEFAULT_LOCALE is '{locale}'; use one of: "
                          f"{', '.join(LANGUAGES)}")
    _check_mail(values)
    return {
        **values,
        "SECRET_KEY": secret,
        "SQLALCHEMY_DATABASE_URI": values["DATABASE_URL"],
        "SQLALCHEMY_TRACK_MODIFICATIONS": False,
        "INSTANCE_DIR": instance,
        "SCHEMA_DIR": Path(values["SCHEMA_DIR"]),
        "MAX_CONTENT_LENGTH": int(values["MAX_UPLOAD_BYTES"]) + 1024 * 1024,
        "BABEL_DEFAULT_LOCALE": locale,
        "LANGUAGES": {code: dict(meta) for code, meta in LANGUAGES.items()},
        "APP_NAME": values.get("APP_NAME", "CRM Portal"),
        "FAB_UPDATE_PERMS": False,
        "FAB_API_SWAGGER_UI": True,
        "FAB_ADD_SECURITY_API": False,
        "FAB_SECURITY_MANAGER_CLASS": "portal.security.PortalSecurityManager",
        "FAB_BASE_TEMPLATE": "portal/base.html",
        "FAB_API_MAX_PAGE_SIZE": 100,
        "AUTH_TYPE": 1,  # AUTH_DB: users and hashed passwords in the database
        "AUTH_ROLE_ADMIN": "Admin",
        "AUTH_ROLE_PUBLIC": "Public",
        "AUTH_RATE_LIMITED": True,
        "AUTH_RATE_LIMIT": values.get("LOGIN_RATE_LIMIT", "10 per minute"),
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_STORAGE_URI": values.get("RATELIMIT_STORAGE_URI", "memory://"),
        "WTF_CSRF_ENABLED": values.get("WTF_CSRF_ENABLED", True),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "PREFERRED_URL_SCHEME": "https" if not debug else "http",
    }


def _check_mail(values: Mapping[str, Any]) -> None:
    """Refuse SMTP settings that cannot work (only checked here; the app factory reads them)."""
    if not str(values.get("SMTP_HOST") or "").strip():
        return  # no email; and the mail engine (it imports the models) is not loaded for nothing
    from portal.engines.mail import mail_settings

    try:
        mail_settings(values)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
