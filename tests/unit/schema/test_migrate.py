"""Schema versions: the v1 fixture keeps its fingerprint; the upgrade chain; future refusal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hashmatch.errors import SchemaError
from hashmatch.schema import load_schema
from hashmatch.schema import migrate as m

V1 = Path(__file__).parents[2] / "data" / "schema_v1.toml"

#: Changing this value means every existing encoding file stops linking with new ones: only
#: do it on purpose (new encodings), together with an ENCODER_VERSION bump where bits change.
V1_FINGERPRINT = "sha256:ee365a7cd24f73578528e001e84fff1a5820e769dccb5df285b556a12c0f3b7e"


def test_v1_fixture_keeps_its_layout_and_fingerprint() -> None:
    s = load_schema(V1)
    assert [(g.field, g.start, g.bits) for g in s.segments] == [
        ("first_name", 0, 303),
        ("last_name", 303, 302),
        ("date_of_birth", 605, 192),
        ("postcode", 797, 151),
        ("email", 948, 76),
    ]
    assert s.fingerprint == V1_FINGERPRINT


def test_the_upgrade_chain_runs_one_step_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    steps: list[int] = []

    def v1_to_v2(doc: dict[str, Any]) -> dict[str, Any]:
        steps.append(doc["version"])
        return {**doc, "version": 2, "renamed": doc["name"]}

    def v2_to_v3(doc: dict[str, Any]) -> dict[str, Any]:
        steps.append(doc["version"])
        return {**doc, "version": 3}

    monkeypatch.setattr(m, "SCHEMA_VERSION", 3)
    monkeypatch.setattr(m, "_UPGRADES", {1: v1_to_v2, 2: v2_to_v3})
    original = {"version": 1, "name": "x"}
    assert m.upgrade(original) == {"version": 3, "name": "x", "renamed": "x"}
    assert steps == [1, 2]
    assert original == {"version": 1, "name": "x"}  # the caller's document is not mutated
    assert m.upgrade({"version": 3}) == {"version": 3}


def test_future_versions_are_refused_before_anything_else() -> None:
    with pytest.raises(SchemaError) as err:
        load_schema({"version": 99, "fields": "whatever", "new_key": 1})
    assert [str(p) for p in err.value.problems] == [
        "version: schema version 99 was written by a newer hashmatch; upgrade hashmatch "
        "(this release reads version 1)"
    ]
