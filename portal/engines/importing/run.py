"""An import: every row read, converted and checked first; then all of it written in one
transaction, or nothing.

The check reports every problem at once, by row and column (a bad date, an unknown
reference, a missing required value, a duplicate in the file or in the database); a dry run
stops there. Writing goes in bulk through SQLAlchemy Core (one INSERT per chunk of rows, ids
returned in order) with what the ORM hooks do for single records done here for all of them:
creator and timestamps, numbers, the workflow's initial state, and one audit entry per
record, in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from portal.engines.access import Principal
from portal.engines.audit import plain, write_entries
from portal.engines.importing.cells import CellError, parse_cell
from portal.engines.importing.references import Lookup, lookup_for
from portal.engines.importing.source import Source
from portal.engines.numbering import next_numbers
from portal.engines.validation import check_value, is_empty
from portal.spec.imports import ImportMapping, target_field
from portal.spec.model import DynamicDefault, EntitySpec, FieldSpec, Registry
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
        if self.ignored_columns:
            parts.append(f"ignored column(s): {', '.join(self.ignored_columns)}")
        return "; ".join(parts)


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
        self.today = utcnow().date()

    # -- checking ---------------------------------------------------------------------------

    def check(self) -> list[_Row]:
        self._check_header()
        if self.report.problem_count:
            return []
        positions = {h: i for i, h in enumerate(self.source.headers)}
        keys = self._existing_keys()
        rows: list[_Row] = []
        by_key: dict[Any, _Row] = {}
        for done, (number, cells) in enumerate(self.source.rows, start=1):
            row = self._row(number, cells, positions, keys)
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
        return rows

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

    def _row(self, number: int, cells: list[str], positions: Mapping[str, int],
             keys: Mapping[Any, int]) -> _Row:
        """The row's values; defaults only for a record it creates (an update changes just
        what the file says)."""
        values: dict[str, Any] = {}
        children: dict[str, dict[str, Any]] = {}
        for column, targets in self.mapping.columns.items():
            index = positions[column]
            text = cells[index] if index < len(cells) else ""
            for target in targets:
                holder, f, _ = target_field(self.registry.entities, self.entity, target)
                assert holder is not None and f is not None  # checked when compiled
                value = self._value(number, column, target, holder, f, text)
                if "." in target:
                    children.setdefault(target.split(".")[0], {})[f.name] = value
                else:
                    values[f.name] = value
        present = {name for name, cells in children.items()
                   if not all(is_empty(v) for v in cells.values())}  # a child on this row
        new = not self.mapping.key or values.get(self.mapping.key) not in keys
        for target, default in self.mapping.defaults.items():
            head, _, rest = target.partition(".")
            if not rest and not new:
                continue
            bucket = children.setdefault(head, {}) if rest else values
            if is_empty(bucket.get(rest or head)):
                bucket[rest or head] = default
        self._complete(number, self.entity, values, new=new)
        rows_of: dict[str, list[dict[str, Any]]] = {}
        for name, child_values in children.items():
            if name not in present:
                continue
            child = self.registry.entity(self.entity.fields[name].target or "")
            self._complete(number, child, child_values, via=self.entity.fields[name].via)
            rows_of[name] = [child_values]
        return _Row(number, values, rows_of)

    def _value(self, number: int, column: str, target: str, holder: EntitySpec, f: FieldSpec,
               text: str) -> Any:
        mapped = self.mapping.values.get(target, {}).get(text.strip(), text)
        try:
            value = parse_cell(f, mapped, self.mapping.formats.get(target))
        except CellError as exc:
            self._problem(number, target, text, str(exc), column=column)
            return None
        if value is None:
            return None
        if f.type in {"link", "user"}:
            lookup = self._lookup(f)
            found, why = lookup.find(value)
            if why:
                self._problem(number, target, text, why, column=column)
            return found
        if f.type == "many":
            ids = []
            for part in (p.strip() for p in value.split(";")):
                if part:
                    found, why = self._lookup(f).find(part)
                    if why:
                        self._problem(number, target, part, why, column=column)
                    ids.append(found)
            return ids
        reason = check_value(f, value)
        if reason:
            self._problem(number, target, text, reason, column=column)
            return None
        return value

    def _lookup(self, f: FieldSpec) -> Lookup:
        key = (f.type if f.type == "user" else "link", f.target)
        if key not in self.lookups:
            self.lookups[key] = lookup_for(self.session, self.models, self.registry,
                                           "user" if f.type == "user" else "link", f.target)
        return self.lookups[key]

    def _complete(self, number: int, entity: EntitySpec, values: dict[str, Any],
                  via: Optional[str] = None, new: bool = True) -> None:
        """Defaults of a new record, and required values still missing."""
        for f in entity.fields.values():
            if f.name == via or not is_empty(values.get(f.name)):
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
                 column: str = "") -> None:
        self.report.add(Problem(row, column, target, value, message))

    @staticmethod
    def _stored(f: FieldSpec) -> str:
        return f"{f.name}_id" if f.type in {"link", "user", "file"} else f.name

    # -- writing ----------------------------------------------------------------------------

    def write(self, rows: list[_Row]) -> None:
        conn = self.session.connection()
        now = utcnow()
        new = [r for r in rows if r.existing is None]
        old = [r for r in rows if r.existing is not None]
        self._insert(conn, self.entity, [r.values for r in new], now,
                     lambda ids: [setattr(r, "existing", i)
                                  for r, i in zip(new, ids, strict=True)])
        self.report.created = len(new)
        self.report.updated = self._update(conn, old, now)
        for name, f in self.entity.fields.items():
            if f.type != "children" or f.target is None:
                continue
            child = self.registry.entity(f.target)
            batch = []
            for row in new:  # child rows come with a new parent; an update leaves them be
                for values in row.children.get(name, []):
                    batch.append({**values, f.via: row.existing})
            self._insert(conn, child, batch, now, lambda ids: None, via=f.via)
            self.report.children += len(batch)
        self.report.applied = True

    def _columns(self, entity: EntitySpec, values: Mapping[str, Any]) -> dict[str, Any]:
        out = {}
        for name, value in values.items():
            f = entity.fields.get(name)
            if f is None or f.type in {"many", "children"}:
                continue
            out[self._stored(f)] = value
        return out

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
                if flow is not None:
                    row[flow.state_field] = flow.initial
                row.update(created_at=now, updated_at=now,
                           created_by_id=self.principal.user_id,
                           updated_by_id=self.principal.user_id)
                params.append(row)
            ids = list(conn.execute(insert(table).returning(table.c.id,
                                                            sort_by_parameter_order=True),
                                    params).scalars())
            all_ids.extend(ids)
            self._many(conn, entity, chunk, ids)
            write_entries(conn, [self._audit(entity, i, "create", {
                k: [None, plain(v)] for k, v in values.items()
                if not is_empty(v) and k in entity.fields
                and entity.fields[k].type not in {"children"}}, now,
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
            entries.append(self._audit(self.entity, row.existing, "update", changes, now))
        write_entries(conn, entries)
        return len(entries)

    def _audit(self, entity: EntitySpec, record_id: int, action: str,
               changes: Mapping[str, Any], now: dt.datetime,
               parent: Optional[int] = None) -> dict[str, Any]:
        """An audit row as the flush hook writes one (a child row names its parent)."""
        return {"entity": entity.name, "record_id": record_id, "action": action, "at": now,
                "user_id": self.principal.user_id, "username": self.principal.username,
                "changes": json.dumps(changes, ensure_ascii=False, sort_keys=True),
                "parent_entity": self.entity.name if parent is not None else None,
                "parent_id": parent}


def run_import(session: Session, registry: Registry, models: Mapping[str, type],
               mapping: ImportMapping, source: Source, principal: Principal,
               apply: bool = False, progress: Optional[Progress] = None) -> ImportReport:
    """Check every row of ``source`` against ``mapping``; with ``apply`` and no problem,
    write them all on ``session``'s transaction (the caller commits, or rolls back)."""
    importer = _Importer(session, registry, models, mapping, source, principal, progress)
    rows = importer.check()
    if apply and not importer.report.problem_count:
        importer.write(rows)
    return importer.report
