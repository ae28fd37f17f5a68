"""The Reports screens and API: ``/reports/`` (the reports open to the viewer),
``/reports/<name>`` (filters form, chart, table), ``/reports/<name>/csv`` and
``/api/v1/reports/<name>`` (the same rows as JSON)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, Optional

from flask import Response, abort, request
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.api import BaseApi, protect, safe
from flask_babel import LazyString
from markupsafe import Markup
from sqlalchemy import select

from portal.engines.access import Principal
from portal.engines.reports import (
    ReportInputError,
    ReportRefused,
    ReportResult,
    ReportRow,
    may_open,
    parse_filters,
    run_report,
)
from portal.runtime import request_principal, runtime
from portal.spec.model import Label
from portal.spec.reports import Measure, ReportSpec
from portal.system_models import PortalUser
from portal.web.i18n import LazyLabel, current_locale, humanize
from portal.web.list_links import equal_filter_links
from portal.web.report_chart import render_chart, render_tiles

#: The class permission of the report screens and API (each report also checks its roles).
REPORTS = "Reports"
REPORTS_MENU = "Reports"

TEXTS: Mapping[str, Mapping[str, str]] = {
    "Reports": {"zh_CN": "报表", "zh_TW": "報表"},
    "No reports are open to you.": {"zh_CN": "没有向您开放的报表。",
                                    "zh_TW": "沒有向您開放的報表。"},
    "Show": {"zh_CN": "查询", "zh_TW": "查詢"},
    "Download CSV": {"zh_CN": "下载 CSV", "zh_TW": "下載 CSV"},
    "from": {"zh_CN": "从", "zh_TW": "從"},
    "to": {"zh_CN": "至", "zh_TW": "至"},
    "Any": {"zh_CN": "不限", "zh_TW": "不限"},
    "No data": {"zh_CN": "无数据", "zh_TW": "無資料"},
    "Top %(p)s%% (%(n)s of %(total)s) make %(share)s of %(measure)s.": {
        "zh_CN": "前 %(p)s%%（%(total)s 个中的 %(n)s 个）占%(measure)s的 %(share)s。",
        "zh_TW": "前 %(p)s%%（%(total)s 個中的 %(n)s 個）佔%(measure)s的 %(share)s。"},
    "Other": {"zh_CN": "其他", "zh_TW": "其他"},
}


def text(message: str, **values: Any) -> str:
    """``message`` in the viewer's language, with ``%(name)s`` values filled in."""
    locale = current_locale()
    found = TEXTS.get(message, {}).get(locale) or TEXTS.get(message, {}).get(
        "zh_CN" if locale.startswith("zh") else "", message)
    return found % values if values else found.replace("%%", "%")


def report_title(spec: ReportSpec) -> str:
    """The report's label in the viewer's language."""
    return spec.label.get(current_locale(), humanize(spec.name))


def lazy_report_title(spec: ReportSpec) -> LazyString:
    """The menu label of a report, translated when the menu is drawn."""
    return LazyLabel(lambda: report_title(spec))


def _label(label: Label, fallback: str) -> str:
    return label.get(current_locale(), humanize(fallback))


def measure_labels(spec: ReportSpec) -> dict[str, str]:
    """Column titles of the measures."""
    return {m.name: _label(m.label, m.name) for m in spec.measures}


def dimension_labels(spec: ReportSpec) -> list[str]:
    """Column titles of the dimensions: the field's label."""
    return [_label(d.ref.field.label, d.ref.name.replace(".", " ")) for d in spec.dimensions]


def cell(value: Any, measure: Measure) -> str:
    """A measure's value as shown and exported: exact decimals, fractions as percentages."""
    if value is None:
        return ""
    if measure.percent:
        return f"{(Decimal(value) * 100).quantize(Decimal('0.01'))}%"
    return str(value)


def _spec_or_404(name: str) -> ReportSpec:
    spec = runtime().registry.reports.get(name)
    if spec is None:
        abort(404)
    return spec


def _principal() -> Principal:
    principal = request_principal()
    assert principal is not None  # inside a request
    return principal


def _run(session: Any, spec: ReportSpec) -> ReportResult:
    """Run ``spec`` for the viewer with the filters of the query string (4xx otherwise)."""
    rt = runtime()
    return run_report(session.connection(), rt.registry, rt.models.classes, spec,
                      _principal(), parse_filters(spec, request.args), locale=current_locale())


def _csv(result: ReportResult, filename: str) -> Response:
    spec = result.spec
    out = io.StringIO()
    writer = csv.writer(out)
    labels = measure_labels(spec)
    writer.writerow([*dimension_labels(spec), *(labels[m.name] for m in spec.measures)])
    for row in result.rows:
        writer.writerow([*row.labels, *(cell(row.values.get(m.name), m) for m in spec.measures)])
    body = "\ufeff" + out.getvalue()  # a BOM: spreadsheet programs then read the file as UTF-8
    return Response(body.encode("utf-8"), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'})


def _filter_choices(session: Any, spec: ReportSpec, principal: Principal
                    ) -> list[dict[str, Any]]:
    """The filters form: per filter its kind and, for choices, the options."""
    rt = runtime()
    out = []
    for flt in spec.filters:
        f = flt.field
        entry: dict[str, Any] = {"name": flt.name, "label": _label(f.label, flt.name),
                                 "kind": "range" if f.type in ("date", "datetime") else "choice",
                                 "options": []}
        if f.type == "enum":
            entry["options"] = [(v, f.value_labels[v].get(current_locale(), v)
                                 if v in f.value_labels else v) for v in f.values]
        elif f.type == "bool":
            entry["options"] = [("true", "✓"), ("false", "✗")]
        elif f.type == "user":
            entry["options"] = [(str(i), n) for i, n in session.execute(
                select(PortalUser.id, PortalUser.username).order_by(PortalUser.username))]
        elif f.type == "link" and f.target:
            model = rt.models.classes[f.target]
            target = rt.registry.entity(f.target)
            title = target.fields.get(target.title) if target.title else None
            value = getattr(model, title.name) if title is not None and title.type not in (
                "link", "user", "file") else model.id
            # scoped by the ORM hook: the viewer chooses among the records they may read
            entry["options"] = [(str(i), str(t)) for i, t in session.execute(
                select(model.id, value).order_by(value).limit(500))]
        elif entry["kind"] == "choice":
            entry["kind"] = "text"
        out.append(entry)
    return out


def tile_link(spec: ReportSpec) -> Optional[Callable[[ReportRow], Optional[str]]]:
    """For a tiles report grouped by a plain field of its entity: a row's link to that
    entity's list filtered by the row's value (None: the tiles link nowhere)."""
    ref = spec.tile_field
    if ref is None:
        return None
    link = equal_filter_links(spec.sources[0].entity, ref.field.name)
    if link is None:
        return None
    return lambda row: link(row.keys[0])


class ReportView(BaseView):
    """``/reports/``: the reports open to the viewer, each with its page and CSV."""

    route_base = "/reports"
    default_view = "index"
    class_permission_name = REPORTS
    base_permissions = ["can_read"]
    method_permission_name = {"index": "read", "show": "read", "download": "read"}

    @expose("/")
    @has_access
    def index(self) -> Any:
        """The reports the viewer may open, by module."""
        principal = _principal()
        reports = [s for s in runtime().registry.reports.values() if may_open(s, principal)]
        groups: dict[str, list[tuple[str, str]]] = {}
        for spec in sorted(reports, key=lambda s: (s.module, report_title(s))):
            groups.setdefault(spec.module, []).append((spec.name, report_title(spec)))
        modules = runtime().registry.modules
        titled = [(_label(modules[m].label, m) if m in modules else humanize(m) if m else "",
                   items) for m, items in groups.items()]
        return self.render_template("portal/reports.html", groups=titled, text=text,
                                    title=text("Reports"))

    @expose("/<name>")
    @has_access
    def show(self, name: str) -> Any:
        """The report: filters form, chart, table and the CSV link."""
        spec = _spec_or_404(name)
        session = self.appbuilder.session
        error: Optional[str] = None
        try:
            result = _run(session, spec)
        except ReportRefused as exc:
            abort(403, str(exc))
        except ReportInputError as exc:
            error = str(exc)
            result = run_report(session.connection(), runtime().registry,
                                runtime().models.classes, spec, _principal(), {},
                                locale=current_locale())
        labels = measure_labels(spec)
        if spec.chart.type == "tiles":
            chart = render_tiles(result, labels, text("No data"), tile_link(spec))
        else:
            chart = Markup(render_chart(result, labels, text("No data")))
        summary = None
        if result.summary is not None and result.summary.share is not None:
            s = result.summary
            summary = text("Top %(p)s%% (%(n)s of %(total)s) make %(share)s of %(measure)s.",
                           p=s.top_percent, n=s.top_rows, total=s.rows,
                           share=f"{(s.share * 100).quantize(Decimal('0.01'))}%",
                           measure=labels[s.measure])
        return self.render_template(
            "portal/report.html", spec=spec, result=result, chart=chart,
            title=report_title(spec), dimensions=dimension_labels(spec), labels=labels,
            cell=cell, filters=_filter_choices(session, spec, _principal()), args=request.args,
            error=error, summary=summary, text=text,
            description=spec.description.get(current_locale(), "")), 400 if error else 200

    @expose("/<name>/csv")
    @has_access
    def download(self, name: str) -> Any:
        """The report's table as CSV (UTF-8 with a BOM), with the same filters."""
        spec = _spec_or_404(name)
        try:
            result = _run(self.appbuilder.session, spec)
        except ReportRefused as exc:
            abort(403, str(exc))
        except ReportInputError as exc:
            abort(400, str(exc))
        return _csv(result, spec.name)


class ReportApi(BaseApi):
    """``/api/v1/reports/<name>``: a report's rows as JSON."""

    resource_name = "reports"
    class_permission_name = REPORTS
    base_permissions = ["can_read"]
    method_permission_name = {"get_report": "read"}
    allow_browser_login = True
    openapi_spec_tag = "Reports"

    @expose("/<name>", methods=["GET"])
    @protect()
    @safe
    def get_report(self, name: str) -> Any:
        """A report's rows, for the caller's read scope and the filters in the query string
        ---
        get:
          parameters:
          - in: path
            name: name
            required: true
            schema: {type: string}
          responses:
            200:
              description: >-
                name, label, dimensions (name, label), measures (name, label, kind,
                percent), rows (labels, keys, values: exact decimals as text, fractions as
                decimals such as 0.4545; for tiles linked to a list, url), chart (type,
                measures) and, for Pareto charts, summary.
            400:
              description: a filter value is wrong (field and reason)
            403:
              description: the report is not open to the caller's roles
            404:
              description: no such report
        """
        spec = runtime().registry.reports.get(name)
        if spec is None:
            return self.response_404()
        try:
            result = _run(self.appbuilder.session, spec)
        except ReportRefused as exc:
            return self.response(403, message=str(exc))
        except ReportInputError as exc:
            return self.response(400, message={exc.field: [exc.reason]})
        return self.response(200, **report_json(result))


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def report_json(result: ReportResult) -> dict[str, Any]:
    """The JSON body of a run report."""
    spec = result.spec
    labels = measure_labels(spec)
    body: dict[str, Any] = {
        "name": spec.name, "label": report_title(spec),
        "dimensions": [{"name": d.ref.name, "label": label, "bucket": d.bucket}
                       for d, label in zip(spec.dimensions, dimension_labels(spec), strict=True)],
        "measures": [{"name": m.name, "label": labels[m.name], "kind": m.kind,
                      "percent": m.percent} for m in spec.measures],
        "rows": [{"labels": row.labels, "keys": [_json_value(k) for k in row.keys],
                  "values": {m.name: _json_value(row.values.get(m.name))
                             for m in spec.measures}} for row in result.rows],
    }
    body["chart"] = {"type": spec.chart.type, "measures": list(spec.chart.measures)}
    link = tile_link(spec)
    if link is not None:  # tiles: each row's link to the entity's list filtered by its value
        for row, out in zip(result.rows, body["rows"], strict=True):
            out["url"] = link(row)
    if result.summary is not None:
        s = result.summary
        body["summary"] = {"measure": s.measure, "top_percent": s.top_percent, "rows": s.rows,
                           "top_rows": s.top_rows, "share": _json_value(s.share)}
    return body
