"""``create_app``: compile the YAML, build the classes, wire them into FAB, freeze."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Optional

from portal.startup_gc import startup_gc

# Importing the stack allocates about a million long-lived objects; with the cyclic collector
# running, its collections over them were a fifth of the import. See portal.startup_gc.
with startup_gc(freeze=True):
    from flask import Flask, request
    from flask.sessions import SecureCookieSessionInterface
    from flask_appbuilder import Model
    from flask_appbuilder.models.sqla.base import SQLA
    from sqlalchemy import event
    from werkzeug.middleware.proxy_fix import ProxyFix

    from portal.appbuilder import PortalAppBuilder
    from portal.ddl import add_missing_columns, create_tables, ddl_transaction, missing_tables
    from portal.engines.audit import protect_audit_table
    from portal.engines.computed import install_computed
    from portal.engines.filling import install_filling
    from portal.engines.lifecycle import install_lifecycle
    from portal.engines.mail import mail_settings
    from portal.engines.scoping import install_read_scopes
    from portal.generators.models import build_models
    from portal.generators.screens import build_screens
    from portal.migrate.snapshot import snapshot
    from portal.migrate.startup import database_state, record_first_start, settle
    from portal.routing import LazyBuilderRule
    from portal.runtime import PortalRuntime, acting_principal, request_principal
    from portal.security_generation import install_generation_triggers
    from portal.settings import load_settings
    from portal.spec.compiler import compile_schema_dir
    from portal.system_models import Department  # noqa: F401  (registers the system tables)
    from portal.web.blueprint import portal_blueprint
    from portal.web.i18n import install_user_locale
    from portal.web.notification_mail import install_notification_mail
    from portal.web.public_form_views import public_form_blueprint
    from portal.wiring import (
        apply_permission_plan,
        permission_plan,
        register_entities,
        register_system_views,
    )

log = logging.getLogger(__name__)


class HttpsAwareSessionInterface(SecureCookieSessionInterface):
    """Marks the session cookie Secure whenever the request came over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config.get("SESSION_COOKIE_SECURE")) or request.is_secure


def _sqlite_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_app(overrides: Optional[Mapping[str, Any]] = None) -> Flask:
    """Build the portal for the configured schema folder and database.

    Raises ``SpecErrors`` (every definition error at once) if the YAML is wrong, and
    ``ConfigError`` if the configuration cannot run; nothing is started in either case.
    Outside ``TESTING`` the objects built here are frozen out of garbage collection
    (``FREEZE_GC``; see ``portal.startup_gc``).
    """
    config = load_settings(overrides)
    with startup_gc(bool(config.get("FREEZE_GC", not config.get("TESTING")))):
        return _build_app(config)


def _build_app(config: dict[str, Any]) -> Flask:
    registry = compile_schema_dir(config["SCHEMA_DIR"])
    here = Path(__file__).parent
    app = Flask("portal", instance_path=str(config["INSTANCE_DIR"]),
                template_folder=str(here / "web" / "templates"))
    app.url_rule_class = LazyBuilderRule  # type: ignore[assignment]
    app.config.update(config)
    app.session_interface = HttpsAwareSessionInterface()
    if config.get("BEHIND_PROXY"):
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore
    Path(config["INSTANCE_DIR"]).mkdir(parents=True, exist_ok=True)

    db = SQLA()
    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            event.listen(db.engine, "connect", _sqlite_foreign_keys)
        models = build_models(registry)
        runtime = PortalRuntime(
            registry=registry, models=models,
            entity_of={cls: registry.entity(name) for name, cls in models.classes.items()},
            attachment_dir=Path(config["INSTANCE_DIR"]) / "attachments",
        )
        app.extensions["portal"] = runtime
        install_read_scopes(db.session, runtime.entity_of, request_principal)
        install_lifecycle(db.session, acting_principal)
        install_computed(db.session, registry, models.classes)
        install_filling(db.session, registry, models.classes, acting_principal)
        if (mail := mail_settings(config)) is not None:
            install_notification_mail(app, db.session, mail)

        appbuilder = PortalAppBuilder(update_perms=False)
        appbuilder.init_app(app, db.session)
        shape = snapshot(registry)
        with ddl_transaction(db.engine) as conn:
            Model.metadata.create_all(conn)  # the portal's system tables, if FAB did not
            add_missing_columns(conn, list(Model.metadata.tables.values()))
            protect_audit_table(conn)
            install_generation_triggers(conn, Model.metadata.tables)
            state = database_state(conn, models.metadata, shape)
            missing = missing_tables(conn, models.metadata) \
                if state in ("current", "fresh") else []
        if state in ("behind", "unrecorded"):  # raises SchemaBehind unless nothing to decide
            log.info("schema: %s", settle(db.engine, registry, models.metadata,
                                          config["SCHEMA_DIR"], backup_dir(config),
                                          config.get("AUTO_MIGRATE", "off")))
        # Missing entity tables are created while the screens are built and registered: the
        # database runs the DDL (most of a first start on PostgreSQL) while Python builds
        # classes and routes, which touch no table. Nothing else is written until it is done.
        # A restart has nothing to create and no thread to share the interpreter with.
        with ThreadPoolExecutor(max_workers=1) as pool:
            tables = pool.submit(create_tables, db.engine, models.metadata, missing) \
                if missing else None
            classes = build_screens(registry, models, lambda: db.session)
            register_entities(appbuilder, registry, classes)
            if tables is not None:
                tables.result()
        if state == "fresh":
            record_first_start(db.engine, shape, config["SCHEMA_DIR"])
        register_system_views(appbuilder)
        appbuilder.sm.limiter.limit(config["AUTH_RATE_LIMIT"], methods=["POST"])(
            _security_api_blueprint(app))
        app.register_blueprint(portal_blueprint())
        app.register_blueprint(public_form_blueprint())
        install_user_locale(app)
        from portal.cli import portal as portal_commands

        app.cli.add_command(portal_commands)
        report = apply_permission_plan(appbuilder, permission_plan(appbuilder, registry))
        log.info("permissions synced: %s", report)
    return app


def backup_dir(config: Mapping[str, Any]) -> Path:
    """Where ``portal migrate --drop`` writes the CSV backups of what it drops."""
    return Path(config["INSTANCE_DIR"]) / "backups"


def _security_api_blueprint(app: Flask) -> Any:
    return app.blueprints["SecurityApi"]
