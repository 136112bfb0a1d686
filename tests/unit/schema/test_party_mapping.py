"""mapping new: a party's columns matched onto an agreed schema's fields."""

from __future__ import annotations

from pathlib import Path

import pytest

from hashmatch.errors import HashmatchError
from hashmatch.schema import load_mapping, load_schema
from hashmatch.schema.party_mapping import propose_mapping, write_mapping_proposal

FEBRL_LIKE = {
    "version": 1,
    "fields": [
        {"name": "given_name", "type": "name", "bloom": True},
        {"name": "surname", "type": "name", "bloom": True},
        {"name": "date_of_birth", "type": "date", "bloom": True},
        {"name": "soc_sec_id", "type": "id", "exact": True},
        {"name": "suburb", "type": "text", "bloom": True},
        {"name": "contact", "type": "phone", "exact": True},
    ],
}
HEADER = ["Member No", "Full Name", "D.O.B.", "SSN", "Phone", "Notes"]
ROWS = [
    [f"M{i:03d}", f"Surname{i}, Anna", f"{1 + i % 28:02d}/0{1 + i % 9}/1970",
     f"QX{100000 + i}A", f"020 7946 0{100 + i}", "vip"]
    for i in range(30)
]


def test_fields_are_found_by_meaning_then_by_type() -> None:
    schema = load_schema(FEBRL_LIKE)
    p = propose_mapping(HEADER, ROWS, schema)
    assert p.mapping["record_id"] == "Member No"
    fields = p.mapping["fields"]
    assert fields["given_name"] == {"column": "Full Name", "part": "first",
                                    "name_order": "last_first"}
    assert fields["surname"]["part"] == "last"
    assert fields["date_of_birth"] == {"column": "D.O.B.", "date_formats": ["%d/%m/%Y"]}
    assert fields["soc_sec_id"] == "SSN"  # ssn and soc_sec_id both mean a national id
    assert fields["contact"] == {"column": "Phone", "phone_region": "GB"}  # by type
    how = {f: h for f, _, h in p.found}
    assert how["given_name"] == "name (first_name)" and how["contact"] == "type (phone)"
    assert p.absent == ("suburb",)
    assert any("no column found for suburb" in n for n in p.notes)
    load_mapping(p.mapping, schema)  # always loads


def test_a_column_is_used_once_and_types_are_checked() -> None:
    schema = load_schema({
        "version": 1,
        "fields": [
            {"name": "dob", "type": "date", "bloom": True},
            {"name": "birth_date", "type": "date", "bloom": True},
        ],
    })
    p = propose_mapping(["dob"], [["1970-01-02"], ["1980-03-04"]], schema)
    assert list(p.mapping["fields"]) == ["dob"] and p.absent == ("birth_date",)


def test_write_mapping_proposal(tmp_path: Path) -> None:
    data = tmp_path / "party.csv"
    data.write_text("\n".join(",".join(f'"{c}"' for c in r) for r in [HEADER, *ROWS]) + "\n")
    out = tmp_path / "party.mapping.toml"
    p = write_mapping_proposal(data, FEBRL_LIKE_TOML(tmp_path), out)
    assert out.is_file() and p.found
    text = out.read_text()
    assert "Surname" not in text and "QX1" not in text  # names and formats, no value
    with pytest.raises(HashmatchError, match="exists; refusing to overwrite it"):
        write_mapping_proposal(data, FEBRL_LIKE_TOML(tmp_path), out)
    with pytest.raises(HashmatchError, match="--country"):
        write_mapping_proposal(data, FEBRL_LIKE_TOML(tmp_path), out, force=True, country="XX1")
    junk = tmp_path / "junk.csv"
    junk.write_text("notes,misc\nabc,def\n")
    with pytest.raises(HashmatchError, match="matches a field of the schema"):
        write_mapping_proposal(junk, FEBRL_LIKE_TOML(tmp_path), tmp_path / "j.toml")


def FEBRL_LIKE_TOML(folder: Path) -> Path:  # noqa: N802 - reads like the constant above
    import tomli_w

    path = folder / "schema.toml"
    if not path.exists():
        path.write_text(tomli_w.dumps(FEBRL_LIKE))
    return path
