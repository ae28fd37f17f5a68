"""Public API: compile a schema folder into a frozen :class:`Registry`, or list its errors.

Layout of a schema folder::

    <root>/entities/**/*.yaml   entity documents; module defaults to the first folder
    <root>/roles.yaml           the roles named in access blocks
    <root>/modules.yaml         optional module labels, icons and order
    <root>/workflows/**/*.yaml  workflow documents (any sub-folder)
    <root>/rules/ ...           later kinds of definition (ignored for now)

Every error of every file is collected; :func:`compile_schema_dir` raises them all at once.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

from portal.spec.computed import formulas
from portal.spec.features import compile_features
from portal.spec.imports import ImportMapping, validate_import
from portal.spec.loader import Document, load_file
from portal.spec.model import ModuleSpec, Registry, RoleSpec, SpecError, SpecErrors
from portal.spec.reports import ReportSpec, validate_report
from portal.spec.resolve import resolve
from portal.spec.schemas import EntitySchema
from portal.spec.suggest import suggest
from portal.spec.validate import EntityDraft, validate_entity, validate_modules, validate_roles
from portal.spec.workflow_shapes import WorkflowSchema
from portal.spec.workflows import WorkflowDraft, validate_workflow

YAML_SUFFIXES: tuple[str, ...] = (".yaml", ".yml")
ENTITIES_DIR = "entities"
WORKFLOWS_DIR = "workflows"
#: Folders of definition kinds (``entities`` and ``workflows`` are compiled; the others are
#: skipped).
IMPORTS_DIR = "imports"
REPORTS_DIR = "reports"
KNOWN_DIRS: tuple[str, ...] = (ENTITIES_DIR, WORKFLOWS_DIR, IMPORTS_DIR, REPORTS_DIR, "rules",
                               "templates", "demo")
TOP_LEVEL_FILES: tuple[str, ...] = ("roles", "modules")


def compile_schema_dir(root: str | os.PathLike[str], *,
                       display_base: str | os.PathLike[str] | None = None) -> Registry:
    """Compile the schema folder ``root`` into a registry.

    Raises :class:`SpecErrors` carrying every error of every file, sorted by file, line and
    column. File names in errors are relative to ``display_base`` (see :func:`check_schema_dir`).
    """
    registry, errors = check_schema_dir(root, display_base=display_base)
    if errors or registry is None:
        raise SpecErrors(errors)
    return registry


def check_schema_dir(root: str | os.PathLike[str], *,
                     display_base: str | os.PathLike[str] | None = None
                     ) -> tuple[Registry | None, list[SpecError]]:
    """Compile ``root`` and return ``(registry, [])``, or ``(None, errors)`` sorted.

    File names in errors are relative to ``display_base``; by default to the current
    directory when ``root`` is inside it, else they start with ``root`` as given. They always
    use forward slashes (``schemas/entities/sales/customer.yaml``).
    """
    folder = Path(root)
    namer = _Namer(folder, display_base)
    if not folder.is_dir():
        return None, [SpecError(namer(folder), 1, 1, "", "schema folder not found",
                                "missing-dir")]
    errors: list[SpecError] = []
    drafts: list[EntityDraft] = []
    shape = EntitySchema()  # one per compile: marshmallow schemas are reusable for loading
    for path in _yaml_files(folder, ENTITIES_DIR):
        module = _folder_module(folder, path)
        for doc in _load(path, namer, errors):
            draft, found = validate_entity(doc, module, shape=shape)
            errors.extend(found)
            if draft is not None:
                drafts.append(draft)
    roles: dict[str, RoleSpec] = {}
    modules: dict[str, ModuleSpec] = {}
    for kind, path in _top_level_files(folder, namer, errors):
        for doc in _load(path, namer, errors):
            if kind == "roles":
                found_roles, found = validate_roles(doc)
                _merge(roles, found_roles, doc, "role", errors)
            else:
                found_modules, found = validate_modules(doc)
                _merge(modules, found_modules, doc, "module", errors)
            errors.extend(found)
    workflows: list[WorkflowDraft] = []
    workflow_shape = WorkflowSchema()
    for path in _yaml_files(folder, WORKFLOWS_DIR):
        for doc in _load(path, namer, errors):
            workflow, found = validate_workflow(doc, shape=workflow_shape)
            errors.extend(found)
            if workflow is not None:
                workflows.append(workflow)
    registry, found = resolve(drafts, roles, modules, workflows)
    errors.extend(found)
    if registry is not None:
        # Features first: an import mapping may not fill a computed field.
        registry, found = compile_features(registry, [(d.spec.name, d.doc) for d in drafts])
        errors.extend(found)
        read_only = formulas(registry)
        mappings: dict[str, ImportMapping] = {}
        for path in _yaml_files(folder, IMPORTS_DIR):
            for doc in _load(path, namer, errors):
                mapping, found = validate_import(doc, registry.entities, computed=read_only)
                errors.extend(found)
                if mapping is not None and mapping.name in mappings:
                    errors.append(SpecError(*_at(doc, ("import",)), "import",
                                            f"duplicate import mapping '{mapping.name}'",
                                            "duplicate-import"))
                elif mapping is not None:
                    mappings[mapping.name] = mapping
        registry = replace(registry, imports=MappingProxyType(mappings))
        registry, found = _compile_reports(folder, namer, registry)
        errors.extend(found)
    if errors:
        return None, sorted(errors, key=SpecError.sort_key)
    return registry, []


def _compile_reports(folder: Path, namer: _Namer, registry: Registry
                     ) -> tuple[Registry, list[SpecError]]:
    """Check every ``reports/**.yaml`` document against the compiled entities."""
    errors: list[SpecError] = []
    reports: dict[str, ReportSpec] = {}
    for path in _yaml_files(folder, REPORTS_DIR):
        for doc in _load(path, namer, errors):
            report, found = validate_report(doc, registry)
            errors.extend(found)
            if report is not None and report.name in reports:
                errors.append(SpecError(*_at(doc, ("report",)), "report",
                                        f"duplicate report '{report.name}'", "duplicate-report"))
            elif report is not None:
                reports[report.name] = report
    return replace(registry, reports=MappingProxyType(dict(sorted(reports.items())))), errors


def _at(doc: Document, path: tuple[str, ...]) -> tuple[str, int, int]:
    pos = doc.pos(path)
    return pos.file, pos.line, pos.col


class _Namer:
    """Display names for files: relative to a base, forward slashes."""

    def __init__(self, root: Path, display_base: str | os.PathLike[str] | None) -> None:
        self.root = root
        if display_base is not None:
            self.base: Path | None = Path(display_base).resolve()
        else:
            cwd = Path.cwd().resolve()
            self.base = cwd if root.resolve().is_relative_to(cwd) else None

    def __call__(self, path: Path) -> str:
        if self.base is not None:
            try:
                return path.resolve().relative_to(self.base).as_posix()
            except ValueError:
                pass
        return path.as_posix()


def _load(path: Path, namer: _Namer, errors: list[SpecError]) -> list[Document]:
    docs, found = load_file(str(path), namer(path))
    errors.extend(found)
    return docs


def _visible(path: Path, folder: Path) -> bool:
    return not any(part.startswith(".") for part in path.relative_to(folder).parts)


def _yaml_files(folder: Path, kind: str) -> list[Path]:
    """Every visible YAML file under ``folder/kind``, at any depth, in path order."""
    under = folder / kind
    if not under.is_dir():
        return []
    return sorted(
        (p for p in under.rglob("*")
         if p.suffix in YAML_SUFFIXES and p.is_file() and _visible(p, folder)),
        key=lambda p: p.relative_to(under).as_posix(),
    )


def _folder_module(folder: Path, path: Path) -> str | None:
    parts = path.relative_to(folder / ENTITIES_DIR).parts
    return parts[0] if len(parts) > 1 else None


def _top_level_files(folder: Path, namer: _Namer, errors: list[SpecError]
                     ) -> list[tuple[str, Path]]:
    """``(kind, path)`` for roles/modules files; unknown files and misspelled folders are errors.

    Folders other than the known kinds are left alone unless their name looks like a typo of
    one (``entites/``), so that later kinds of definition can be added without breaking.
    """
    found: list[tuple[str, Path]] = []
    allowed = [k + YAML_SUFFIXES[0] for k in TOP_LEVEL_FILES]
    for path in sorted(folder.iterdir()):
        if path.name.startswith("."):
            continue
        if path.is_dir():
            hint = suggest(path.name, KNOWN_DIRS)
            if path.name not in KNOWN_DIRS and hint and _has_yaml(path):
                errors.append(SpecError(namer(path), 1, 1, "",
                                        f"unknown folder '{path.name}'", "unknown-file",
                                        hint))
            continue
        if path.suffix not in YAML_SUFFIXES:
            continue
        if path.stem in TOP_LEVEL_FILES:
            if any(k == path.stem for k, _ in found):
                errors.append(SpecError(namer(path), 1, 1, "",
                                        f"both {path.stem}.yaml and {path.stem}.yml exist; "
                                        "keep one", "unknown-file"))
                continue
            found.append((path.stem, path))
            continue
        errors.append(SpecError(
            namer(path), 1, 1, "",
            f"unknown file '{path.name}' (expected {ENTITIES_DIR}/, {WORKFLOWS_DIR}/, "
            f"{', '.join(allowed)})",
            "unknown-file", suggest(path.name, allowed),
        ))
    return found


def _has_yaml(folder: Path) -> bool:
    return any(p.suffix in YAML_SUFFIXES for p in folder.rglob("*"))


def _merge(into: dict, found: dict, doc: Document, kind: str, errors: list[SpecError]) -> None:
    """Merge names declared in another document of the same file, reporting repeats."""
    for name, spec in found.items():
        if name in into:
            pos = doc.pos((kind + "s", name), key=True)
            errors.append(SpecError(pos.file, pos.line, pos.col, f"{kind}s.{name}",
                                    f"duplicate {kind} '{name}' (first in an earlier document)",
                                    "duplicate-key"))
            continue
        into[name] = spec
