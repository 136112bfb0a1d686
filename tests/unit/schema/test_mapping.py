"""Party mappings: file format, CLI overrides, validation and binding to a CSV header."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hashmatch.errors import MappingError
from hashmatch.schema import (
    ColumnSource,
    MappingOverrides,
    Schema,
    load_mapping,
    load_schema,
    mapping_options_from_cli,
    resolve_columns,
)


@pytest.fixture(scope="module")
def schema() -> Schema:
    return load_schema(
        {
            "version": 1,
            "fields": [
                {"name": "first_name", "type": "name", "bloom": True},
                {"name": "last_name", "type": "name", "bloom": True, "required": True},
                {"name": "date_of_birth", "type": "date", "bloom": True},
                {"name": "phone", "type": "phone", "exact": True},
                {"name": "address", "type": "address", "bloom": True},
            ],
        }
    )


MAPPING = """
record_id = "customer_no"
phone_region = "gb"
date_formats = ["%d.%m.%Y"]

[fields]
last_name = { column = "full_name", part = "last", name_order = "last_first" }
address = ["street_number", "address_1"]

[fields.first_name]
column = "full_name"
part = "first"
name_order = "last_first"
"""


def test_mapping_file_fills_every_field(tmp_path: Path, schema: Schema) -> None:
    path = tmp_path / "party.mapping.toml"
    path.write_text(MAPPING)
    m = load_mapping(path, schema)
    assert m.record_id == "customer_no"
    assert m.fields["first_name"] == ColumnSource(("full_name",), "first", "last_first")
    assert m.fields["last_name"].part == "last"
    assert m.fields["address"].columns == ("street_number", "address_1")
    assert m.fields["date_of_birth"] == ColumnSource(
        ("date_of_birth",), date_formats=("%d.%m.%Y",), implicit=True
    )
    assert m.fields["phone"].phone_region == "GB" and m.fields["phone"].implicit
    assert m.fields["first_name"].phone_region is None  # regions only for phone fields


def test_no_mapping_means_same_name_columns(schema: Schema) -> None:
    m = load_mapping(None, schema)
    assert m.record_id is None
    assert all(src.implicit and src.columns == (name,) for name, src in m.fields.items())


def test_json_mapping_and_per_field_settings(tmp_path: Path, schema: Schema) -> None:
    import json

    path = tmp_path / "m.json"
    path.write_text(
        json.dumps(
            {
                "date_formats": "%Y",
                "fields": {
                    "date_of_birth": {"column": "DOB", "date_formats": ["%m/%d/%Y", "%Y"]},
                    "phone": {"column": "tel", "phone_region": "us"},
                },
            }
        )
    )
    m = load_mapping(path, schema)
    assert m.fields["date_of_birth"].date_formats == ("%m/%d/%Y", "%Y")
    assert m.fields["phone"].phone_region == "US"


def test_cli_options_parse_and_override_the_file(schema: Schema) -> None:
    o = mapping_options_from_cli(
        map_=["address=street+ city", "first_name=name"],
        part=["first_name=first"],
        name_order=["first_name=last_first"],
        date_format=["date_of_birth=%Y", "%d/%m/%Y", "date_of_birth=%m/%Y"],
        phone_region="de",
        id_column="id",
    )
    assert o == MappingOverrides(
        columns={"address": ("street", "city"), "first_name": ("name",)},
        parts={"first_name": "first"},
        name_orders={"first_name": "last_first"},
        date_formats={"date_of_birth": ("%Y", "%m/%Y")},
        default_date_formats=("%d/%m/%Y",),
        phone_region="de",
        record_id="id",
    )
    m = load_mapping(
        {"record_id": "cust", "phone_region": "GB", "fields": {"address": {"column": "addr"}}},
        schema,
        overrides=o,
    )
    assert m.record_id == "id"
    assert m.fields["address"].columns == ("street", "city")
    assert not m.fields["address"].implicit
    assert m.fields["first_name"] == ColumnSource(("name",), "first", "last_first")
    assert m.fields["date_of_birth"].date_formats == ("%Y", "%m/%Y")
    assert m.fields["phone"].phone_region == "DE"


def test_global_cli_date_format_replaces_the_file_default(schema: Schema) -> None:
    o = mapping_options_from_cli(date_format=["%d.%m.%y"])
    m = load_mapping({"date_formats": ["%Y"]}, schema, overrides=o)
    assert m.fields["date_of_birth"].date_formats == ("%d.%m.%y",)


def test_bad_cli_syntax_is_reported_per_option() -> None:
    with pytest.raises(MappingError) as err:
        mapping_options_from_cli(map_=["first_name"], part=["=first"])
    assert [str(p) for p in err.value.problems] == [
        "--map: expected FIELD=COLUMN, got 'first_name'",
        "--part: expected FIELD=first|middle|last, got '=first'",
    ]
    assert err.value.source == "command line"


@pytest.mark.parametrize(
    ("document", "overrides", "expected"),
    [
        ({"recordid": "x"}, {}, "recordid: unknown key; did you mean 'record_id'?"),
        ({"record_id": ""}, {}, "record_id: expected a column name, got ''"),
        (
            {"phone_region": "UK"},
            {},
            "phone_region: expected a region code known to "
            "phonenumbers such as GB, US, DE, FR, AU, got 'UK' (did you mean 'GB'?)",
        ),
        ({"phone_region": 44}, {}, "phone_region: expected a region code"),
        (
            {"date_formats": ["%d/%q/%Y"]},
            {},
            "date_formats[0]: date format '%d/%q/%Y': unsupported directive %q; supported "
            "directives: %Y %y %m %d %b %B %H %I %M %S %f %p %%",
        ),
        (
            {"date_formats": ["%d/%m"]},
            {},
            "date_formats[0]: date format '%d/%m' has no year (%Y or %y)",
        ),
        ({"date_formats": 5}, {}, "date_formats: expected a list of strptime formats"),
        (
            {"fields": {"frist_name": "a"}},
            {},
            "fields.frist_name: unknown key; did you mean 'first_name'?",
        ),
        (
            {"fields": {"first_name": 3}},
            {},
            "fields.first_name: expected a column name, a list of columns or a table, got 3",
        ),
        (
            {"fields": {"first_name": {"colum": "a"}}},
            {},
            "fields.first_name.colum: unknown key; did you mean 'column'?",
        ),
        (
            {"fields": {"first_name": {"column": []}}},
            {},
            "fields.first_name.column: expected "
            "a column name or a non-empty list of column names, got []",
        ),
        (
            {"fields": {"address": ["a", 2]}},
            {},
            "fields.address.column[1]: expected a column name, got 2",
        ),
        (
            {"fields": {"first_name": {"part": "given"}}},
            {},
            "fields.first_name.part: expected one of first, middle, last, got 'given'",
        ),
        (
            {"fields": {"first_name": {"name_order": "last"}}},
            {},
            "fields.first_name.name_order:"
            " expected one of first_last, last_first, auto, got 'last'",
        ),
        (
            {"fields": {"phone": {"part": "first"}}},
            {},
            "fields.phone.part: applies to name fields only; 'phone' has type 'phone'",
        ),
        (
            {"fields": {"first_name": {"date_formats": ["%Y"]}}},
            {},
            "fields.first_name."
            "date_formats: applies to date fields only; 'first_name' has type 'name'",
        ),
        (
            {"fields": {"address": {"phone_region": "GB"}}},
            {},
            "fields.address.phone_region: applies to phone fields only",
        ),
        (
            {},
            {"map_": ["frist_name=a"]},
            "--map: unknown field 'frist_name'; did you mean 'first_name'?",
        ),
        (
            {},
            {"date_format": ["first_name=%Y"]},
            "--date-format: 'first_name' has type 'name'; this option applies to date fields only",
        ),
        (
            {},
            {"date_format": ["date_of_birth=%Q"]},
            "--date-format date_of_birth[0]: date format '%Q': unsupported directive %Q",
        ),
        (
            {},
            {"part": ["first_name=given"]},
            "--part first_name: expected one of first, middle, last, got 'given'",
        ),
        ({}, {"phone_region": "ZZ"}, "--phone-region: expected a region code"),
        (
            {"fields": {"first_name": "name", "last_name": {"column": "NAME"}}},
            {},
            "fields.last_name: reads the same column(s) as 'first_name' with the same part;",
        ),
        (
            {"fields": {"first_name": "full", "last_name": "full"}},
            {"part": ["first_name=last", "last_name=last"]},
            "fields.last_name: reads the same column(s) as 'first_name' with the same part;",
        ),
    ],
)
def test_mapping_rule(
    schema: Schema, document: dict[str, Any], overrides: dict[str, Any], expected: str
) -> None:
    with pytest.raises(MappingError) as err:
        load_mapping(document, schema, overrides=mapping_options_from_cli(**overrides))
    assert len(err.value.problems) == 1, err.value.problems
    assert str(err.value.problems[0]).startswith(expected)


def test_resolve_columns_is_case_and_space_insensitive(schema: Schema) -> None:
    m = load_mapping(
        {
            "record_id": "Customer_No",
            "fields": {
                "first_name": {"column": "FULL_NAME", "part": "first"},
                "last_name": {"column": "full_name", "part": "last"},
                "address": ["street_number", "address_1"],
            },
        },
        schema,
    )
    header = ["\ufeffcustomer_no ", " Full_Name", "Street_Number", "address_1", "Phone", "x"]
    r = resolve_columns(m, schema, header, "crm.csv")
    assert {n: f.indices for n, f in r.fields.items()} == {
        "first_name": (1,),
        "last_name": (1,),
        "address": (2, 3),
        "phone": (4,),
    }
    assert list(r.fields) == ["first_name", "last_name", "phone", "address"]  # schema order
    assert r.absent_fields == ("date_of_birth",)
    assert r.record_id_index == 0
    assert r.fields["first_name"].source.part == "first"


def test_missing_mapped_columns_are_named_with_the_available_ones(schema: Schema) -> None:
    m = load_mapping(
        {"record_id": "id", "fields": {"first_name": "fname", "address": ["street", "adress_1"]}},
        schema,
    )
    with pytest.raises(MappingError) as err:
        resolve_columns(m, schema, ["fname ", "last_name", "address_1", "Address_1"], "b.csv")
    assert [str(p) for p in err.value.problems] == [
        "fields.address: column 'street' not found in b.csv",
        "fields.address: column 'adress_1' not found in b.csv; did you mean 'address_1'?",
        "record_id: column 'id' not found in b.csv",
    ]
    assert err.value.source == "b.csv"
    assert err.value.hint == "columns of b.csv: 'fname', 'last_name', 'address_1', 'Address_1'"


def test_ambiguous_and_required_columns(schema: Schema) -> None:
    m = load_mapping({"fields": {"first_name": "name"}}, schema)
    with pytest.raises(MappingError) as err:
        resolve_columns(m, schema, ["Name", "name ", "phone"], "c.csv")
    assert [str(p) for p in err.value.problems] == [
        "fields.first_name: column 'name' appears 2 times in the header of c.csv; expected it once",
        "fields.last_name: required field 'last_name' has no column in c.csv; map one with "
        "--map last_name=COLUMN",
    ]


def test_no_schema_field_at_all(schema: Schema) -> None:
    optional = load_schema(
        {"version": 1, "fields": [{"name": "email", "type": "email", "exact": True}]}
    )
    with pytest.raises(MappingError, match="none of the schema's fields"):
        resolve_columns(load_mapping(None, optional), optional, ["a", "b"], "d.csv")


def test_the_hint_lists_at_most_30_columns(schema: Schema) -> None:
    m = load_mapping({"fields": {"first_name": "nope"}}, schema)
    header = ["last_name"] + [f"c{i}" for i in range(40)]
    with pytest.raises(MappingError) as err:
        resolve_columns(m, schema, header, "e.csv")
    assert err.value.hint is not None and err.value.hint.endswith("'c28' and 11 more")


def test_header_cells_are_shown_only_once_the_header_is_evidently_one(schema: Schema) -> None:
    """A file without a header row makes its first record the "column names": they are
    listed (and suggested) only when a column the mapping or schema names is among them."""
    m = load_mapping({"record_id": "id", "fields": {"first_name": "fname"}}, schema)
    record = ["Cynthia", "Quixley", "Houston", "fnme"]
    with pytest.raises(MappingError) as err:
        resolve_columns(m, schema, record, "nohdr.csv")
    shown = str(err.value) + (err.value.hint or "")
    assert not any(cell in shown for cell in record)
    assert "no column named by the mapping or the schema is in the header" in shown
    with pytest.raises(MappingError) as err:
        resolve_columns(m, schema, ["id", "fnam", "last_name"], "b.csv")  # "id" is named
    assert "did you mean 'fnam'?" in str(err.value)
    assert err.value.hint == "columns of b.csv: 'id', 'fnam', 'last_name'"
