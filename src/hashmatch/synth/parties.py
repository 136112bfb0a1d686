"""The synthetic parties (who holds whom, in which columns and formats) and their schema.

Four organisations that never agreed on a data model: a CRM with tidy separate columns,
a call centre with one ``Last, First`` name field and US-style dates, a catalogue that
only kept the birth year and abbreviates streets, and a partner that writes E.164
numbers and European dates. Each spec carries its mapping file (what the party would
write for ``hashmatch encode --mapping``) next to the code that writes its rows, so the
two cannot drift apart. All parties share one linkage schema, ``SCHEMA_TOML``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from random import Random
from typing import Any

from hashmatch.synth.corrupt import Observed
from hashmatch.synth.formats import (
    date_text,
    full_name_last_first,
    phone_any,
    phone_national,
    street_line,
    unique_hex_ids,
    unique_ids,
    zip_text,
)

#: The linkage schema every synthetic party encodes under (docs/dev/architecture.md),
#: written out as ``schema.toml``; kept as text so the file carries its comments.
SCHEMA_TOML = """\
version = 1
name = "hashmatch-synth"

[clk]
bits = 1024

# Names carry most of the evidence, so they get the most CLK bits. A first name and a
# birth date are stable: when two records clearly disagree on one, they are unlikely to
# be the same person (household members and twins share everything else). A surname is
# not: it changes at marriage. Forms get first and last name the wrong way round now and
# then: `swaps_with` lets the coordinator recognise a swapped pair.
[[fields]]
name = "first_name"
type = "name"
normalize = { nicknames = true }   # Bill and William agree
bloom = { weight = 2.0 }
stable = true
swaps_with = "last_name"

[[fields]]
name = "last_name"
type = "name"
bloom = { weight = 2.0 }

[[fields]]
name = "date_of_birth"
type = "date"
bloom = { weight = 1.5 }   # y/m/d features: a year-only date still agrees on the year
stable = true

# E-mail and phone: an exact keyed token (strong evidence) and a small Bloom filter
# (tolerates a typo). Households and twins may share them, so they never decide alone.
[[fields]]
name = "email"
type = "email"
exact = true
bloom = { weight = 1.0 }

[[fields]]
name = "phone"
type = "phone"
exact = true
bloom = { weight = 0.5 }

[[fields]]
name = "address"
type = "address"
bloom = { weight = 1.5 }

[[fields]]
name = "postcode"
type = "postcode"
normalize = { zip5 = true, country = "US" }   # ZIP+4 and ZIP agree
bloom = { weight = 0.5 }

[[fields]]
name = "city"
type = "text"
bloom = { weight = 0.5 }

# Twins agree on surname + date of birth: evidence, never proof on its own.
[[match_keys]]
name = "surname_dob"
parts = ["last_name", "date_of_birth"]
purpose = "match"

# Survives a married-name change.
[[match_keys]]
name = "first_dob"
parts = ["first_name", "date_of_birth"]
purpose = "match"

# Blocking: coarse keys that only propose candidate pairs. Two of them, so a record
# with a changed or mistyped surname is still proposed through its first name.
[[match_keys]]
name = "blk_sx_yob"
parts = ["last_name:soundex", "date_of_birth:year"]
purpose = "block"

[[match_keys]]
name = "blk_fsx_yob"
parts = ["first_name:soundex", "date_of_birth:year"]
purpose = "block"
"""

Render = Callable[[Observed, Random], dict[str, str]]


@dataclass(frozen=True)
class PartySpec:
    """One synthetic party."""

    name: str
    share: float  # probability that a given person is on this party's books
    description: str  # one paragraph for README.txt
    columns: tuple[str, ...]  # file order; the first is the record id
    mapping: Mapping[str, Any]  # the party's mapping file content
    render: Render  # observed person -> cells (all columns but the id)
    make_ids: Callable[[int, Random], list[str]]

    @property
    def id_column(self) -> str:
        return self.columns[0]

    @cached_property
    def sources(self) -> dict[str, str]:
        """Schema field -> the column holding it, read off the mapping."""
        return {field: src["column"] for field, src in self.mapping["fields"].items()}

    @property
    def fields(self) -> frozenset[str]:
        return frozenset(self.mapping["fields"])

    @property
    def year_only(self) -> bool:
        """Whether the party keeps only the year of birth."""
        source = self.mapping["fields"].get("date_of_birth", {})
        return list(source.get("date_formats", self.mapping.get("date_formats", []))) == ["%Y"]


def _crm(o: Observed, rng: Random) -> dict[str, str]:
    a = o.address
    return {
        "first_name": o.given,
        "last_name": o.surname,
        "email": o.email,
        "phone": phone_national(o.phone),
        "dob": date_text(o.dob, "%Y-%m-%d"),
        "street": street_line(a, abbreviate=rng.random() < 0.2, rng=rng),
        "city": a.town,
        "state": a.state,
        "zip_code": zip_text(a, plus4=rng.random() < 0.1),
    }


def _callcentre(o: Observed, rng: Random) -> dict[str, str]:
    return {
        "full_name": full_name_last_first(o.given, o.middle, o.surname, rng),
        "phone": phone_any(o.phone, rng),
        "dob": date_text(o.dob, "%m/%d/%Y"),
        "zip": o.address.zip5,
    }


def _catalogue(o: Observed, rng: Random) -> dict[str, str]:
    a = o.address
    return {
        "name_first": o.given,
        "name_last": o.surname,
        "address_line": street_line(a, abbreviate=rng.random() < 0.9, rng=rng),
        "town": a.town,
        "zip": zip_text(a, plus4=rng.random() < 0.7),
        "birth_year": f"{o.dob[0]:04d}",
    }


def _partner(o: Observed, rng: Random) -> dict[str, str]:
    return {
        "first": o.given,
        "surname": o.surname,
        "email": o.email,
        "mobile": o.phone,
        "birth_date": date_text(o.dob, "%d.%m.%Y"),
    }


PARTIES: Mapping[str, PartySpec] = {
    "crm": PartySpec(
        name="crm",
        share=0.70,
        description="Customer relationship system: separate name columns, ISO dates "
        "(YYYY-MM-DD), national phone format (206) 555-0123, full street "
        "types (Street, Avenue), state, ZIP (sometimes ZIP+4).",
        columns=(
            "customer_id",
            "first_name",
            "last_name",
            "email",
            "phone",
            "dob",
            "street",
            "city",
            "state",
            "zip_code",
        ),
        mapping={
            "record_id": "customer_id",
            "phone_region": "US",
            "date_formats": ["%Y-%m-%d"],
            "fields": {
                "first_name": {"column": "first_name"},
                "last_name": {"column": "last_name"},
                "email": {"column": "email"},
                "phone": {"column": "phone"},
                "date_of_birth": {"column": "dob"},
                "address": {"column": "street"},
                "city": {"column": "city"},
                "postcode": {"column": "zip_code"},
            },
        },
        render=_crm,
        make_ids=lambda n, rng: unique_ids(n, rng, prefix="C", digits=7),
    ),
    "callcentre": PartySpec(
        name="callcentre",
        share=0.50,
        description="Call centre: one 'Last, First' name column (sometimes with a middle "
        "name or initial), US dates MM/DD/YYYY (agents sometimes type the day "
        "first), phone numbers as typed (dashes, dots, +1...), 5-digit ZIP.",
        columns=("caller_ref", "full_name", "phone", "dob", "zip"),
        mapping={
            "record_id": "caller_ref",
            "phone_region": "US",
            "date_formats": ["%m/%d/%Y"],
            "fields": {
                "first_name": {"column": "full_name", "part": "first", "name_order": "last_first"},
                "last_name": {"column": "full_name", "part": "last", "name_order": "last_first"},
                "phone": {"column": "phone"},
                "date_of_birth": {"column": "dob"},
                "postcode": {"column": "zip"},
            },
        },
        render=_callcentre,
        make_ids=lambda n, rng: unique_ids(n, rng, prefix="CC-", digits=6),
    ),
    "catalogue": PartySpec(
        name="catalogue",
        share=0.40,
        description="Mail-order catalogue: name_first/name_last, a one-line street address "
        "with abbreviations (St, Ave, Rd), town, ZIP+4 mostly, and only the "
        "year of birth; no phone or e-mail.",
        columns=("acct", "name_first", "name_last", "address_line", "town", "zip", "birth_year"),
        mapping={
            "record_id": "acct",
            "date_formats": ["%Y"],
            "fields": {
                "first_name": {"column": "name_first"},
                "last_name": {"column": "name_last"},
                "address": {"column": "address_line"},
                "city": {"column": "town"},
                "postcode": {"column": "zip"},
                "date_of_birth": {"column": "birth_year", "date_formats": ["%Y"]},
            },
        },
        render=_catalogue,
        make_ids=lambda n, rng: unique_ids(n, rng, prefix="", digits=8),
    ),
    "partner": PartySpec(
        name="partner",
        share=0.30,
        description="Partner company (European systems): first/surname, e-mail, mobile "
        "in E.164 (+12065550123), birth date DD.MM.YYYY; no address.",
        columns=("pid", "first", "surname", "email", "mobile", "birth_date"),
        mapping={
            "record_id": "pid",
            "phone_region": "US",
            "date_formats": ["%d.%m.%Y"],
            "fields": {
                "first_name": {"column": "first"},
                "last_name": {"column": "surname"},
                "email": {"column": "email"},
                "phone": {"column": "mobile"},
                "date_of_birth": {"column": "birth_date"},
            },
        },
        render=_partner,
        make_ids=lambda n, rng: unique_hex_ids(n, rng, prefix="p_", length=10),
    ),
}

DEFAULT_PARTIES: tuple[str, ...] = tuple(PARTIES)
