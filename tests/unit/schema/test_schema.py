"""load_schema: reading TOML/JSON/dicts, defaults, resolution and the fingerprint."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hashmatch.errors import SchemaError
from hashmatch.schema import (
    BloomEncoding,
    dump_schema,
    load_schema,
    schema_fingerprint,
    schema_to_dict,
)
from hashmatch.schema.defaults import default_k, option_specs

TOML = """
version = 1
name = "customers"

[clk]
bits = 512

[[fields]]
name = "first_name"
type = "name"
normalize = { nicknames = true }
bloom = { weight = 2.0, q = 2 }

[[fields]]
name = "last_name"
type = "name"
bloom = true

[[fields]]
name = "date_of_birth"
type = "date"
bloom = { bits = 128, k = 10 }
required = true

[[fields]]
name = "email"
type = "email"
exact = true

[[match_keys]]
name = "surname_dob"
parts = ["last_name", "date_of_birth"]

[[match_keys]]
name = "blk_sx_yob"
parts = ["last_name:soundex", "date_of_birth:year"]
purpose = "block"
"""


def as_dict() -> dict[str, Any]:
    import tomllib

    return tomllib.loads(TOML)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_toml_json_and_dict_give_the_same_schema(tmp_path: Path) -> None:
    from_toml = load_schema(write(tmp_path, "s.toml", TOML))
    from_json = load_schema(write(tmp_path, "s.json", json.dumps(as_dict())))
    from_dict = load_schema(as_dict())
    assert from_toml == from_json == from_dict
    assert from_toml.fingerprint == from_json.fingerprint == from_dict.fingerprint


def test_resolution_fills_defaults_and_splits_bits() -> None:
    s = load_schema(as_dict())
    assert s.clk_bits == 512 and s.name == "customers" and s.version == 1
    # 512 - 128 explicit = 384 shared 2:1 between first_name and last_name.
    assert [(g.field, g.start, g.bits) for g in s.segments] == [
        ("first_name", 0, 256),
        ("last_name", 256, 128),
        ("date_of_birth", 384, 128),
    ]
    first = s.field_named("first_name")
    assert first.bloom == BloomEncoding(bits=256, k=default_k(256, "name"), q=2, padding=True)
    assert s.field_named("date_of_birth").bloom == BloomEncoding(128, 10, 2, True)
    assert s.field_named("email").bloom is None and s.field_named("email").exact
    assert s.field_named("date_of_birth").required
    # every normaliser option of the type is filled, given or default
    assert first.normalize == {k: v.default for k, v in option_specs()["name"].items()} | {
        "nicknames": True
    }
    assert s.exact_token_names == ("email", "surname_dob", "blk_sx_yob")
    assert s.match_keys[1].parts[0].transform == "soundex"
    assert s.match_keys[0].purpose == "match"


def test_default_k_follows_the_documented_formula() -> None:
    assert default_k(256, "name") == round(256 * 0.6931471805599453 / 14)
    assert default_k(16, "email") == 1  # never below 1
    assert default_k(65536, "gender") == 256  # capped at the validator's maximum


def test_fingerprint_ignores_spelling_key_order_and_explicit_defaults() -> None:
    base = load_schema(as_dict())
    doc = as_dict()
    spelled_out = schema_to_dict(base)  # every default and the resolved bits written out
    reordered = {k: doc[k] for k in reversed(list(doc))}
    reordered["fields"] = [dict(reversed(list(f.items()))) for f in doc["fields"]]
    for variant in (spelled_out, reordered):
        assert load_schema(variant).fingerprint == base.fingerprint
    assert base.fingerprint == schema_fingerprint(base)
    assert base.fingerprint.startswith("sha256:") and len(base.fingerprint) == 71


def _edit(path: str, value: Any) -> dict[str, Any]:
    doc = as_dict()
    target = doc
    *parents, last = path.split(".")
    for p in parents:
        target = target[int(p)] if isinstance(target, list) else target.setdefault(p, {})
    target[last] = value
    return doc


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("clk.bits", 1024),
        ("name", "other"),
        ("fields.0.bloom", {"weight": 2.0, "q": 3}),
        ("fields.0.bloom", {"weight": 2.0, "padding": False}),
        ("fields.0.bloom", {"weight": 2.0, "k": 7}),
        ("fields.0.bloom", {"weight": 3.0}),
        ("fields.0.normalize", {"nicknames": False}),
        ("fields.3.type", "text"),
        ("fields.0.exact", True),
        ("fields.0.required", True),
        ("fields.0.stable", True),
        ("fields.2.bloom", {"bits": 192, "k": 10}),
        ("match_keys.0.parts", ["date_of_birth", "last_name"]),
        ("match_keys.1.purpose", "match"),
    ],
)
def test_fingerprint_changes_with_every_bit_affecting_setting(path: str, value: Any) -> None:
    assert load_schema(_edit(path, value)).fingerprint != load_schema(as_dict()).fingerprint


def test_fingerprint_changes_with_field_order() -> None:
    doc = as_dict()
    doc["fields"][0], doc["fields"][1] = doc["fields"][1], doc["fields"][0]
    assert load_schema(doc).fingerprint != load_schema(as_dict()).fingerprint


@pytest.mark.parametrize("suffix", [".toml", ".json"])
def test_dump_and_reload_round_trips(tmp_path: Path, suffix: str) -> None:
    s = load_schema(as_dict())
    dump_schema(s, tmp_path / f"s{suffix}")
    again = load_schema(tmp_path / f"s{suffix}")
    assert again == s and again.fingerprint == s.fingerprint


def test_dump_writes_a_plain_document_as_given(tmp_path: Path) -> None:
    dump_schema(as_dict(), tmp_path / "s.toml")
    text = (tmp_path / "s.toml").read_text()
    assert "[[fields]]" in text and "weight = 2.0" in text
    assert load_schema(tmp_path / "s.toml") == load_schema(as_dict())


def test_schema_is_frozen() -> None:
    s = load_schema(as_dict())
    with pytest.raises(AttributeError):
        s.clk_bits = 64  # type: ignore[misc]


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("s.yaml", "version: 1", "expected a .toml or .json schema file, got '.yaml'"),
        ("s.toml", "version = ", "not valid TOML"),
        ("s.json", "{", "not valid JSON"),
        ("s.json", "[1]", "expected a JSON object"),
    ],
)
def test_unreadable_documents(tmp_path: Path, name: str, text: str, message: str) -> None:
    with pytest.raises(SchemaError) as err:
        load_schema(write(tmp_path, name, text))
    assert message in str(err.value)
    assert err.value.source == str(tmp_path / name)


def test_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(SchemaError, match="cannot read the schema file"):
        load_schema(tmp_path / "nope.toml")


def test_stable_is_read_and_needs_a_bloom_encoding() -> None:
    schema = load_schema(_edit("fields.2.stable", True))
    assert [f.stable for f in schema.fields] == [False, False, True, False]
    with pytest.raises(SchemaError, match=r"fields\[3\]\.stable: stable = true needs a bloom"):
        load_schema(_edit("fields.3.stable", True))  # email: exact token only


def _swappable() -> dict[str, Any]:
    doc = _edit("fields.0.swaps_with", "last_name")
    doc["fields"][0]["bloom"] = {"weight": 2.0}  # built like last_name's filter
    doc["fields"][1]["bloom"] = {"weight": 2.0}
    return doc


@pytest.mark.parametrize("hardening", ["recommended", {"balance": True}, {"xor_fold": True}])
def test_swaps_with_works_with_hardening(hardening: Any) -> None:
    """Hardening may change segment sizes (balance deals bits in pairs): a swap pair with
    equal weights still comes out alike."""
    doc = _swappable()
    doc["clk"] = {"bits": 1024}
    doc["hardening"] = hardening
    schema = load_schema(doc)
    bits = {s.field: s.bits for s in schema.segments}
    assert bits["first_name"] == bits["last_name"]
    assert schema.swap_pairs == (("first_name", "last_name"),)


def test_swaps_with_pairs_two_fields_under_one_bloom_key() -> None:
    schema = load_schema(_swappable())
    assert schema.swap_pairs == (("first_name", "last_name"),)
    assert schema.bloom_key_label("first_name") == "first_name+last_name"
    assert schema.bloom_key_label("last_name") == "first_name+last_name"
    assert schema.bloom_key_label("date_of_birth") == "date_of_birth"
    unpaired = _swappable()
    del unpaired["fields"][0]["swaps_with"]
    assert load_schema(unpaired).fingerprint != schema.fingerprint  # the bits differ


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("fields.0.swaps_with", "nickname"), "expected the name of another field"),
        (("fields.0.swaps_with", "first_name"), "expected the name of another field"),
        (("fields.0.swaps_with", "date_of_birth"), "must have one type"),
        (("fields.1.bloom", {"weight": 3.0}), "filters must be built alike"),
        (("fields.1.swaps_with", "first_name"), "already in a swap pair"),
        (("fields.1.bloom", {"weight": 2.0, "k": 3}), "give both the same k, q and padding"),
    ],
)
def test_swaps_with_is_checked(edit: tuple[str, Any], message: str) -> None:
    doc = _swappable()
    path, value = edit
    target: Any = doc
    *parents, last = path.split(".")
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    target[last] = value
    with pytest.raises(SchemaError, match=message):
        load_schema(doc)


def test_a_swap_pair_with_equal_weights_is_never_split_unevenly() -> None:
    """synth's schema under balance: 512 units over weights summing to 9.5 leave one unit
    that only one of the two names could take; it goes to the next field instead."""
    weights = {"first_name": 2.0, "last_name": 2.0, "date_of_birth": 1.5, "email": 1.0,
               "phone": 0.5, "address": 1.5, "postcode": 0.5, "city": 0.5}
    types = {"first_name": "name", "last_name": "name", "date_of_birth": "date",
             "email": "email", "phone": "phone", "address": "address",
             "postcode": "postcode", "city": "text"}
    doc = {
        "version": 1,
        "clk": {"bits": 1024},
        "hardening": {"balance": True},
        "fields": [{"name": n, "type": types[n], "bloom": {"weight": w}}
                   for n, w in weights.items()],
    }
    doc["fields"][0]["swaps_with"] = "last_name"
    bits = {s.field: s.bits for s in load_schema(doc).segments}
    assert bits["first_name"] == bits["last_name"] == 214
    assert sum(bits.values()) == 1024 and all(b % 2 == 0 for b in bits.values())
    del doc["fields"][0]["swaps_with"]  # without the pair, the usual rule (schema order)
    assert {s.field: s.bits for s in load_schema(doc).segments}["first_name"] == 216
