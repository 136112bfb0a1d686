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
        "national_id",
    ]  # state and gender hold a handful of values: left out
    assert by_column["STATE"].field is None and "left out" in by_column["STATE"].evidence
    assert by_column["Sex"].field is None
    assert fields["email"]["exact"] and fields["email"]["bloom"]
    assert fields["first_name"]["normalize"] == {"nicknames": True}
    # recommended; no value of a 12-row file repeats enough to need noise (test_noise.py)
    assert p.schema["hardening"] == "recommended"
    assert any(n.startswith("no noise: ") for n in p.notes)
    src = p.mapping["fields"]
    assert src["first_name"] == {"column": "Full Name", "part": "first", "name_order": "last_first"}
    assert src["date_of_birth"] == {"column": "D.O.B.", "date_formats": ["%d/%m/%Y"]}
    assert src["address"] == {"column": ["Addr Line 1", "addr line 2"]}
    assert [k["name"] for k in p.schema["match_keys"]] == [
        "name_dob", "blk_sx_yob", "blk_fsx_yob", "blk_sx_pc"]
    assert src["phone"] == {"column": "Phone #", "phone_region": "GB"}  # told from the numbers
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


def _people(n: int, **columns: object) -> tuple[list[str], list[list[str]]]:
    """``n`` rows of made-up people with the given extra columns (callables of i)."""
    first = ["Anna", "Bob", "Carla", "Dev", "Eve", "Farid", "Gina", "Hugo", "Ines", "Jon"]
    header = ["first_name", "last_name", *columns]
    rows = [
        [first[i % 10], f"Surname{i}", *(str(f(i)) for f in columns.values())]  # type: ignore[operator]
        for i in range(n)
    ]
    return header, rows


def test_phone_region_is_told_from_the_numbers() -> None:
    areas = [212, 415, 617, 312, 206, 303, 512]
    header, rows = _people(
        300, phone=lambda i: f"({areas[i % 7]}) 555-01{i % 100:02d}" if i % 5 else ""
    )
    p = propose(header, rows)
    assert p.mapping["fields"]["phone"] == {"column": "phone", "phone_region": "US"}
    uk = propose(["tel"], [["020 7946 0958"], ["0161 496 0000"], ["0113 496 0777"]])
    assert uk.mapping["fields"]["phone"]["phone_region"] == "GB"
    international = propose(["tel"], [["+44 20 7946 0958"], ["+1 212 555 0136"]])
    assert international.mapping["fields"]["phone"] == "tel"  # no region needed
    unknown = propose(["tel"], [["1234 5678 9012 345"], ["9876 5432 1098 765"]])
    assert "phone_region" not in str(unknown.mapping)
    assert any("set phone_region in the mapping" in n for n in unknown.notes)


def test_zip_plus_four_is_folded_when_seen() -> None:
    header, rows = _people(50, zip=lambda i: f"{10000 + i}-{1000 + i}" if i % 2 else 10000 + i)
    p = propose(header, rows)
    fields = {f["name"]: f for f in p.schema["fields"]}
    assert fields["postcode"]["normalize"] == {"zip5": True}
    plain = propose(*_people(50, zip=lambda i: 10000 + i))
    assert "normalize" not in {f["name"]: f for f in plain.schema["fields"]}["postcode"]
    us = propose(*_people(50, zip=lambda i: 10000 + i), country="US")
    assert {f["name"]: f for f in us.schema["fields"]}["postcode"]["normalize"] == {"zip5": True}


def test_country_settles_an_ambiguous_day_month_order() -> None:
    header, rows = _people(40, dob=lambda i: f"{1 + i % 12:02d}/{1 + i % 12:02d}/19{50 + i}")
    assert propose(header, rows).mapping["fields"]["date_of_birth"]["date_formats"][0] == (
        "%d/%m/%Y"
    )
    us = propose(header, rows, country="us")
    assert us.mapping["fields"]["date_of_birth"]["date_formats"][0] == "%m/%d/%Y"
    assert any("month first, as US writes dates" in n for n in us.notes)
    with pytest.raises(ValueError, match="ISO 3166"):
        propose(header, rows, country="Narnia")


def test_low_cardinality_fields_are_left_out_and_explained() -> None:
    cities = ["Leeds", "York", "Bath", "Hull", "Ely"]
    header, rows = _people(
        400,
        city=lambda i: cities[i % 5],
        town_code=lambda i: f"T{i % 7}",
        dob=lambda i: f"19{50 + i % 40}-0{1 + i % 9}-1{i % 10}",
    )
    p = propose(header, rows)
    names = [f["name"] for f in p.schema["fields"]]
    assert "city" not in names and "date_of_birth" in names
    assert any(n.startswith("city is not a linkage field: few distinct values") for n in p.notes)
    assert "city" not in p.mapping["fields"]
    many = propose(*_people(400, city=lambda i: f"Town{i}"))
    assert "city" in [f["name"] for f in many.schema["fields"]]  # 400 distinct towns: kept
    # 150 towns over 400 rows: no town holds 5%, but most values repeat: a token only
    repeats = propose(*_people(400, city=lambda i: f"Town{i % 150}"))
    city = {f["name"]: f for f in repeats.schema["fields"]}["city"]
    assert city == {"name": "city", "type": "text", "exact": True}
    assert any(n.startswith("city: values repeat") for n in repeats.notes)


def test_mapping_sources_keep_left_out_fields_for_an_agreed_schema() -> None:
    from hashmatch.schema.column_guess import judge_columns
    from hashmatch.schema.infer import mapping_sources

    header, rows = _people(200, state=lambda i: ["CA", "NY"][i % 2])
    sources = mapping_sources(judge_columns(header, rows))
    assert sources.fields["state"] == {"column": "state"}  # mapping new may still map it
    assert "state" in sources.omitted and sources.types["state"] == "text"
