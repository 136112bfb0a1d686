"""schema new's guesses: column names, value shapes, the assembled proposal."""

from __future__ import annotations

from pathlib import Path

import pytest

from hashmatch.errors import HashmatchError, InputDataError
from hashmatch.schema import load_mapping, load_schema
from hashmatch.schema.infer import (
    DATE_CANDIDATES,
    guess_from_name,
    profile_values,
    propose,
    propose_from_csv,
    write_proposal,
)
from hashmatch.schema.mapping import date_format_problem

MESSY = Path(__file__).parents[2] / "data" / "schema_messy.csv"


@pytest.mark.parametrize(
    ("column", "expected"),
    [
        ("fname", ("first_name", "name")),
        ("Given Name", ("first_name", "name")),
        ("FirstName", ("first_name", "name")),
        ("forename", ("first_name", "name")),
        ("Surname", ("last_name", "name")),
        ("LNAME", ("last_name", "name")),
        ("family_name", ("last_name", "name")),
        ("Full Name", ("full_name", "name")),
        ("name", ("full_name", "name")),
        ("D.O.B.", ("date_of_birth", "date")),
        ("birth_date", ("date_of_birth", "date")),
        ("DateOfBirth", ("date_of_birth", "date")),
        ("E-mail Address", ("email", "email")),
        ("mail", ("email", "email")),
        ("Phone #", ("phone", "phone")),
        ("Mobile No", ("phone", "phone")),
        ("tel", ("phone", "phone")),
        ("cell", ("phone", "phone")),
        ("ZIP", ("postcode", "postcode")),
        ("Post Code", ("postcode", "postcode")),
        ("postal_code", ("postcode", "postcode")),
        ("Addr Line 1", ("address", "address")),
        ("address_2", ("address", "address")),
        ("street_number", ("address", "address")),
        ("Suburb", ("city", "text")),
        ("town", ("city", "text")),
        ("STATE", ("state", "text")),
        ("Sex", ("gender", "gender")),
        ("gender", ("gender", "gender")),
        ("SSN", ("national_id", "id")),
        ("soc_sec_id", ("national_id", "id")),
        ("name_first", ("first_name", "name")),
        ("NameLast", ("last_name", "name")),
        ("birth_year", ("date_of_birth", "date")),
        ("YOB", ("date_of_birth", "date")),
        ("visit_date", ("visit_date", "date")),
        ("notes", None),
        ("username", None),
        ("Cust ID", None),
    ],
)
def test_guess_from_name(column: str, expected: tuple[str, str] | None) -> None:
    assert guess_from_name(column) == expected


def test_value_shapes_are_counts_only() -> None:
    shape = profile_values(["a@b.example", "c.d@e.org", "", "N/A", "not an email"])
    assert shape.filled == 3 and shape.email == pytest.approx(2 / 3)
    dates = profile_values(["23/04/1961", "05/11/1979", "1984", "unknown"])
    assert dates.date_formats == ("%d/%m/%Y", "%Y") and dates.date_share == 1.0
    assert not dates.day_month_ambiguous


def test_day_month_order_ambiguity_is_flagged() -> None:
    shape = profile_values(["01/02/1990", "03/04/1985", "12/11/1970"])
    assert shape.date_formats == ("%d/%m/%Y",) and shape.day_month_ambiguous
    us = profile_values(["01/25/1990", "03/04/1985"])
    assert us.date_formats == ("%m/%d/%Y",) and not us.day_month_ambiguous


def test_numbers_are_not_mistaken_for_dates() -> None:
    assert profile_values(["4223", "2600", "3212"]).date_formats == ()  # postcodes, not years
    assert profile_values(["5304218", "4066625"]).date_formats == ()  # 7-digit ids


def test_messy_file_proposal() -> None:
    p = propose_from_csv(MESSY)
    by_column = {g.column: g for g in p.columns}
    assert by_column["Cust ID"].field is None  # the record id, not a linkage field
    assert p.mapping["record_id"] == "Cust ID"
    assert by_column["Full Name"].field == "first_name+last_name"
    assert by_column["D.O.B."].confidence == "high"
    assert by_column["E-mail Address"].type == "email"
    assert by_column["Notes"].field is None
    fields = {f["name"]: f for f in p.schema["fields"]}
    assert list(fields) == [
        "first_name",
        "last_name",
        "date_of_birth",
        "email",
        "phone",
        "postcode",
        "address",
        "city",
        "state",
        "gender",
        "national_id",
    ]
    assert fields["email"]["exact"] and fields["email"]["bloom"]
    assert fields["gender"] == {"name": "gender", "type": "gender", "exact": True}
    src = p.mapping["fields"]
    assert src["first_name"] == {"column": "Full Name", "part": "first", "name_order": "last_first"}
    assert src["date_of_birth"] == {"column": "D.O.B.", "date_formats": ["%d/%m/%Y"]}
    assert src["address"] == {"column": ["Addr Line 1", "addr line 2"]}
    assert [k["name"] for k in p.schema["match_keys"]] == ["name_dob", "blk_sx_yob", "blk_sx_pc"]
    assert any("phone_region" in note for note in p.notes)
    schema = load_schema(p.schema)  # always a valid schema and mapping
    load_mapping(p.mapping, schema)


def test_first_and_last_columns_win_over_a_name_column() -> None:
    p = propose(["name", "fname", "lname"], [["x y", "x", "y"]])
    assert [f["name"] for f in p.schema["fields"]] == ["first_name", "last_name"]
    assert p.columns[0].field is None


def test_second_column_of_a_kind_keeps_its_own_name() -> None:
    p = propose(["Home Phone", "Mobile Phone"], [["020 7946 0958", "07700 900123"]])
    assert [f["name"] for f in p.schema["fields"]] == ["phone", "mobile_phone"]


def test_write_proposal_refuses_to_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "schema.toml"
    _, mapping_path = write_proposal(MESSY, out)
    assert mapping_path == tmp_path / "schema_messy.mapping.toml"
    with pytest.raises(HashmatchError, match="exists; refusing to overwrite it") as err:
        write_proposal(MESSY, out)
    assert err.value.hint == "pass --force (force=True) to replace it, or choose another path"
    write_proposal(MESSY, out, force=True)
    with pytest.raises(HashmatchError, match="expected a .toml or .json output"):
        write_proposal(MESSY, tmp_path / "s.yaml")


def test_unreadable_inputs(tmp_path: Path) -> None:
    with pytest.raises(InputDataError, match="file not found"):
        propose_from_csv(tmp_path / "none.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(InputDataError, match="empty or has no header"):
        propose_from_csv(tmp_path / "empty.csv")
    (tmp_path / "latin.csv").write_bytes("name\nJos\xe9\n".encode("latin-1"))
    with pytest.raises(InputDataError, match="not decodable") as err:
        propose_from_csv(tmp_path / "latin.csv")
    assert "--input-encoding" in (err.value.hint or "")
    assert propose_from_csv(tmp_path / "latin.csv", encoding="latin-1").schema["fields"]
    (tmp_path / "junk.csv").write_text("notes,misc\nabc,def\n")
    with pytest.raises(HashmatchError, match="no column of .* was recognised"):
        write_proposal(tmp_path / "junk.csv", tmp_path / "s.toml")


def test_every_candidate_date_format_is_one_the_normaliser_accepts() -> None:
    assert [f for f in DATE_CANDIDATES if date_format_problem(f)] == []


@pytest.mark.parametrize("column", ["caller_ref", "pid", "acct", "Customer No", "rec_id"])
def test_unique_id_like_columns_become_the_record_id(column: str) -> None:
    rows = [[f"X{i:04d}", "Ann", "1980"] for i in range(20)]
    p = propose([column, "first", "birth_year"], rows)
    assert p.mapping["record_id"] == column
    assert [f["name"] for f in p.schema["fields"]] == ["first_name", "date_of_birth"]
    assert p.mapping["fields"]["date_of_birth"] == {"column": "birth_year", "date_formats": ["%Y"]}


def test_a_repeated_id_column_is_not_the_record_id() -> None:
    p = propose(["household_id", "first"], [["H1", "Ann"], ["H1", "Bob"]])
    assert "record_id" not in p.mapping
    assert p.columns[0].field == "household_id" and p.columns[0].type == "id"


@pytest.mark.parametrize(
    ("column", "is_id"),
    [
        ("Household ID", True),
        ("HouseholdID", True),
        ("custid", True),
        ("paid", False),
        ("valid", False),
        ("member_no", True),
        ("acct", True),
        ("notes", False),
    ],
)
def test_identifier_names(column: str, is_id: bool) -> None:
    p = propose([column], [["A1"], ["A1"]])  # repeated values: never the record id
    assert (p.columns[0].type == "id") is is_id


def test_a_headerless_file_is_refused_without_echoing_its_first_row(tmp_path: Path) -> None:
    data = tmp_path / "noheader.csv"
    data.write_text("Zebediah,Quixley,1961-04-23,zeb@pukeko.nz\nOtto,Vantrobe,1979-11-05,o@t.nz\n")
    with pytest.raises(InputDataError, match="first row looks like data") as err:
        write_proposal(data, tmp_path / "s.toml")
    assert "Quixley" not in str(err.value) and "pukeko" not in str(err.value)
    assert not (tmp_path / "s.toml").exists()
    assert propose(["address_1", "zip5", "line2"], [["a", "b", "c"]]).schema  # real headers


def test_identity_fields_are_stable_and_names_may_swap() -> None:
    p = propose(
        ["first_name", "last_name", "dob", "city"],
        [["Anna", "Smith", "1980-01-02", "Leeds"], ["Bob", "Jones", "1975-03-04", "York"]],
    )
    fields = {f["name"]: f for f in p.schema["fields"]}
    assert fields["first_name"]["stable"] is True
    assert fields["first_name"]["swaps_with"] == "last_name"
    assert fields["date_of_birth"]["stable"] is True
    assert "stable" not in fields["last_name"]  # a surname changes at marriage
    schema = load_schema(p.schema)
    assert schema.swap_pairs == (("first_name", "last_name"),)
