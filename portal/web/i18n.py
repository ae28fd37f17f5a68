"""Labels from YAML shown in the current user's language."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from flask import current_app, has_request_context, session
from flask_babel import LazyString

from portal.spec.model import FieldSpec, Label

LANGUAGES: Mapping[str, Mapping[str, str]] = MappingProxyType({
    "en": {"flag": "gb", "name": "English"},
    "zh_CN": {"flag": "cn", "name": "简体中文"},
    "zh_TW": {"flag": "tw", "name": "繁體中文"},
})


def current_locale() -> str:
    """The locale of this request: the user's choice, else the configured default."""
    if has_request_context():
        chosen = session.get("locale")
        if chosen in LANGUAGES:
            return chosen
    return current_app.config.get("BABEL_DEFAULT_LOCALE", "en")


class LazyLabel(LazyString):
    """flask-babel's ``LazyString`` that does not render itself to answer for a private
    attribute: at start-up FAB probes every attribute of every view for markers
    (``_permission_name``, ``_before_request_hook``, ...), and a ``LazyString`` answers
    ``hasattr`` by rendering (a translation lookup) and asking the resulting ``str``, which
    has no such attributes anyway."""

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("_") and not attr.startswith("__"):
            raise AttributeError(attr)
        return super().__getattr__(attr)


def lazy_label(label: Label, fallback: str) -> LazyString:
    """A string that renders ``label`` in the locale of whoever reads it."""
    return LazyLabel(lambda: label.get(current_locale(), fallback))


def humanize(name: str) -> str:
    """``credit_limit`` -> ``Credit limit``."""
    return name.replace("_", " ").strip().capitalize()


def field_label(f: FieldSpec) -> LazyString:
    """The lazy label of a field, defaulting to its humanized name."""
    return lazy_label(f.label, humanize(f.name))


def enum_label(f: FieldSpec, value: str) -> str:
    """The label of one enum value in the current locale (the value itself by default)."""
    label = f.value_labels.get(value)
    return label.get(current_locale(), value) if label else value


def install_user_locale(app: Any) -> None:
    """Keep each user's language: restore it at login, remember it when the user switches."""
    from flask import g, request
    from flask_login import user_logged_in

    def restore(_sender: Any, user: Any, **_kw: Any) -> None:
        if getattr(user, "locale", None) in LANGUAGES:
            session["locale"] = user.locale

    user_logged_in.connect(restore, app, weak=False)

    @app.after_request
    def remember(response: Any) -> Any:
        user = g.get("user")
        chosen = (request.view_args or {}).get("locale")
        if (request.endpoint == "LocaleView.index" and chosen in LANGUAGES
                and getattr(user, "is_authenticated", False)
                and getattr(user, "locale", None) != chosen):
            session_db = app.appbuilder.session
            user.locale = chosen
            session_db.commit()
        return response
