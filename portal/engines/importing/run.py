"""An import: every row read, converted and checked first; then all of it written in one
transaction, or nothing.

The check reports every problem at once, by row and column (a bad date, an unknown
reference, a missing required value, a duplicate in the file or in the database); a dry run
stops there. Writing goes in bulk through SQLAlchemy Core (one INSERT per chunk of rows, ids
returned in order) with what the ORM hooks do for single records done here for all of them:
creator and timestamps, numbers, the workflow's initial state (unless the file gives the
state), one audit entry per record, and the computed fields that read the rows written, in
the same transaction.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Optional

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from portal.engines.access import Principal
from portal.engines.audit import plain, write_entries
from portal.engines.bulk import insert_many
from portal.engines.computed import recompute_rows
from portal.engines.importing.cells import CellError, UnknownValue, parse_cell
from portal.engines.importing.filling import RowFilling
from portal.engines.importing.references import Lookup, lookup_for
from portal.engines.importing.source import Source
from portal.engines.numbering import next_numbers
from portal.engines.validation import check_value, is_empty
from portal.spec.imports import ImportMapping, target_field
from portal.spec.model import DynamicDefault, EntitySpec, FieldSpec, Registry
from portal.startup_gc import collector_paused
from portal.system_models import utcnow

#: Rows per INSERT statement.
CHUNK = 1000
#: The most problems a report keeps (the count is always exact).
MAX_PROBLEMS = 1000

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Problem:
    """Why one cell (row 0: the file or the mapping) cannot be imported."""

    row: int
    column: str
    field: str
    value: str
    message: str
    #: An unknown enum value or referenced record: the mapping's ``values`` can fix it.
    mappable: bool = False

    def __str__(self) -> str:
        where = f"row {self.row}" if self.row else "file"
        cell = f", column '{self.column}'" if self.column else ""
        value = f": '{self.value}'" if self.value else ""
        return f"{where}{cell} ({self.field}){value}: {self.message}"


@dataclass
class ImportReport:
    """What an import found and did."""

    source: str
    entity: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    children: int = 0
    problems: list[Problem] = field(default_factory=list)
    problem_count: int = 0
    ignored_columns: list[str] = field(default_factory=list)
    applied: bool = False
    #: Records the file names by text that do not exist (``link_by_text`` with ``create``),
    #: by entity: created when the import is applied.
    named: dict[str, int] = field(default_factory=dict)

    def add(self, problem: Problem) -> None:
        """Record a problem (the first ``MAX_PROBLEMS`` are kept in full)."""
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)

    def summary(self) -> str:
        """One line: what was (or would be) done."""
        verb = "imported" if self.applied else "would import" if not self.problem_count \
            else "cannot import"
        parts = [f"{self.source}: {verb} {self.rows} row(s) into {self.entity}"]
        if self.applied:
            parts.append(f"{self.created} created, {self.updated} updated"
                         + (f", {self.children} child row(s)" if self.children else ""))
        if self.problem_count:
            parts.append(f"{self.problem_count} problem(s); nothing was written")
        if self.named and not self.problem_count:
            made = ", ".join(f"{n} {entity}" for entity, n in sorted(self.named.items()))
            parts.append(f"{'created' if self.applied else 'would create'} {made} named in "
                         "the file")
        if self.ignored_columns:
            parts.append(f"ignored column(s): {', '.join(self.ignored_columns)}")
        return "; ".join(parts)


@dataclass
class _Cell:
    """One mapped column's target, with what converting its texts needs."""

    index: int
    column: str
    target: str
    child: Optional[str]
    field: FieldSpec
    values: Mapping[str, str]
    date_format: Optional[str]
    check: Optional[Callable[[Any], Optional[str]]]
    known: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The field's name."""
        return self.field.name


def _checker(f: FieldSpec) -> Optional[Callable[[Any], Optional[str]]]:
    """The check of a converted value of ``f`` (None: converting was the check). A plain
    string only has its length to keep: the full check runs when that fails, for its
    message."""
    if f.type in {"enum", "bool", "link", "user", "many"}:
        return None
    if f.type in {"string", "text"} and f.length is None and f.min_length is None \
            and not f.pattern:
        limit = f.max_length or (255 if f.type == "string" else None)
        if limit is None:
            return None
        return lambda value: check_value(f, value) if len(value) > limit else None
    if f.type in {"int", "decimal", "money"}:
        return _number_checker(f)
    return lambda value: check_value(f, value)


def _number_checker(f: FieldSpec) -> Callable[[Any], Optional[str]]:
    """Bounds and size of a number the cell parser made (its decimal places are checked
    there): compared directly, with the full check only for the message of a failure."""
    low = Decimal(str(f.min_value)) if f.min_value is not None else None
    high = Decimal(str(f.max_value)) if f.max_value is not None else None
    scale, digits = (2, 18) if f.type == "money" else (f.scale, f.digits)
    limit = Decimal(2) ** 63 if f.type == "int" else Decimal(10) ** (digits - scale)

    def check(value: Any) -> Optional[str]:
        if (low is not None and value < low) or (high is not None and value > high) \
                or abs(value) >= limit:
            return check_value(f, value)
        return None
    return check


@dataclass(frozen=True)
class _Refusal:
    text: str
    reason: str
    mappable: bool = False


_UNSEEN = object()
#: Value types the audit's JSON takes as they are.
_PLAIN = (str, int, bool)
#: The audit entries' JSON (Chinese kept as it is), the encoder made once.
_to_json = json.JSONEncoder(ensure_ascii=False).encode
#: What a conversion gives that is not the cell's value itself.
_SPECIAL = (_Refusal, tuple)


@dataclass
class _Row:
    number: int
    values: dict[str, Any]
    children: dict[str, list[dict[str, Any]]]
    existing: Optional[int] = None


class _Importer:
    def __init__(self, session: Session, registry: Registry, models: Mapping[str, type],
                 mapping: ImportMapping, source: Source, principal: Principal,
                 progress: Optional[Progress]) -> None:
        self.session, self.registry, self.models = session, registry, models
        self.mapping, self.source, self.principal = mapping, source, principal
        self.entity: EntitySpec = registry.entity(mapping.entity)
        self.report = ImportReport(source.name, mapping.entity, rows=len(source.rows))
        self.progress = progress or (lambda done, total: None)
        self.lookups: dict[tuple[str, Optional[str]], Lookup] = {}
        self._completed: dict[str, list[FieldSpec]] = {}
        self._stored_names: dict[str, dict[str, str]] = {}
        self.today = utcnow().date()
        self.filling = RowFilling(session, registry, models, principal)
        #: What the write changed, for the computed fields reading it: entity -> ids, and
        #: link field -> the ids updated records pointed at before.
        self.written: dict[str, list[int]] = {}
        self.old_links: dict[str, set[int]] = {}

    # -- checking ---------------------------------------------------------------------------

    def check(self) -> list[_Row]:
        self._check_header()
        if self.report.problem_count:
            return []
        positions = {h: i for i, h in enumerate(self.source.headers)}
        self.cells = self._compile(positions)
        keys = self._existing_keys()
        rows: list[_Row] = []
        by_key: dict[Any, _Row] = {}
        for done, (number, cells) in enumerate(self.source.rows, start=1):
            row = self._row(number, cells, keys)
            key = row.values.get(self.mapping.key) if self.mapping.key else None
            if key is not None and key in by_key and row.children:
                for name, extra in row.children.items():  # more child rows of one parent
                    by_key[key].children.setdefault(name, []).extend(extra)
                continue
            if key is not None:
                if key in by_key:
                    self._problem(number, self.mapping.key, str(key),
                                  f"the key is also on row {by_key[key].number}")
                by_key[key] = row
                row.existing = keys.get(key)
            rows.append(row)
            if done % CHUNK == 0:
                self.progress(done, len(self.source.rows))
        self._check_unique(rows)
        for target, _ in self.filling.to_create:
            self.report.named[target] = self.report.named.get(target, 0) + 1
        return rows

    def _compile(self, positions: Mapping[str, int]) -> list[_Cell]:
        """What to do with each mapped column, worked out once for the whole file."""
        cells = []
        for column, targets in self.mapping.columns.items():
            for target in targets:
                _, f, _ = target_field(self.registry.entities, self.entity, target)
                assert f is not None  # checked when the mapping was compiled
                child = target.split(".")[0] if "." in target else None
                cells.append(_Cell(positions[column], column, target, child, f,
                                   self.mapping.values.get(target, {}),
                                   self.mapping.formats.get(target), _checker(f)))
        return cells

    def _check_header(self) -> None:
        headers = set(self.source.headers)
        for column in self.mapping.columns:
            if column not in headers:
                found = ", ".join(self.source.headers)
                self._problem(0, "", column, f"the mapping's column '{column}' is not in the "
                                             f"file (its columns: {found})", column=column)
        self.report.ignored_columns = [h for h in self.source.headers
                                       if h not in self.mapping.columns]
        filled = set(self.mapping.targets()) | set(self.mapping.defaults)
        checked = [("", self.entity, None)] + [
            (f"{name}.", self.registry.entity(f.target or ""), f.via)
            for name, f in self.entity.fields.items()
            if f.type == "children" and any(t.startswith(f"{name}.") for t in filled)]
        for prefix, entity, via in checked:
            for f in entity.fields.values():
                if f.name != via and self._needs_value(f) and prefix + f.name not in filled:
                    self._problem(0, "", prefix + f.name, "a required field that no column "
                                                          "fills: map a column to it or give "
                                                          "it a default")

    @staticmethod
    def _needs_value(f: FieldSpec) -> bool:
        return f.required and f.default is None and f.type not in {"number", "bool",
                                                                   "children", "many", "file"}

    def _row(self, number: int, cells: list[str], keys: Mapping[Any, int]) -> _Row:
        """The row's values; defaults only for a record it creates (an update changes just
        what the file says)."""
        values: dict[str, Any] = {}
        children: dict[str, dict[str, Any]] = {}
        width = len(cells)
        for cell in self.cells:
            text = cells[cell.index] if cell.index < width else ""
            value = cell.known.get(text, _UNSEEN)  # most cells: a text seen before
            if value is _UNSEEN or value.__class__ in _SPECIAL:
                value = self._value(number, cell, text)
            if cell.child is None:
                values[cell.name] = value
            else:
                children.setdefault(cell.child, {})[cell.name] = value
        present = {name for name, found in children.items()
                   if any(v is not None for v in found.values())}  # a child on this row
        new = not self.mapping.key or values.get(self.mapping.key) not in keys
        for target, default in self.mapping.defaults.items():
            head, _, rest = target.partition(".")
            if not rest and not new:
                continue
            bucket = children.setdefault(head, {}) if rest else values
            if is_empty(bucket.get(rest or head)):
                bucket[rest or head] = default
        self._complete(number, self.entity, values, new=new)
        self._fill(number, self.entity, values, new)
        rows_of: dict[str, list[dict[str, Any]]] = {}
        for name, child_values in children.items():
            if name not in present:
                continue
            child = self.registry.entity(self.entity.fields[name].target or "")
            self._complete(number, child, child_values, via=self.entity.fields[name].via)
            self._fill(number, child, child_values, True, prefix=f"{name}.")
            rows_of[name] = [child_values]
        return _Row(number, values, rows_of)

    def _fill(self, number: int, entity: EntitySpec, values: dict[str, Any], new: bool,
              prefix: str = "") -> None:
        """Text links and conditional defaults (``portal.engines.importing.filling``)."""
        for problem in self.filling.fill(entity, values, new):
            self._problem(number, prefix + problem.field, problem.text, problem.message,
                          column=self._column_of(prefix + problem.field))

    def _column_of(self, target: str) -> str:
        return next((cell.column for cell in self.cells if cell.target == target), "")

    def _value(self, number: int, cell: _Cell, text: str) -> Any:
        """The cell's value (None, with a problem recorded, when it has none)."""
        found = cell.known.get(text, _UNSEEN)
        if found is _UNSEEN:
            found = cell.known[text] = self._convert(cell, text)
        if isinstance(found, _Refusal):
            self._problem(number, cell.target, found.text, found.reason, column=cell.column,
                          mappable=found.mappable)
            return None
        if cell.field.type == "many":
            ids, bad = found
            for part, reason in bad:
                self._problem(number, cell.target, part, reason, column=cell.column)
            return ids
        return found

    def _convert(self, cell: _Cell, text: str) -> Any:
        """What ``text`` means in ``cell``'s field: a value, ids, or a refusal (computed once
        per distinct text of a column: files repeat their values)."""
        f = cell.field
        mapped = cell.values.get(text.strip(), text)
        try:
            value = parse_cell(f, mapped, cell.date_format)
        except CellError as exc:
            return _Refusal(text, str(exc), isinstance(exc, UnknownValue))
        if value is None:
            return None
        if f.type in {"link", "user"}:
            record, why = self._lookup(f).find(value)
            return _Refusal(text, why, record is None and why.startswith("no ")) if why \
                else record
        if f.type == "many":
            ids, bad = [], []
            for part in (p.strip() for p in value.split(";")):
                if part:
                    record, why = self._lookup(f).find(part)
                    if why:
                        bad.append((part, why))
                    ids.append(record)
            return ids, bad
        reason = cell.check(value) if cell.check is not None else None
        return _Refusal(text, reason) if reason else value

    def _lookup(self, f: FieldSpec) -> Lookup:
        key = (f.type if f.type == "user" else "link", f.target)
        if key not in self.lookups:
            self.lookups[key] = lookup_for(self.session, self.models, self.registry,
                                           "user" if f.type == "user" else "link", f.target,
                                           self.principal)
        return self.lookups[key]

    def _complete(self, number: int, entity: EntitySpec, values: dict[str, Any],
                  via: Optional[str] = None, new: bool = True) -> None:
        """Defaults of a new record, and required values still missing."""
        for f in self._completed.get(entity.name) or self._to_complete(entity):
            if f.name == via or values.get(f.name) not in (None, ""):
                continue
            if not new:
                if self._needs_value(f) and f.name in values:
                    self._problem(number, f.name, "", "a value is required")
                continue
            if isinstance(f.default, DynamicDefault):
                values[f.name] = self.principal.user_id if f.default.kind == "current_user" \
                    else self.today if f.default.kind == "today" else utcnow()
            elif f.default is not None and f.name not in values:
                values[f.name] = f.default
            elif self._needs_value(f) and f.name in values:
                label = f.name if entity is self.entity else f"{entity.name}.{f.name}"
                self._problem(number, label, "", "a value is required")

    def _to_complete(self, entity: EntitySpec) -> list[FieldSpec]:
        """The fields ``_complete`` looks at: those with a default or a required value."""
        found = [f for f in entity.fields.values()
                 if f.default is not None or self._needs_value(f)]
        self._completed[entity.name] = found
        return found

    def _existing_keys(self) -> dict[Any, int]:
        if not self.mapping.key:
            return {}
        model = self.models[self.entity.name]
        column = getattr(model, self._stored(self.entity.fields[self.mapping.key]))
        return {k: i for i, k in self.session.execute(select(model.id, column))}

    def _check_unique(self, rows: list[_Row]) -> None:
        model = self.models[self.entity.name]
        for f in self.entity.fields.values():
            if not f.unique or f.type in {"number", "many", "children"}:
                continue
            seen: dict[Any, int] = {}
            for row in rows:
                value = row.values.get(f.name)
                if is_empty(value):
                    continue
                if value in seen:
                    self._problem(row.number, f.name, str(value),
                                  f"also on row {seen[value]}; it must be unique")
                seen.setdefault(value, row.number)
            column = getattr(model, self._stored(f))
            taken = {}
            wanted = list(seen)
            for start in range(0, len(wanted), CHUNK):
                taken.update(self.session.execute(select(column, model.id).where(
                    column.in_(wanted[start:start + CHUNK]))).all())
            for row in rows:
                value = row.values.get(f.name)
                owner = taken.get(value)
                if owner is not None and owner != row.existing:
                    self._problem(row.number, f.name, str(value),
                                  f"already used by {self.entity.name} #{owner}; it must be "
                                  "unique")

    def _problem(self, row: int, target: str, value: str, message: str,
                 column: str = "", mappable: bool = False) -> None:
        self.report.add(Problem(row, column, target, value, message, mappable))

    @staticmethod
    def _stored(f: FieldSpec) -> str:
        return f"{f.name}_id" if f.type in {"link", "user", "file"} else f.name

    # -- writing ----------------------------------------------------------------------------

    def write(self, rows: list[_Row]) -> None:
        self.filling.settle([*(r.values for r in rows), *(
            child for r in rows for children in r.children.values() for child in children)])
        conn = self.session.connection()
        now = utcnow()
        new = [r for r in rows if r.existing is None]
        old = [r for r in rows if r.existing is not None]
        self._insert(conn, self.entity, [r.values for r in new], now,
                     lambda ids: [setattr(r, "existing", i)
                                  for r, i in zip(new, ids, strict=True)])
        self.report.created = len(new)
        self.written.setdefault(self.entity.name, []).extend(r.existing for r in new)
        self.report.updated = self._update(conn, old, now)
        for name, f in self.entity.fields.items():
            if f.type != "children" or f.target is None:
                continue
            child = self.registry.entity(f.target)
            batch = []
            for row in new:  # child rows come with a new parent; an update leaves them be
                for values in row.children.get(name, []):
                    batch.append({**values, f.via: row.existing})
            self._insert(conn, child, batch, now,
                         self.written.setdefault(child.name, []).extend, via=f.via)
            self.report.children += len(batch)
        # Computed fields reading what was written (the ORM's hooks did not see it).
        recompute_rows(self.session, self.registry, self.models, self.written,
                       {self.entity.name: self.old_links})
        self.report.applied = True

    def _columns(self, entity: EntitySpec, values: Mapping[str, Any]) -> dict[str, Any]:
        """The row as table columns (link fields as ``<name>_id``)."""
        stored = self._stored_names.get(entity.name)
        if stored is None:
            stored = self._stored_names[entity.name] = {
                name: self._stored(f) for name, f in entity.fields.items()
                if f.type not in {"many", "children"}}
        return {stored[k]: v for k, v in values.items() if k in stored}

    def _insert(self, conn: Any, entity: EntitySpec, records: list[dict[str, Any]],
                now: dt.datetime, got_ids: Callable[[list[int]], Any],
                via: Optional[str] = None) -> None:
        if not records:
            return
        model = self.models[entity.name]
        table = model.__table__
        flow = getattr(model, "__workflow__", None)
        numbered = [f for f in entity.fields.values()
                    if f.type == "number" and f.number_format is not None]
        numbers = {f.name: next_numbers(conn, entity.name, f.name, f.number_format,
                                        self.today, len(records)) for f in numbered}
        all_ids: list[int] = []
        for start in range(0, len(records), CHUNK):
            chunk = records[start:start + CHUNK]
            params = []
            for i, values in enumerate(chunk, start=start):
                row = self._columns(entity, values)
                for f in numbered:
                    row.setdefault(f.name, numbers[f.name][i])
                    if row[f.name] is None:
                        row[f.name] = numbers[f.name][i]
                if flow is not None and row.get(flow.state_field) is None:
                    # A state given in the file is kept: imported records reached it
                    # elsewhere (their moves there are not replayed through the gates).
                    row[flow.state_field] = flow.initial
                row.update(created_at=now, updated_at=now,
                           created_by_id=self.principal.user_id,
                           updated_by_id=self.principal.user_id)
                params.append(row)
            ids = _insert_rows(conn, table, params)
            all_ids.extend(ids)
            self._many(conn, entity, chunk, ids)
            audited = [k for k, f in entity.fields.items() if f.type != "children"]
            write_entries(conn, [self._audit(entity, i, "create", {
                k: [None, v if type(v) in _PLAIN else plain(v)] for k in audited
                if (v := values.get(k)) is not None and v != ""}, now,
                parent=values.get(via) if via else None)
                for i, values in zip(ids, chunk, strict=True)])
            self.progress(len(self.source.rows) + start + len(chunk),
                          len(self.source.rows) + len(records))
        got_ids(all_ids)
        if flow is not None:
            from portal.engines.workflow import after_create

            for record in self.session.scalars(select(model).where(model.id.in_(all_ids))):
                after_create(self.session, record)

    def _many(self, conn: Any, entity: EntitySpec, records: list[dict[str, Any]],
              ids: list[int]) -> None:
        for f in entity.fields.values():
            if f.type != "many":
                continue
            assoc = self.models[entity.name].metadata.tables[f"{entity.name}__{f.name}"]
            pairs = [{"left_id": i, "right_id": r} for i, values in zip(ids, records, strict=True)
                     for r in dict.fromkeys(values.get(f.name) or [])]
            if pairs:
                conn.execute(insert(assoc), pairs)

    def _update(self, conn: Any, rows: list[_Row], now: dt.datetime) -> int:
        """Write the rows that change an existing record; how many did."""
        if not rows:
            return 0
        model = self.models[self.entity.name]
        table = model.__table__
        stored = {name: self._stored(f) for name, f in self.entity.fields.items()
                  if f.type not in {"many", "children"}}
        before = {r.id: r for r in conn.execute(select(table).where(
            table.c.id.in_([r.existing for r in rows])))}
        entries = []
        for row in rows:
            old = before[row.existing]
            changes = {name: [plain(getattr(old, stored[name])), plain(value)]
                       for name, value in row.values.items() if name in stored
                       and getattr(old, stored[name]) != value}
            if not changes:
                continue
            conn.execute(update(table).where(table.c.id == row.existing).values(
                {**{stored[n]: row.values[n] for n in changes}, "updated_at": now,
                 "updated_by_id": self.principal.user_id}))
            self.written.setdefault(self.entity.name, []).append(row.existing)
            for name in changes:
                if self.entity.fields[name].type == "link":
                    self.old_links.setdefault(name, set()).add(getattr(old, stored[name]))
            entries.append(self._audit(self.entity, row.existing, "update", changes, now))
        write_entries(conn, entries)
        return len(entries)

    def _audit(self, entity: EntitySpec, record_id: int, action: str,
               changes: Mapping[str, Any], now: dt.datetime,
               parent: Optional[int] = None) -> dict[str, Any]:
        """An audit row as the flush hook writes one (a child row names its parent)."""
        return {"entity": entity.name, "record_id": record_id, "action": action, "at": now,
                "user_id": self.principal.user_id, "username": self.principal.username,
                "changes": _to_json(changes),
                "parent_entity": self.entity.name if parent is not None else None,
                "parent_id": parent}


def _insert_rows(conn: Any, table: Any, params: list[dict[str, Any]]) -> list[int]:
    """Insert ``params`` with one executemany; their ids, in order.

    On PostgreSQL the ids are taken from the table's sequence first, in one query, and
    inserted with the rows (RETURNING in parameter order took twice the insert itself).
    SQLite's new rows get consecutive rowids (each is the largest plus one, and no other
    writer can come in while this transaction holds the write lock), so the last one gives
    them all.
    """
    if conn.dialect.name == "postgresql":
        ids = list(conn.exec_driver_sql(
            "SELECT nextval(pg_get_serial_sequence(%(t)s, 'id')) FROM generate_series(1, %(n)s)",
            {"t": table.name, "n": len(params)}).scalars())
        insert_many(conn, table, [{**row, "id": i} for row, i in zip(params, ids, strict=True)])
        return ids
    insert_many(conn, table, params)
    last = conn.exec_driver_sql("SELECT last_insert_rowid()").scalar()
    return list(range(last - len(params) + 1, last + 1))


def run_import(session: Session, registry: Registry, models: Mapping[str, type],
               mapping: ImportMapping, source: Source, principal: Principal,
               apply: bool = False, progress: Optional[Progress] = None) -> ImportReport:
    """Check every row of ``source`` against ``mapping``; with ``apply`` and no problem,
    write them all on ``session``'s transaction (the caller commits, or rolls back)."""
    importer = _Importer(session, registry, models, mapping, source, principal, progress)
    with collector_paused():
        rows = importer.check()
        if apply and not importer.report.problem_count:
            importer.write(rows)
    return importer.report
