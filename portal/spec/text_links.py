"""The ``link_by_text`` entity feature: a link field filled from a text field of the record.

::

    entity: visit_competitor
    fields:
      name:       {type: string, max: 80}
      competitor: {type: link, entity: competitor}
    link_by_text:
      competitor: {text: name, match: name, create: true}

Whenever a record is saved with ``competitor`` empty and ``name`` filled, the competitor whose
``name`` equals the text (trimmed, ignoring case) is linked; with ``create: true`` one is
created when none matches, otherwise the save is refused naming the field and the text. A
record saved with the link set and the text empty gets the text from the linked record.

The key of each entry is the link field; ``text`` is a string field of the entity, ``match``
a string field of the link's target. Errors are reported at ``link_by_text.<link>`` with the
codes ``unknown-key``, ``missing-key``, ``bad-value``, ``unknown-field`` and ``bad-field`` (a
field of the wrong type, a required link, a text longer than the target's field, a target
that cannot be created from a text alone).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Optional

from portal.spec.feature_shapes import field_name, mapping
from portal.spec.features import Feature
from portal.spec.loader import Path
from portal.spec.model import EntitySpec, FieldSpec, Registry
from portal.spec.report import Reporter
from portal.spec.schemas import describe

KEY = "link_by_text"
RULE_KEYS = ("text", "match", "create")
#: The types of the text field and of the target's match field.
TEXT_FIELD_TYPES = frozenset({"string"})
#: Field types a created record needs no value for (filled by the portal or empty by nature).
FILLED_ANYWAY = frozenset({"number", "bool", "children", "many", "file"})


@dataclass(frozen=True)
class TextLinkSpec:
    """One link field filled from a text field: ``target.match == text``."""

    link: str
    text: str
    target: str
    match: str
    create: bool = False


@dataclass(frozen=True)
class TextLinksSpec:
    """Every text-filled link of an entity, by link field, in declaration order."""

    links: Mapping[str, TextLinkSpec] = field(default_factory=lambda: MappingProxyType({}))


def check(entity: EntitySpec, value: Any, rep: Reporter, registry: Registry
          ) -> Optional[TextLinksSpec]:
    """Compile the ``link_by_text`` mapping of ``entity``."""
    if not isinstance(value, dict) or not value:
        rep.add((KEY,), "bad-value", "expected a mapping of link field to {text, match, "
                                     f"create}}, got {describe(value)}")
        return None
    found: dict[str, TextLinkSpec] = {}
    texts: dict[str, str] = {}
    for link, raw in value.items():
        spec = _one(entity, link, raw, (KEY, link), rep, registry)
        if spec is None:
            continue
        if spec.text in texts:
            rep.add((KEY, link, "text"), "bad-value",
                    f"'{spec.text}' already fills '{texts[spec.text]}'; one text field fills "
                    "one link")
            continue
        texts[spec.text] = link
        found[link] = spec
    return TextLinksSpec(MappingProxyType(found))


def _one(entity: EntitySpec, link: Any, raw: Any, path: Path, rep: Reporter,
         registry: Registry) -> Optional[TextLinkSpec]:
    before = len(rep.errors)
    name = field_name(rep, path, link, entity, {"link"})
    if name is not None and entity.fields[name].required:
        rep.add(path, "bad-field",
                f"'{entity.name}.{name}' is required, so a record giving only the text is "
                "refused before it can be linked; make the link optional and require the text "
                "with a check instead (checks: {named: {require: [<text field>]}})",
                at_key=True)
    if not mapping(rep, path, raw, RULE_KEYS, "a text link"):
        return None
    for key in ("text", "match"):
        if key not in raw:
            rep.add(path, "missing-key", f"a text link needs '{key}'")
    text = field_name(rep, (*path, "text"), raw["text"], entity, set(TEXT_FIELD_TYPES)) \
        if "text" in raw else None
    create = raw.get("create", False)
    if not isinstance(create, bool):
        rep.add((*path, "create"), "bad-value", f"expected true or false, got {describe(create)}")
    target = registry.entities.get(entity.fields[name].target or "") if name else None
    match = field_name(rep, (*path, "match"), raw["match"], target, set(TEXT_FIELD_TYPES)) \
        if target is not None and "match" in raw else None
    if target is not None and match is not None and text is not None and create is True:
        _check_creatable(entity.fields[text], target, match, (*path, "create"), rep)
    if len(rep.errors) > before or name is None or text is None or match is None \
            or target is None:
        return None
    return TextLinkSpec(link=name, text=text, target=target.name, match=match,
                        create=bool(create))


def _check_creatable(text: FieldSpec, target: EntitySpec, match: str, path: Path,
                     rep: Reporter) -> None:
    """A record of ``target`` made from nothing but a text must be a valid record."""
    limit = target.fields[match].max_length
    if limit is not None and (text.max_length is None or text.max_length > limit):
        rep.add(path, "bad-field",
                f"'{text.name}' holds up to {text.max_length} characters but "
                f"'{target.name}.{match}' only {limit}: a longer text could not create the "
                f"{target.name}; give '{text.name}' max: {limit} or less")
    for f in target.fields.values():
        if f.name != match and f.required and f.default is None \
                and f.type not in FILLED_ANYWAY:
            rep.add(path, "bad-field",
                    f"'{target.name}.{f.name}' is required and has no default, so a "
                    f"{target.name} created from a text alone would lack it; give it a "
                    "default or use create: false")


def json_schema() -> dict[str, Any]:
    """The JSON Schema of ``link_by_text`` for editors."""
    return {
        "type": "object", "minProperties": 1, "propertyNames": {"$ref": "#/$defs/name"},
        "additionalProperties": {
            "type": "object", "additionalProperties": False, "required": ["text", "match"],
            "properties": {
                "text": {"type": "string",
                         "description": "A string field of this entity holding the name."},
                "match": {"type": "string", "description": "The string field of the "
                          "linked entity the text is compared with (trimmed, any case)."},
                "create": {"type": "boolean", "description": "Create the linked record "
                           "when no record matches (default false: the save is refused)."},
            },
        },
    }


FEATURE = Feature(key=KEY, check=check, json_schema=json_schema,
                  description="Link fields filled from a text field (create-or-link): the "
                              "record whose match field equals the text, created if asked.")
