"""What a migration would do: the steps between the live database and the compiled YAML.

Planning runs inside the migration's transaction. Renames declared with ``renamed_from``
are carried out first, on that transaction; then Alembic compares the compiled models with
the (renamed) live database (tables, columns, indexes, unique constraints, NOT NULL), and the
previous migration's snapshot tells what changed inside columns Alembic cannot see (types,
sizes, enum values). Every step that would lose or change data is checked against the rows
now: offending rows are listed by id and value. ``portal migrate --plan`` rolls the
transaction back afterwards; ``--apply`` carries out the remaining steps and commits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from portal.generators.models import column_type
from portal.migrate import steps
from portal.migrate.conversions import REFERENCE_TYPES, Lossy, Unsupported, conversion
from portal.migrate.steps import BLOCKED, DROP, KEEP, MAX_LISTED_ROWS, REVIEW, SAFE, Step
from portal.spec.model import DynamicDefault, FieldSpec, Registry, SourcePos

#: Field types stored in a column of the entity's own table under the field's name.
VALUE_TYPES = frozenset({"string", "text", "int", "decimal", "money", "bool", "date",
                         "datetime", "enum", "email", "phone", "url", "number"})
NOWHERE = SourcePos("<snapshot>", 0, 0)


@dataclass
class Plan:
    """The steps of a migration, in the order they are applied, and the renames done."""

    steps: list[Step] = field(default_factory=list)
    renames: list[tuple[str, str, str, str]] = field(default_factory=list)

    @property
    def changes(self) -> list[Step]:
        """The steps that change something (all but the kept fields and entities)."""
        return [s for s in self.steps if s.level != KEEP]

    @property
    def blocked(self) -> list[Step]:
        """The steps that cannot be applied as things are."""
        return [s for s in self.steps if s.level == BLOCKED]

    def only(self, *levels: str) -> bool:
        """Whether every change is of one of ``levels``."""
        return all(s.level in levels for s in self.changes)

    def lines(self) -> list[str]:
        """The plan as ``portal migrate`` prints it."""
        return [s.line() for s in self.steps]


def _physical(entity: str, name: str, f: Mapping[str, Any]) -> tuple[str, str] | None:
    """(table, column) holding a field's value; None for children (held by the child)."""
    kind = f["type"]
    if kind == "children":
        return None
    if kind == "many":
        return f"{entity}__{name}", ""
    if kind in {"link", "user", "file"}:
        return entity, f"{name}_id"
    return entity, name


class Planner:
    """Builds the plan on ``conn`` for ``registry`` (whose models are ``metadata``), given
    the snapshots of the recorded migrations (``earlier``, newest first; empty for a database
    older than migrations). Older snapshots matter: a table or column kept hidden by one
    migration is still known to the next ones (to drop it, or to convert it when its field
    comes back with another type)."""

    def __init__(self, conn: Connection, registry: Registry, metadata: sa.MetaData,
                 current: Mapping[str, Any], earlier: Sequence[Mapping[str, Any]],
                 drop: bool) -> None:
        self.conn = conn
        self.registry = registry
        self.metadata = metadata
        self.current = current["entities"]
        self.earlier = [shape.get("entities", {}) for shape in earlier]
        self.drop = drop
        self.plan = Plan()
        #: current entity -> its name in ``previous``; (entity, field) -> previous field name
        self.old_entity: dict[str, str] = {}
        self.old_field: dict[tuple[str, str], str] = {}

    def run(self) -> Plan:
        """Rename, compare, check; the plan."""
        self._renames()
        self._compare()
        self._retypes()
        order = ["rename_table", "rename_column", "create_table", "add_column", "widen",
                 "retype",
                 "drop_not_null", "set_not_null", "drop_unique", "drop_index", "add_index",
                 "add_unique", "enum_values", "keep_column", "keep_table", "drop_column",
                 "drop_table"]
        self.plan.steps.sort(key=lambda s: order.index(s.action))
        return self.plan

    # -- renames (carried out now, so that the comparison sees them) --------------------------

    def _tables(self) -> set[str]:
        return set(sa.inspect(self.conn).get_table_names())

    def _columns(self, table: str) -> set[str]:
        return {c["name"] for c in sa.inspect(self.conn).get_columns(table)}

    def _renames(self) -> None:
        tables = self._tables()
        for name, entity in self.registry.entities.items():
            if name in tables:
                continue
            old = next((o for o in entity.renamed_from if o in tables), None)
            if old is None:
                continue
            self._rename_table(old, name, "entity", name)
            for f in entity.fields.values():
                if f.type == "many" and f"{old}__{f.name}" in tables:
                    steps.rename_table(self.conn, f"{old}__{f.name}", f"{name}__{f.name}")
            self.old_entity[name] = old
            tables = self._tables()
        for name, entity in self.registry.entities.items():
            if name not in tables:
                continue
            columns = self._columns(name)
            for f in entity.fields.values():
                where = _physical(name, f.name, {"type": f.type})
                if where is None or not f.renamed_from:
                    continue
                table, column = where
                for old in f.renamed_from:
                    if f.type == "many":
                        if table not in tables and f"{name}__{old}" in tables:
                            self._rename_table(f"{name}__{old}", table, "field", name, old,
                                               f.name)
                            self.old_field[(name, f.name)] = old
                            break
                        continue
                    old_column = f"{old}_id" if column.endswith("_id") else old
                    if column not in columns and old_column in columns:
                        steps.rename_column(self.conn, table, old_column, column)
                        self.plan.steps.append(Step(
                            "rename_column", table, f"rename column {table}.{old_column} to "
                            f"{column} (renamed_from: the values are kept)", REVIEW, column))
                        self.plan.renames.append(("field", name, old, f.name))
                        self.old_field[(name, f.name)] = old
                        columns = self._columns(name)
                        break

    def _rename_table(self, old: str, new: str, kind: str, entity: str,
                      old_field: str = "", new_field: str = "") -> None:
        steps.rename_table(self.conn, old, new)
        self.plan.steps.append(Step("rename_table", new, f"rename table {old} to {new} "
                                    "(renamed_from: the rows are kept)", REVIEW))
        self.plan.renames.append((kind, entity, old_field or old, new_field or new))

    # -- what Alembic sees --------------------------------------------------------------------

    def _known_tables(self) -> set[str]:
        """Entity tables now, and those of the last migration (removed entities)."""
        known = set(self.metadata.tables)
        for entities in self.earlier:
            for entity, shape in entities.items():
                known.add(entity)
                known.update(f"{entity}__{n}" for n, f in shape["fields"].items()
                             if f["type"] == "many")
        return known

    def _last_shape(self, entity: str, field_name: str) -> Optional[Mapping[str, Any]]:
        """The field as the newest snapshot that has it recorded it (under its names then)."""
        entity_names = dict.fromkeys([self.old_entity.get(entity, entity), entity])
        field_names = dict.fromkeys([self.old_field.get((entity, field_name), field_name),
                                     field_name])
        for entities in self.earlier:
            for e in entity_names:
                fields = entities.get(e, {}).get("fields", {})
                for f in field_names:
                    if f in fields:
                        return fields[f]
        return None

    def _compare(self) -> None:
        known = self._known_tables()

        def include(obj: Any, name: Any, type_: str, reflected: bool, compare_to: Any) -> bool:
            if type_ == "table":
                return name in known
            table = getattr(obj, "table", None)
            return table is None or table.name in known

        context = MigrationContext.configure(self.conn, opts={
            "compare_type": False, "include_object": include,
            "target_metadata": self.metadata})
        for diff in compare_metadata(context, self.metadata):
            for item in diff if isinstance(diff, list) else [diff]:
                self._diff(item)

    def _diff(self, item: tuple[Any, ...]) -> None:
        kind = item[0]
        if kind == "add_table":
            table = item[1]
            self.plan.steps.append(Step("create_table", table.name,
                                        f"create table {table.name}", SAFE,
                                        data={"table": table}))
        elif kind == "remove_table":
            self._removed_table(item[1].name)
        elif kind == "add_column":
            self._added_column(item[2], item[3])
        elif kind == "remove_column":
            self._removed_column(item[2], item[3])
        elif kind in ("add_index", "add_constraint"):
            self._added_unique_or_index(item[1])
        elif kind in ("remove_index", "remove_constraint"):
            obj = item[1]
            if isinstance(obj, sa.Index):
                self.plan.steps.append(Step("drop_index", obj.table.name,
                                            f"drop index {obj.name}", SAFE,
                                            data={"name": obj.name}))
            elif isinstance(obj, sa.UniqueConstraint) and obj.name:
                self.plan.steps.append(Step("drop_unique", obj.table.name,
                                            f"drop unique constraint {obj.name}", SAFE,
                                            data={"name": obj.name}))
        elif kind == "modify_nullable":
            _, _, table, column, info, _was, nullable = item
            self._nullable(table, column, nullable, info.get("existing_type"))

    def _rows(self, table: str) -> int:
        return self.conn.execute(sa.select(sa.func.count()).select_from(sa.table(table))
                                 ).scalar() or 0

    def _field_of(self, table: str, column: str) -> Optional[FieldSpec]:
        entity = self.registry.entities.get(table)
        if entity is None:
            return None
        name = column[:-3] if column.endswith("_id") else column
        return entity.fields.get(name)

    def _added_column(self, table: str, column: sa.Column) -> None:
        where = f"{table}.{column.name}"
        if column.nullable or self._rows(table) == 0:
            self.plan.steps.append(Step("add_column", table, f"add column {where}", SAFE,
                                        column.name, data={"column": column}))
            return
        f = self._field_of(table, column.name)
        rows = self._rows(table)
        default = None if f is None or isinstance(f.default, DynamicDefault) else f.default
        if default is None:
            dynamic = f is not None and isinstance(f.default, DynamicDefault)
            self.plan.steps.append(Step(
                "add_column", table, f"add required column {where}", BLOCKED, column.name,
                problems=[f"table '{table}' has {rows} row(s) that would have no value: give "
                          f"fields.{column.name} a fixed `default:` to fill them"
                          + (f" ('{f.default.kind}' cannot be filled in afterwards)"
                             if dynamic else "")  # type: ignore[union-attr]
                          + ", or leave it optional for now"]))
            return
        self.plan.steps.append(Step(
            "add_column", table, f"add required column {where}, filling {rows} row(s) "
            f"with {default!r}", REVIEW, column.name,
            data={"column": column, "fill": default}))

    def _removed_column(self, table: str, column: sa.Column) -> None:
        where = f"{table}.{column.name}"
        if self.drop:
            self.plan.steps.append(Step("drop_column", table, f"drop column {where} (a CSV "
                                        "backup is written first)", DROP, column.name))
            return
        level = SAFE if not column.nullable else KEEP
        self.plan.steps.append(Step(
            "keep_column", table, f"keep column {where}, hidden: its field is gone from the "
            "YAML (--drop removes it after a backup)" +
            ("; it becomes optional" if not column.nullable else ""), level, column.name,
            data={"nullable": column.nullable, "type": column.type}))

    def _removed_table(self, table: str) -> None:
        if self.drop:
            self.plan.steps.append(Step("drop_table", table, f"drop table {table} (a CSV "
                                        "backup is written first)", DROP))
            return
        self.plan.steps.append(Step(
            "keep_table", table, f"keep table {table} with its {self._rows(table)} row(s), "
            "hidden: its entity is gone from the YAML (--drop removes it after a backup)",
            KEEP))

    def _added_unique_or_index(self, obj: Any) -> None:
        table = obj.table.name
        columns = [c.name for c in obj.columns]
        unique = isinstance(obj, sa.UniqueConstraint) or getattr(obj, "unique", False)
        action = "add_index" if isinstance(obj, sa.Index) else "add_unique"
        text = f"{'unique ' if unique else ''}{'index' if action == 'add_index' else 'constraint'}"
        step = Step(action, table, f"add {text} {obj.name} on {table}({', '.join(columns)})",
                    SAFE, data={"obj": obj, "columns": columns})
        if unique and table in self._tables() and self._rows(table):
            duplicates = self._duplicates(table, columns)
            if duplicates:
                step.level = BLOCKED
                step.problems = [f"these values are used more than once: {duplicates}; make "
                                 "them unique first, or leave the field not unique"]
            else:
                step.level = REVIEW
        self.plan.steps.append(step)

    def _duplicates(self, table: str, columns: list[str]) -> str:
        cols = [sa.column(c) for c in columns]
        found = self.conn.execute(
            sa.select(*cols, sa.func.count()).select_from(sa.table(table, *cols))
            .where(sa.and_(*(c.is_not(None) for c in cols))).group_by(*cols)
            .having(sa.func.count() > 1).limit(MAX_LISTED_ROWS)).all()
        return ", ".join(f"{'/'.join(map(repr, row[:-1]))} ({row[-1]} rows)" for row in found)

    def _nullable(self, table: str, column: str, nullable: bool, existing_type: Any) -> None:
        where = f"{table}.{column}"
        if nullable:
            self.plan.steps.append(Step("drop_not_null", table, f"make {where} optional",
                                        SAFE, column, data={"type": existing_type}))
            return
        c = sa.column(column)
        empty = self.conn.execute(sa.select(sa.column("id")).select_from(sa.table(table, c))
                                  .where(c.is_(None)).order_by(sa.column("id"))
                                  .limit(MAX_LISTED_ROWS + 1)).scalars().all()
        step = Step("set_not_null", table, f"make {where} required", REVIEW, column,
                    data={"type": existing_type})
        if empty:
            step.level = BLOCKED
            more = " and more" if len(empty) > MAX_LISTED_ROWS else ""
            step.problems = [f"rows without a value (ids {', '.join(map(str, empty[:20]))}"
                             f"{more}): fill them first, or leave the field optional"]
        self.plan.steps.append(step)

    # -- what only the snapshots tell ---------------------------------------------------------

    def _retypes(self) -> None:
        tables = self._tables()
        for name, shape in self.current.items():
            if name not in tables:
                continue
            columns = self._columns(name)
            for fname, new in shape["fields"].items():
                old = self._last_shape(name, fname)
                where = _physical(name, fname, new)
                if old is None or where is None or new["type"] == "many":
                    continue
                if where[1] not in columns:
                    continue  # added now: nothing to convert
                self._retype(name, fname, where[1], old, new)

    def _retype(self, table: str, fname: str, column: str, old: Mapping[str, Any],
                new: Mapping[str, Any]) -> None:
        where = f"{table}.{column}"
        removed = [v for v in old["values"] if v not in new["values"]] \
            if old["type"] == new["type"] == "enum" else []
        try:
            convert = conversion(old, new)
        except Unsupported as exc:
            self.plan.steps.append(Step("retype", table, f"change {where} from {old['type']} "
                                        f"to {new['type']}", BLOCKED, column,
                                        problems=[str(exc)]))
            return
        if convert is None and new["type"] in REFERENCE_TYPES:
            return  # the same reference: an id column either way
        old_type = column_type(_field(fname, old))
        new_type = column_type(_field(fname, new))
        if convert is None:
            if old["values"] != new["values"] and old["type"] == new["type"] == "enum":
                added = [v for v in new["values"] if v not in old["values"]]
                self.plan.steps.append(Step(
                    "enum_values", table, f"enum {where}: new value(s) "
                    f"{', '.join(added)}", SAFE, column))
            if self._ddl(old_type) != self._ddl(new_type):  # e.g. a longer string
                self.plan.steps.append(Step(
                    "widen", table, f"widen {where} from {_describe(old)} to "
                    f"{_describe(new)}", SAFE, column,
                    data={"old_type": old_type, "new_type": new_type}))
            return
        values, offenders = self._converted(table, column, old_type, convert)
        what = (f"enum {where}: remove value(s) {', '.join(removed)}" if removed else
                f"change {where} from {_describe(old)} to {_describe(new)}")
        step = Step("retype", table, f"{what} ({len(values)} value(s) checked)", REVIEW,
                    column, data={"old_type": old_type, "new_type": new_type,
                                  "values": values, "nullable": not new["required"]})
        if offenders:
            step.level = BLOCKED
            step.problems = [f"row {i}: {value!r}: {reason}"
                             for i, value, reason in offenders[:MAX_LISTED_ROWS]]
            if len(offenders) > MAX_LISTED_ROWS:
                step.problems.append(f"... and {len(offenders) - MAX_LISTED_ROWS} more rows")
            step.problems.append("nothing is changed until every row converts: fix these "
                                 "values, or keep the old type")
        self.plan.steps.append(step)

    def _ddl(self, sql_type: Any) -> str:
        return str(sql_type.compile(dialect=self.conn.dialect))

    def _converted(self, table: str, column: str, old_type: Any, convert: Any
                   ) -> tuple[dict[int, Any], list[tuple[int, Any, str]]]:
        source = sa.table(table, sa.column("id"), sa.column(column, old_type))
        values: dict[int, Any] = {}
        offenders: list[tuple[int, Any, str]] = []
        for row_id, value in self.conn.execute(sa.select(source.c.id, source.c[column])
                                               .order_by(source.c.id)):
            if value is None:
                values[row_id] = None
                continue
            try:
                values[row_id] = convert(value)
            except Lossy as exc:
                offenders.append((row_id, value, str(exc)))
        return values, offenders


def _field(name: str, shape: Mapping[str, Any]) -> FieldSpec:
    """A field spec carrying just what its column type depends on."""
    return FieldSpec(name=name, type=shape["type"], pos=NOWHERE,
                     max_length=shape.get("length"), scale=shape.get("scale") or 2,
                     digits=shape.get("digits") or 18)


def _describe(shape: Mapping[str, Any]) -> str:
    if shape["type"] in {"decimal"}:
        return f"decimal({shape.get('digits')},{shape.get('scale')})"
    if shape.get("length") and shape["type"] != "text":
        return f"{shape['type']}({shape['length']})"
    return str(shape["type"])


def make_plan(conn: Connection, registry: Registry, metadata: sa.MetaData,
              current: Mapping[str, Any], earlier: Sequence[Mapping[str, Any]],
              drop: bool = False) -> Plan:
    """The plan for ``registry`` on ``conn`` (renames are carried out on ``conn``), given the
    recorded snapshots, newest first."""
    return Planner(conn, registry, metadata, current, earlier, drop).run()


