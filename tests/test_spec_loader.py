"""The position-keeping YAML loader and small helpers (suggestions, numbering, reserved names)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from portal.spec.loader import load_text
from portal.spec.model import SourcePos
from portal.spec.numbering import FormatError, parse_number_format
from portal.spec.reserved import entity_name_reason, field_name_reason, role_name_reason
from portal.spec.suggest import suggest


def test_scalars_follow_safe_load_but_decimals_stay_exact() -> None:
    """covers: PL2(ints, bools, null, strings; floats become exact Decimal; dates stay text)."""
    docs, errors = load_text("a: 1\nb: 12.50\nc: yes\nd: 2024-01-01\ne: ~\nf: 1_000\n"
                             "g: 0x1F\nh: '12.50'\ni: 1e3\n", "f.yaml")
    assert errors == []
    data = docs[0].data
    assert data == {"a": 1, "b": Decimal("12.50"), "c": True, "d": "2024-01-01", "e": None,
                    "f": 1000, "g": 31, "h": "12.50", "i": "1e3"}
    assert str(data["b"]) == "12.50"
    assert not any(isinstance(v, float) for v in data.values())
    assert load_text("x: 1.0e+3\n", "f")[0][0].data == {"x": Decimal("1.0e+3")}


def test_positions_of_keys_and_values() -> None:
    """covers: PL2(1-based line/column for every key and value, by path)."""
    docs, _ = load_text("a: 1\nb:\n  c: [x, {d: 2}]\n", "f.yaml")
    doc = docs[0]
    assert doc.pos(("b", "c"), key=True) == SourcePos("f.yaml", 3, 3)
    assert doc.pos(("b", "c")) == SourcePos("f.yaml", 3, 6)
    assert doc.pos(("b", "c", 1, "d")) == SourcePos("f.yaml", 3, 14)
    assert doc.pos(("b", "c", 1, "missing")) == SourcePos("f.yaml", 3, 10)
    assert doc.raw_text(("b", "c", 0)) == "x"


def test_duplicate_keys_point_at_second() -> None:
    """covers: PL2(duplicate keys are errors at the second occurrence)."""
    docs, errors = load_text("x: 0\nfields:\n  name: a\n  other: b\n  name: c\n", "f.yaml")
    assert [str(e) for e in errors] == [
        "f.yaml:5:3: fields.name: duplicate key 'name' (first at line 3) [duplicate-key]"]
    assert docs[0].data["fields"]["name"] == "a"


@pytest.mark.parametrize("text, line, col", [
    ("a: [1, 2\nb: 3\n", 2, 2),
    ("a:\n\tb: 1\n", 2, 1),
    ("a: 'x\n", 2, 1),
    ("a: 1\n b: 2\n", 2, 3),
])
def test_syntax_errors(text: str, line: int, col: int) -> None:
    """covers: PL2(YAML syntax errors become yaml-syntax errors at the mark)."""
    docs, errors = load_text(text, "f.yaml")
    assert docs == []
    assert [(e.code, e.line, e.col) for e in errors] == [("yaml-syntax", line, col)]
    assert errors[0].message.startswith("yaml syntax error: ")


def test_documents() -> None:
    """covers: PL2(multi-document files; empty files and documents give nothing)."""
    assert load_text("", "f") == ([], [])
    assert load_text("# only a comment\n", "f") == ([], [])
    docs, _ = load_text("a: 1\n---\nb: 2\n---\n", "f")
    assert [d.data for d in docs] == [{"a": 1}, {"b": 2}]
    assert docs[1].start.line == 3


def test_unsupported_tag() -> None:
    """covers: PL2(custom tags are rejected, not constructed)."""
    _, errors = load_text("a: !python/object x\n", "f")
    assert [e.code for e in errors] == ["yaml-syntax"]


def test_suggest() -> None:
    """covers: PL2(did-you-mean: close matches only; case-only differences win)."""
    assert suggest("decmal", ["decimal", "date"]) == "decimal"
    assert suggest("zh_cn", ["en", "zh_CN", "zh_TW"]) == "zh_CN"
    assert suggest("xyz", ["decimal"]) is None
    assert suggest("date", ["date"]) is None
    assert suggest(3, ["a"]) is None


def test_number_format_parts() -> None:
    """covers: PL1(number formats: date tokens, one counter of 1-12 digits)."""
    fmt = parse_number_format("{YY}{MM}{DD}-{###}")
    assert fmt.parts == ("{YY}", "{MM}", "{DD}", "-", "{###}") and fmt.digits == 3
    assert fmt.period(2024, 1, 5) == "24-01-05"
    for bad in ("X", "{#}{#}", "{Y}{#}", "{#############}", "A}{#}", "{}{#}"):
        with pytest.raises(FormatError):
            parse_number_format(bad)


def test_reserved_names() -> None:
    """covers: PL2(FAB's, the portal's and Python's names are reserved)."""
    for name in ("User", "role", "PERMISSION", "view_menu", "ab_anything", "menu", "department",
                 "audit_log", "openapi", "static", "class"):
        assert entity_name_reason(name), name
    assert entity_name_reason("customer") is None
    for name in ("id", "created_at", "updated_by_id", "query", "metadata", "import", "_x",
                 "customer_id"):
        assert field_name_reason(name), name
    assert field_name_reason("type") is None and field_name_reason("identity") is None
    assert role_name_reason("Admin") and role_name_reason("public")
    assert role_name_reason("finance") is None
