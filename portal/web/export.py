"""Export of any entity's list, as filtered on screen (or by a REST list's ``filters``), as
CSV or XLSX.

Every matching record is written, not just the page, with an ``id`` column and then every
field the user may see (children tables are left out; hidden fields appear nowhere, not
even as a header), headed by the field labels in the user's language. Values are written
so that the file can be imported back (``portal.engines.export_files``): links as the
linked record's title, users as their username, files as the file name, ``many`` fields as
titles joined by ``;``.

Rows are read as in the REST list's row path (``portal.web.row_list``): a Core statement with
FAB's filters and order applied, and the read scope added with ``scoping.read_criteria`` (the
ORM hook does not see Core statements), run on a connection of the export's own (the
request's session is closed before the server has sent a streamed body). The rows stream in
batches (a server-side cursor on PostgreSQL); each batch looks up the titles, usernames and
file names it shows in one query per field, each linked entity's read scope applied (a
linked record the user may not read is a blank cell, as in the REST list).
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional

from flask import Response, request
from flask_appbuilder.exceptions import FABException
from flask_appbuilder.models.filters import Filters
from flask_appbuilder.urltools import get_filter_args, get_order_args
from flask_appbuilder.utils.base import is_column_dotted
from sqlalchemy import select
from sqlalchemy.engine import Connection

from portal.engines.access import Principal
from portal.engines.export_files import (
    ExportColumn,
    ExportFormat,
    column_kind,
    csv_chunks,
    export_filename,
    export_format,
    file_chunks,
    text_value,
    xlsx_file,
)
from portal.engines.scoping import read_criteria
from portal.generators.models import column_name
from portal.runtime import request_principal, runtime
from portal.spec.model import EntitySpec, FieldSpec, Registry
from portal.system_models import Attachment, PortalUser
from portal.web import quick_search
from portal.web.access_columns import hidden_fields
from portal.web.i18n import current_locale, humanize
from portal.web.ui_text import ui_text

#: Rows read (and looked up) per round trip.
BATCH_ROWS = 500
#: How many links deep a title that is itself a link is followed.
MAX_TITLE_DEPTH = 3
#: Field types that are written as a looked-up text.
_LOOKED_UP = frozenset({"link", "user", "file"})
#: What the routes tell the export: given the user's hidden fields, the list's filters and
#: its order (column, direction), read from the request.
ListQuery = Callable[[frozenset[str]], tuple[Filters, tuple[str, str]]]


class ExportRefused(ValueError):
    """A request the export cannot answer (a 400 with this message)."""


@dataclass(frozen=True)
class ExportPlan:
    """What one user's export of one entity reads and writes."""

    registry: Registry
    classes: Mapping[str, type]
    entity: EntitySpec
    #: The exported fields, in YAML order (the ``id`` column comes first, before them).
    fields: tuple[FieldSpec, ...]

    @property
    def model(self) -> type:
        """The entity's generated model class."""
        return self.classes[self.entity.name]

    def columns(self) -> list[ExportColumn]:
        """The file's columns, headed in the current user's language."""
        locale = current_locale()
        return [ExportColumn(ui_text("Id"), "int")] + [
            ExportColumn(f.label.get(locale, humanize(f.name)), column_kind(f.type), f.scale)
            for f in self.fields]

    def statement(self, datamodel: Any, principal: Optional[Principal], filters: Filters,
                  order_column: str, order_direction: str) -> Any:
        """The SELECT of every record ``principal`` may read that ``filters`` let through,
        in the given order (then by id)."""
        model = self.model
        stored = [getattr(model, column_name(f)) for f in self.fields if f.type != "many"]
        stmt = select(model.id, *stored)
        scope = read_criteria(model, self.entity, principal)
        if scope is not None:
            stmt = stmt.where(scope)
        stmt = datamodel.apply_filters(stmt, filters)
        if order_column:
            stmt = datamodel.apply_order_by(stmt, order_column, order_direction,
                                            aliases_mapping={}, bypass_many_to_many=True,
                                            add_pk=True)
        else:
            stmt = stmt.order_by(model.id)
        return stmt

    def rows(self, conn: Connection, principal: Optional[Principal], statement: Any
             ) -> Iterator[list[Any]]:
        """Runs ``statement`` now (so that a failing query fails before anything is sent)
        and returns the rows as the file writes them, read in batches."""
        result = conn.execution_options(yield_per=BATCH_ROWS).execute(statement)
        titles = TitleReader(conn, self.registry, self.classes, principal)
        return self._rows(result, titles)

    def _rows(self, result: Any, titles: TitleReader) -> Iterator[list[Any]]:
        try:
            for batch in result.partitions():
                yield from self._batch(batch, titles)
        finally:
            result.close()

    def _batch(self, batch: Sequence[Any], titles: TitleReader) -> Iterator[list[Any]]:
        ids = [row[0] for row in batch]
        index: dict[str, int] = {}
        lookups: dict[str, Mapping[int, str]] = {}
        position = 1
        for f in self.fields:
            if f.type == "many":
                lookups[f.name] = titles.many(self.model, f, ids)
                continue
            index[f.name] = position
            if f.type in _LOOKED_UP:
                lookups[f.name] = titles.related(
                    f, {row[position] for row in batch if row[position] is not None})
            position += 1
        for row in batch:
            out = [row[0]]
            for f in self.fields:
                if f.type == "many":
                    out.append(lookups[f.name].get(row[0], ""))
                elif f.type in _LOOKED_UP:
                    value = row[index[f.name]]
                    out.append(None if value is None else lookups[f.name].get(value))
                else:
                    out.append(row[index[f.name]])
            yield out


def export_plan(registry: Registry, classes: Mapping[str, type], entity: EntitySpec,
                hidden: frozenset[str]) -> ExportPlan:
    """The plan of ``entity``'s export for a user from whom ``hidden`` fields are hidden."""
    fields = tuple(f for f in entity.fields.values()
                   if f.type != "children" and f.name not in hidden)
    return ExportPlan(registry, classes, entity, fields)


class TitleReader:
    """Looks up, per batch of rows, what a related record reads as in the file, with each
    entity's read scope (records the user may not read are left out)."""

    def __init__(self, conn: Connection, registry: Registry, classes: Mapping[str, type],
                 principal: Optional[Principal]) -> None:
        self.conn = conn
        self.registry = registry
        self.classes = classes
        self.principal = principal

    def related(self, f: FieldSpec, ids: Iterable[int], depth: int = 0) -> dict[int, str]:
        """Text of the records with ``ids`` that a ``link``/``user``/``file`` field ``f``
        points at: titles, usernames or file names."""
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        if f.type == "user":
            rows = self.conn.execute(select(PortalUser.id, PortalUser.username)
                                     .where(PortalUser.id.in_(wanted))).all()
            return dict(rows)
        if f.type == "file":
            rows = self.conn.execute(select(Attachment.id, Attachment.filename)
                                     .where(Attachment.id.in_(wanted))).all()
            return dict(rows)
        if depth >= MAX_TITLE_DEPTH:
            return {i: f"#{i}" for i in wanted}
        return self.titles(f.target or "", wanted, depth)

    def titles(self, entity_name: str, ids: Sequence[int], depth: int = 0) -> dict[int, str]:
        """The titles of the ``entity_name`` records with ``ids`` that the user may read
        (``#<id>`` for an entity without a title)."""
        entity = self.registry.entity(entity_name)
        model = self.classes[entity_name]
        title = entity.fields.get(entity.title) if entity.title else None
        value = getattr(model, column_name(title)) if title is not None else model.id
        scope = read_criteria(model, entity, self.principal)
        rows = []
        for start in range(0, len(ids), BATCH_ROWS):  # a ``many`` field may hold many ids
            stmt = select(model.id, value).where(model.id.in_(ids[start:start + BATCH_ROWS]))
            if scope is not None:
                stmt = stmt.where(scope)
            rows.extend(self.conn.execute(stmt).all())
        if title is None:
            return {i: f"#{i}" for i, _ in rows}
        if title.type in _LOOKED_UP:
            names = self.related(title, (v for _, v in rows if v is not None), depth + 1)
            return {i: names.get(v, "") if v is not None else "" for i, v in rows}
        column = ExportColumn("", column_kind(title.type), title.scale)
        return {i: text_value(column, v) for i, v in rows}

    def many(self, model: type, f: FieldSpec, row_ids: Sequence[int]) -> dict[int, str]:
        """Per row id, the titles of the records a ``many`` field holds, joined by ``;``
        (in the order of their ids)."""
        pairs_table = getattr(model, f.name).property.secondary
        left, right = pairs_table.c.left_id, pairs_table.c.right_id
        pairs = self.conn.execute(select(left, right).where(left.in_(row_ids))
                                  .order_by(left, right)).all()
        names = self.titles(f.target or "", sorted({r for _, r in pairs})) if pairs else {}
        joined: dict[int, list[str]] = {}
        for row_id, other in pairs:
            if other in names:
                joined.setdefault(row_id, []).append(names[other])
        return {row_id: ";".join(texts) for row_id, texts in joined.items()}


# -- the list's query string: FAB's filters and order, the search box ------------------------

def screen_query(view: Any) -> ListQuery:
    """How the list screen of ``view`` reads its filters and order from the query string."""
    return lambda hidden: (screen_filters(view, hidden), screen_order(view))


def screen_filters(view: Any, hidden: frozenset[str]) -> Filters:
    """The filters of the list screen's query string (``_flt_<n>_<col>``, the search box's
    ``_q``), read as FAB's list reads them, joined with the view's base filters."""
    filters = copy.copy(view._filters)  # FAB's object is shared by every request
    get_filter_args(filters)  # clears the copy's (own) lists, then adds the request's
    term = request.args.get(quick_search.PARAM, "").strip()
    searchable = tuple(c for c in view.entity.list.search if c not in hidden)
    if term and searchable:
        filters.add_filter(searchable[0], quick_search.quick_search_filter(searchable), term)
    return filters.get_joined_filters(view._base_filters)


def screen_order(view: Any) -> tuple[str, str]:
    """The list screen's order (``_oc_<view>``/``_od_<view>``) if the user may order by that
    column, else the view's default order."""
    chosen = get_order_args().get(type(view).__name__)
    if chosen and chosen[0] in (view.order_columns or ()) and not is_column_dotted(chosen[0]):
        return chosen
    if view.base_order:
        return view.base_order[0], view.base_order[1]
    return "", ""


def check_filters(filters: Filters, hidden: frozenset[str]) -> None:
    """Refuse filters on hidden fields (they would tell their values) and on related
    records' columns (not supported by the export's query)."""
    for flt in filters.filters:
        name = flt.column_name
        if name.split(".")[0] in hidden:
            raise ExportRefused(f"cannot filter on {name.split('.')[0]!r}: the field is "
                                "hidden from you")
        if is_column_dotted(name):
            raise ExportRefused(f"cannot export a list filtered on {name!r}: filter on the "
                                "entity's own fields")


# -- the response ----------------------------------------------------------------------------

def export_list(view: Any, fmt_name: str, query: ListQuery) -> Response:
    """The export of ``view``'s entity (a screen or its REST API) as ``fmt_name``, for the
    list ``query`` reads from the request. Raises :class:`UnknownFormat` for a format that
    does not exist and :class:`ExportRefused` for filters or an order it cannot apply."""
    fmt = export_format(fmt_name)
    hidden = hidden_fields(view.entity)
    rt = runtime()
    plan = export_plan(rt.registry, rt.models.classes, view.entity, hidden)
    try:
        filters, order = query(hidden)
        check_filters(filters, hidden)
        return export_response(plan, fmt, view.datamodel, request_principal(), filters,
                               order)
    except FABException as exc:  # a bad filter or order column, a filter that cannot apply
        raise ExportRefused(str(exc)) from exc


def export_response(plan: ExportPlan, fmt: ExportFormat, datamodel: Any,
                    principal: Optional[Principal], filters: Filters, order: tuple[str, str]
                    ) -> Response:
    """The file as a download: CSV streamed row batch by row batch; XLSX built in a
    temporary file first (a zip is complete only at its end), then streamed from it.

    The rows are read on a connection of the export's own, not the request's session: the
    session is closed when the view returns, before the server has taken a streamed body.
    The query runs before the response is returned, so a failing query is an error response,
    not a truncated file.
    """
    statement = plan.statement(datamodel, principal, filters, *order)
    columns = plan.columns()
    conn = datamodel.session.get_bind().connect()
    try:
        rows = plan.rows(conn, principal, statement)
        if fmt.name == "csv":
            body: Iterable[bytes] = ClosingChunks(csv_chunks(columns, rows), conn.close)
            length = None
        else:
            title = plan.entity.label.get(current_locale(), humanize(plan.entity.name))
            file = xlsx_file(title, columns, rows)
            conn.close()
            length = file.seek(0, 2)
            file.seek(0)
            body = ClosingChunks(file_chunks(file), file.close)
    except BaseException:
        conn.close()
        raise
    name = export_filename(plan.entity.name, fmt, dt.date.today())
    response = Response(body, content_type=fmt.media_type, direct_passthrough=True)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    if length is not None:
        response.headers["Content-Length"] = str(length)
    return response


class ClosingChunks:
    """A response body that releases what it reads from (a connection, a file) once read to
    the end, or when the server closes it before (``release`` may run twice)."""

    def __init__(self, chunks: Iterator[bytes], release: Callable[[], None]) -> None:
        self.chunks = chunks
        self.release = release

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        try:
            return next(self.chunks)
        except StopIteration:
            self.release()  # read to the end: no need to wait for the server's close()
            raise

    def close(self) -> None:
        """Stop reading and release the resource (WSGI servers call this)."""
        try:
            close = getattr(self.chunks, "close", None)
            if close is not None:
                close()
        finally:
            self.release()
