"""Compiling valid schema trees into spec objects (the happy path of the compiler)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from conftest import write_tree

from portal.spec.compiler import check_schema_dir, compile_schema_dir
from portal.spec.model import DynamicDefault, NumberFormat, Registry, SpecErrors

GOOD = Path(__file__).parent / "spec_corpus_good"


@pytest.fixture(scope="module")
def crm() -> Registry:
    """The good CRM fixture, compiled."""
    return compile_schema_dir(GOOD / "crm", display_base=GOOD / "crm")


def test_entities_sorted_and_modules(crm: Registry) -> None:
    """covers: PL1(registry: entities by name, modules declared then implied, ordered)."""
    assert list(crm.entities) == ["contact", "customer", "tag", "ticket", "ticket_line"]
    assert list(crm.modules) == ["sales", "after_sales", "general"]
    assert crm.modules["sales"].icon == "fa-briefcase"
    assert crm.modules["sales"].label.get("zh_CN") == "销售"
    assert crm.modules["general"].label.get("en") == "General"
    assert crm.entity("tag").module == "general"
    assert crm.entity("ticket").module == "after_sales"
    assert crm.entity("contact").module == "sales"


def test_field_types_and_options(crm: Registry) -> None:
    """covers: PL1(field options become typed FieldSpec attributes)."""
    customer = crm.entity("customer")
    name = customer.field("name")
    assert (name.type, name.max_length, name.required, name.unique) == ("string", 120, True, True)
    assert name.label.get("zh_CN") == "客户名称" and name.label.get("en") == "Name"
    assert name.help.get("en") == "Legal name"
    assert customer.field("note").type == "text" and customer.field("note").max_length is None
    vat = customer.field("vat_no")
    assert (vat.length, vat.max_length, vat.pattern, vat.index) == (8, 8, "^[0-9]{8}$", True)
    assert crm.entity("tag").field("name").max_length == 255
    assert customer.field("email").max_length == 200
    assert customer.field("website").type == "url"


def test_numbers_are_exact(crm: Registry) -> None:
    """covers: PL1(money/decimal bounds and defaults are Decimal, int stays int)."""
    customer = crm.entity("customer")
    credit = customer.field("credit_limit")
    assert credit.min_value == Decimal("0") and isinstance(credit.min_value, Decimal)
    assert credit.max_value == Decimal("1000000")
    assert credit.default == Decimal("12.50") and str(credit.default) == "12.50"
    assert (credit.scale, credit.digits) == (2, 18)
    rate = customer.field("rate")
    assert (rate.scale, rate.digits, rate.default) == (4, 12, Decimal("0.1250"))
    employees = customer.field("employees")
    assert (employees.min_value, employees.max_value, employees.default) == (1, 100000, 10)
    assert type(employees.default) is int
    assert crm.entity("ticket_line").field("hours").scale == 1


def test_defaults(crm: Registry) -> None:
    """covers: PL1(dynamic defaults, enum defaults, bool defaults, date bounds as ISO text)."""
    customer = crm.entity("customer")
    assert customer.field("owner").default == DynamicDefault("current_user")
    assert customer.field("signed_on").default == DynamicDefault("today")
    assert customer.field("signed_on").min_value == "2000-01-01"
    assert customer.field("last_seen").default == DynamicDefault("now")
    assert customer.field("grade").default == "C"
    assert customer.field("active").default is True
    assert customer.field("contract_pdf").default is None


def test_enum_values_and_labels(crm: Registry) -> None:
    """covers: PL1(enum values as list or mapping with labels; YAML 1.1 words kept as text)."""
    customer = crm.entity("customer")
    assert customer.field("grade").values == ("A", "B", "C")
    tier = customer.field("tier")
    assert tier.values == ("vip", "normal")
    assert tier.value_labels["vip"].get("zh_CN") == "贵宾"
    assert tier.value_labels["normal"].get("en") == "normal"
    answer = customer.field("answer")
    assert answer.values == ("yes", "no", "1") and answer.default == "no"


def test_number_format(crm: Registry) -> None:
    """covers: PL1(number format parsed into parts)."""
    fmt = crm.entity("customer").field("code").number_format
    assert fmt == NumberFormat("CUS-{YYYY}-{#####}", ("CUS-", "{YYYY}", "-", "{#####}"), 5)
    assert fmt.render(2024, 3, 1, 42) == "CUS-2024-00042"


def test_relations_and_via(crm: Registry) -> None:
    """covers: PL2(relation targets; children back-link found or taken from via)."""
    customer = crm.entity("customer")
    contacts = customer.field("contacts")
    assert (contacts.target, contacts.via) == ("contact", "customer")
    assert customer.field("tags").target == "tag"
    assert crm.entity("ticket").field("lines").via == "ticket"
    assert crm.children_of("customer") == (("contact", contacts),)
    linked = {(e.name, f.name) for e, f in crm.links_to("customer")}
    assert linked == {("contact", "customer"), ("ticket", "customer"),
                      ("ticket", "other_customer")}


def test_title_owner_list_access(crm: Registry) -> None:
    """covers: PL1 PL3(title/owner defaults, list spec, access rules)."""
    customer = crm.entity("customer")
    assert customer.title == "name" and customer.owner == "owner" and customer.icon == "fa-users"
    assert customer.label.get("zh_TW") == "客戶"
    contact = crm.entity("contact")
    assert contact.title == "full_name" and contact.owner is None and contact.icon == "fa-table"
    assert crm.entity("ticket_line").title is None
    assert crm.entity("ticket").owner == "assignee"
    listing = customer.list
    assert listing.columns == ("code", "name", "grade", "owner")
    assert listing.search == ("name", "code", "email")
    assert (listing.order_by, listing.order_desc) == ("created_at", True)
    assert (contact.list.order_by, contact.list.order_desc) == ("full_name", False)
    rep = customer.access["sales_rep"]
    assert (rep.read, rep.create, rep.update, rep.delete) == ("own", True, "own", "own")
    assert rep.hide == ("credit_limit",)
    finance = customer.access["finance"]
    assert (finance.read, finance.create, finance.update, finance.delete) == (
        "all", False, None, None)
    assert crm.entity("ticket").access["support"].read == "department"


def test_roles(crm: Registry) -> None:
    """covers: PL3(roles.yaml: labels, descriptions, shorthand and null entries)."""
    assert list(crm.roles) == ["sales_rep", "sales_director", "finance", "support"]
    assert crm.roles["sales_rep"].label.get("zh_CN") == "销售代表"
    assert crm.roles["sales_rep"].description == "Sells things"
    assert crm.roles["finance"].label.get("en") == "Finance team"
    assert crm.roles["sales_director"].label.get("en") == "Sales Director"


def test_positions(crm: Registry) -> None:
    """covers: PL2(spec objects keep where they came from)."""
    customer = crm.entity("customer")
    assert customer.pos.file == "entities/sales/customer.yaml"
    assert (customer.pos.line, customer.field("name").pos.line) == (2, 7)
    assert customer.access["finance"].pos.line == 31


def test_registry_is_frozen(crm: Registry) -> None:
    """covers: PL1(the registry cannot be changed after compile)."""
    with pytest.raises(TypeError):
        crm.entities["x"] = crm.entity("tag")  # type: ignore[index]
    with pytest.raises(AttributeError):
        crm.entity("tag").name = "y"  # type: ignore[misc]


def test_minimal_tree_without_roles(tmp_path: Path) -> None:
    """covers: PL1(.yml accepted; no roles.yaml needed; module 'general' by default)."""
    registry = compile_schema_dir(GOOD / "minimal")
    note = registry.entity("note")
    assert note.module == "general" and note.title is None
    assert list(registry.modules) == ["general"] and dict(registry.roles) == {}


def test_shorthand_and_multi_documents(tmp_path: Path) -> None:
    """covers: PL2 PL1(multi-document files, field shorthand, empty documents skipped)."""
    write_tree(tmp_path, {
        "entities/sales/things.yaml": (
            "---\nentity: a\nfields: {x: string}\n---\n---\n"
            "entity: b\nfields:\n  y: int\n  a: {type: link, entity: a}\n"),
        "entities/empty.yaml": "",
    })
    registry = compile_schema_dir(tmp_path, display_base=tmp_path)
    assert list(registry.entities) == ["a", "b"]
    assert registry.entity("b").field("y").type == "int"


def test_display_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """covers: PL2(file names relative to display_base, else cwd, else as given)."""
    root = write_tree(tmp_path / "schemas", {"entities/sales/c.yaml": "entity: c\nfields: 1\n"})
    _, errors = check_schema_dir(root, display_base=tmp_path)
    assert errors[0].file == "schemas/entities/sales/c.yaml"
    monkeypatch.chdir(tmp_path)
    _, errors = check_schema_dir("schemas")
    assert errors[0].file == "schemas/entities/sales/c.yaml"
    _, errors = check_schema_dir(root)
    assert errors[0].file == "schemas/entities/sales/c.yaml"
    monkeypatch.chdir(root / "entities")
    _, errors = check_schema_dir(root)
    assert errors[0].file == root.as_posix() + "/entities/sales/c.yaml"


def test_missing_folder(tmp_path: Path) -> None:
    """covers: PL2(a missing schema folder is reported as an error, not a traceback)."""
    with pytest.raises(SpecErrors) as info:
        compile_schema_dir(tmp_path / "nope", display_base=tmp_path)
    assert [e.code for e in info.value.errors] == ["missing-dir"]


def test_compile_twice_gives_equal_registries() -> None:
    """covers: PL1(no module-level state: two compiles are independent and equal)."""
    first = compile_schema_dir(GOOD / "crm", display_base=GOOD / "crm")
    second = compile_schema_dir(GOOD / "crm", display_base=GOOD / "crm")
    assert first is not second
    assert first.entity("customer") == second.entity("customer")


@pytest.mark.skipif(not (Path(__file__).parents[1] / "schemas" / "entities").is_dir(),
                    reason="no shipped schemas yet")
def test_shipped_schemas_compile() -> None:
    """covers: PL1(the shipped default CRM under schemas/ compiles without errors)."""
    root = Path(__file__).parents[1] / "schemas"
    registry, errors = check_schema_dir(root, display_base=root.parent)
    if not any((root / "entities").rglob("*.y*ml")):
        pytest.skip("no entity files shipped yet")
    assert [str(e) for e in errors] == []
    assert registry is not None
