"""profile_file: per-field counts exactly as encoding would see them, and never a value."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from hashmatch.encode import LinkageSecret, encode_records
from hashmatch.encode.profiling import profile_file
from hashmatch.errors import InputDataError

SCHEMA = {
    "version": 1,
    "fields": [
        {"name": "surname", "type": "name", "bloom": True, "required": True},
        {"name": "dob", "type": "date", "bloom": True},
        {"name": "email", "type": "email", "exact": True},
        {"name": "phone", "type": "phone", "exact": True},  # no column for it below
    ],
}
MAPPING = {"fields": {"surname": {"column": "last"}, "dob": {"column": "birth"}}}
ROWS = [
    {"last": "Zebulon-Quist", "birth": "1980-02-03", "email": "zq@mailbox.org"},
    {"last": "", "birth": "1980-02-31", "email": "not-an-email"},
    {"last": "Marchetti", "birth": "N/A", "email": ""},
    {"last": "N/A", "birth": "1975-07-07", "email": "mm@posteo.de"},
]


def test_counts_per_field_by_outcome_and_reason() -> None:
    report = profile_file(ROWS, SCHEMA, MAPPING)
    assert report.rows_read == report.rows_usable == 4
    surname, dob, email, phone = (report.fields[n] for n in ("surname", "dob", "email", "phone"))
    assert (surname.valid, surname.missing) == (2, Counter({"empty": 1, "placeholder:na": 1}))
    assert (dob.valid, dob.invalid, dob.missing) == (
        2,
        Counter({"date.impossible": 1}),
        Counter({"placeholder:na": 1}),
    )
    assert (email.valid, email.invalid, email.filled) == (2, Counter({"email.syntax": 1}), 3)
    assert phone.absent and phone.missing == Counter({"absent": 4})
    assert report.required == ("surname",) and report.absent_fields == ("phone",)


def test_the_profile_predicts_what_encoding_rejects() -> None:
    report = profile_file(ROWS, SCHEMA, MAPPING)
    batch = encode_records(
        ROWS, schema=SCHEMA, secret=LinkageSecret(bytes(32)), party="crm", mapping=MAPPING
    )
    surname = report.fields["surname"]
    assert batch.summary.rejected == surname.rows - surname.valid == 2
    assert batch.summary.encoded == surname.valid


def test_the_report_holds_counts_and_codes_only() -> None:
    text = json.dumps(profile_file(ROWS, SCHEMA, MAPPING).to_dict())
    for row in ROWS:
        for value in row.values():
            if len(value) > 3:  # short ones ("N/A") are also reason names
                assert value not in text


def test_a_csv_file_counts_bad_rows_apart(tmp_path: Path) -> None:
    path = tmp_path / "party.csv"
    path.write_text("last,birth,email\nQuist,1980-02-03,a@b.org\nonly,two\nRossi,,\n")
    report = profile_file(path, SCHEMA, MAPPING)
    assert report.rows_read == 3 and report.rows_usable == 2
    assert report.bad_rows == Counter({"row.column_count": 1})
    assert report.fields["surname"].valid == 2
    assert report.to_dict()["bad_rows"] == {"row.column_count": 1}


def test_a_file_without_data_rows_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("last,birth,email\n")
    with pytest.raises(InputDataError, match="no data rows"):
        profile_file(path, SCHEMA, MAPPING)


def test_chunking_does_not_change_the_counts() -> None:
    rows = ROWS * 7
    whole = profile_file(rows, SCHEMA, MAPPING).to_dict()
    assert profile_file(rows, SCHEMA, MAPPING, chunk_rows=3).to_dict() == whole
