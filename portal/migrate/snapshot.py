"""The structure the YAML asks of the database, as plain data: what a migration compares.

Only what the tables depend on is in it (types, sizes, required, unique, index, enum values,
literal defaults, relation targets): a new label or list column changes nothing here, so it
never makes the database "behind". Each applied migration stores its snapshot, so the next
one knows what a column held before (an enum's values, a string's length, a field's type).
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from portal.spec.model import DynamicDefault, EntitySpec, FieldSpec, Registry

#: Files of a schema folder that define something (hashed as the migration's provenance).
YAML_SUFFIXES = (".yaml", ".yml")


def field_snapshot(f: FieldSpec) -> dict[str, Any]:
    """The stored shape of one field."""
    default = f.default
    if isinstance(default, DynamicDefault):
        default = {"dynamic": default.kind}
    elif isinstance(default, Decimal):
        default = str(default)
    return {
        "type": f.type, "required": f.required, "unique": f.unique, "index": f.index,
        "length": f.max_length or f.length, "values": list(f.values),
        "scale": f.scale if f.type in {"decimal", "money"} else None,
        "digits": f.digits if f.type == "decimal" else None,
        "target": f.target, "via": f.via, "default": _plain(default),
    }


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool, dict)):
        return value
    return str(value)  # dates


def entity_snapshot(entity: EntitySpec) -> dict[str, Any]:
    """The stored shape of one entity: its table and fields."""
    return {"fields": {name: field_snapshot(f) for name, f in sorted(entity.fields.items())}}


def snapshot(registry: Registry) -> dict[str, Any]:
    """The structure of every entity of ``registry``."""
    return {"entities": {name: entity_snapshot(e)
                         for name, e in sorted(registry.entities.items())}}


def structure_hash(shape: dict[str, Any]) -> str:
    """A stable hash of a snapshot: equal when the database needs nothing new."""
    text = json.dumps(shape, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def yaml_hash(folder: Path) -> str:
    """A hash of every YAML file under ``folder`` (path and text): where a migration came
    from."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.suffix in YAML_SUFFIXES):
        digest.update(path.relative_to(folder).as_posix().encode("utf-8") + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()
