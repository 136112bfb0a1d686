"""``hashmatch encode`` + ``hashmatch audit``: the audit flags an unhardened file of a party
with a few very frequent first names; ``"recommended"`` hides value length but not the
frequent names (it has no noise); noise (``blip = { flip = 0.045 }``) passes every check.

Everything goes through the real command line (schema file -> encoder -> .hme -> audit),
so this checks that the schema's hardening reaches the bits that leave the party.
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from hashmatch.cli import app
from hashmatch.encode import LinkageSecret
from hashmatch.encode.keys import RowKey

ROWS = 1500
COMMON = ["Mary", "John", "James", "Sarah", "Emma"]  # half of all rows
SYLLABLES = ("an", "bel", "cor", "dan", "el", "fin", "gar", "hol", "is", "jor", "kal", "lin",
             "mor", "nes", "or", "pel", "quin", "ros", "sal", "tor")  # fmt: skip
SCHEMA = """\
version = 1
name = "audit-e2e"
{hardening}
[clk]
bits = 1024

[[fields]]
name = "first_name"
type = "name"
bloom = {{ weight = 2 }}

[[fields]]
name = "last_name"
type = "name"
bloom = {{ weight = 2 }}

[[fields]]
name = "dob"
type = "date"
bloom = true
"""


def _word(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.choice([2, 3, 4]))).capitalize()


@pytest.fixture(scope="module")
def party(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("party")
    rng = random.Random(5)
    with (folder / "party.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["first_name", "last_name", "dob"])
        for _ in range(ROWS):
            first = rng.choice(COMMON) if rng.random() < 0.5 else _word(rng)
            dob = f"{rng.randint(1930, 2005)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
            writer.writerow([first, _word(rng), dob])
    LinkageSecret(bytes(range(32))).write(folder / "k.secret")
    RowKey(bytes(range(1, 33))).write(folder / "fixed.rowkey")  # BLIP noise: reproducible
    return folder


NOISE = "hardening = { permute = true, even = true, blip = { flip = 0.045 } }"


def _encode_and_audit(folder: Path, hardening: str) -> tuple[dict[str, Any], dict[str, Any]]:
    name = "noise" if hardening == NOISE else (
        hardening.split()[-1].strip('"') if hardening else "none"
    )
    schema = folder / f"{name}.toml"
    schema.write_text(SCHEMA.format(hardening=hardening))
    out = folder / f"{name}.hme"
    runner = CliRunner()
    encoded = runner.invoke(
        app,
        ["encode", str(folder / "party.csv"), "--schema", str(schema),
         "--secret", str(folder / "k.secret"), "--party", "p", "-o", str(out), "--force",
         "--row-key", str(folder / "fixed.rowkey")],
    )  # fmt: skip
    assert encoded.exit_code == 0, encoded.output
    plain = runner.invoke(app, ["audit", str(out), "--json"])
    with_raw = ["--raw", str(folder / "party.csv"), "--schema", str(schema)]
    raw = runner.invoke(app, ["audit", str(out), "--json", *with_raw])
    docs = json.loads(plain.stdout), json.loads(raw.stdout)
    for result, doc in zip((plain, raw), docs, strict=True):  # a fail exits 3
        assert result.exit_code == (3 if doc["verdict"] == "fail" else 0), result.output
    return docs


def _verdicts(report: dict[str, Any]) -> dict[str, str]:
    return {f["risk"]: f["verdict"] for f in report["findings"]}


def test_audit_fails_an_unhardened_file_with_frequent_names(party: Path) -> None:
    plain, raw = _encode_and_audit(party, "")
    assert plain["verdict"] == raw["verdict"] == "fail"
    assert _verdicts(plain)["repeated_patterns"] == "fail"
    assert _verdicts(plain)["length"] != "ok"
    by_risk = {f["risk"]: f for f in raw["findings"]}
    assert by_risk["frequency_attack"]["verdict"] == "fail"
    assert by_risk["frequency_attack"]["worst_field"] == "first_name"
    assert by_risk["length"]["verdict"] == "fail"
    assert by_risk["repeated_patterns"]["fix"]  # and it says which schema setting fixes it


def test_recommended_hides_length_but_not_frequent_names(party: Path) -> None:
    plain, raw = _encode_and_audit(party, 'hardening = "recommended"')
    assert _verdicts(plain)["length"] == "ok"  # even fill: about one popcount for all
    assert _verdicts(raw)["length"] in ("ok", "warn")
    first = next(s for s in raw["segments"] if s["field"] == "first_name")
    assert first["popcount_std"] / first["popcount_mean"] < 0.05
    # no noise: a frequent name is still one frequent pattern, and the audit says so
    assert _verdicts(raw)["repeated_patterns"] == "fail"
    assert _verdicts(raw)["frequency_attack"] == "fail"
    by_risk = {f["risk"]: f for f in raw["findings"]}
    assert 'blip = { flip = 0.045, fields = ["first_name"] }' in by_risk["repeated_patterns"]["fix"]


def test_audit_passes_noise(party: Path) -> None:
    plain, raw = _encode_and_audit(party, NOISE)
    # the simulated attack may align a name or two by chance (warn, with random row keys)
    assert raw["verdict"] != "fail", raw["findings"]
    assert {v for k, v in _verdicts(raw).items() if k != "frequency_attack"} == {"ok"}
    # Without the raw file, length is judged by the popcount spread, which BLIP's own
    # binomial noise puts near the warn limit (0.05) on small segments; the raw-data
    # check above (length vs popcount correlation) is the one that measures leakage.
    assert {k: v for k, v in _verdicts(plain).items() if k != "length"} == {
        "bit_frequency": "ok",
        "repeated_patterns": "ok",
    }
    assert _verdicts(plain)["length"] in ("ok", "warn")
    first = next(s for s in raw["segments"] if s["field"] == "first_name")
    assert first["frequent_share"] == 0.0
    assert abs(first["length_corr"]) < 0.2


def test_strict_audit_exit_code_follows_the_verdict(party: Path) -> None:
    runner = CliRunner()
    _encode_and_audit(party, "")
    _, raw = _encode_and_audit(party, NOISE)
    assert runner.invoke(app, ["audit", str(party / "none.hme")]).exit_code == 3
    assert runner.invoke(app, ["audit", str(party / "none.hme"), "--strict"]).exit_code == 3
    noise = str(party / "noise.hme")
    assert runner.invoke(app, ["audit", noise]).exit_code == 0  # ok or warn
    warned = runner.invoke(app, ["audit", noise, "--json"]).stdout
    expected = 3 if json.loads(warned)["verdict"] == "warn" else 0
    assert runner.invoke(app, ["audit", noise, "--strict"]).exit_code == expected
