"""Probabilistic scoring (``link --scoring fs``) on small synthetic 4-party data.

Issue 12's bars are measured at full size with ``benchmarks/scoring.py``; this keeps
the small-size figures from sliding back, in seconds: F1, twins kept apart, and the
label-free precision estimate against the truth. The secret is fixed (test-only) because
the figures depend a little on which bits the keyed hashes choose.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hashmatch.demo import twins_kept_apart
from hashmatch.encode import LinkageSecret, encode_file
from hashmatch.evaluate import evaluate
from hashmatch.link import link_files
from hashmatch.synth import synthesize


@pytest.fixture(scope="module")
def parties(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fs-quality")
    data = synthesize(root / "parties", entities=1500, seed=1)
    secret = root / "linkage.secret"
    LinkageSecret(bytes([2]) * 32).write(secret)  # test-only, fixed: see the docstring
    for name, files in data.parties.items():
        encode_file(files.csv, schema=data.schema, secret=secret, party=name,
                    mapping=files.mapping, out=root / f"{name}.hme",
                    lookup=root / f"{name}.lookup", rejects=root / f"{name}.rejects.csv")
    return root


def _link(root: Path, scoring: str
          ) -> tuple[float, tuple[float, float], tuple[int, int], Path]:
    out = root / f"results-{scoring}"
    link_files(sorted(root.glob("*.hme")), out, dedup=True, scoring=scoring)
    lookups = sorted(root.glob("*.lookup"))
    truth = root / "parties" / "truth.csv"
    report = evaluate(out, truth, lookups)
    twins = twins_kept_apart(out, truth, root / "parties" / "twins.csv", lookups)
    return report.f1, (report.precision, report.recall), (twins.kept, twins.pairs), out


def test_fs_links_small_synthetic_parties_at_least_as_well_as_dice(parties: Path) -> None:
    fs_f1, (fs_precision, fs_recall), (kept, twins), out = _link(parties, "fs")
    dice_f1, _, _, _ = _link(parties, "dice")
    assert fs_f1 >= 0.95, f"fs F1 {fs_f1:.4f}"
    assert fs_f1 >= dice_f1 - 0.005, f"fs F1 {fs_f1:.4f}, dice {dice_f1:.4f}"
    # 18 of 19 before session 14, 17 after: the one more is a record without a first
    # name that shares surname, birth date and phone with both twins and now lands with
    # the other twin's entity (benchmarks/scoring.py's secret: 17 of 19 before and after;
    # 10,000 and 50,000 people: as many or more twins kept apart)
    assert kept >= 0.85 * twins, f"twins kept apart {kept} of {twins}"
    estimated = json.loads((out / "report.json").read_text())["estimated"]
    # estimated on the output's pairs, without labels. Recall is relative to the matches
    # blocking proposed: at 1,500 people it misses 3.4% of them, which the estimate
    # cannot see (0.02 holds from 3,000 people on: benchmarks/README.md)
    assert abs(estimated["precision"] - fs_precision) <= 0.02
    assert abs(estimated["recall"] - fs_recall) <= 0.03, (estimated["recall"], fs_recall)
