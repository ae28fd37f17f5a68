"""Golden tests: every broken schema tree under tests/spec_corpus/ and its expected errors.

Each case folder holds a small schema tree and ``expected.txt``, the exact error lines (file
names relative to the case folder). Regenerate with ``PORTAL_REGEN_GOLDEN=1 pytest
tests/test_spec_corpus.py`` and review the diff before committing it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from portal.spec.compiler import check_schema_dir, compile_schema_dir
from portal.spec.model import SpecErrors

CORPUS = Path(__file__).parent / "spec_corpus"
CASES = sorted(p for p in CORPUS.iterdir() if p.is_dir())
REGEN = os.environ.get("PORTAL_REGEN_GOLDEN") == "1"


def render(case: Path) -> str:
    """All errors of a case folder, one per line, as ``str(SpecError)``."""
    registry, errors = check_schema_dir(case, display_base=case)
    assert registry is None
    return "".join(f"{e}\n" for e in errors)


@pytest.mark.parametrize("case", CASES, ids=[p.name for p in CASES])
def test_golden_errors(case: Path) -> None:
    """covers: PL2(errors collected across files, sorted, with codes)."""
    got = render(case)
    expected_file = case / "expected.txt"
    if REGEN:
        expected_file.write_text(got, encoding="utf-8")
    assert got, f"{case.name}: a broken case must produce errors"
    assert got == expected_file.read_text(encoding="utf-8")


def test_corpus_is_large_enough() -> None:
    """covers: PL2(at least 45 broken cases, each with a golden file)."""
    assert len(CASES) >= 45
    assert all((case / "expected.txt").is_file() for case in CASES)


def test_compile_raises_all_errors_sorted() -> None:
    """covers: PL2(compile_schema_dir raises SpecErrors with every error, sorted)."""
    case = CORPUS / "multiple_files_sorted"
    with pytest.raises(SpecErrors) as info:
        compile_schema_dir(case, display_base=case)
    errors = info.value.errors
    assert [e.sort_key() for e in errors] == sorted(e.sort_key() for e in errors)
    assert len({e.file for e in errors}) >= 3
    assert str(info.value) == render(case).rstrip("\n")
