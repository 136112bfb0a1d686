"""Property: any valid schema survives dump -> load (TOML and JSON) with its fingerprint."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from hashmatch.schema import dump_schema, load_schema, schema_to_dict

TYPES = ("name", "email", "phone", "date", "postcode", "address", "gender", "text", "id")


@st.composite
def schema_docs(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(1, 6))
    clk_bits = 64 * draw(st.integers(n, 64))
    fields = []
    for i in range(n):
        field: dict[str, Any] = {"name": f"f{i}", "type": draw(st.sampled_from(TYPES))}
        bloom = draw(st.sampled_from(["none", "true", "weight", "table"]))
        if bloom == "true":
            field["bloom"] = True
        elif bloom == "weight":
            field["bloom"] = {"weight": draw(st.floats(0.5, 2.0))}
        elif bloom == "table":
            field["bloom"] = {
                "q": draw(st.integers(1, 5)),
                "padding": draw(st.booleans()),
                "k": draw(st.integers(1, 256)),
            }
        field["exact"] = bloom == "none" or draw(st.booleans())
        field["required"] = draw(st.booleans())
        fields.append(field)
    return {
        "version": 1,
        "name": draw(st.text(max_size=8)),
        "clk": {"bits": clk_bits},
        "fields": fields,
    }


@given(schema_docs())
@example(
    {"version": 1, "name": 'é"\\\x7f\n', "fields": [{"name": "a", "type": "id", "exact": True}]}
)
def test_dump_load_round_trip(doc: dict[str, Any]) -> None:
    schema = load_schema(doc)
    assert sum(s.bits for s in schema.segments) in (0, schema.clk_bits)
    with tempfile.TemporaryDirectory() as tmp:
        for suffix in (".toml", ".json"):
            path = Path(tmp) / f"s{suffix}"
            dump_schema(schema, path)
            again = load_schema(path)
            assert again == schema
            assert again.fingerprint == schema.fingerprint
            assert schema_to_dict(again) == schema_to_dict(schema)
