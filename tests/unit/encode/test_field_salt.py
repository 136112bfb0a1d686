"""A field's own ``salt``: only that field's segment changes, as hardening.salt would."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from hashmatch.encode import LinkageSecret, encode_records
from hashmatch.encode.harden import unpack_bits
from hashmatch.encode.keys import RowKey
from hashmatch.schema import Schema, load_schema

SECRET = LinkageSecret(bytes(range(32)))
PEOPLE = [("Ann", "Smith", "1951-11-04"), ("Ann", "Smith", "1951-02-01"),
          ("Ann", "Smith", "1952-11-04"), ("Ann", "Smith", ""),
          ("Robert", "Jones", "1962-01-31")]  # fmt: skip


def _schema(first_salt: str | None, hardening: Any = "recommended") -> Schema:
    first: dict[str, Any] = {"name": "first_name", "type": "name", "bloom": True}
    if first_salt is not None:
        first["salt"] = first_salt
    return load_schema({
        "version": 1, "clk": {"bits": 512}, "hardening": hardening,
        "fields": [first, {"name": "last_name", "type": "name", "bloom": True},
                   {"name": "dob", "type": "date", "bloom": True}],
    })  # fmt: skip


def _bits(schema: Schema) -> npt.NDArray[np.uint8]:
    records = [{"first_name": f, "last_name": s, "dob": d} for f, s, d in PEOPLE]
    batch = encode_records(records, schema=schema, secret=SECRET, party="p", chunk_rows=2,
                           row_key=RowKey(bytes(32)))
    return unpack_bits(batch.clks)


def _segment(schema: Schema, bits: npt.NDArray[np.uint8], name: str) -> npt.NDArray[np.uint8]:
    seg = next(s for s in schema.segments if s.field == name)
    return bits[:, seg.start : seg.start + seg.bits]


def test_only_the_salted_fields_segment_changes() -> None:
    plain, salted = _schema(None), _schema("dob:year")
    a, b = _bits(plain), _bits(salted)
    for name in ("last_name", "dob"):  # byte-identical: same layout, same keys
        assert np.array_equal(_segment(plain, a, name), _segment(salted, b, name))
    first_a, first_b = _segment(plain, a, "first_name"), _segment(salted, b, "first_name")
    assert not np.array_equal(first_a, first_b)
    assert all(first_b[i].any() for i in range(len(PEOPLE)))  # present names keep bits


def test_equal_salts_and_values_agree_different_salts_do_not() -> None:
    schema = _schema("dob:year")
    first = _segment(schema, _bits(schema), "first_name").astype(np.int64)
    assert np.array_equal(first[0], first[1])  # same name, same year: same segment
    for other in (2, 3):  # another year; a missing birth date (the salt "")
        shared = int((first[0] & first[other]).sum())
        dice = 2 * shared / int(first[0].sum() + first[other].sum())
        assert dice < 0.5  # unrelated filters share only chance bits (~fill)


def test_a_missing_salt_is_one_group_and_the_salt_is_the_global_one() -> None:
    """The field salt with the same setting gives exactly hardening.salt's segment."""
    own = _schema("dob:year", hardening={"permute": True, "even": True})
    glob = _schema(None, hardening={"permute": True, "even": True, "salt": "dob:year"})
    assert np.array_equal(_segment(own, _bits(own), "first_name"),
                          _segment(glob, _bits(glob), "first_name"))


def test_the_fingerprint_changes_only_when_a_salt_is_set() -> None:
    assert _schema(None).fingerprint != _schema("dob:year").fingerprint
    assert _schema("dob:year").fingerprint != _schema("dob").fingerprint
    from hashmatch.schema.fingerprint import schema_to_dict

    assert all("salt" not in f for f in schema_to_dict(_schema(None))["fields"])
