"""The report's sections assembled from report.json-like data (no drawing)."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest

from hashmatch.report.data import BORDERLINE_BAND, assemble

FIXTURE = Path(__file__).parents[2] / "data" / "report" / "report_full.json"


@pytest.fixture
def full() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


def test_every_section_is_filled_from_a_full_report(full: dict[str, Any]) -> None:
    data = assemble(full, evaluation={"precision": 0.97, "recall": 0.95, "f1": 0.96})
    assert len(data.distributions) == len(full["party_pairs"])
    within = [d for d in data.distributions if d.within_party]
    assert within and all(d.threshold is not None and d.threshold > data.threshold for d in within)
    assert [c.estimated for c in data.curves] == [True]  # the evaluation gave no curve
    assert {label for label, *_ in data.quality_points} == {
        "true, at the threshold used", "estimated, at the threshold used"
    }
    assert data.weights_are_model and data.weights
    first = data.weights[0]
    assert first.field == "first_name"
    exact = dict(first.levels)["exact"]
    assert exact == pytest.approx(math.log2(0.86 / 0.004))  # log2(m / u) from the model
    assert data.cluster_sizes[0][0] == 1 and data.cluster_parties
    assert all(b.recall_estimate is not None for b in data.blocking)
    assert len(data.borderline) == 2 and data.borderline[0].prior == pytest.approx(-11.3)
    assert [q.party for q in data.quality] == ["crm"]
    assert not {"curves", "weights", "borderline", "quality", "blocking"} & set(data.notes)
    summary = dict(data.summary)
    assert summary["within-party threshold"] == "0.870"
    assert "estimated precision / recall" in summary


def test_a_report_without_model_data_shows_the_score_based_equivalents(
    full: dict[str, Any],
) -> None:
    plain = copy.deepcopy(full)
    for key in ("estimated", "borderline_pairs", "data_quality"):
        del plain[key]
    for p in plain["party_pairs"]:
        del p["model"]
        del p["blocking"]["recall_estimate"]
    data = assemble(plain)
    assert not data.curves and data.accepted_curve is not None
    thresholds, above = data.accepted_curve
    assert list(above) == sorted(above, reverse=True)  # pairs at or above: non-increasing
    cross = sum(sum(p["score_counts"]) for p in plain["party_pairs"]
                if p["party_a"] != p["party_b"])
    assert above[0] == cross
    # the token evidence of the score-based linker stands in for the m/u weights
    assert not data.weights_are_model
    assert {w.field for w in data.weights} >= {"email", "phone", "surname_dob"}
    assert {"curves", "weights", "borderline", "quality", "blocking"} <= set(data.notes)
    band = dict(data.borderline_band)
    pair = plain["party_pairs"][0]
    lo = round((pair["threshold"] - BORDERLINE_BAND) * 100)
    hi = round((pair["threshold"] + BORDERLINE_BAND) * 100)
    assert band[f"{pair['party_a']} ~ {pair['party_b']}"] == sum(pair["score_counts"][lo:hi])


def test_an_old_report_falls_back_to_the_pooled_histogram(full: dict[str, Any]) -> None:
    old = copy.deepcopy(full)
    for p in old["party_pairs"]:
        del p["score_counts"]
    data = assemble(old)
    assert [d.label for d in data.distributions] == ["all parties ~ pooled"]
    assert data.distributions[0].counts == tuple(full["threshold"]["histogram"]["counts"])


def test_an_empty_report_still_has_every_note() -> None:
    data = assemble({"format_version": 1})
    assert not data.distributions and not data.inputs
    assert {"distributions", "curves", "weights", "borderline", "quality"} <= set(data.notes)


def test_a_true_curve_is_kept_beside_the_estimate(full: dict[str, Any]) -> None:
    curve = [{"threshold": t / 10, "precision": 0.9, "recall": 1 - t / 20} for t in range(5, 10)]
    data = assemble(full, evaluation={"precision": 0.9, "recall": 0.8, "f1": 0.85,
                                      "curve": curve, "source": "pairs.csv"})
    assert [(c.label, c.estimated) for c in data.curves] == [
        ("estimated (no labels)", True), ("true (pairs.csv)", False)
    ]
    assert data.curves[1].thresholds == tuple(t / 10 for t in range(5, 10))
