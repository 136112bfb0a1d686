"""The shipped JSON Schema (editor completion) agrees with the loader."""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

import pytest

from hashmatch.schema import defaults as d
from hashmatch.schema import load_schema, schema_to_dict
from hashmatch.schema.hardening import _KEYS as HARDENING_KEYS
from hashmatch.schema.hardening import PROFILES
from hashmatch.schema.model import FIELD_TYPES, PART_TRANSFORMS
from hashmatch.schema.validate import BLOOM_KEYS, FIELD_KEYS, MATCH_KEY_KEYS, TOP_KEYS

SPEC: dict[str, Any] = json.loads(
    files("hashmatch.schema").joinpath("jsonschema", "schema-v1.json").read_text()
)
EXAMPLE = {
    "version": 1,
    "name": "customers",
    "clk": {"bits": 1024},
    "fields": [
        {
            "name": "first_name",
            "type": "name",
            "normalize": {"nicknames": True},
            "bloom": {"weight": 2.0, "q": 2},
        },
        {"name": "date_of_birth", "type": "date", "bloom": {"bits": 256, "k": 20}},
        {"name": "email", "type": "email", "exact": True, "bloom": True, "required": False},
    ],
    "match_keys": [
        {"name": "blk", "parts": ["first_name:soundex", "date_of_birth:year"], "purpose": "block"}
    ],
}


def test_keys_and_ranges_match_the_loader() -> None:
    props = SPEC["properties"]
    field = props["fields"]["items"]
    bloom = field["properties"]["bloom"]["oneOf"][1]["properties"]
    assert set(props) == set(TOP_KEYS)
    assert set(field["properties"]) == set(FIELD_KEYS)
    assert set(bloom) == set(BLOOM_KEYS)
    assert set(props["match_keys"]["items"]["properties"]) == set(MATCH_KEY_KEYS)
    assert field["properties"]["type"]["enum"] == list(FIELD_TYPES)
    assert all(
        t in props["match_keys"]["items"]["properties"]["parts"]["items"]["pattern"]
        for t in PART_TRANSFORMS
    )
    clk = props["clk"]["properties"]["bits"]
    assert (clk["minimum"], clk["maximum"], clk["multipleOf"], clk["default"]) == (
        d.CLK_BITS_MIN,
        d.CLK_BITS_MAX,
        d.CLK_BITS_STEP,
        d.DEFAULT_CLK_BITS,
    )
    assert (bloom["q"]["minimum"], bloom["q"]["maximum"]) == (d.Q_MIN, d.Q_MAX)
    assert (bloom["k"]["minimum"], bloom["k"]["maximum"]) == (d.K_MIN, d.K_MAX)
    assert bloom["bits"]["minimum"] == d.SEGMENT_BITS_MIN
    profiles, table = props["hardening"]["oneOf"]
    assert set(profiles["enum"]) == set(PROFILES)
    assert set(table["properties"]) == set(HARDENING_KEYS)


def test_normaliser_options_match_the_normalisers() -> None:
    kinds = {"boolean": bool, "string": str, "integer": int, "number": float}
    shipped = {
        rule["if"]["properties"]["type"]["const"]: {
            name: (opt["default"], kinds[opt["type"]])
            for name, opt in rule["then"]["properties"]["normalize"]["properties"].items()
        }
        for rule in SPEC["properties"]["fields"]["items"]["allOf"]
    }
    current = {
        t: {name: (s.default, s.kind) for name, s in specs.items()}
        for t, specs in d.option_specs().items()
    }
    assert shipped == current, "regenerate the normalize options in schema-v1.json"


@pytest.mark.parametrize("variant", ["example", "canonical"])
def test_valid_schemas_validate_against_the_json_schema(variant: str) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    doc = EXAMPLE if variant == "example" else schema_to_dict(load_schema(EXAMPLE))
    load_schema(doc)
    jsonschema.Draft202012Validator.check_schema(SPEC)
    jsonschema.validate(doc, SPEC)


def test_structural_mistakes_are_caught_by_the_json_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    bad = json.loads(json.dumps(EXAMPLE))
    bad["fields"][0]["bloom"]["q"] = 9
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, SPEC)
