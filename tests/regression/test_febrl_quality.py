"""FEBRL 4 through the library API: F1 at the automatically chosen threshold.

The issue's bar is F1 >= 0.999 on FEBRL 4 (truth: rec-N-org ~ rec-N-dup-0) with the
example schema. The figure depends a little on the linkage secret (it changes which bits
collide): over 16 secrets the automatic threshold gives 0.9991-0.9999
(docs/guides/linking.md, "Figures"). The test pins one secret so that it is
deterministic.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from hashmatch.encode import LinkageSecret, encode_file
from hashmatch.evaluate import evaluate
from hashmatch.link import link_files

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "febrl4"
EXAMPLE = ROOT / "examples" / "febrl4"


@pytest.fixture(scope="module")
def febrl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("febrl4")
    secret = root / "linkage.secret"
    LinkageSecret(bytes([1]) * 32).write(secret)  # test-only, fixed: see the docstring
    with open(root / "truth.csv", "w", newline="") as fh:
        truth = csv.writer(fh)
        truth.writerow(["party", "record_id", "entity_id"])
        for party in "ab":
            source = DATA / f"dataset4{party}.csv"
            encode_file(
                source,
                schema=EXAMPLE / "schema.toml",
                secret=secret,
                party=party,
                mapping=EXAMPLE / "mapping.toml",
                out=root / f"{party}.hme",
                lookup=root / f"{party}.lookup",
                rejects=root / f"{party}.rejects.csv",
            )
            with open(source, newline="") as src:
                for row in csv.DictReader(src):
                    rec = row["rec_id"]  # rec-N-org / rec-N-dup-0: entity N
                    truth.writerow([party, rec, rec.split("-")[1]])
    return root


def test_febrl4_f1_at_the_automatic_threshold(febrl: Path) -> None:
    result = link_files([febrl / "a.hme", febrl / "b.hme"], febrl / "results")
    assert result.threshold.method == "valley"
    report = evaluate(
        febrl / "results", febrl / "truth.csv", [febrl / "a.lookup", febrl / "b.lookup"]
    )
    assert report.f1 >= 0.999, f"FEBRL 4 F1 {report.f1:.4f} at {result.threshold.value:.3f}"
    assert (febrl / "results" / "score-histogram.png").stat().st_size > 0


def test_febrl4_f1_through_the_python_facade() -> None:
    """The issue's bar: FEBRL 4 loaded with pandas, encoded, linked and scored with
    ``import hashmatch as hm`` alone, pairwise F1 from ``res.to_pandas()`` >= 0.999."""
    pd = pytest.importorskip("pandas")
    import hashmatch as hm

    schema = hm.load_schema(EXAMPLE / "schema.toml")
    secret = hm.LinkageSecret(bytes([1]) * 32)  # test-only, fixed: see the module docstring
    mapping = {  # the columns FEBRL's files need (as examples/febrl4/mapping.toml)
        "record_id": "rec_id",
        "date_formats": ["%Y%m%d"],
        "fields": {"address": {"column": ["street_number", "address_1", "address_2"]}},
    }
    frames = {
        party: pd.read_csv(DATA / f"dataset4{party}.csv", skipinitialspace=True, dtype=str)
        for party in "ab"
    }
    batches = [
        hm.encode(frame, schema=schema, secret=secret, party=party, mapping=mapping)
        for party, frame in frames.items()
    ]
    res = hm.link(batches, dedup=False)
    table = res.to_pandas()
    truth = pd.concat(
        pd.DataFrame(
            {"party": party, "record_id": f.rec_id, "entity_id": f.rec_id.str.split("-").str[1]}
        )
        for party, f in frames.items()
    )
    scores = hm.evaluate(table, truth)
    assert len(table) == 10_000 and table.record_id.notna().all()
    assert scores.records == 10_000 and scores.report.pairwise.true_pairs == 5_000
    assert scores.f1 >= 0.999, f"FEBRL 4 F1 {scores.f1:.4f} at {res.threshold.value:.3f}"


def test_febrl4_probabilistic_scoring_and_its_estimates(febrl: Path) -> None:
    """--scoring fs: the bar F1 >= 0.9995 at probability 0.5, the label-free estimate
    within 0.02 of the truth, and the fitted model reused from report.json."""
    import json

    out = febrl / "results-fs"
    result = link_files([febrl / "a.hme", febrl / "b.hme"], out, scoring="fs")
    assert result.threshold.method == "probability"
    report = evaluate(out, febrl / "truth.csv", [febrl / "a.lookup", febrl / "b.lookup"])
    assert report.f1 >= 0.9995, f"FEBRL 4 F1 {report.f1:.4f} with --scoring fs"
    saved = json.loads((out / "report.json").read_text())
    assert abs(saved["estimated"]["precision"] - report.precision) <= 0.02
    assert abs(saved["estimated"]["recall"] - report.recall) <= 0.02
    assert "exact" in saved["model"]["a~b"]["fields"]["surname"]
    again = link_files(
        [febrl / "a.hme", febrl / "b.hme"], febrl / "again", scoring="fs",
        model=saved["model"],
    )
    assert again.model is not None
    assert again.model["a~b"]["fields"] == saved["model"]["a~b"]["fields"]
    assert again.model["a~b"]["prior_source"] == "given"
    assert [len(e) for e in again.entities] == [len(e) for e in result.entities]
