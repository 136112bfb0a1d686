"""Stable fields: a clear disagreement on one lowers the score ``link`` gives a pair."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from hashmatch.encode import LinkageSecret, encode_records
from hashmatch.link import score_pairs
from hashmatch.link.scoring import ScoringConfig

SCHEMA: dict[str, Any] = {
    "version": 1,
    "clk": {"bits": 512},
    "fields": [
        {"name": "first_name", "type": "name", "bloom": {"weight": 2.0}},
        {"name": "last_name", "type": "name", "bloom": {"weight": 2.0}},
        {"name": "date_of_birth", "type": "date", "bloom": {"weight": 1.5}},
        {"name": "address", "type": "address", "bloom": {"weight": 1.5}},
    ],
}
MAPPING = {"date_formats": ["%Y-%m-%d"]}
SECRET = LinkageSecret(bytes(range(32)))
FACTOR = ScoringConfig().disagreement_factor

CRM = [
    {"first_name": "Nicole", "last_name": "Ross", "date_of_birth": "2006-02-27",
     "address": "6244 12th Place"},
]
CALL_CENTRE = [
    # her twin sister: everything but the first name agrees
    {"first_name": "Carmen", "last_name": "Ross", "date_of_birth": "2006-02-27",
     "address": "6244 12th Place"},
    # Nicole herself, a typo in the surname
    {"first_name": "Nicole", "last_name": "Rsos", "date_of_birth": "2006-02-27",
     "address": "6244 12th Place"},
    # a household member: another first name and another birth date
    {"first_name": "James", "last_name": "Ross", "date_of_birth": "1975-11-03",
     "address": "6244 12th Place"},
]


def _scores(stable: tuple[str, ...]) -> list[float]:
    schema = copy.deepcopy(SCHEMA)
    for field in schema["fields"]:
        field["stable"] = field["name"] in stable
    a, b = (
        encode_records(rows, schema=schema, secret=SECRET, party=party, mapping=MAPPING)
        for rows, party in ((CRM, "crm"), (CALL_CENTRE, "callcentre"))
    )
    return score_pairs(a, b, [0, 0, 0], [0, 1, 2]).tolist()


def test_a_disagreeing_stable_field_scales_the_score_and_an_agreeing_one_does_not() -> None:
    plain = _scores(())
    stable = _scores(("first_name", "date_of_birth"))
    twin, same_person, household = zip(plain, stable, strict=True)
    assert twin[1] == pytest.approx(twin[0] * FACTOR, rel=1e-5)  # first name differs
    assert same_person[1] == pytest.approx(same_person[0], rel=1e-6)  # nothing differs
    assert household[1] == pytest.approx(household[0] * FACTOR**2, rel=1e-5)  # both differ
    # the same person now outscores her twin by a wide margin
    assert stable[1] - stable[0] > plain[1] - plain[0] + 0.1


def test_score_pairs_refuses_encodings_of_different_schemas() -> None:
    from hashmatch.errors import IncompatibleEncodingsError

    a = encode_records(CRM, schema=SCHEMA, secret=SECRET, party="crm", mapping=MAPPING)
    other = copy.deepcopy(SCHEMA)
    other["fields"][0]["stable"] = True
    b = encode_records(CALL_CENTRE, schema=other, secret=SECRET, party="cc", mapping=MAPPING)
    with pytest.raises(IncompatibleEncodingsError, match="different linkage schemas"):
        score_pairs(a, b, [0], [0])


def test_swapped_first_and_last_names_are_recognised_when_the_schema_pairs_them() -> None:
    swappable = copy.deepcopy(SCHEMA)
    swappable["fields"][0]["swaps_with"] = "last_name"
    crm = [{"first_name": "Linda", "last_name": "Montgomery", "date_of_birth": "1983-09-13",
            "address": "8202 Fox St"}]
    catalogue = [
        {"first_name": "Montgomery", "last_name": "Linda", "date_of_birth": "1983-09-13",
         "address": "8202 Fox St"},  # the same person, names the wrong way round
        {"first_name": "Linda", "last_name": "Montgomery", "date_of_birth": "1983-09-13",
         "address": "8202 Fox St"},  # the same person, written the right way
        {"first_name": "Montgomery", "last_name": "Scott", "date_of_birth": "1983-09-13",
         "address": "8202 Fox St"},  # one name shared crosswise: not a swap
    ]

    def scores(schema: dict[str, Any]) -> list[float]:
        a = encode_records(crm, schema=schema, secret=SECRET, party="crm", mapping=MAPPING)
        b = encode_records(catalogue, schema=schema, secret=SECRET, party="cat", mapping=MAPPING)
        return score_pairs(a, b, [0, 0, 0], [0, 1, 2]).tolist()

    plain, paired = scores(SCHEMA), scores(swappable)
    assert plain[0] < 0.7 < plain[1]  # unpaired: a swap looks like two different names
    assert paired[0] == pytest.approx(paired[1], abs=0.02)  # paired: as good as straight
    assert paired[2] < 0.7


@pytest.mark.parametrize(
    "hardening", [{"permute": True}, {"balance": True}, {"permute": True, "rule90": True}]
)
def test_swapped_names_are_recognised_under_hardening(hardening: dict[str, Any]) -> None:
    """The two fields of a swap pair share their permutation (and padding order) under
    hardening, so a crosswise reading still compares like with like."""
    swappable = copy.deepcopy(SCHEMA)
    swappable["fields"][0]["swaps_with"] = "last_name"
    swappable["hardening"] = hardening
    person = {"date_of_birth": "1983-09-13", "address": "8202 Fox St"}
    crm = [{"first_name": "Linda", "last_name": "Montgomery", **person}]
    catalogue = [
        {"first_name": "Montgomery", "last_name": "Linda", **person},  # swapped
        {"first_name": "Linda", "last_name": "Montgomery", **person},  # straight
    ]
    a = encode_records(crm, schema=swappable, secret=SECRET, party="crm", mapping=MAPPING)
    b = encode_records(catalogue, schema=swappable, secret=SECRET, party="cat", mapping=MAPPING)
    swapped, straight = score_pairs(a, b, [0, 0], [0, 1]).tolist()
    assert swapped == pytest.approx(straight, abs=0.02)


def test_files_hardened_differently_are_refused_naming_both_profiles() -> None:
    """A file made with hashmatch 0.1's "recommended" against one with today's: refused,
    saying which hardening each has and how to encode a match for the old one."""
    from hashmatch.errors import IncompatibleEncodingsError
    from hashmatch.link import link_encodings

    people = [{"first_name": "Linda", "last_name": "Montgomery", "date_of_birth": "1983-09-13",
               "address": "8202 Fox St"}]
    batches = {}
    for name in ("recommended", "recommended-v1"):
        schema = copy.deepcopy(SCHEMA)
        schema["hardening"] = name
        batches[name] = encode_records(people, schema=schema, secret=SECRET, party=name,
                                       mapping=MAPPING)
    with pytest.raises(IncompatibleEncodingsError, match="different hardening") as err:
        link_encodings([batches["recommended"], batches["recommended-v1"]])
    assert "profile recommended: permute, even" in str(err.value)
    assert "profile recommended-v1: permute, balance, blip epsilon=25.0" in str(err.value)
    assert 'hardening = "recommended-v1"' in (err.value.hint or "")
