"""The spec layer's contracts: no Flask/FAB/SQLAlchemy imports, no module-level mutable state."""

from __future__ import annotations

import ast
from pathlib import Path

SPEC = Path(__file__).parents[1] / "portal" / "spec"
FORBIDDEN = ("flask", "flask_appbuilder", "sqlalchemy", "flask_sqlalchemy", "wtforms")


def modules() -> list[Path]:
    """Every Python module of portal/spec."""
    return sorted(SPEC.glob("*.py"))


def test_no_web_or_orm_imports() -> None:
    """covers: PL1(the spec layer imports no Flask, FAB or SQLAlchemy)."""
    for path in modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in FORBIDDEN, f"{path.name} imports {name}"


def test_no_module_level_mutable_state() -> None:
    """covers: PL1(no module-level lists, sets or dicts that are assigned to later)."""
    for path in modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, (ast.Assign, ast.AnnAssign)):
                value = node.value
                mutable = (ast.List, ast.Set, ast.Dict, ast.ListComp, ast.SetComp, ast.DictComp)
                assert not isinstance(value, mutable), (
                    f"{path.name}:{node.lineno} module-level mutable collection")
