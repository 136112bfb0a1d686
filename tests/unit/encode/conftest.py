"""A tiny schema, secret and party file shared by the encoding tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hashmatch.encode import LinkageSecret
from hashmatch.schema import Schema, load_schema

SCHEMA_DOC: dict[str, Any] = {
    "version": 1,
    "name": "tiny",
    "clk": {"bits": 256},
    "fields": [
        {"name": "first_name", "type": "name", "bloom": True},
        {"name": "last_name", "type": "name", "bloom": {"weight": 2}, "required": True},
        {"name": "dob", "type": "date", "bloom": True},
        {"name": "email", "type": "email", "bloom": True, "exact": True},
    ],
    "match_keys": [
        {"name": "ln_yob", "parts": ["last_name", "dob:year"]},
        {"name": "blk", "parts": ["last_name:soundex"], "purpose": "block"},
    ],
}

CSV = (
    "id,first_name,last_name,dob,email\n"
    "a1,Ann,Smith,1951-11-04,ann@acme.co.uk\n"
    "a2,Bob,Jones,1962-01-31,\n"
    "a3,Cy,,1970-05-05,cy@acme.co.uk\n"
    "a4,Di,Brown,1980-02-31,di@acme.co.uk\n"
    "a5,Ed,Green,1990,ed@acme.co.uk\n"
)


@pytest.fixture
def schema() -> Schema:
    return load_schema(SCHEMA_DOC)


@pytest.fixture
def secret() -> LinkageSecret:
    return LinkageSecret(bytes(range(32)))


@pytest.fixture
def party_csv(tmp_path: Path) -> Path:
    path = tmp_path / "party.csv"
    path.write_text(CSV, encoding="utf-8")
    return path
