"""Two tiny parties (a CRM and a call centre) for the tests of the Python facade.

Four people are on both books (spelt a little differently), one is only in the CRM, one
only in the call centre, and the CRM has one row without a surname, which the schema
requires: it is rejected at encoding. The registry backends (``registry_url``, on
SQLite and PostgreSQL) come from ``tests/backends.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

import hashmatch as hm
from tests.backends import postgres_server, registry_url  # noqa: F401 - shared fixtures

FACADE_SCHEMA: dict[str, Any] = {
    "version": 1,
    "name": "facade-tests",
    "clk": {"bits": 512},
    "fields": [
        {"name": "first_name", "type": "name", "bloom": True},
        {"name": "last_name", "type": "name", "bloom": {"weight": 2}, "required": True},
        {"name": "dob", "type": "date", "bloom": True, "stable": True},
        {"name": "email", "type": "email", "bloom": True, "exact": True},
    ],
}
CRM = [  # customer_id, first, last, birth date, e-mail; the person is the id's number
    ("c1", "Anna", "Schmidt", "1951-11-04", "anna.schmidt@example.org"),
    ("c2", "Robert", "Jones", "1962-01-31", "rjones@example.org"),
    ("c3", "Chloe", "Dubois", "1970-05-05", ""),
    ("c4", "Dimitri", "Petrov", "1980-02-12", "dpetrov@example.org"),
    ("c5", "Eleanor", "Whitfield", "1990-07-23", "ewhit@example.org"),
    ("c6", "Nobody", "", "1999-09-09", "nobody@example.org"),  # rejected: no surname
]
CALLS = [  # caller, given, family, born (day/month/year), mail
    ("k1", "Ana", "Schmidt", "04/11/1951", "anna.schmidt@example.org"),
    ("k2", "Bob", "Jones", "31/01/1962", ""),
    ("k3", "Chloe", "Dubios", "05/05/1970", ""),
    ("k4", "Dmitri", "Petrov", "12/02/1980", "dpetrov@example.org"),
    ("k7", "Graham", "Okonkwo", "03/03/1943", "gok@example.org"),
]
CRM_MAPPING = {"record_id": "customer_id", "fields": {"dob": {"date_formats": ["%Y-%m-%d"]}}}
CALLS_MAPPING = {
    "record_id": "caller",
    "fields": {
        "first_name": {"column": "given"},
        "last_name": {"column": "family"},
        "dob": {"column": "born", "date_formats": ["%d/%m/%Y"]},
        "email": {"column": "mail"},
    },
}
#: Pairs (crm id, calls id) of the same person.
SAME_PERSON = {("c1", "k1"), ("c2", "k2"), ("c3", "k3"), ("c4", "k4")}
#: An explicit threshold, so the tiny inputs do not depend on the automatic choice.
THRESHOLD = 0.6


@dataclass(frozen=True)
class FacadeParties:
    """The constants above, for tests (a fixture: test modules do not import conftest)."""

    schema: dict[str, Any]
    crm: list[tuple[str, ...]]
    calls: list[tuple[str, ...]]
    crm_mapping: dict[str, Any]
    calls_mapping: dict[str, Any]
    same_person: set[tuple[str, str]]
    threshold: float

    def crm_records(self) -> list[dict[str, str]]:
        keys = ("customer_id", "first_name", "last_name", "dob", "email")
        return [dict(zip(keys, row, strict=True)) for row in self.crm]

    def calls_records(self) -> list[dict[str, str]]:
        keys = ("caller", "given", "family", "born", "mail")
        return [dict(zip(keys, row, strict=True)) for row in self.calls]

    def encode(self, party: str, secret: hm.LinkageSecret) -> hm.EncodedBatch:
        """The batch of party "crm" or "calls"."""
        records, mapping = (
            (self.crm_records(), self.crm_mapping)
            if party == "crm"
            else (self.calls_records(), self.calls_mapping)
        )
        return hm.encode(records, schema=self.schema, secret=secret, party=party, mapping=mapping)


@pytest.fixture(scope="session")
def facade_parties() -> FacadeParties:
    return FacadeParties(
        FACADE_SCHEMA, CRM, CALLS, CRM_MAPPING, CALLS_MAPPING, SAME_PERSON, THRESHOLD
    )


@pytest.fixture(scope="module")
def facade_secret() -> hm.LinkageSecret:
    return hm.LinkageSecret(bytes(range(32)))


@pytest.fixture(scope="module")
def crm_batch(facade_parties: FacadeParties, facade_secret: hm.LinkageSecret) -> hm.EncodedBatch:
    return facade_parties.encode("crm", facade_secret)


@pytest.fixture(scope="module")
def calls_batch(facade_parties: FacadeParties, facade_secret: hm.LinkageSecret) -> hm.EncodedBatch:
    return facade_parties.encode("calls", facade_secret)
