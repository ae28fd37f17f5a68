"""Rows of typed values written as a CSV or XLSX file, for exports of any entity's list.

Pure: no Flask, no database. The web layer (``portal.web.export``) reads the rows and names
the columns; this module decides how each kind of value is written so that the file can be
imported back: enums as their value, decimals exact (``1234.50``), dates in ISO form,
booleans as ``true``/``false``.

* CSV is UTF-8 with a byte-order mark (Excel then reads Chinese correctly), produced as a
  stream of byte chunks: the rows are never all in memory.
* XLSX is written by openpyxl in write-only mode into a temporary file (openpyxl keeps the
  rows on disk, not in memory), then read back in chunks. Numbers, dates and booleans are
  typed cells; a decimal a spreadsheet cannot hold exactly (more than 15 significant digits)
  is written as text rather than rounded. Text is always text, never a formula.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import IO, Any, Optional

#: Kinds of column: how a value is written (anything not listed is text).
KINDS: frozenset[str] = frozenset({"text", "int", "decimal", "date", "datetime", "bool"})
#: Bytes per chunk handed to the server.
CHUNK_BYTES = 64 * 1024
#: Significant digits a spreadsheet number (an IEEE double) keeps exactly.
_EXACT_DIGITS = 15
#: Characters XML 1.0 (and so XLSX) cannot hold; removed from text cells.
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
#: Characters a sheet title may not contain.
_BAD_TITLE = re.compile(r"[\[\]:*?/\\]")


@dataclass(frozen=True)
class ExportFormat:
    """One file format: its name in URLs, its media type and file extension."""

    name: str
    media_type: str
    extension: str


FORMATS: Mapping[str, ExportFormat] = MappingProxyType({
    "csv": ExportFormat("csv", "text/csv; charset=utf-8", "csv"),
    "xlsx": ExportFormat(
        "xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
})


class UnknownFormat(ValueError):
    """An export format that is not one of :data:`FORMATS`."""

    def __init__(self, name: str) -> None:
        super().__init__(f"unknown export format {name!r}; use one of: "
                         f"{', '.join(sorted(FORMATS))}")
        self.name = name


def export_format(name: str) -> ExportFormat:
    """The format called ``name`` (raises :class:`UnknownFormat`)."""
    try:
        return FORMATS[name]
    except KeyError:
        raise UnknownFormat(name) from None


@dataclass(frozen=True)
class ExportColumn:
    """One column of the file: its header, the kind of its values and, for decimals, the
    number of decimal places."""

    header: str
    kind: str = "text"
    scale: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown column kind {self.kind!r}")


def column_kind(field_type: str) -> str:
    """The kind of column that holds values of a field of type ``field_type``."""
    if field_type == "int":
        return "int"
    if field_type in {"decimal", "money"}:
        return "decimal"
    if field_type in {"date", "datetime", "bool"}:
        return field_type
    return "text"


def export_filename(entity: str, fmt: ExportFormat, day: dt.date) -> str:
    """``customer-2026-11-23.csv``."""
    return f"{entity}-{day.isoformat()}.{fmt.extension}"


def text_value(column: ExportColumn, value: Any) -> str:
    """``value`` as the text a CSV cell holds (empty for None)."""
    if value is None:
        return ""
    kind = column.kind
    if kind == "decimal":
        return f"{Decimal(value):.{column.scale}f}"
    if kind == "bool":
        return "true" if value else "false"
    if kind in {"date", "datetime"}:
        return value.isoformat()
    return str(value)


def csv_chunks(columns: Sequence[ExportColumn], rows: Iterable[Sequence[Any]]
               ) -> Iterator[bytes]:
    """The CSV file (BOM, header, one line per row) in chunks of about
    :data:`CHUNK_BYTES`, reading ``rows`` only as the chunks are taken."""
    line = _LastLine()
    writer = csv.writer(line)
    parts = ["\ufeff", _write(writer, line, [c.header for c in columns])]
    size = 0
    for row in rows:
        text = _write(writer, line, [text_value(c, v) for c, v in zip(columns, row, strict=True)])
        parts.append(text)
        size += len(text)
        if size >= CHUNK_BYTES:
            yield "".join(parts).encode("utf-8")
            parts, size = [], 0
    if parts:
        yield "".join(parts).encode("utf-8")


class _LastLine:
    """A file for ``csv.writer`` that keeps only the last line written."""

    text = ""

    def write(self, text: str) -> int:
        self.text = text
        return len(text)


def _write(writer: Any, line: _LastLine, cells: list[str]) -> str:
    writer.writerow(cells)
    return line.text


def xlsx_file(title: str, columns: Sequence[ExportColumn], rows: Iterable[Sequence[Any]]
              ) -> IO[bytes]:
    """The XLSX workbook (one sheet called ``title``, a header row, one row per row) in a
    temporary file positioned at its start; the caller closes it (which deletes it)."""
    from openpyxl import Workbook  # imported when an XLSX is asked for, not at start-up
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(sheet_title(title))
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)

    def header(text: str) -> Any:
        cell = WriteOnlyCell(sheet, value=_clean(text))
        cell.data_type = "s"
        cell.font = bold
        return cell

    sheet.append([header(c.header) for c in columns])
    writers = [_xlsx_writer(c, sheet, WriteOnlyCell) for c in columns]
    for row in rows:
        sheet.append([write(v) for write, v in zip(writers, row, strict=True)])
    out = tempfile.TemporaryFile()  # noqa: SIM115 (handed to the caller, who closes it)
    try:
        workbook.save(out)
        out.seek(0)
    except BaseException:
        out.close()
        raise
    return out


def sheet_title(title: str) -> str:
    """``title`` as a valid sheet name (no ``[]:*?/\\``, at most 31 characters)."""
    cleaned = _BAD_TITLE.sub(" ", _clean(title)).strip().strip("'")
    return cleaned[:31] or "Sheet1"


def file_chunks(file: IO[bytes]) -> Iterator[bytes]:
    """The content of ``file`` in chunks; closes it at the end (or when abandoned)."""
    try:
        while chunk := file.read(CHUNK_BYTES):
            yield chunk
    finally:
        file.close()


def _clean(text: str) -> str:
    return _ILLEGAL_XML.sub("", text)


def _xlsx_writer(column: ExportColumn, sheet: Any, cell_class: Any) -> Any:
    """A function writing one value of ``column`` as what ``sheet.append`` takes."""

    def text(value: Any) -> Any:
        if value is None:
            return None
        value = _clean(str(value))
        if not value.startswith("="):
            return value
        cell = cell_class(sheet, value=value)
        cell.data_type = "s"  # user text, never a formula
        return cell

    def styled(value: Any, number_format: str) -> Any:
        cell = cell_class(sheet, value=value)
        cell.number_format = number_format
        return cell

    kind = column.kind
    if kind == "decimal":
        number_format = "#,##0" + ("." + "0" * column.scale if column.scale else "")

        def decimal(value: Any) -> Any:
            if value is None:
                return None
            exact = _spreadsheet_number(Decimal(value))
            if exact is None:
                return text(text_value(column, value))
            return styled(exact, number_format)

        return decimal
    if kind == "int":
        return lambda v: v if v is None or abs(v) < 2 ** 53 else text(v)
    if kind == "date":
        return lambda v: None if v is None else styled(v, "yyyy-mm-dd")
    if kind == "datetime":
        return lambda v: None if v is None else styled(v, "yyyy-mm-dd hh:mm:ss")
    if kind == "bool":
        return lambda v: None if v is None else bool(v)
    return text


def _spreadsheet_number(value: Decimal) -> Optional[Decimal]:
    """``value`` if a spreadsheet number holds it exactly (at most 15 significant digits),
    else None."""
    if not value.is_finite():
        return None
    digits = value.normalize().as_tuple().digits
    return value if len(digits) <= _EXACT_DIGITS else None
