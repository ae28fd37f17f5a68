"""The exported JSON Schema of the YAML language agrees with the compiler."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest

from portal.spec.jsonschema_export import language_json_schema
from portal.spec.loader import load_text
from portal.spec.model import FIELD_TYPES, LOCALES, SCOPES
from portal.spec.schemas import OPTION_TYPES, FieldSchema, options_for

TESTS = Path(__file__).parent
SHIPPED = TESTS.parent / "schemas"
GOOD = TESTS / "spec_corpus_good"


def validator() -> jsonschema.Draft202012Validator:
    """A validator for the exported schema (checked against the metaschema first)."""
    schema = language_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def definition_files(root: Path) -> list[Path]:
    """The files the language covers: entities/**, roles.yaml, modules.yaml."""
    files = [p for p in (root / "entities").rglob("*") if p.suffix in (".yaml", ".yml")]
    files += [root / n for n in ("roles.yaml", "roles.yml", "modules.yaml", "modules.yml")]
    return sorted(p for p in files if p.is_file())


def documents(path: Path) -> list[Any]:
    """The documents of ``path``, loaded as the compiler loads them."""
    docs, errors = load_text(path.read_text(encoding="utf-8"), str(path))
    assert errors == []
    return [d.data for d in docs]


def errors_of(data: Any) -> list[str]:
    """JSON Schema errors for one document."""
    return [e.message for e in validator().iter_errors(data)]


def test_enums_come_from_the_model() -> None:
    """covers: PL1(one source of truth for types, scopes, locales and options)."""
    defs = language_json_schema()["$defs"]
    assert defs["field_type"]["enum"] == list(FIELD_TYPES)
    assert defs["scope"]["enum"] == list(SCOPES)
    label_object = defs["label"]["anyOf"][1]
    assert list(label_object["properties"]) == list(LOCALES)
    field_object = defs["field"]["anyOf"][1]
    marshmallow_keys = {f.data_key or n for n, f in FieldSchema().load_fields.items()}
    assert set(field_object["properties"]) == marshmallow_keys
    assert set(field_object["properties"]) == set(options_for("string")) | set(OPTION_TYPES)


@pytest.mark.parametrize("case", sorted(p.name for p in GOOD.iterdir() if p.is_dir()))
def test_good_fixtures_validate(case: str) -> None:
    """covers: PL1(every document of the good fixtures is accepted)."""
    files = definition_files(GOOD / case)
    assert files
    for path in files:
        for data in documents(path):
            assert errors_of(data) == [], path


def test_shipped_schemas_validate() -> None:
    """covers: PL1(every shipped definition under schemas/ is accepted by the JSON Schema)."""
    files = definition_files(SHIPPED) if SHIPPED.is_dir() else []
    if not files:
        pytest.skip("no shipped schema files yet")
    for path in files:
        for data in documents(path):
            assert errors_of(data) == [], path


@pytest.mark.parametrize("text", [
    "entity: customer\nfields: {name: {type: strng}}\n",
    "entity: customer\nfields: {name: strng}\n",
    "entity: customer\nfields: {name: {type: string, requird: true}}\n",
    "entity: customer\nfeilds: {name: string}\n",
    "entity: customer\nfields: {name: {type: string, values: [a]}}\n",
    "entity: customer\nfields: {grade: {type: enum}}\n",
    "entity: customer\nfields: {code: number}\n",
    "entity: customer\nfields: {}\n",
    "entity: Customer\nfields: {name: string}\n",
    "entity: customer\nlabel: {fr: Client}\nfields: {name: string}\n",
    "entity: customer\nfields: {name: string}\naccess: {r: {read: everyone}}\n",
    "entity: customer\nfields: {name: {type: string, required: 'yes'}}\n",
    "fields: {name: string}\n",
    "roles: {finance: {lable: Finance}}\n",
    "modules: {sales: {order: first}}\n",
    "- a\n- b\n",
])
def test_bad_documents_are_rejected(text: str) -> None:
    """covers: PL1(obviously bad documents are rejected by the JSON Schema)."""
    docs, _ = load_text(text, "x.yaml")
    assert errors_of(docs[0].data)


def test_descriptions_for_editors() -> None:
    """covers: PL1(options carry descriptions for editor completion)."""
    field_object = language_json_schema()["$defs"]["field"]["anyOf"][1]
    assert all(p.get("description") for p in field_object["properties"].values())
