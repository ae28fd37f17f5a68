"""Reading a CSV or XLSX file as a header and rows of text.

CSV files are read as UTF-8 (with or without a byte-order mark), else GB18030 (what Excel
writes for Chinese on Windows); the delimiter is sniffed among comma, semicolon and tab.
XLSX files are read with openpyxl in read-only mode, the first sheet. Every cell comes out as
text (numbers and dates of a spreadsheet in their plain form), so one converter serves both.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

#: Encodings tried for CSV, in order.
CSV_ENCODINGS = ("utf-8-sig", "gb18030")


class SourceError(ValueError):
    """The file cannot be read as a table; the message says why."""


@dataclass
class Source:
    """A table read from a file: its column names and its rows (row number, cells)."""

    name: str
    headers: list[str]
    rows: list[tuple[int, list[str]]]


def read_source(path: Path, name: str | None = None) -> Source:
    """The table in ``path`` (``.csv``, ``.txt`` or ``.xlsx``)."""
    label = name or path.name
    suffix = Path(label).suffix.lower()
    if suffix == ".xlsx":
        return _read_xlsx(path, label)
    if suffix in (".csv", ".txt", ""):
        return _read_csv(path.read_bytes(), label)
    raise SourceError(f"{label}: unsupported file type '{suffix}' (use .csv or .xlsx)")


def _decode(data: bytes, label: str) -> str:
    for encoding in CSV_ENCODINGS:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise SourceError(f"{label}: not UTF-8 or GB18030 text")


def _read_csv(data: bytes, label: str) -> Source:
    text = _decode(data, label)
    sample = text[:8192]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    return _table(label, ((i, row) for i, row in enumerate(reader, start=1)))


def _read_xlsx(path: Path, label: str) -> Source:
    try:
        from openpyxl import load_workbook
    except ImportError as exc:  # a dependency of the portal: only a broken install lacks it
        raise SourceError("reading .xlsx needs openpyxl") from exc
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a file that is not a workbook
        raise SourceError(f"{label}: not an .xlsx workbook ({exc})") from None
    try:
        sheet = book.worksheets[0]
        rows = ((i, [_cell_text(c) for c in row])
                for i, row in enumerate(sheet.iter_rows(values_only=True), start=1))
        return _table(label, rows)
    finally:
        book.close()


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format(Decimal(repr(value)).normalize(), "f") if value != int(value) \
            else str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _table(label: str, rows: Iterator[tuple[int, list[str]]]) -> Source:
    header: list[str] | None = None
    body: list[tuple[int, list[str]]] = []
    for number, cells in rows:
        if header is None:
            if any(c.strip() for c in cells):
                header = [c.strip() for c in cells]
            continue
        if any(c.strip() for c in cells):
            body.append((number, cells))
    if header is None:
        raise SourceError(f"{label}: the file is empty (no header row)")
    blank = [i + 1 for i, h in enumerate(header) if not h]
    if blank and any(i < len(header) for i in blank):
        header = [h or f"column {i + 1}" for i, h in enumerate(header)]
    duplicates = sorted({h for h in header if header.count(h) > 1})
    if duplicates:
        raise SourceError(f"{label}: column(s) {', '.join(duplicates)} appear more than once "
                          "in the header")
    return Source(label, header, body)
