"""The import screen: upload a CSV or XLSX file into an entity, map its columns (guessed from
the field labels, or a saved mapping), check it (every problem by row and column), then
import it; checking and importing run in the background with a progress bar.

A job's progress is written to its row in a transaction of its own, so any worker can
answer the page's polling; on SQLite, where the import holds the only write lock while it
writes, a progress update that cannot get the lock is skipped (the next one will do).
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import asdict
from pathlib import Path
from typing import Any, Optional

from flask import abort, current_app, flash, jsonify, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError
from werkzeug.utils import secure_filename

from portal.engines.access import Principal
from portal.engines.importing.run import run_import
from portal.engines.importing.source import SourceError, read_source
from portal.generators.permissions import DATA_IMPORT
from portal.runtime import request_principal, runtime
from portal.spec.computed import formulas
from portal.spec.imports import (
    ImportMapping,
    guess_mapping,
    importable_targets,
    mapping_from_text,
    mapping_to_yaml,
    target_field,
)
from portal.system_models import ImportJob, PortalUser, SavedImportMapping, utcnow
from portal.web.csrf import require_csrf
from portal.web.i18n import current_locale, humanize
from portal.web.ui_text import ui_text

#: Job states after which nothing runs.
FINAL = ("checked", "done", "failed")
#: The files an import takes (their size is bounded by the app's MAX_CONTENT_LENGTH).
ALLOWED_SUFFIXES = (".csv", ".txt", ".xlsx")


def _entity_or_404(name: str) -> Any:
    entity = runtime().registry.entities.get(name)
    if entity is None:
        abort(404)
    if not current_app.appbuilder.sm.has_access("can_create", name):
        abort(403, description=f"you may not create {name} records, so you cannot import "
                               "them")
    return entity


def _label(entity: Any, target: str) -> str:
    holder, f, _ = target_field(runtime().registry.entities, entity, target)
    if f is None:
        return target
    text = f.label.get(current_locale(), humanize(f.name))
    if "." in target:
        parent = entity.fields[target.split(".")[0]]
        return f"{parent.label.get(current_locale(), humanize(parent.name))}: {text}"
    return text


class ImportView(BaseView):
    """``/import/<entity>/`` and ``/import/job/<id>/``."""

    route_base = "/import"
    class_permission_name = DATA_IMPORT
    base_permissions = ["can_read", "can_write"]
    method_permission_name = {"start": "read", "upload": "write", "job": "read",
                              "status": "read", "check": "write", "apply": "write"}

    def _session(self) -> Any:
        return self.appbuilder.session

    def _job(self, job_id: int) -> ImportJob:
        job = self._session().get(ImportJob, job_id)
        principal = request_principal()
        if job is None or principal is None or job.user_id != principal.user_id:
            abort(404)
        _entity_or_404(job.entity)
        return job

    @expose("/<entity>/")
    @has_access
    def start(self, entity: str) -> Any:
        """The upload form, with the saved mappings of the entity."""
        spec = _entity_or_404(entity)
        saved = self._session().scalars(select(SavedImportMapping.name).where(
            SavedImportMapping.entity == entity).order_by(SavedImportMapping.name)).all()
        shipped = sorted(n for n, m in runtime().registry.imports.items()
                         if m.entity == entity)
        return self.render_template(
            "portal/import_start.html", entity=spec, mappings=shipped + list(saved),
            title=ui_text("Import %(what)s", what=spec.label.get(current_locale(),
                                                                  humanize(entity))))

    @expose("/<entity>/", methods=["POST"])
    @has_access
    def upload(self, entity: str) -> Any:
        """Keep the uploaded file and open its job with the chosen or guessed mapping."""
        require_csrf()
        spec = _entity_or_404(entity)
        upload = request.files.get("file")
        name = secure_filename(upload.filename or "") if upload else ""
        if not upload or not name or Path(name).suffix.lower() not in ALLOWED_SUFFIXES:
            flash(ui_text("Choose a .csv or .xlsx file."), "danger")
            return redirect(url_for(f"{self.endpoint}.start", entity=entity))
        folder = Path(current_app.config["INSTANCE_DIR"]) / "imports" / uuid.uuid4().hex
        folder.mkdir(parents=True)
        path = folder / name
        upload.save(path)
        try:
            source = read_source(path, name)
        except SourceError as exc:
            flash(str(exc), "danger")
            return redirect(url_for(f"{self.endpoint}.start", entity=entity))
        mapping = self._mapping_named(entity, request.form.get("mapping") or "") or \
            guess_mapping(runtime().registry.entities, spec, source.headers,
                          formulas(runtime().registry))
        principal = request_principal()
        job = ImportJob(entity=entity, user_id=principal.user_id,  # type: ignore[union-attr]
                        filename=name, path=str(path), mapping=mapping_to_yaml(mapping),
                        status="uploaded", total=len(source.rows), created_at=utcnow())
        self._session().add(job)
        self._session().commit()
        return redirect(url_for(f"{self.endpoint}.job", job_id=job.id))

    def _mapping_named(self, entity: str, name: str) -> Optional[ImportMapping]:
        if not name:
            return None
        shipped = runtime().registry.imports.get(name)
        if shipped is not None and shipped.entity == entity:
            return shipped
        text = self._session().scalars(select(SavedImportMapping.text).where(
            SavedImportMapping.entity == entity, SavedImportMapping.name == name)).first()
        if text is None:
            return None
        mapping, _ = mapping_from_text(text, name, runtime().registry.entities,
                                       formulas(runtime().registry))
        return mapping

    @expose("/job/<int:job_id>/")
    @has_access
    def job(self, job_id: int) -> Any:
        """The job: its column mapping, progress, problems and outcome."""
        job = self._job(job_id)
        spec = runtime().registry.entity(job.entity)
        mapping, errors = mapping_from_text(job.mapping, "mapping", runtime().registry.entities,
                                            formulas(runtime().registry))
        try:
            headers = read_source(Path(job.path), job.filename).headers
        except (SourceError, OSError) as exc:
            headers, errors = [], [*errors, str(exc)]
        targets = importable_targets(runtime().registry.entities, spec,
                                     formulas(runtime().registry))
        chosen = {c: t[0] for c, t in mapping.columns.items()} if mapping else {}
        dates = [t for t in targets
                 if (found := target_field(runtime().registry.entities, spec, t)[1])
                 is not None and found.type in {"date", "datetime"}]
        report = json.loads(job.report or "{}")
        unknown = dict.fromkeys((p["field"], p["value"]) for p in report.get("problems", [])
                                if p.get("mappable"))
        known = [(t, k, v) for t, m in (mapping.values if mapping else {}).items()
                 for k, v in m.items()]
        return self.render_template(
            "portal/import_job.html", job=job, entity=spec, headers=headers,
            value_maps=known + [(t, k, "") for t, k in unknown
                                if not any(t == a and k == b for a, b, _ in known)],
            targets=[(t, _label(spec, t)) for t in targets], chosen=chosen,
            dates=[(t, _label(spec, t)) for t in dates],
            formats=dict(mapping.formats) if mapping else {},
            key=mapping.key if mapping else None, errors=errors,
            report=report, final=job.status in FINAL,
            title=ui_text("Import %(what)s", what=spec.label.get(current_locale(),
                                                                  humanize(job.entity))))

    @expose("/job/<int:job_id>/status")
    @has_access
    def status(self, job_id: int) -> Any:
        """Where the job stands (polled by the page)."""
        job = self._job(job_id)
        report = json.loads(job.report or "{}")
        return jsonify(status=job.status, done=job.done, total=job.total,
                       summary=report.get("summary"),
                       problems=report.get("problem_count", 0))

    @expose("/job/<int:job_id>/check", methods=["POST"])
    @has_access
    def check(self, job_id: int) -> Any:
        """Take the mapping from the form (saving it when named), then check in the
        background."""
        require_csrf()
        job = self._job(job_id)
        if job.status in ("checking", "applying"):
            abort(409, description="this import is running")
        text = self._mapping_from_form(job)
        mapping, errors = mapping_from_text(text, "mapping", runtime().registry.entities,
                                            formulas(runtime().registry))
        if errors or mapping is None:
            for error in errors:
                flash(f"{error.path}: {error.message}" if error.path else error.message,
                      "danger")
            return redirect(url_for(f"{self.endpoint}.job", job_id=job.id))
        job.mapping = text
        name = (request.form.get("save_as") or "").strip()
        if name:
            self._save_mapping(job.entity, name, mapping)
        return self._launch(job, apply=False)

    def _mapping_from_form(self, job: ImportJob) -> str:
        """The job's mapping with the columns, formats, key and value maps of the form."""
        current, _ = mapping_from_text(job.mapping, "mapping", runtime().registry.entities,
                                       formulas(runtime().registry))
        headers = read_source(Path(job.path), job.filename).headers
        columns = {h: request.form.get(f"col-{i}") for i, h in enumerate(headers)}
        formats = {t[len("format-"):]: v.strip() for t, v in request.form.items()
                   if t.startswith("format-") and v.strip()}
        values = {t: dict(v) for t, v in (current.values if current else {}).items()}
        for name in request.form:
            if name.startswith("vmap-to-"):
                index = name[len("vmap-to-"):]
                target = request.form.get(f"vmap-field-{index}", "")
                found = request.form.get(f"vmap-from-{index}", "")
                stored = request.form[name].strip()
                if target and stored:
                    values.setdefault(target, {})[found] = stored
                elif target in values:
                    values[target].pop(found, None)
        doc = ImportMapping(current.name if current else f"{job.entity} (screen)", job.entity,
                            {c: (t,) for c, t in columns.items() if t},
                            {t: v for t, v in values.items() if v}, formats,
                            current.defaults if current else {},
                            request.form.get("key") or None)
        return mapping_to_yaml(doc)

    def _save_mapping(self, entity: str, name: str, mapping: ImportMapping) -> None:
        session = self._session()
        row = session.scalars(select(SavedImportMapping).where(
            SavedImportMapping.entity == entity, SavedImportMapping.name == name)).first()
        named = ImportMapping(name, mapping.entity, mapping.columns, mapping.values,
                              mapping.formats, mapping.defaults, mapping.key)
        if row is None:
            row = SavedImportMapping(entity=entity, name=name)
            session.add(row)
        row.text, row.at = mapping_to_yaml(named), utcnow()
        row.user_id = request_principal().user_id  # type: ignore[union-attr]
        flash(ui_text("Mapping saved as %(name)s.", name=name), "success")

    @expose("/job/<int:job_id>/apply", methods=["POST"])
    @has_access
    def apply(self, job_id: int) -> Any:
        """Import the checked file in the background (all rows, or none)."""
        require_csrf()
        job = self._job(job_id)
        report = json.loads(job.report or "{}")
        if job.status != "checked" or report.get("problem_count"):
            abort(409, description="check the file first; it can be imported once it has "
                                   "no problem")
        return self._launch(job, apply=True)

    def _launch(self, job: ImportJob, apply: bool) -> Any:
        job.status, job.done = ("applying" if apply else "checking"), 0
        self._session().commit()
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        worker = threading.Thread(target=run_job, args=(app, job.id, apply), daemon=True,
                                  name=f"import-{job.id}")
        worker.start()
        if current_app.config.get("IMPORT_JOBS_INLINE"):  # tests: the answer waits for it
            worker.join()
        return redirect(url_for(f"{self.endpoint}.job", job_id=job.id))


def run_job(app: Any, job_id: int, apply: bool) -> None:
    """Check (or import) job ``job_id`` in this thread, with its own session."""
    with app.app_context():
        session = app.appbuilder.session
        engine = app.extensions["sqlalchemy"].engine
        rt = app.extensions["portal"]
        job = session.get(ImportJob, job_id)
        status, report_json = "failed", {}
        try:
            user = session.get(PortalUser, job.user_id)
            principal = Principal(user.id, user.username, user.department_id,
                                  frozenset(r.name for r in user.roles))
            mapping, errors = mapping_from_text(job.mapping, "mapping", rt.registry.entities,
                                                formulas(rt.registry))
            if errors or mapping is None:
                raise ValueError("; ".join(str(e) for e in errors))
            source = read_source(Path(job.path), job.filename)
            session.commit()  # end the read transaction: the import's own starts now

            def progress(done: int, total: int) -> None:
                _progress(engine, job_id, done, total)

            report = run_import(session, rt.registry, rt.models.classes, mapping, source,
                                principal, apply=apply, progress=progress)
            if report.applied:
                session.commit()
                status = "done"
            else:
                session.rollback()
                status = "checked"
            report_json = {**asdict(report), "summary": report.summary(),
                           "problems": [asdict(p) for p in report.problems]}
        except Exception as exc:  # the job says why; the thread must not die silently
            session.rollback()
            report_json = {"summary": f"the import failed: {exc}", "problem_count": 0}
            app.logger.exception("import job %s failed", job_id)
        finally:
            with engine.begin() as conn:
                conn.execute(update(ImportJob).where(ImportJob.id == job_id).values(
                    status=status, report=json.dumps(report_json, ensure_ascii=False,
                                                     default=str),
                    done=ImportJob.total if status in ("done", "checked") else ImportJob.done))
            session.remove()


def _progress(engine: Any, job_id: int, done: int, total: int) -> None:
    try:
        with engine.begin() as conn:
            sqlite = conn.dialect.name == "sqlite"
            if sqlite:  # do not wait for the import's write lock: skip this update instead
                conn.exec_driver_sql("PRAGMA busy_timeout = 20")
            try:
                conn.execute(update(ImportJob).where(ImportJob.id == job_id).values(
                    done=done, total=total))
            finally:
                if sqlite:
                    conn.exec_driver_sql("PRAGMA busy_timeout = 5000")
    except OperationalError:
        pass  # SQLite while the import holds the write lock: the next update will do
