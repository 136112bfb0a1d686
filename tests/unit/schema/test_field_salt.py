"""Validation of a field's ``salt``: every problem reported, each naming the field."""

from __future__ import annotations

from typing import Any

import pytest

from hashmatch.errors import SchemaError
from hashmatch.schema import load_schema


def _doc(first: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"version": 1, "fields": [
        {"name": "first_name", "type": "name", "bloom": True, **first},
        {"name": "last_name", "type": "name", "bloom": True},
        {"name": "dob", "type": "date", "bloom": True},
        {"name": "email", "type": "email", "exact": True},
    ], **top}  # fmt: skip


def _messages(doc: dict[str, Any]) -> list[str]:
    with pytest.raises(SchemaError) as err:
        load_schema(doc)
    return [f"{p.path}: {p.message}" for p in err.value.problems]


def test_a_valid_salt_loads() -> None:
    schema = load_schema(_doc({"salt": "dob:year"}))
    assert schema.field_named("first_name").salt == "dob:year"
    assert schema.field_named("last_name").salt is None


@pytest.mark.parametrize(
    ("salt", "expected"),
    [
        ("nope:year", "no field named 'nope'"),
        ("dob:decade", "unknown transform"),
        ("", 'expected "field" or "field:transform"'),
        (1970, 'expected "field" or "field:transform"'),
        ("first_name:initial", "its own value"),
    ],
)
def test_bad_salts_name_the_field(salt: Any, expected: str) -> None:
    messages = _messages(_doc({"salt": salt}))
    assert len(messages) == 1
    assert messages[0].startswith("fields[0].salt: field 'first_name': ")
    assert expected in messages[0]


def test_salt_needs_a_bloom_field_and_no_global_salt() -> None:
    doc = _doc({"salt": "dob:year"}, hardening={"salt": "dob:year"})
    doc["fields"][3]["salt"] = "dob"
    messages = _messages(doc)
    assert any(m.startswith("fields[0].salt: field 'first_name': hardening.salt") for m in messages)
    assert any(m.startswith("fields[3].salt: field 'email': salt needs a bloom") for m in messages)


def test_a_swap_pair_needs_one_salt() -> None:
    messages = _messages(_doc({"salt": "dob:year", "swaps_with": "last_name"}))
    assert messages == ["fields[0].salt: field 'first_name': its swap partner 'last_name' must "
                        "have the same salt (their filters are compared with each other)"]
    doc = _doc({"swaps_with": "last_name"})
    doc["fields"][1]["salt"] = "dob:year"
    assert any("fields[0].salt: field 'first_name': its swap partner 'last_name' is salted"
               in m for m in _messages(doc))
    doc["fields"][0]["salt"] = "dob:year"
    assert load_schema(doc).field_named("first_name").salt == "dob:year"
