"""A report's chart as inline SVG, drawn on the server by pygal (no script, no CDN).

pygal draws bar, stacked bar, line, pie and funnel charts itself. A Pareto chart (bars of a
measure, largest first, with the running share of the total as a line on a 0-100 % axis) is
pygal's bar chart whose secondary series is drawn by its line chart's routine. Tiles are plain
HTML: one box per row with the row's label and one measure as a big number, a link when the
caller gives one.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, Optional

import pygal
from markupsafe import Markup, escape
from pygal.graph.line import Line
from pygal.style import Style

from portal.engines.reports import ReportResult, ReportRow
from portal.spec.reports import Measure

#: Fonts the chart asks for: the browser's CJK font first, so Chinese labels render.
FONT = "'WenQuanYi Micro Hei', 'Noto Sans CJK SC', 'Microsoft YaHei', sans-serif"
STYLE = Style(font_family=FONT, label_font_family=FONT, major_label_font_family=FONT,
              value_font_family=FONT, value_label_font_family=FONT, tooltip_font_family=FONT,
              title_font_family=FONT, legend_font_family=FONT, no_data_font_family=FONT,
              background="white", plot_background="white",
              colors=("#3c78b4", "#e0823c", "#50a050", "#c84646", "#8c64b4", "#8c6450"))


class ParetoChart(pygal.Bar):
    """Bars of the primary series; each secondary series as a line over the bars' centres."""

    _self_close = False  # read by Line.line: the line is not a closed shape

    def _plot(self) -> None:
        for serie in self.series:
            self.bar(serie)
        for serie in self.secondary_series:
            serie.points = [((i + .5) / self._len, y) for i, (_, y) in enumerate(serie.points)]
            Line.line(self, serie, True)


def _number(value: Any, measure: Measure) -> Optional[float]:
    """A value as the chart's float (charts are drawn, not summed: floats are fine here)."""
    if value is None:
        return None
    number = float(Decimal(value))
    return round(number * 100, 2) if measure.percent else number


def render_chart(result: ReportResult, labels: dict[str, str], no_data: str) -> str:
    """The SVG of ``result``'s chart; ``labels`` are the measures' column titles."""
    spec = result.spec
    chart_type = spec.chart.type
    rows = result.rows
    x_labels = [" / ".join(r.labels) for r in rows]
    options: dict[str, Any] = {"style": STYLE, "width": 900, "height": 420,
                               "disable_xml_declaration": True, "no_data_text": no_data,
                               # pygal links its tooltip script from a CDN by default: none
                               "js": [],
                               "x_label_rotation": 30 if len(rows) > 6 else 0,
                               "legend_at_bottom": True, "truncate_legend": -1,
                               "truncate_label": -1, "show_minor_x_labels": True}
    measures = [spec.measure(name) for name in spec.chart.measures]
    if chart_type == "pie":
        chart = pygal.Pie(**options)
        m = measures[0]
        for label, row in zip(x_labels, rows, strict=True):
            chart.add(label, _number(row.values.get(m.name), m))
    elif chart_type == "funnel":
        chart = pygal.Funnel(**options)
        chart.x_labels = x_labels
        m = measures[0]
        for label, row in zip(x_labels, rows, strict=True):
            chart.add(label, [_number(row.values.get(m.name), m)])
    elif chart_type == "pareto":
        chart = ParetoChart(**options, secondary_range=(0, 100))
        chart.x_labels = x_labels
        m = measures[0]
        ranked = sorted(rows, key=lambda r: Decimal(r.values.get(m.name) or 0), reverse=True)
        chart.x_labels = [" / ".join(r.labels) for r in ranked]
        values = [Decimal(r.values.get(m.name) or 0) for r in ranked]
        total = sum(values, Decimal(0))
        chart.add(labels[m.name], [float(v) for v in values])
        running, shares = Decimal(0), []
        for v in values:
            running += v
            shares.append(round(float(running / total * 100), 2) if total else None)
        chart.add(f"{labels[m.name]} %", shares, secondary=True)
    else:
        kind = {"bar": pygal.Bar, "stacked_bar": pygal.StackedBar, "line": pygal.Line}
        chart = kind[chart_type](**options)
        chart.x_labels = x_labels
        for m in measures:
            chart.add(labels[m.name], [_number(r.values.get(m.name), m) for r in rows])
    return chart.render(is_unicode=True)


def tile_number(value: Any, measure: Measure) -> str:
    """A tile's big number: digits grouped (``12,500.50``), fractions as percentages."""
    if value is None:
        return "–"
    if measure.percent:
        return f"{(Decimal(value) * 100).quantize(Decimal('0.01'))}%"
    return f"{value:,}"


def render_tiles(result: ReportResult, labels: dict[str, str], no_data: str,
                 link: Optional[Callable[[ReportRow], Optional[str]]] = None) -> Markup:
    """One tile per row of ``result``: the row's label and the chart's measure as a big
    number; a tile is a link where ``link`` gives the row a URL."""
    if not result.rows:
        return Markup(f'<p class="text-muted portal-tiles-empty">{escape(no_data)}</p>')
    m = result.spec.measure(result.spec.chart.measures[0])
    tiles = []
    for row in result.rows:
        body = (f'<span class="portal-tile-value">{escape(tile_number(row.values.get(m.name), m))}'
                f'</span><span class="portal-tile-label">{escape(" / ".join(row.labels))}</span>'
                f'<span class="portal-tile-measure">{escape(labels[m.name])}</span>')
        url = link(row) if link is not None else None
        tiles.append(f'<a class="portal-tile" href="{escape(url)}">{body}</a>' if url else
                     f'<div class="portal-tile">{body}</div>')
    return Markup(f'<div class="portal-tiles" data-measure="{escape(m.name)}">'
                  f'{"".join(tiles)}</div>')
