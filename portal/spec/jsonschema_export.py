"""A JSON Schema (draft 2020-12) of the YAML language, for editors' completion and checks.

Enums and per-type options are derived from :mod:`portal.spec.model` and
:mod:`portal.spec.schemas`, so the exported schema follows the compiler. The compiler remains
the authority: it also checks references, names and ranges that JSON Schema cannot express.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from portal.spec.features import all_features
from portal.spec.model import DYNAMIC_DEFAULTS, FIELD_TYPES, LOCALES, SCOPES
from portal.spec.reports import json_schema as report_json_schema
from portal.spec.reserved import NAME_MAX, NAME_RE
from portal.spec.schemas import REQUIRED_OPTIONS, options_for
from portal.spec.workflow_shapes import COMMENT_CHOICES, NAMED_ACTORS, SINGLE_ACTOR_KEYS

SCHEMA_ID = "https://portal.invalid/schemas/portal-definition.json"

_OPTION_DOCS: Mapping[str, tuple[str, dict[str, Any]]] = MappingProxyType({
    "type": ("The field type.", {"$ref": "#/$defs/field_type"}),
    "label": ("The field's label (a string, or a mapping of locale to text).",
              {"$ref": "#/$defs/label"}),
    "help": ("Help text shown under the input.", {"$ref": "#/$defs/label"}),
    "required": ("A value must be given.", {"type": "boolean"}),
    "index": ("Create a database index on the column.", {"type": "boolean"}),
    "unique": ("No two records may share a value.", {"type": "boolean"}),
    "default": ("Default value; 'current_user' (user), 'today' (date), 'now' (datetime).",
                {"type": ["string", "number", "boolean", "null"]}),
    "max": ("Maximum: characters for text types, the value for numbers and dates.",
            {"type": ["number", "string"]}),
    "min": ("Minimum: characters for text types, the value for numbers and dates.",
            {"type": ["number", "string"]}),
    "length": ("Exact number of characters.", {"type": "integer", "minimum": 1}),
    "pattern": ("A regular expression the value must match.", {"type": "string"}),
    "values": ("Enum values: a list, or a mapping of value to label.", {"$ref": "#/$defs/values"}),
    "entity": ("The entity this field points at.", {"$ref": "#/$defs/name"}),
    "via": ("The child's link field back to this entity (children only).",
            {"$ref": "#/$defs/name"}),
    "format": ("Numbering pattern: text plus {YYYY} {YY} {MM} {DD} and one {#####} counter.",
               {"type": "string", "pattern": r"\{#{1,12}\}"}),
    "scale": ("Decimal places (decimal only; default 2).", {"type": "integer", "minimum": 0}),
    "digits": ("Total digits (decimal only; default 18).",
               {"type": "integer", "minimum": 1, "maximum": 38}),
    "renamed_from": ("The field's earlier name(s): portal migrate renames the column and "
                     "keeps its data.", {"$ref": "#/$defs/old_names"}),
})


def _described(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, **schema}


def _field_definition() -> dict[str, Any]:
    properties = {name: _described(doc, schema) for name, (doc, schema) in _OPTION_DOCS.items()}
    per_type = []
    for ftype in FIELD_TYPES:
        then: dict[str, Any] = {"propertyNames": {"enum": list(options_for(ftype))}}
        if ftype in REQUIRED_OPTIONS:
            then["required"] = list(REQUIRED_OPTIONS[ftype])
        per_type.append({"if": {"properties": {"type": {"const": ftype}}, "required": ["type"]},
                         "then": then})
    return {
        "description": "A field: a type name, or a mapping of options.",
        "anyOf": [
            {"description": "Shorthand: a type that needs no options.",
             "enum": [t for t in FIELD_TYPES if t not in REQUIRED_OPTIONS]},
            {"type": "object", "properties": properties, "required": ["type"],
             "additionalProperties": False, "allOf": per_type},
        ],
    }


def _names(description: str) -> dict[str, Any]:
    return {"description": description, "type": "array", "items": {"$ref": "#/$defs/name"}}


def _entity() -> dict[str, Any]:
    scope = {"$ref": "#/$defs/scope"}
    access_rule = {
        "type": "object", "additionalProperties": False,
        "properties": {
            "read": _described("Which records the role may read.", scope),
            "create": _described("The role may create records.", {"type": "boolean"}),
            "update": _described("Which records the role may update (needs read).", scope),
            "delete": _described("Which records the role may delete (needs read).", scope),
            "hide": _names("Fields this role does not see."),
            "merge": _described("The role may merge duplicate records (needs read).",
                                {"type": "boolean"}),
        },
    }
    listing = {
        "type": "object", "additionalProperties": False,
        "description": "The list screen.",
        "properties": {
            "columns": _names("Columns shown in the list."),
            "search": _names("Fields searched by the search box (text-like fields)."),
            "filters": _names("Fields offered as filters."),
            "order": {"type": "string", "pattern": r"^-?[a-z][a-z0-9_]*$",
                      "description": "Default order: a field, or -field for descending."},
        },
    }
    return {
        "type": "object", "additionalProperties": False, "required": ["entity", "fields"],
        "description": "An entity: a table with its screens, API and permissions.",
        "properties": {
            "entity": _described("The entity's name (lowercase, unique).",
                                 {"$ref": "#/$defs/name"}),
            "module": _described("The module (menu); defaults to the folder under entities/.",
                                 {"$ref": "#/$defs/name"}),
            "label": _described("The entity's label.", {"$ref": "#/$defs/label"}),
            "title": _described("The field shown when a record is referenced.",
                                {"type": "string"}),
            "icon": _described("A Font Awesome class such as fa-users.", {"type": "string"}),
            "owner": _described("The user field that own/department scopes look at.",
                                {"type": "string"}),
            "fields": {"description": "The fields, by name.", "type": "object", "minProperties": 1,
                       "propertyNames": {"$ref": "#/$defs/name"},
                       "additionalProperties": {"$ref": "#/$defs/field"}},
            "list": listing,
            "access": {"description": "What each role may do, by role name.", "type": "object",
                       "additionalProperties": access_rule},
            "renamed_from": _described("The entity's earlier name(s): portal migrate renames "
                                       "the table and keeps its data.",
                                       {"$ref": "#/$defs/old_names"}),
            **{f.key: _described(f.description, f.json_schema()) for f in all_features()},
        },
    }


_ACTOR_DOCS: Mapping[str, str] = MappingProxyType({
    "role": "Any member of this role (declared in roles.yaml).",
    "user": "The user in this user field of the record.",
    "manager_of": "The manager of the user in this user field ('owner': the record's owner).",
    "head_of": "The head of the department of the user in this user field ('owner' allowed).",
})


def _object(description: str, properties: dict[str, Any], required: list[str]
            ) -> dict[str, Any]:
    return {"description": description, "type": "object", "additionalProperties": False,
            "properties": properties, "required": required}


def _actor_definitions() -> dict[str, Any]:
    """``actor_ref`` (one actor) and ``actor`` (one, or a group with a quorum)."""
    name = {"$ref": "#/$defs/name"}
    single = [
        {"description": "owner: the record's owner; approver: whoever may perform another "
                        "transition out of the current state.", "enum": list(NAMED_ACTORS)},
        *(_object(_ACTOR_DOCS[key], {key: _described(_ACTOR_DOCS[key], name)}, [key])
          for key in SINGLE_ACTOR_KEYS),
    ]
    refs = {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/actor_ref"}}
    groups = [
        _object("The first of these to act decides (quorum 1).",
                {"any": _described("Actors, any one of whom may act.", refs)}, ["any"]),
        _object("A countersign: every one of these must approve.",
                {"all": _described("Actors who must all approve.", refs)}, ["all"]),
        _object("N of these must approve (for example 2 of 3).", {
            "quorum": _described("How many must approve (1 to the number of actors).",
                                 {"type": "integer", "minimum": 1}),
            "of": _described("The actors.", refs),
        }, ["quorum", "of"]),
    ]
    return {
        "actor_ref": {"description": "One actor.", "anyOf": single},
        "actor": {"description": "Who may act: one actor, or any/all/quorum of several.",
                  "anyOf": [{"$ref": "#/$defs/actor_ref"}, *groups]},
    }


def _workflow() -> dict[str, Any]:
    name, names = {"$ref": "#/$defs/name"}, {"type": "array", "items": {"$ref": "#/$defs/name"}}
    value = {"description": "A literal, $field (a field of the record, or $id), or one of "
                            + ", ".join(sorted(DYNAMIC_DEFAULTS)) + ".",
             "type": ["string", "number", "boolean", "null"]}
    values = {"type": "object", "minProperties": 1, "propertyNames": name,
              "additionalProperties": value}
    when = _described("Run the effect only when this condition holds (e.g. customer == null).",
                      {"type": "string", "minLength": 1})
    effect = {"description": "An effect of entering the state.", "anyOf": [
        _object("Set fields of the record.",
                {"set": _described("Field name to value.", values), "when": when}, ["set"]),
        _object("Notify people.", {
            "notify": _described("Whom to notify (same forms as 'by').",
                                 {"$ref": "#/$defs/actor"}),
            "message": _described("The notification's text.", {"$ref": "#/$defs/label"}),
            "when": when,
        }, ["notify"]),
        _object("Create a record of another entity.", {"create": _object("The new record.", {
            "entity": _described("The entity of the new record.", name),
            "values": _described("Its field values (values may read this record: $field).",
                                 values),
            "into": _described("A link field of this record (to the new record's entity) "
                               "that receives the new record; later effects' $field see it.",
                               name),
        }, ["entity"]), "when": when}, ["create"]),
        _object("Give the record to the least loaded matching active user.", {
            "assign": _object("Whose the record becomes.", {
                "field": _described("The user field to set (e.g. owner).", name),
                "to": _described("Who may get it: a role, user, manager_of, head_of or any "
                                 "of them (the one with the fewest records wins).",
                                 {"$ref": "#/$defs/actor"}),
            }, ["field", "to"]),
            "when": when,
        }, ["assign"]),
    ]}
    state = _object("A state's options.", {
        "label": _described("The state's label.", {"$ref": "#/$defs/label"}),
        "required": _described("Fields that must be filled to enter the state.", names),
        "editable": _described("Fields editable in the state (default: all).", names),
        "locked": _described("No edits or deletion while in the state.", {"type": "boolean"}),
        "gate": _described(
            "A condition the record must meet to enter the state, and the message shown "
            "when it does not (e.g. when: \"count(contract.opportunity) > 0\").",
            _object("A stage gate.", {
                "when": {"type": "string", "description": "The condition."},
                "message": {"$ref": "#/$defs/label"},
            }, ["when"])),
        "effects": _described("What happens on entering the state, in order.",
                              {"type": "array", "items": effect}),
    }, [])
    transition = _object("A transition.", {
        "from": _described("The state(s) it leaves from.",
                           {"anyOf": [name, {**names, "minItems": 1}]}),
        "to": _described("The state it leads to.", name),
        "by": _described("Who may perform it; without 'by' it is automatic (needs 'when').",
                         {"$ref": "#/$defs/actor"}),
        "when": _described("A condition over the record's fields, such as amount > 5000.",
                           {"type": "string", "minLength": 1}),
        "label": _described("The transition's label (its button).", {"$ref": "#/$defs/label"}),
        "comment": _described("Whether a comment is required.",
                              {"enum": list(COMMENT_CHOICES)}),
        "self_approval": _described("The record's owner may perform it on their own record.",
                                    {"type": "boolean"}),
        "after": _described(
            "A timed transition, performed by the system (portal tick --job workflow_timers) "
            "once the record has waited this long; it takes no 'by'.",
            _object("How long to wait.", {
                "days": {"type": "integer", "minimum": 1, "description": "Full days."},
                "since": {"type": "string", "description": "A date or datetime field, "
                          "created_at, updated_at, or entered (default: when the record "
                          "entered its current state)."},
            }, ["days"])),
        "set": _described("Fields the transition writes before the target state's required "
                          "fields are checked.", values),
    }, ["from", "to"])
    states = {"description": "The states: a list of names, or a mapping of name to options.",
              "anyOf": [{**names, "minItems": 1, "uniqueItems": True},
                        {"type": "object", "minProperties": 1, "propertyNames": name,
                         "additionalProperties": {"anyOf": [{"type": "null"}, state]}}]}
    return _object("A workflow: states and transitions of one entity's records.", {
        "workflow": _described("The workflow's name (lowercase, unique).", name),
        "entity": _described("The entity whose records move through the states.", name),
        "label": _described("The workflow's label.", {"$ref": "#/$defs/label"}),
        "state_field": _described("The entity's enum field holding the state; its values "
                                  "are exactly the states.", name),
        "initial": _described("The state of a new record (default: the first).", name),
        "states": states,
        "transitions": _described("The transitions, by name.", {
            "type": "object", "propertyNames": name, "additionalProperties": transition}),
        "locked_in": _described("States in which the record is locked.", names),
    }, ["workflow", "entity", "state_field", "states", "transitions"])


def _named_file(key: str, description: str, properties: dict[str, Any]) -> dict[str, Any]:
    entry = {"anyOf": [{"type": "null"}, {"type": "string"},
                       {"type": "object", "additionalProperties": False,
                        "properties": properties}]}
    return {
        "type": "object", "additionalProperties": False, "required": [key],
        "description": description,
        "properties": {key: {"type": ["object", "null"], "propertyNames": {"$ref": "#/$defs/name"},
                             "additionalProperties": entry}},
    }


def language_json_schema() -> dict[str, Any]:
    """The JSON Schema of every kind of document: entities, workflows, ``roles.yaml`` and
    ``modules.yaml``."""
    label = {"type": "string", "description": "Text in English."}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "Portal definition",
        "description": "An entity document, a workflow document, roles.yaml or modules.yaml.",
        "anyOf": [{"$ref": "#/$defs/entity"}, {"$ref": "#/$defs/workflow"},
                  {"$ref": "#/$defs/roles_file"}, {"$ref": "#/$defs/modules_file"},
                  {"$ref": "#/$defs/report"}],
        "$defs": {
            "name": {"type": "string", "pattern": NAME_RE.pattern, "maxLength": NAME_MAX},
            "old_names": {"anyOf": [{"$ref": "#/$defs/name"},
                                    {"type": "array", "minItems": 1,
                                     "items": {"$ref": "#/$defs/name"}}]},
            "label": {"description": "A text: a string (English) or a mapping of locale to text.",
                      "anyOf": [label, {"type": "object", "additionalProperties": False,
                                        "properties": {loc: {"type": "string"}
                                                       for loc in LOCALES}}]},
            "scope": {"enum": list(SCOPES),
                      "description": "own: the owner's records; department: the owner's "
                                     "department; all: every record."},
            "field_type": {"enum": list(FIELD_TYPES), "description": "A field type."},
            "values": {"anyOf": [
                {"type": "array", "minItems": 1,
                 "items": {"type": ["string", "number", "boolean"]}},
                {"type": "object", "minProperties": 1,
                 "additionalProperties": {"anyOf": [{"type": "null"},
                                                    {"$ref": "#/$defs/label"}]}},
            ]},
            "field": _field_definition(),
            "entity": _entity(),
            **_actor_definitions(),
            "workflow": _workflow(),
            "report": report_json_schema(),
            "roles_file": _named_file("roles", "roles.yaml: the roles, by name.", {
                "label": {"$ref": "#/$defs/label"},
                "description": {"type": "string"},
            }),
            "modules_file": _named_file("modules", "modules.yaml: modules (menus), by name.", {
                "label": {"$ref": "#/$defs/label"},
                "icon": {"type": "string"},
                "order": {"type": "integer"},
            }),
        },
    }
