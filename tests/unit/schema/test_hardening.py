"""The schema's ``hardening`` setting: parsing, collect-all validation, layout, fingerprint."""

from __future__ import annotations

from typing import Any

import pytest

from hashmatch.errors import SchemaError
from hashmatch.schema import PROFILES, Hardening, load_schema, schema_to_dict
from hashmatch.schema.defaults import default_k
from hashmatch.schema.hardening import RECOMMENDED, header_extra, raw_segment_bits

BASE: dict[str, Any] = {
    "version": 1,
    "clk": {"bits": 512},
    "fields": [
        {"name": "first_name", "type": "name", "bloom": True},
        {"name": "last_name", "type": "name", "bloom": {"weight": 2}},
        {"name": "dob", "type": "date", "bloom": {"weight": 0.7}},
    ],
}


def _with(hardening: Any, **changes: Any) -> dict[str, Any]:
    return {**BASE, "hardening": hardening, **changes}


def _problems(doc: dict[str, Any]) -> list[str]:
    with pytest.raises(SchemaError) as info:
        load_schema(doc)
    return [f"{p.path}: {p.message}" for p in info.value.problems]


def test_absent_hardening_is_none_and_keeps_the_fingerprint() -> None:
    plain = load_schema(BASE)
    assert plain.hardening == Hardening()
    assert "hardening" not in schema_to_dict(plain)
    assert load_schema(_with("none")).fingerprint == plain.fingerprint
    assert load_schema(_with({})).fingerprint == plain.fingerprint


@pytest.mark.parametrize(
    "hardening",
    ["recommended", {"xor_fold": True}, {"rule90": True}, {"salt": "dob:year"}, {"permute": True}],
)
def test_any_option_changes_the_fingerprint_and_round_trips(hardening: Any) -> None:
    schema = load_schema(_with(hardening))
    assert schema.fingerprint != load_schema(BASE).fingerprint
    assert load_schema(schema_to_dict(schema)) == schema
    assert schema_to_dict(schema)["hardening"] == schema.hardening.to_dict()


def test_profile_name_and_spelt_out_table_are_the_same_schema() -> None:
    spelt = {"permute": True, "even": True}
    assert load_schema(_with("recommended")) == load_schema(_with(spelt))
    assert load_schema(_with("recommended")).hardening == RECOMMENDED == PROFILES["recommended"]
    # what "recommended" meant before, kept under its own name for files made with it
    old = {"permute": True, "balance": True, "blip": {"epsilon": 25.0}}
    assert load_schema(_with("recommended-v1")) == load_schema(_with(old))
    assert load_schema(_with(old)).fingerprint != load_schema(_with("recommended")).fingerprint


def test_even_and_flip_are_validated_and_keep_older_fingerprints() -> None:
    flip = load_schema(_with({"permute": True, "even": True, "blip": {"flip": 0.045}}))
    assert flip.hardening.blip_flip == 0.045 and flip.hardening.even
    assert flip.hardening.blip_epsilon is None
    problems = {
        "hardening.blip": {"blip": {"flip": 0.1, "epsilon": 3}},
        "hardening.blip.flip": {"blip": {"flip": 0.6}},
        "hardening.blip.epsilon": {"even": True, "blip": {"epsilon": 20}},
        "hardening.even": {"even": "yes"},
    }
    for path, doc in problems.items():
        with pytest.raises(SchemaError) as err:
            load_schema(_with(doc))
        assert path in [p.path for p in err.value.problems], (path, err.value.problems)
    # a table without even has the canonical form it had before even existed
    assert "even" not in Hardening(permute=True, blip_epsilon=25.0).to_dict()
    assert Hardening.from_dict(flip.hardening.to_dict()) == flip.hardening


def test_balance_allocates_even_segments_that_fill_the_clk() -> None:
    plain = load_schema(BASE)
    assert any(s.bits % 2 for s in plain.segments)  # the weights give odd shares unbalanced
    balanced = load_schema(_with({"balance": True}))
    assert all(s.bits % 2 == 0 for s in balanced.segments)
    assert sum(s.bits for s in balanced.segments) == 512


@pytest.mark.parametrize("hardening", [{"balance": True}, {"xor_fold": True}, "recommended"])
def test_default_k_is_resolved_for_the_raw_filter(hardening: Any) -> None:
    schema = load_schema(_with(hardening))
    for f in schema.fields:
        assert f.bloom is not None
        raw = raw_segment_bits(f.bloom.bits, schema.hardening)
        assert f.bloom.k == default_k(raw, f.type)
    explicit = _with(hardening)
    explicit["fields"] = [{**BASE["fields"][0], "bloom": {"k": 9}}, *BASE["fields"][1:]]
    assert load_schema(explicit).fields[0].bloom.k == 9  # type: ignore[union-attr]


def test_every_problem_is_reported_with_its_path() -> None:
    doc = _with(
        {"balance": True, "blip": {"epsilon": 99}, "pad": {"fill": 0.3}, "salt": "zz", "fold": 1},
        fields=[{"name": "first_name", "type": "nam", "bloom": True}],
    )
    problems = _problems(doc)
    paths = {p.split(":")[0] for p in problems}
    assert {
        "hardening.blip.epsilon",
        "hardening.pad",
        "hardening.salt",
        "hardening.fold",
        "fields[0].type",
    } <= paths


def test_odd_explicit_segment_under_balance_is_refused() -> None:
    doc = _with({"balance": True})
    doc["fields"] = [
        {"name": "first_name", "type": "name", "bloom": {"bits": 101}},
        {"name": "last_name", "type": "name", "bloom": True},
    ]
    problems = _problems(doc)
    assert any(p.startswith("hardening.balance") and "'first_name'" in p for p in problems)


def test_unknown_profile_and_wrong_type_are_refused() -> None:
    assert _problems(_with("strong"))[0].startswith("hardening: expected a table or one of")
    assert _problems(_with(3))[0].startswith("hardening: expected a table")


def test_header_extra_names_the_profile() -> None:
    assert header_extra(Hardening()) == {}
    assert header_extra(RECOMMENDED)["hardening"]["profile"] == "recommended"
    custom = header_extra(Hardening(rule90=True))["hardening"]
    assert custom == {"profile": "custom", "options": Hardening(rule90=True).to_dict()}
