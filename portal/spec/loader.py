"""Load YAML keeping the position of every key and value, rejecting duplicate keys.

Documents are composed with PyYAML's node API (``SafeLoader``) and turned into plain data:
dicts, lists, ``str``, ``int``, ``bool``, ``None`` and ``Decimal`` (never ``float``; ``12.50``
stays exact). Timestamps stay as their source text (ISO strings). Every key and value is
addressed by a path tuple of mapping keys and list indexes.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from portal.spec.model import SourcePos, SpecError

Path = tuple[Any, ...]

_TAG = "tag:yaml.org,2002:"
_STR_TAGS = frozenset({_TAG + "str", _TAG + "timestamp"})


@dataclass(frozen=True)
class Document:
    """One YAML document: its data plus where every key and value came from."""

    file: str
    data: Any
    start: SourcePos
    key_pos: dict[Path, SourcePos]
    value_pos: dict[Path, SourcePos]
    raw: dict[Path, str]

    def pos(self, path: Path, *, key: bool = False) -> SourcePos:
        """Position of the value (or key) at ``path``; falls back to the nearest parent."""
        first, second = (self.key_pos, self.value_pos) if key else (self.value_pos, self.key_pos)
        probe = tuple(path)
        while probe:
            if probe in first:
                return first[probe]
            if probe in second:
                return second[probe]
            probe = probe[:-1]
        return self.value_pos.get((), self.start)

    def raw_text(self, path: Path) -> str | None:
        """The source text of the scalar at ``path`` (``yes`` stays ``'yes'``), if a scalar."""
        return self.raw.get(tuple(path))


def display_path(path: Path) -> str:
    """The dotted path by name: list indexes are left out (``list.columns``)."""
    return ".".join(str(p) for p in path if not isinstance(p, int))


def _pos(file: str, node: Node) -> SourcePos:
    mark = node.start_mark
    return SourcePos(file, mark.line + 1, mark.column + 1)


class _Converter:
    """Turns one composed node tree into data and position maps, collecting errors."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.key_pos: dict[Path, SourcePos] = {}
        self.value_pos: dict[Path, SourcePos] = {}
        self.raw: dict[Path, str] = {}
        self.errors: list[SpecError] = []
        self._constructor = SafeConstructor()

    def error(self, path: Path, pos: SourcePos, message: str, code: str) -> None:
        self.errors.append(
            SpecError(self.file, pos.line, pos.col, display_path(path), message, code)
        )

    def convert(self, node: Node, path: Path) -> Any:
        self.value_pos[path] = _pos(self.file, node)
        if isinstance(node, MappingNode):
            return self._mapping(node, path)
        if isinstance(node, SequenceNode):
            return [self.convert(item, (*path, i)) for i, item in enumerate(node.value)]
        return self._scalar(node, path)

    def _mapping(self, node: MappingNode, path: Path) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        first_line: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key_at = _pos(self.file, key_node)
            if not isinstance(key_node, ScalarNode):
                self.error(path, key_at, "a key must be a plain name, not a list or mapping",
                           "bad-value")
                continue
            key = key_node.value
            if key in first_line:
                self.error((*path, key), key_at,
                           f"duplicate key '{key}' (first at line {first_line[key]})",
                           "duplicate-key")
                continue
            first_line[key] = key_at.line
            self.key_pos[(*path, key)] = key_at
            out[key] = self.convert(value_node, (*path, key))
        return out

    def _scalar(self, node: ScalarNode, path: Path) -> Any:
        self.raw[path] = node.value
        tag = node.tag
        if tag in _STR_TAGS:
            return node.value
        if tag == _TAG + "null":
            return None
        if tag == _TAG + "bool":
            return self._constructor.construct_yaml_bool(node)
        if tag == _TAG + "int":
            return self._constructor.construct_yaml_int(node)
        if tag == _TAG + "float":
            return _decimal(node.value)
        self.error(path, _pos(self.file, node), f"unsupported yaml tag '{tag}'", "yaml-syntax")
        return node.value


def _decimal(text: str) -> Decimal:
    """A YAML float's source text as an exact ``Decimal``."""
    cleaned = text.replace("_", "").lower()
    special = {".inf": "Infinity", "+.inf": "Infinity", "-.inf": "-Infinity", ".nan": "NaN"}
    if cleaned in special:
        return Decimal(special[cleaned])
    try:
        return Decimal(cleaned)
    except InvalidOperation:  # sexagesimal (1:30.5): let YAML compute it
        return Decimal(repr(yaml.safe_load(text)))


def _syntax_error(file: str, exc: yaml.YAMLError) -> SpecError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    context_mark = getattr(exc, "context_mark", None)
    message = f"yaml syntax error: {problem}"
    if context and context_mark is not None and context_mark is not mark:
        message += f" ({context} at line {context_mark.line + 1})"
    elif context:
        message += f" ({context})"
    return SpecError(file, line, col, "", message, "yaml-syntax")


#: LibYAML's parser when PyYAML was built with it: the same nodes, tags and positions as the
#: pure-Python ``SafeLoader`` at a tenth of the cost (parsing was most of the compile time).
_FAST_LOADER = getattr(yaml, "CSafeLoader", None)


def _compose(text: str) -> list[Node]:
    """Every document's node tree. Syntax errors always come from the pure-Python parser, so
    their messages and positions do not depend on whether LibYAML is installed."""
    if _FAST_LOADER is not None:
        try:
            return list(yaml.compose_all(text, Loader=_FAST_LOADER))
        except yaml.YAMLError:
            pass
    return list(yaml.compose_all(text, Loader=yaml.SafeLoader))


def load_text(text: str, file: str) -> tuple[list[Document], list[SpecError]]:
    """Parse ``text`` (named ``file`` in errors) into documents and errors.

    A file with a syntax error yields only that error. Empty documents are skipped, so an
    empty file has no documents.
    """
    try:
        nodes = _compose(text)
    except yaml.YAMLError as exc:
        return [], [_syntax_error(file, exc)]
    documents: list[Document] = []
    errors: list[SpecError] = []
    for node in nodes:
        if isinstance(node, ScalarNode) and node.tag == _TAG + "null" and node.value == "":
            continue
        converter = _Converter(file)
        data = converter.convert(node, ())
        errors.extend(converter.errors)
        documents.append(Document(file, data, _pos(file, node), converter.key_pos,
                                  converter.value_pos, converter.raw))
    return documents, errors


def load_file(path: str, file: str) -> tuple[list[Document], list[SpecError]]:
    """Read and parse the YAML file at ``path``; ``file`` is the name used in errors."""
    try:
        with open(path, encoding="utf-8-sig") as handle:
            text = handle.read()
    except UnicodeDecodeError as exc:
        return [], [SpecError(file, 1, 1, "", f"file is not valid utf-8 ({exc.reason})",
                              "yaml-syntax")]
    return load_text(text, file)
