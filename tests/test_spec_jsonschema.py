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
from portal.spec.workflow_shapes import (
    EffectSchema,
    StateSchema,
    TransitionSchema,
    WorkflowSchema,
)

TESTS = Path(__file__).parent
SHIPPED = TESTS.parent / "schemas"
GOOD = TESTS / "spec_corpus_good"


def validator() -> jsonschema.Draft202012Validator:
    """A validator for the exported schema (checked against the metaschema first)."""
    schema = language_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def definition_files(root: Path) -> list[Path]:
    """The files the language covers: entities/**, workflows/**, reports/**, roles.yaml,
    modules.yaml."""
    files = [p for kind in ("entities", "workflows", "reports") for p in (root / kind).rglob("*")
             if p.suffix in (".yaml", ".yml")]
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


def keys_of(schema: object) -> set[str]:
    """The keys a marshmallow document schema accepts."""
    return {f.data_key or n for n, f in schema.load_fields.items()}  # type: ignore[attr-defined]


def test_workflow_keys_come_from_the_compiler() -> None:
    """covers: PL4(the workflow JSON Schema has exactly the keys the compiler accepts)."""
    defs = language_json_schema()["$defs"]
    workflow = defs["workflow"]
    assert set(workflow["properties"]) == keys_of(WorkflowSchema())
    transition = workflow["properties"]["transitions"]["additionalProperties"]
    assert set(transition["properties"]) == keys_of(TransitionSchema())
    state = workflow["properties"]["states"]["anyOf"][1]["additionalProperties"]["anyOf"][1]
    assert set(state["properties"]) == keys_of(StateSchema())
    effects = state["properties"]["effects"]["items"]["anyOf"]
    assert set().union(*(e["properties"] for e in effects)) == keys_of(EffectSchema())


def test_good_workflows_are_covered() -> None:
    """covers: PL4(workflow documents are part of what the JSON Schema is checked against)."""
    files = definition_files(GOOD / "approvals")
    assert any(p.parent.name == "finance" and p.parent.parent.name == "workflows"
               for p in files)
    assert any(p.suffix == ".yml" for p in files)


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
    "workflow: w\nentity: e\nstate_field: s\nstates: [a]\n",
    "workflow: w\nentity: e\nstate_field: s\nstates: [a]\ntransitions: {t: {from: a}}\n",
    "workflow: w\nentity: e\nstate_field: s\nstates: [a]\ntransitions: {}\nintial: a\n",
    "workflow: w\nentity: e\nstate_field: s\nstates: {a: {lockd: true}}\ntransitions: {}\n",
    "workflow: w\nentity: e\nstate_field: s\nstates: []\ntransitions: {}\n",
    "workflow: w\nentity: e\nstate_field: s\nstates: [a]\n"
    "transitions: {t: {from: a, to: a, by: finance}}\n",
    "workflow: w\nentity: e\nstate_field: s\nstates: [a]\n"
    "transitions: {t: {from: a, to: a, by: {role: x, user: y}}}\n",
    "workflow: w\nentity: e\nstate_field: s\nstates: [a]\n"
    "transitions: {t: {from: a, to: a, by: {quorum: 0, of: [owner]}}}\n",
    "workflow: w\nentity: e\nstate_field: s\nstates: [a]\n"
    "transitions: {t: {from: a, to: a, by: {any: [{all: [owner]}]}}}\n",
    "workflow: w\nentity: e\nstate_field: s\nstates: [a]\n"
    "transitions: {t: {from: a, to: a, comment: maybe}}\n",
    "workflow: w\nentity: e\nstate_field: s\n"
    "states: {a: {effects: [{sett: {x: 1}}]}}\ntransitions: {}\n",
    "workflow: w\nentity: e\nstate_field: s\n"
    "states: {a: {effects: [{create: {values: {x: 1}}}]}}\ntransitions: {}\n",
])
def test_bad_documents_are_rejected(text: str) -> None:
    """covers: PL1(obviously bad documents are rejected by the JSON Schema)."""
    docs, _ = load_text(text, "x.yaml")
    assert errors_of(docs[0].data)


def test_descriptions_for_editors() -> None:
    """covers: PL1 PL4(options carry descriptions for editor completion)."""
    defs = language_json_schema()["$defs"]
    field_object = defs["field"]["anyOf"][1]
    assert all(p.get("description") for p in field_object["properties"].values())
    workflow = defs["workflow"]
    assert workflow["description"]
    assert all(p.get("description") for p in workflow["properties"].values())
    transition = workflow["properties"]["transitions"]["additionalProperties"]
    assert all(p.get("description") for p in transition["properties"].values())
    assert all(form.get("description") for form in defs["actor"]["anyOf"][1:])
