"""The ``portal`` command: check, schema, init, demo, serve, mail.

Also mounted on Flask's CLI, so ``flask --app app portal ...`` works the same.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional

import click

from portal.settings import ConfigError, load_settings
from portal.spec.model import SpecErrors


def _schema_dir(option: Optional[str]) -> Path:
    if option:
        return Path(option)
    try:
        return Path(load_settings({"DEBUG": True})["SCHEMA_DIR"])
    except ConfigError as exc:
        click.echo(f"configuration error: {exc}", err=True)
        sys.exit(1)


@contextlib.contextmanager
def _fatal_errors(spec_note: str) -> Iterator[None]:
    """Turn what stops a command (YAML errors, bad configuration, a database behind the
    YAML) into its messages on stderr and exit code 1."""
    from portal.migrate.startup import SchemaBehind

    try:
        yield
    except SchemaBehind as exc:
        click.echo(f"the portal cannot start: {exc}", err=True)
        sys.exit(1)
    except SpecErrors as exc:
        for error in exc.errors:
            click.echo(str(error), err=True)
        click.echo(f"{len(exc.errors)} error(s){spec_note}", err=True)
        sys.exit(1)
    except ConfigError as exc:
        click.echo(f"configuration error: {exc}", err=True)
        sys.exit(1)


def _app() -> Any:
    from portal.app_factory import create_app

    with _fatal_errors(": the portal cannot start."):
        return create_app()


@click.group(help="Low-code CRM portal: YAML definitions compiled into a running portal.")
def portal() -> None:
    """The command group."""


@portal.command(help="Check every YAML definition; print all errors (exit 1) or a summary.")
@click.option("--schema-dir", help="Folder of definitions (default: PORTAL_SCHEMA_DIR).")
def check(schema_dir: Optional[str]) -> None:
    """``portal check``."""
    from portal.spec.compiler import check_schema_dir

    folder = _schema_dir(schema_dir)
    registry, errors = check_schema_dir(folder)
    if errors:
        for error in errors:
            click.echo(str(error))
        click.echo(f"{len(errors)} error(s) in {folder}", err=True)
        sys.exit(1)
    assert registry is not None
    click.echo(f"{folder}: ok: {len(registry.entities)} entities, {len(registry.roles)} roles, "
               f"{len(registry.modules)} modules")


@portal.command(help="Write the JSON Schema of the YAML language (for editor autocompletion).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="File (default: stdout).")
def schema(output: Optional[str]) -> None:
    """``portal schema``."""
    from portal.spec.jsonschema_export import language_json_schema

    text = json.dumps(language_json_schema(), indent=2, ensure_ascii=False)
    if output:
        Path(output).write_text(text + "\n", encoding="utf-8")
        click.echo(f"wrote {output}")
    else:
        click.echo(text)


@portal.command(help="Create tables, sync roles and permissions, create the admin user.")
@click.option("--admin-user", default=lambda: os.environ.get("PORTAL_ADMIN_USER"))
@click.option("--admin-password", default=lambda: os.environ.get("PORTAL_ADMIN_PASSWORD"))
@click.option("--admin-email", default=lambda: os.environ.get("PORTAL_ADMIN_EMAIL"))
def init(admin_user: Optional[str], admin_password: Optional[str],
         admin_email: Optional[str]) -> None:
    """``portal init``: safe to run again; an existing admin is left as it is."""
    from portal.admin_user import ensure_admin

    app = _app()
    with app.app_context():
        if admin_user:
            if not admin_password:
                click.echo("--admin-password (or PORTAL_ADMIN_PASSWORD) is required with "
                           "--admin-user", err=True)
                sys.exit(2)
            created = ensure_admin(app.appbuilder, admin_user, admin_password,
                                   admin_email or f"{admin_user}@example.invalid")
            click.echo(f"admin user '{admin_user}' {'created' if created else 'already exists'}")
    click.echo(f"database ready: {app.config['SQLALCHEMY_DATABASE_URI']}")


@portal.command(help="Load demo data (Chinese and English) from the schema folder's demo/.")
def demo() -> None:
    """``portal demo``."""
    from portal.demo_data import DemoAlreadyLoaded, DemoDataError, load_demo

    app = _app()
    with app.app_context():
        try:
            summary = load_demo(app)
        except DemoAlreadyLoaded as exc:
            click.echo(f"demo data already there: {exc}")
            return
        except DemoDataError as exc:
            click.echo(f"demo data not loaded: {exc}", err=True)
            sys.exit(1)
    click.echo(summary)


@portal.command(help="Show (the default) or apply what the YAML asks of the database.")
@click.option("--plan", "mode", flag_value="plan", default=True,
              help="Show the plan; change nothing (the default).")
@click.option("--apply", "mode", flag_value="apply", help="Apply the plan in one transaction.")
@click.option("--history", "mode", flag_value="history", help="List the applied migrations.")
@click.option("--drop", is_flag=True,
              help="Drop the columns and tables of removed fields and entities (a CSV backup "
                   "of what is dropped is written first).")
@click.option("--by", "who", default=None, help="Who runs it (default: the system user).")
def migrate(mode: str, drop: bool, who: Optional[str]) -> None:
    """``portal migrate [--plan|--apply|--history] [--drop]``."""
    import getpass

    from portal.migrate_command import MigrationSetup

    with _fatal_errors(" in the YAML: fix them first."):
        setup = MigrationSetup.from_settings(load_settings({"DEBUG": True}))
    try:
        code = setup.run(mode, drop, who or getpass.getuser(), click.echo)
    finally:
        setup.close()
    sys.exit(code)


@portal.command(name="import", help="Import a CSV or XLSX file into an entity: a dry run that "
                                     "reports every problem, unless --apply.")
@click.argument("entity")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--mapping", help="An import mapping's name (schemas/imports/) or a YAML file; "
                                "default: columns guessed from the field labels.")
@click.option("--apply", is_flag=True, help="Write the rows (all of them, or none).")
@click.option("--as", "username", help="The user the records are created by.")
def import_(entity: str, file: Path, mapping: Optional[str], apply: bool,
            username: Optional[str]) -> None:
    """``portal import ENTITY FILE [--mapping M] [--apply] [--as USER]``."""
    from portal.import_command import ImportFailed, echo_report, import_file

    app = _running_app()
    with app.app_context():
        state = {"done": 0}
        with click.progressbar(length=1, label="importing", file=sys.stderr) as bar:
            def progress(done: int, total: int) -> None:
                bar.length = max(total, 1)
                bar.update(done - state["done"])
                state["done"] = done

            try:
                report = import_file(app, entity, file, mapping, apply, username, progress)
            except ImportFailed as exc:
                click.echo(f"import not started: {exc}", err=True)
                sys.exit(1)
    echo_report(report, click.echo)
    sys.exit(1 if report.problem_count else 0)


@portal.command(help="Give every record one user owns to another (a dry run unless --apply).")
@click.argument("from_user")
@click.argument("to_user")
@click.option("--entity", "entities", multiple=True, help="Only these entities (repeatable).")
@click.option("--apply", is_flag=True, help="Move the records (one transaction, audited).")
def handover(from_user: str, to_user: str, entities: tuple[str, ...], apply: bool) -> None:
    """``portal handover FROM TO [--entity E ...] [--apply]``."""
    from portal.engines.access import SYSTEM
    from portal.engines.handover import HandoverRefused, hand_over, plan_handover

    app = _running_app()
    with app.app_context():
        rt = app.extensions["portal"]
        session = app.appbuilder.session
        try:
            if apply:
                plan = hand_over(session, rt.registry, rt.models.classes, from_user, to_user,
                                 SYSTEM, entities or None)
                session.commit()
            else:
                plan = plan_handover(session, rt.registry, rt.models.classes, from_user,
                                     to_user, entities or None)
        except HandoverRefused as exc:
            session.rollback()
            click.echo(f"handover refused: {exc}", err=True)
            sys.exit(1)
    for entity, count in sorted(plan.counts.items()):
        click.echo(f"  {entity}: {count}")
    verb = "moved" if apply else "would move"
    click.echo(f"{verb} {plan.total} record(s) from {plan.from_user} to {plan.to_user}"
               + ("" if apply else "; run again with --apply to move them"))


@portal.command(help="Run the portal: the development server, or gunicorn with --workers N.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=0, type=int, help="Run gunicorn with N worker processes.")
def serve(host: str, port: int, workers: int) -> None:
    """``portal serve``."""
    app = _app()
    click.echo(f"portal running at http://{host}:{port}/")
    if workers > 0:
        from portal.gunicorn_app import run_gunicorn

        run_gunicorn(app, host, port, workers)
    else:
        app.run(host=host, port=port, debug=False, use_reloader=False)


@portal.command(help="Run the periodic jobs (agenda reminders, ...) once and exit: for cron or "
                     "a systemd timer, e.g. every 5 minutes; safe on several machines at once.")
@click.option("--job", "names", multiple=True, metavar="NAME",
              help="Run only this job (repeatable).")
@click.option("--list", "list_jobs", is_flag=True, help="List the jobs and exit.")
@click.option("--now", "now_text", metavar="YYYY-MM-DDTHH:MM",
              help="Act as if it were this local time (to test reminders or catch up).")
def tick(names: tuple[str, ...], list_jobs: bool, now_text: Optional[str]) -> None:
    """``portal tick [--job NAME ...] [--list] [--now TIME]``: exit 1 if a job failed."""
    import datetime as dt

    from portal.engines.tick_jobs import TICK_JOBS
    from portal.engines.ticks import TickContext, UnknownJob, run_jobs, select_jobs

    if list_jobs:
        for job in TICK_JOBS:
            click.echo(f"{job.name}: {job.description}")
        return
    try:
        jobs = select_jobs(TICK_JOBS, names)
        now = dt.datetime.fromisoformat(now_text) if now_text else dt.datetime.now()
    except UnknownJob as exc:
        raise click.UsageError(str(exc)) from None
    except ValueError:
        raise click.UsageError(f"--now '{now_text}' is not a time like 2026-05-01T09:00") \
            from None
    app = _running_app()
    with app.app_context():
        rt = app.extensions["portal"]
        results = run_jobs(jobs, TickContext(app.appbuilder.session, rt.registry,
                                             rt.models.classes, now.replace(tzinfo=None)))
        app.appbuilder.session.remove()
    for result in results:
        click.echo(str(result), err=not result.ok)
    sys.exit(0 if all(r.ok for r in results) else 1)


def _running_app() -> Any:
    """The app of ``flask --app ... portal`` (or a test's CLI runner), else a new one."""
    from flask.cli import ScriptInfo

    info = click.get_current_context().find_object(ScriptInfo)
    return info.load_app() if info is not None else _app()


@portal.command(help="Email for notifications: re-send failed ones, or send a test email.")
@click.option("--retry", is_flag=True,
              help="Re-send the notifications whose email failed (at most 5 tries each).")
@click.option("--test", "test_to", metavar="ADDRESS", help="Send one test email to ADDRESS.")
def mail(retry: bool, test_to: Optional[str]) -> None:
    """``portal mail --retry`` / ``portal mail --test ADDRESS``."""
    from portal.engines.mail import mail_settings, retry_failed, send_test

    if retry == bool(test_to):
        raise click.UsageError("give either --retry or --test ADDRESS")
    app = _running_app()
    with app.app_context():
        settings = mail_settings(app.config)
        if settings is None:
            click.echo("email is not configured: set PORTAL_SMTP_HOST (and PORTAL_SMTP_PORT, "
                       "PORTAL_MAIL_SENDER, ...)", err=True)
            sys.exit(1)
        if test_to:
            error = send_test(settings, test_to)
            if error is not None:
                click.echo(f"test email to {test_to} not sent: {error}", err=True)
                sys.exit(1)
            click.echo(f"test email sent to {test_to} via {settings.host}:{settings.port}")
            return
        from portal.web.notification_mail import record_link

        engine = app.extensions["sqlalchemy"].engine
        click.echo(str(retry_failed(engine, settings, record_link(settings.base_url))))


@portal.command(help="List candidate duplicate groups of ENTITY: records sharing a phone or "
                     "an email (normalized), or with a similar name.")
@click.argument("entity")
@click.option("--by", "reasons", multiple=True, type=click.Choice(["phone", "email", "name"]),
              help="Only groups for this reason (repeatable; default: all three).")
def duplicates(entity: str, reasons: tuple[str, ...]) -> None:
    """``portal duplicates ENTITY [--by phone|email|name]``: one line per group."""
    from portal.engines.duplicates import REASONS, duplicate_groups
    from portal.spec.suggest import suggest

    app = _running_app()
    with app.app_context():
        rt = app.extensions["portal"]
        if entity not in rt.registry.entities:
            hint = suggest(entity, rt.registry.entities)
            click.echo(f"unknown entity '{entity}'" +
                       (f"; did you mean '{hint}'?" if hint else ""), err=True)
            sys.exit(2)
        groups = duplicate_groups(app.appbuilder.session, rt.registry.entity(entity),
                                  rt.models.classes[entity], None, reasons or REASONS)
        app.appbuilder.session.rollback()
    for group in groups:
        click.echo(f"{group.reason} {group.key}: " +
                   ", ".join(f"#{i} {t}" if t != f"#{i}" else f"#{i}" for i, t in group.records))
    click.echo(f"{len(groups)} group(s) of possible duplicates in {entity}")

def main() -> None:
    """Console-script entry point."""
    portal(prog_name="portal")
