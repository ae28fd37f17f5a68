"""Collecting errors for one document, with positions looked up by path."""

from __future__ import annotations

from typing import Any

from portal.spec.loader import Document, Path, display_path
from portal.spec.model import SpecError
from portal.spec.schemas import Issue, describe


def lookup(data: Any, path: Path) -> Any:
    """The value at ``path`` in ``data`` (``None`` when the path does not exist)."""
    for part in path:
        found = (isinstance(data, dict) and part in data) or (
            isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data))
        if not found:
            return None
        data = data[part]
    return data


class Reporter:
    """Turns (path, code, message) into positioned :class:`SpecError` objects for a document."""

    def __init__(self, doc: Document, data: Any = None) -> None:
        self.doc = doc
        self.data = doc.data if data is None else data
        self.errors: list[SpecError] = []

    def add(self, path: Path, code: str, message: str, suggestion: str | None = None,
            *, at_key: bool = False) -> None:
        """Record an error about the value (or, with ``at_key``, the key) at ``path``."""
        pos = self.doc.pos(path, key=at_key)
        self.errors.append(SpecError(pos.file, pos.line, pos.col, display_path(path), message,
                                     code, suggestion))

    def issues(self, found: list[tuple[Path, Issue]]) -> None:
        """Record the issues reported by a shape check (:func:`portal.spec.schemas.load_shape`)."""
        for path, issue in found:
            message = issue.message.replace("{got}", describe(lookup(self.data, path)))
            if issue.code == "missing-key":  # point at the mapping that lacks the key
                pos = self.doc.pos(path[:-1])
                self.errors.append(SpecError(pos.file, pos.line, pos.col,
                                             display_path(path[:-1]), message, issue.code))
            else:
                self.add(path, issue.code, message, issue.suggestion, at_key=issue.at_key)
