"""Every validation rule: its key path and a message naming what would be valid."""

from __future__ import annotations

from typing import Any

import pytest

from hashmatch._version import SCHEMA_VERSION
from hashmatch.errors import Problem, SchemaError
from hashmatch.schema import load_schema


def doc(*fields: dict[str, Any], **top: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "version": 1,
        "fields": list(fields)
        or [
            {"name": "first_name", "type": "name", "bloom": True},
            {"name": "last_name", "type": "name", "bloom": True},
            {"name": "date_of_birth", "type": "date", "bloom": True},
        ],
    }
    base.update(top)
    return base


def problems(document: dict[str, Any]) -> list[Problem]:
    with pytest.raises(SchemaError) as err:
        load_schema(document)
    return list(err.value.problems)


def only(document: dict[str, Any]) -> str:
    found = problems(document)
    assert len(found) == 1, found
    return str(found[0])


NAME = {"name": "first_name", "type": "name", "bloom": True}


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        # version
        ({"fields": [NAME]}, f"version: missing; expected version = {SCHEMA_VERSION}"),
        (doc(version="1"), "version: expected an integer such as 1, got '1'"),
        (doc(version=True), "version: expected an integer such as 1, got true"),
        (doc(version=0), "version: unknown schema version 0; expected version 1"),
        (
            doc(version=SCHEMA_VERSION + 1),
            f"version: schema version {SCHEMA_VERSION + 1} was "
            "written by a newer hashmatch; upgrade hashmatch",
        ),
        # top level and clk
        (doc(nmae="x"), "nmae: unknown key; did you mean 'name'?"),
        (doc(name=3), "name: expected a string, got 3"),
        (doc(clk=1024), "clk: expected a table, got 1024"),
        (doc(clk={"bits": 1000}), "clk.bits: expected a multiple of 64 in 64-65536, got 1000"),
        (doc(clk={"bits": 0}), "clk.bits: expected a multiple of 64 in 64-65536, got 0"),
        (doc(clk={"bits": 131072}), "clk.bits: expected a multiple of 64 in 64-65536, got "),
        (doc(clk={"bits": 1024.0}), "clk.bits: expected a multiple of 64 in 64-65536, got 1024.0"),
        (doc(clk={"size": 64}), "clk.size: unknown key; expected one of bits"),
        (doc(clk={"bit": 64}), "clk.bit: unknown key; did you mean 'bits'?"),
        (doc(fields=[]), "fields: missing; expected at least one [[fields]] table"),
        (doc(fields={"a": 1}), "fields: expected a list of tables ([[fields]]), got a table"),
        (doc(fields=[NAME, "x"]), "fields[1]: expected a table, got 'x'"),
        # field names and types
        (
            doc(dict(NAME, name="First")),
            "fields[0].name: expected a lower-case name "
            "[a-z][a-z0-9_]* such as 'first_name', got 'First'",
        ),
        (doc(dict(NAME, name="1st")), "fields[0].name: expected a lower-case name"),
        (
            doc({"type": "name", "bloom": True}),
            "fields[0].name: expected a lower-case name "
            "[a-z][a-z0-9_]* such as 'first_name', got null",
        ),
        (
            doc(NAME, NAME),
            "fields[1].name: duplicate field name 'first_name' (already "
            "fields[0]); expected unique names",
        ),
        (
            doc(dict(NAME, type="nmae")),
            "fields[0].type: expected one of name, email, phone, "
            "date, postcode, address, gender, text, id, got 'nmae' (did you mean 'name'?)",
        ),
        (doc(dict(NAME, colour=1)), "fields[0].colour: unknown key; expected one of name,"),
        (doc(dict(NAME, requird=True)), "fields[0].requird: unknown key; did you mean 'required'?"),
        (doc(dict(NAME, exact="yes")), "fields[0].exact: expected true or false, got 'yes'"),
        (doc(dict(NAME, required=1)), "fields[0].required: expected true or false, got 1"),
        # normaliser options
        (
            doc(dict(NAME, normalize={"nicknamez": True})),
            "fields[0].normalize.nicknamez: unknown key; did you mean 'nicknames'?",
        ),
        (
            doc(dict(NAME, normalize={"nicknames": "yes"})),
            "fields[0].normalize.nicknames: expected true or false, got 'yes'",
        ),
        (
            doc({"name": "phone", "type": "phone", "exact": True, "normalize": {"x": 1}}),
            "fields[0].normalize: type 'phone' has no normaliser options; remove this table",
        ),
        (doc(dict(NAME, normalize=[])), "fields[0].normalize: expected a table, got a list"),
        (
            doc({"name": "dob", "type": "date", "bloom": True, "normalize": {"earliest": "1900"}}),
            "fields[0].normalize: date option 'earliest' must be 'YYYY-MM-DD' or 'today', "
            "got '1900'",
        ),
        (
            doc({"name": "pc", "type": "postcode", "bloom": True, "normalize": {"country": "X"}}),
            "fields[0].normalize: postcode option 'country' must be one of",
        ),
        # bloom encodings
        (doc(dict(NAME, bloom="yes")), "fields[0].bloom: expected true, false or a table"),
        (doc(dict(NAME, bloom={"q": 7})), "fields[0].bloom.q: expected an integer 1-5, got 7"),
        (doc(dict(NAME, bloom={"q": 0})), "fields[0].bloom.q: expected an integer 1-5, got 0"),
        (doc(dict(NAME, bloom={"k": 0})), "fields[0].bloom.k: expected an integer 1-256, got 0"),
        (doc(dict(NAME, bloom={"k": 2.5})), "fields[0].bloom.k: expected an integer 1-256"),
        (
            doc(dict(NAME, bloom={"bits": 8})),
            "fields[0].bloom.bits: expected an integer 16-65536, got 8",
        ),
        (
            doc(dict(NAME, bloom={"weight": 0})),
            "fields[0].bloom.weight: expected a number > 0 and <= 1000, got 0",
        ),
        (
            doc(dict(NAME, bloom={"weight": float("nan")})),
            "fields[0].bloom.weight: expected a number > 0",
        ),
        (
            doc(dict(NAME, bloom={"padding": "no"})),
            "fields[0].bloom.padding: expected true or false, got 'no'",
        ),
        (
            doc(dict(NAME, bloom={"bitz": 64})),
            "fields[0].bloom.bitz: unknown key; did you mean 'bits'?",
        ),
        (
            doc(dict(NAME, bloom={"bits": 64, "weight": 2}), dict(NAME, name="b")),
            "fields[0].bloom.weight: expected either bits or weight, not both",
        ),
        (
            doc(dict(NAME, bloom={"bits": 2048})),
            "fields[0].bloom.bits: expected at most clk.bits = 1024, got 2048",
        ),
        (
            doc(dict(NAME, bloom={"bits": 512})),
            "clk.bits: explicit bloom bits sum to 512 but "
            "clk.bits = 1024; expected them to fill the CLK exactly",
        ),
        (
            doc({"name": "n", "type": "name"}),
            "fields: no encoding: expected at least one field with bloom or exact = true",
        ),
    ],
)
def test_rule(document: dict[str, Any], expected: str) -> None:
    assert only(document).startswith(expected)


def test_explicit_bits_over_the_clk() -> None:
    found = [
        str(p)
        for p in problems(
            doc(
                dict(NAME, bloom={"bits": 768}),
                {"name": "b", "type": "name", "bloom": {"bits": 512}},
            )
        )
    ]
    assert found == [
        "clk.bits: explicit bloom bits sum to 1280, more than clk.bits = 1024; "
        "expected clk.bits >= 1280 or smaller bits"
    ]


def test_every_segment_must_end_with_16_bits() -> None:
    found = problems(
        doc(
            dict(NAME, bloom={"weight": 1000}),
            {"name": "b", "type": "name", "bloom": True},
            clk={"bits": 1024},
        )
    )
    assert [p.path for p in found] == ["fields[1].bloom"]
    assert found[0].message.startswith("gets only 1 of the CLK's 1024 bits; expected at least 16")


def test_match_key_rules() -> None:
    fields = [
        NAME,
        {"name": "dob", "type": "date", "bloom": True},
        {"name": "email", "type": "email", "exact": True},
    ]
    keys = [
        {"name": "dob", "parts": ["dob"]},  # clashes with a field
        {"name": "k", "parts": ["frist_name", "dob:yaer", "email:year", "dob:soundex"]},
        {"name": "k", "parts": [], "purpose": "blocking"},  # duplicate, bad parts, bad purpose
        {"name": "Bad Name", "parts": [3], "extra": 1},
        {"name": "ok", "parts": ["first_name:initial", "email:prefix3", "dob:month"]},
        {"name": "no", "parts": ["dob:initial"]},
    ]
    found = [str(p) for p in problems(doc(*fields, match_keys=keys))]
    assert found == [
        "match_keys[1].parts[0]: unknown field 'frist_name'; did you mean 'first_name'?",
        "match_keys[1].parts[1]: expected a transform among year, month, day, initial, "
        "prefix3, soundex, got 'yaer' (did you mean 'year'?)",
        "match_keys[1].parts[2]: transform 'year' applies to date fields; field 'email' has "
        "type 'email'",
        "match_keys[1].parts[3]: transform 'soundex' applies to name fields; field 'dob' has "
        "type 'date'",
        "match_keys[2].purpose: expected one of match, block, got 'blocking' (did you mean "
        "'block'?)",
        "match_keys[2].parts: expected a non-empty list such as ['last_name', "
        "'date_of_birth:year'], got a list",
        "match_keys[3].extra: unknown key; expected one of name, parts, purpose",
        "match_keys[3].name: expected a lower-case name [a-z][a-z0-9_]* such as "
        "'surname_dob', got 'Bad Name'",
        "match_keys[3].parts[0]: expected 'field' or 'field:transform', got 3",
        "match_keys[5].parts[0]: transform 'initial' applies to fields of any type but date; "
        "field 'dob' has type 'date'",
        "match_keys[0].name: 'dob' is also a field name; expected a distinct name (exact "
        "tokens of fields and match keys share one namespace)",
        "match_keys[2].name: duplicate match key name 'k'; expected unique names",
    ]


def test_match_keys_must_be_a_list_of_tables() -> None:
    assert only(doc(match_keys={"a": 1})).startswith(
        "match_keys: expected a list of tables ([[match_keys]]), got a table"
    )


def test_a_match_key_alone_is_an_encoding() -> None:
    s = load_schema(
        doc(
            {"name": "n", "type": "name"},
            {"name": "d", "type": "date"},
            match_keys=[{"name": "nd", "parts": ["n", "d"]}],
        )
    )
    assert s.exact_token_names == ("nd",) and s.segments == ()


def test_all_problems_are_reported_at_once_with_the_source() -> None:
    with pytest.raises(SchemaError) as err:
        load_schema(doc(dict(NAME, type="x", bloom={"q": 9}), clk={"bits": 3}, extra=1))
    assert [p.path for p in err.value.problems] == [
        "extra",
        "clk.bits",
        "fields[0].type",
        "fields[0].bloom.q",
    ]
    assert str(err.value).startswith("4 problem(s):\n  - extra: unknown key")


def test_segment_bits_always_fill_the_clk_exactly() -> None:
    weights = [1.0, 0.3, 2.7, 0.001, 5.0, 1.0, 1.0]
    for bits in (64 * 4, 1024, 1536, 4096):
        fields = [
            {"name": f"f{i}", "type": "name", "bloom": {"weight": w}}
            for i, w in enumerate(weights)
            if bits * w / sum(weights) >= 16
        ]
        s = load_schema(doc(*fields, clk={"bits": bits}))
        assert sum(g.bits for g in s.segments) == bits
        assert [g.start for g in s.segments] == [
            sum(g.bits for g in s.segments[:i]) for i in range(len(s.segments))
        ]


def test_weighted_and_explicit_fields_share_the_clk() -> None:
    s = load_schema(
        doc(
            {"name": "a", "type": "name", "bloom": {"bits": 100}},
            {"name": "b", "type": "name", "bloom": {"weight": 1}},
            {"name": "c", "type": "name", "bloom": {"weight": 1}},
            {"name": "d", "type": "name", "bloom": {"weight": 1}},
        )
    )
    # 924 left for three equal weights: 308 each, no leftover.
    assert [g.bits for g in s.segments] == [100, 308, 308, 308]
