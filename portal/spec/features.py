"""Entity features: optional top-level keys of an entity document, each its own small language.

A feature (a kanban ``board``, a 360 ``overview``, a ``timeline`` of activity, an ``agenda`` of
dated plans, a ``public_form``, ...) is declared in the entity's YAML::

    entity: opportunity
    fields: {...}
    board: {field: stage, sum: amount}

and compiled by its own module once every entity is known, because a feature usually names
fields of other entities. Each module exposes one :class:`Feature`: the key, a checker and the
JSON Schema of the key for editors. The compiled specs land in ``Registry.features`` keyed by
feature key, then entity name; engines and screens read them from there and never name an
entity.

To add a feature: write ``portal/spec/<feature>.py`` with its spec dataclass, ``check`` and
``json_schema``, and list its :class:`Feature` in :func:`all_features`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any, Optional

from portal.spec.model import EntitySpec, Registry, SpecError
from portal.spec.report import Reporter

#: ``check(entity, value, reporter, registry)``: the compiled spec of ``value`` (the raw YAML
#: under the feature's key), or None when it is wrong. Errors go to ``reporter`` at paths that
#: start with the feature's key, e.g. ``("board", "field")``.
FeatureCheck = Callable[[EntitySpec, Any, Reporter, Registry], Any]


@dataclass(frozen=True)
class Feature:
    """One optional key of an entity document and how it is compiled."""

    key: str
    check: FeatureCheck
    #: The JSON Schema of the key's value (for editors; see ``portal.spec.jsonschema_export``).
    json_schema: Callable[[], dict[str, Any]]
    #: One line for editors and for ``portal check --explain``.
    description: str
    #: ``across(specs)``: errors only visible across entities (two public forms at one
    #: address), given every compiled spec of the feature by entity name. Optional.
    across: Optional[Callable[[Mapping[str, Any]], list[SpecError]]] = None


def all_features() -> tuple[Feature, ...]:
    """Every entity feature, in the order they are compiled."""
    # Imported here: feature modules import the spec model, and the validator imports this
    # module for the key names.
    from portal.spec import feature_list

    return feature_list.FEATURES


def feature_keys() -> frozenset[str]:
    """The entity-document keys that belong to features (not to the entity's own shape)."""
    return frozenset(f.key for f in all_features())


def compile_features(registry: Registry, documents: Sequence[tuple[str, Any]]
                     ) -> tuple[Registry, list[SpecError]]:
    """Compile the feature keys of every entity document into ``registry.features``.

    ``documents`` are ``(entity name, Document)`` pairs for the entities of ``registry``.
    """
    errors: list[SpecError] = []
    found: dict[str, dict[str, Any]] = {f.key: {} for f in all_features()}
    for name, doc in documents:
        data = doc.data if isinstance(doc.data, dict) else {}
        entity = registry.entities.get(name)
        if entity is None:
            continue
        for feature in all_features():
            if feature.key not in data:
                continue
            rep = Reporter(doc)
            spec = feature.check(entity, data[feature.key], rep, registry)
            errors.extend(rep.errors)
            if spec is not None and not rep.errors:
                found[feature.key][name] = spec
    for feature in all_features():
        if feature.across is not None:
            errors.extend(feature.across(found[feature.key]))
    frozen: Mapping[str, Mapping[str, Any]] = MappingProxyType(
        {key: MappingProxyType(dict(sorted(specs.items()))) for key, specs in found.items()})
    return replace(registry, features=frozen), errors
