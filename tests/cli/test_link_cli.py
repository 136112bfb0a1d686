"""`hashmatch link`, `reveal` and `evaluate` end to end on synthetic parties.

Three parties are synthesised (with duplicates and twins at one address), encoded with the
library encode API, linked through the CLI and checked against the synthetic truth.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hashmatch.cli import app
from hashmatch.encode import LinkageSecret, encode_file
from hashmatch.synth import synthesize

PARTIES = ["crm", "callcentre", "partner"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("link")
    data = synthesize(root / "data", entities=400, seed=11, parties=PARTIES)
    assert data.twins, "the fixture needs twins to test that they stay apart"
    secret = LinkageSecret(bytes([7]) * 32)  # fixed, test-only: scores depend a little on it
    hme: dict[str, Path] = {}
    for name, files in data.parties.items():
        hme[name] = root / f"{name}.hme"
        encode_file(
            files.csv,
            schema=data.schema,
            secret=secret,
            party=name,
            out=hme[name],
            mapping=files.mapping,
        )
    return {"root": root, "data": data, "hme": hme, "secret": secret}


def run(*args: object) -> object:
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result


def lookups(world: dict[str, object]) -> list[str]:
    return [str(p.with_suffix(".lookup")) for p in world["hme"].values()]  # type: ignore[attr-defined]


def predicted_entities(results: Path, world: dict[str, object]) -> dict[str, set[tuple[str, str]]]:
    """entity_id -> {(party, record_id)} through the lookups."""
    token_to_id = {}
    for lookup in lookups(world):
        with open(lookup, newline="") as fh:
            token_to_id.update({r["row_token"]: r["record_id"] for r in csv.DictReader(fh)})
    out: dict[str, set[tuple[str, str]]] = defaultdict(set)
    with open(results / "entities.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            out[row["entity_id"]].add((row["party"], token_to_id[row["row_token"]]))
    return out


def truth_of(world: dict[str, object]) -> dict[tuple[str, str], str]:
    with open(world["data"].truth, newline="") as fh:  # type: ignore[attr-defined]
        return {(r["party"], r["record_id"]): r["entity_id"] for r in csv.DictReader(fh)}


@pytest.fixture(scope="module")
def linked(world: dict[str, object]) -> Path:
    out = world["root"] / "RESULTS"  # type: ignore[operator]
    hme = world["hme"]
    result = run("link", *hme.values(), "-o", out, "--pairs", "--share-party-names")  # type: ignore[attr-defined]
    assert result.exit_code == 0, result.output
    assert "threshold" in result.output
    assert f"report: {out / 'report.html'}" in result.output
    return out


def test_link_writes_every_output(linked: Path) -> None:
    names = sorted(p.name for p in linked.iterdir())
    assert names == sorted(
        ["entities.csv", "pairs.csv", "relationships.csv", "report.html", "report.json",
         "score-histogram.png"]
        + [f"{p}.csv" for p in PARTIES]
    )
    report = json.loads((linked / "report.json").read_text())
    assert report["format_version"] == 1
    assert len(report["party_pairs"]) == 3
    for pair in report["party_pairs"]:
        assert 0.0 < pair["blocking"]["reduction_ratio"] <= 1.0
    assert report["threshold"]["method"]
    for pair in report["party_pairs"]:  # each pair's scores, for report.html
        assert sum(pair["score_counts"]) == pair["candidates"]
    assert report["outputs"]["html"] == "report.html"
    page = (linked / "report.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.count('data-chart="histogram"') == 3
    with open(linked / "crm.csv", newline="") as fh:
        header = next(csv.reader(fh))
    assert header == ["row_token", "entity_id", "other_parties", "run_id"]


def test_three_parties_agree_with_the_truth(world: dict[str, object], linked: Path) -> None:
    result = run(
        "evaluate",
        linked,
        "--truth",
        world["data"].truth,  # type: ignore[attr-defined]
        *[a for path in lookups(world) for a in ("--lookup", path)],
        "--json",
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["pairwise"]["precision"] >= 0.95
    assert report["pairwise"]["recall"] >= 0.8  # within-party duplicates are not sought here
    assert report["records"] == sum(p.rows for p in world["data"].parties.values())  # type: ignore[attr-defined]


def test_evaluate_prints_one_measure_per_line(world: dict[str, object], linked: Path) -> None:
    result = run(
        "evaluate",
        linked,
        "--truth",
        world["data"].truth,  # type: ignore[attr-defined]
        *[a for path in lookups(world) for a in ("--lookup", path)],
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("precision 0.") or lines[0] == "precision 1.0000"
    assert lines[1].startswith("recall")
    assert lines[2].startswith("F1")
    assert "B-cubed" in result.stdout


def test_no_entity_holds_two_rows_of_one_party(world: dict[str, object], linked: Path) -> None:
    for members in predicted_entities(linked, world).values():
        parties = [p for p, _ in members]
        assert len(parties) == len(set(parties))


GIVEN = ["james", "olivia", "liam", "emma", "noah", "ava", "elijah", "sophia", "lucas", "mia"]
FAMILY = ["garcia", "nguyen", "okafor", "schmidt"]
HEADER = "id,first_name,last_name,date_of_birth,email,phone,address,postcode,city\n"
TWIN_1 = "Anna,Kowalski,1990-04-12,anna.k@example.org,312-555-0101,12 Elm Street,60601,Chicago"
TWIN_2 = "Marta,Kowalski,1990-04-12,marta.k@example.org,312-555-0102,12 Elm Street,60601,Chicago"


def _filler(k: int) -> str:
    first, last = GIVEN[k % 10], FAMILY[k // 10]
    return (
        f"{first.title()},{last.title()},19{50 + k}-0{1 + k % 9}-1{k % 10},"
        f"{first}.{last}{k}@example.com,312-555-{1000 + k},{k + 1} Main Street,606{k:02d},Chicago"
    )


def test_twins_at_one_address_stay_apart(world: dict[str, object], tmp_path: Path) -> None:
    # a: 40 people + both twins; b: 30 people + both twins; c: 30 people + the second twin.
    holdings = {
        "a": (range(40), [TWIN_1, TWIN_2]),
        "b": (range(30), [TWIN_1, TWIN_2]),
        "c": (range(10, 40), [TWIN_2]),
    }
    mapping = tmp_path / "mapping.toml"
    mapping.write_text('record_id = "id"\nphone_region = "US"\n')
    files = []
    for party, (people, twins) in holdings.items():
        csv_path = tmp_path / f"{party}.csv"
        lines = [f"p{k},{_filler(k)}" for k in people]
        lines += [f"twin{1 if t is TWIN_1 else 2},{t}" for t in twins]
        csv_path.write_text(HEADER + "\n".join(lines) + "\n")
        files.append(tmp_path / f"{party}.hme")
        encode_file(
            csv_path,
            schema=world["data"].schema,
            secret=world["secret"],  # type: ignore[attr-defined]
            party=party,
            out=files[-1],
            mapping=mapping,
        )
    out = tmp_path / "R"
    result = run("link", *files, "-o", out)
    assert result.exit_code == 0, result.output
    entity: dict[tuple[str, str], str] = {}
    for party in holdings:
        lookup = {
            r["row_token"]: r["record_id"]
            for r in csv.DictReader((tmp_path / f"{party}.lookup").open(newline=""))
        }
        for row in csv.DictReader((out / f"{party}.csv").open(newline="")):
            entity[(party, lookup[row["row_token"]])] = row["entity_id"]
    assert entity[("a", "twin1")] == entity[("b", "twin1")]
    assert entity[("a", "twin2")] == entity[("b", "twin2")] == entity[("c", "twin2")]
    assert entity[("a", "twin1")] != entity[("a", "twin2")]
    assert all(entity[("a", f"p{k}")] == entity[("b", f"p{k}")] for k in range(30))


def test_dedup_finds_duplicates_within_a_party(world: dict[str, object], tmp_path: Path) -> None:
    hme = world["hme"]
    # An explicit threshold isolates dedup's mechanics from the automatic choice.
    result = run("link", *hme.values(), "-o", tmp_path, "--dedup", "--threshold", "0.75")  # type: ignore[attr-defined]
    assert result.exit_code == 0, result.output
    report = json.loads(
        run(
            "evaluate",
            tmp_path,
            "--truth",
            world["data"].truth,  # type: ignore[attr-defined]
            *[a for path in lookups(world) for a in ("--lookup", path)],
            "--json",
        ).stdout
    )
    within = {(p["party_a"], p["party_b"]): p for p in report["per_party_pair"]}
    crm = within[("crm", "crm")]
    assert crm["true_pairs"] > 0
    assert crm["true_positives"] > 0  # duplicates found ...
    assert report["pairwise"]["precision"] >= 0.9  # ... without merging everyone


def test_reveal_rejoins_the_partys_own_ids(
    world: dict[str, object], linked: Path, tmp_path: Path
) -> None:
    out = tmp_path / "crm-entities.csv"
    lookup = world["hme"]["crm"].with_suffix(".lookup")  # type: ignore[index]
    result = run("reveal", linked / "crm.csv", "--lookup", lookup, "-o", out)
    assert result.exit_code == 0, result.output
    with open(out, newline="") as fh:
        rows = list(csv.DictReader(fh))
    expected = {
        record: entity
        for entity, members in predicted_entities(linked, world).items()
        for party, record in members
        if party == "crm"
    }
    assert {r["record_id"]: r["entity_id"] for r in rows} == expected
    assert out.stat().st_mode & 0o077 == 0


def test_reveal_refuses_another_partys_lookup(
    world: dict[str, object], linked: Path, tmp_path: Path
) -> None:
    wrong = world["hme"]["partner"].with_suffix(".lookup")  # type: ignore[index]
    result = run("reveal", linked / "crm.csv", "--lookup", wrong, "-o", tmp_path / "x.csv")
    assert result.exit_code == 2
    assert "not in" in result.output
    assert not (tmp_path / "x.csv").exists()


def _encode_variant(
    world: dict[str, object],
    tmp: Path,
    *,
    party: str = "partner",
    secret: LinkageSecret | None = None,
    schema: Path | None = None,
) -> Path:
    data = world["data"]
    files = data.parties["partner"]  # type: ignore[attr-defined]
    out = tmp / f"variant-{party}.hme"
    encode_file(
        files.csv,
        schema=schema or data.schema,
        secret=secret or world["secret"],  # type: ignore[attr-defined]
        party=party,
        out=out,
        mapping=files.mapping,
    )
    return out


def test_refuses_a_different_secret(world: dict[str, object], tmp_path: Path) -> None:
    other = _encode_variant(world, tmp_path, secret=LinkageSecret.generate())
    result = run("link", world["hme"]["crm"], other, "-o", tmp_path / "R")  # type: ignore[index]
    assert result.exit_code == 2
    assert "different linkage secrets" in result.output
    assert "crm.hme" in result.output and other.name in result.output
    assert not (tmp_path / "R").exists()


def test_refuses_a_different_schema(world: dict[str, object], tmp_path: Path) -> None:
    schema = tmp_path / "schema.toml"
    text = world["data"].schema.read_text()  # type: ignore[attr-defined]
    schema.write_text(text.replace('name = "hashmatch-synth"', 'name = "other"'))
    other = _encode_variant(world, tmp_path, schema=schema)
    result = run("link", world["hme"]["crm"], other, "-o", tmp_path / "R")  # type: ignore[index]
    assert result.exit_code == 2
    assert "different linkage schemas" in result.output


def test_refuses_two_files_of_one_party(world: dict[str, object], tmp_path: Path) -> None:
    twin_file = _encode_variant(world, tmp_path, party="crm")
    result = run("link", world["hme"]["crm"], twin_file, "-o", tmp_path / "R")  # type: ignore[index]
    assert result.exit_code == 2
    assert "both claim to be party 'crm'" in result.output


def test_refuses_a_tampered_file(world: dict[str, object], tmp_path: Path) -> None:
    bad = tmp_path / "bad.hme"
    raw = bytearray(world["hme"]["partner"].read_bytes())  # type: ignore[index]
    raw[len(raw) // 2] ^= 0xFF
    bad.write_bytes(bytes(raw))
    result = run("link", world["hme"]["crm"], bad, "-o", tmp_path / "R")  # type: ignore[index]
    assert result.exit_code == 2
    assert "bad.hme" in result.output


def test_help_has_an_example() -> None:
    for command in ("link", "reveal", "evaluate"):
        result = run(command, "--help")
        assert result.exit_code == 0
        assert "Example" in result.output


def test_in_memory_link_matches_the_files(world: dict[str, object], linked: Path) -> None:
    from hashmatch.encode import encode_records
    from hashmatch.link import link_encodings

    data = world["data"]
    batches = []
    for name in PARTIES:
        files = data.parties[name]  # type: ignore[attr-defined]
        with files.csv.open(newline="") as fh:
            records = list(csv.DictReader(fh))
        batches.append(
            encode_records(
                records,
                schema=data.schema,
                secret=world["secret"],  # type: ignore[attr-defined]
                party=name,
                mapping=files.mapping,
            )
        )
    result = link_encodings(batches)
    in_memory: dict[int, set[tuple[str, str]]] = defaultdict(set)
    for batch, labels in zip(batches, result.entities, strict=True):
        for record_id, label in zip(batch.record_ids, labels.tolist(), strict=True):
            in_memory[label].add((batch.party, record_id))
    from_files = predicted_entities(linked, world)
    assert sorted(map(sorted, in_memory.values())) == sorted(map(sorted, from_files.values()))


def test_refuses_other_encoder_versions_and_clk_lengths() -> None:
    from dataclasses import replace

    from hashmatch.errors import IncompatibleEncodingsError
    from hashmatch.link import PartyInfo, check_compatible

    a = PartyInfo("a", "a.hme", 1, "", "sha256:x", 1, 1024, "ab")
    with pytest.raises(IncompatibleEncodingsError, match=r"a\.hme and b\.hme .*encoder versions"):
        check_compatible([a, replace(a, party="b", source="b.hme", encoder_version=2)])
    with pytest.raises(IncompatibleEncodingsError, match="different CLK lengths"):
        check_compatible([a, replace(a, party="b", source="b.hme", clk_bits=2048)])
    check_compatible([a, replace(a, party="b", source="b.hme")])
    # a file without a secret commitment cannot show it shares the secret: refused
    with pytest.raises(IncompatibleEncodingsError, match="b.hme carries no secret commitment"):
        check_compatible([a, replace(a, party="b", source="b.hme", secret_commitment="")])


def test_no_blocking_beyond_the_limit_needs_force(
    world: dict[str, object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hashmatch.link import exhaustive

    monkeypatch.setattr(exhaustive, "NO_BLOCKING_MAX_PAIRS", 1000)
    files = list(world["hme"].values())  # type: ignore[attr-defined]
    refused = run("link", *files, "-o", tmp_path / "refused", "--no-blocking")
    assert refused.exit_code == 2  # type: ignore[attr-defined]
    assert "without blocking" in refused.output and "--force" in refused.output  # type: ignore[attr-defined]
    assert not (tmp_path / "refused" / "entities.csv").exists()
    forced = run("link", *files, "-o", tmp_path / "forced", "--no-blocking", "--force",
                 "--threshold", "0.8")
    assert forced.exit_code == 0, forced.output  # type: ignore[attr-defined]
    assert (tmp_path / "forced" / "entities.csv").exists()


def test_fs_pairs_carry_their_waterfall_and_explain_shows_one(
    world: dict[str, object], tmp_path: Path
) -> None:
    """--scoring fs --pairs: each pair's prior + field weights add up to its total, whose
    probability is the score; `explain` prints the same terms for one pair."""
    out = tmp_path / "fs"
    result = run("link", *world["hme"].values(), "-o", out, "--pairs", "--scoring", "fs")  # type: ignore[attr-defined]
    assert result.exit_code == 0, result.output
    with open(out / "pairs.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows
    fields = [c[: -len("_level")] for c in rows[0] if c.endswith("_level")]
    assert {"first_name", "date_of_birth"} <= set(fields)
    for row in rows:
        terms = float(row["prior_weight"]) + sum(float(row[f"{f}_weight"]) for f in fields)
        assert terms == pytest.approx(float(row["total_weight"]), abs=0.02 * (len(fields) + 1))
        probability = 1 / (1 + 2 ** -float(row["total_weight"]))
        assert probability == pytest.approx(float(row["score"]), abs=0.01)
        assert float(row["score"]) >= 0.5
    first = rows[0]
    shown = run("explain", out, "--pair", first["row_token_b"], first["row_token_a"])
    assert shown.exit_code == 0, shown.output
    assert f"match probability {first['score']}" in shown.output
    assert f"{fields[0]} {first[fields[0] + '_level']}" in shown.output
    assert run("explain", out, "--pair", "0" * 32, "1" * 32).exit_code == 2
    assert run("explain", world["root"] / "RESULTS", "--pair", "a", "b").exit_code == 2  # type: ignore[operator]


def test_link_puts_the_parties_data_quality_into_the_report(
    world: dict[str, object], tmp_path: Path
) -> None:
    data = world["data"]
    crm = data.parties["crm"]  # type: ignore[attr-defined]
    profile = run("profile", crm.csv, "--schema", data.schema, "--mapping", crm.mapping,  # type: ignore[attr-defined]
                  "--json")
    assert profile.exit_code == 0, profile.output
    (tmp_path / "crm.profile.json").write_text(profile.output)
    (tmp_path / "calls.json").write_text(profile.output)
    out = tmp_path / "RESULTS"
    result = run("link", *world["hme"].values(), "-o", out,  # type: ignore[attr-defined]
                 "--encode-report", tmp_path / "crm.profile.json",
                 "--encode-report", f"callcentre={tmp_path / 'calls.json'}")
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert sorted(report["data_quality"]) == ["callcentre", "crm"]
    fields = report["data_quality"]["crm"]["fields"]
    assert fields["first_name"]["valid"] > 0 and "source" not in report["data_quality"]["crm"]
    page = (out / "report.html").read_text(encoding="utf-8")
    assert 'data-chart="stacked-bars"' in page
    bad = tmp_path / "bad.json"
    bad.write_text('{"not": "a profile"}')
    refused = run("link", *world["hme"].values(), "-o", tmp_path / "R2",  # type: ignore[attr-defined]
                  "--encode-report", bad)
    assert refused.exit_code == 2 and "not a data-quality profile" in refused.output


def test_evaluate_says_plainly_when_it_scored_only_some_parties(
    world: dict[str, object], linked: Path
) -> None:
    one = lookups(world)[0]  # crm's only
    result = run("evaluate", linked, "--truth", world["data"].truth, "--lookup", one)  # type: ignore[attr-defined]
    assert result.exit_code == 0, result.output
    first = " ".join(result.stdout.split())  # rich wraps the long line
    assert first.startswith("only part of the results was scored: no lookup was given for "
                            "callcentre, partner")
    doc = json.loads(run("evaluate", linked, "--truth", world["data"].truth,  # type: ignore[attr-defined]
                         "--lookup", one, "--json").stdout)
    assert doc["unscored_parties"] == ["callcentre", "partner"]


def test_evaluate_renders_the_report_with_the_truth(
    world: dict[str, object], linked: Path, tmp_path: Path
) -> None:
    page = tmp_path / "report.html"
    result = run("evaluate", linked, "--truth", world["data"].truth,  # type: ignore[attr-defined]
                 *[a for path in lookups(world) for a in ("--lookup", path)], "--html", page)
    assert result.exit_code == 0, result.output
    assert f"report: {page}" in result.output
    text = page.read_text(encoding="utf-8")
    assert "true (truth.csv, pairs.csv)" in text  # the link kept pairs.csv: a true curve
    assert "true, at the threshold used" in text


def test_fs_scoring_fills_the_reports_model_sections(
    world: dict[str, object], tmp_path: Path
) -> None:
    """With --scoring fs, report.json carries the model, the estimates and borderline
    pairs (levels and weights, no row token) and report.html draws each of them."""
    out = tmp_path / "fs"
    result = run("link", *world["hme"].values(), "-o", out, "--scoring", "fs")  # type: ignore[attr-defined]
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["model"] and report["estimated"]["curve"]
    assert report["token_evidence"] == {}  # the Dice-score token bonuses were not used
    border = report["borderline_pairs"]
    assert 0 < len(border) <= 12
    assert set(border[0]) == {"party_a", "party_b", "score", "prior", "fields"}
    assert all(abs(b["score"] - report["threshold"]["value"]) < 0.5 for b in border)
    page = (out / "report.html").read_text(encoding="utf-8")
    assert 'data-chart="waterfall"' in page and 'data-series="precision, estimated' in page
    assert "first_name: exact" in page  # a model level, drawn as a match weight
