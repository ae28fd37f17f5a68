"""A JSON Schema (draft 2020-12) of the YAML language, for editors' completion and checks.

Enums and per-type options are derived from :mod:`portal.spec.model` and
:mod:`portal.spec.schemas`, so the exported schema follows the compiler. The compiler remains
the authority: it also checks references, names and ranges that JSON Schema cannot express.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from portal.spec.model import FIELD_TYPES, LOCALES, SCOPES
from portal.spec.reserved import NAME_MAX, NAME_RE
from portal.spec.schemas import REQUIRED_OPTIONS, options_for

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
        },
    }


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
    """The JSON Schema of every kind of document: entities, ``roles.yaml``, ``modules.yaml``."""
    label = {"type": "string", "description": "Text in English."}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "Portal definition",
        "description": "An entity document, roles.yaml or modules.yaml.",
        "anyOf": [{"$ref": "#/$defs/entity"}, {"$ref": "#/$defs/roles_file"},
                  {"$ref": "#/$defs/modules_file"}],
        "$defs": {
            "name": {"type": "string", "pattern": NAME_RE.pattern, "maxLength": NAME_MAX},
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
