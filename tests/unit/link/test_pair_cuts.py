"""A cut per party pair: the pooled threshold, a within-party cut, and the valley of a
cross-party pair's own scores where the pooled threshold would cut its matches off; the
merge veto held to each pair's own bar."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hashmatch.link.entities import merge_entities
from hashmatch.link.pipeline import conflict_bars, job_cuts, within_party_threshold
from hashmatch.link.threshold import ThresholdChoice, _choose

#: Histograms of the 4-party synth link at 969,205 records (see the file's "_about").
LARGE = Path(__file__).parents[2] / "data" / "threshold" / "s500k_histograms.json"
PARTIES = ["crm", "callcentre", "catalogue", "partner"]


def _large() -> tuple[ThresholdChoice, list[tuple[int, int]], list[np.ndarray]]:
    doc = json.loads(LARGE.read_text())
    pooled = _choose(np.linspace(0.0, 1.0, 101), np.asarray(doc["pooled_counts"], np.int64))
    jobs, counts = [], []
    for name, hist in doc["pairs"].items():
        a, b = (PARTIES.index(p) for p in name.split(" ~ "))
        jobs.append((a, b))
        counts.append(np.asarray(hist, np.int64))
    jobs += [(k, k) for k in range(len(PARTIES))]  # dedup: histograms are not looked at
    counts += [np.zeros(100, np.int64)] * len(PARTIES)
    return pooled, jobs, counts


def test_only_the_pairs_the_pooled_threshold_cuts_off_get_their_own_valley() -> None:
    pooled, jobs, counts = _large()
    cuts = dict(zip(jobs, job_cuts(pooled, jobs, counts, automatic=True), strict=True))
    own = {("crm", "catalogue"): 0.69, ("crm", "callcentre"): 0.75, ("crm", "partner"): 0.74,
           ("catalogue", "partner"): 0.59}
    for (a, b), cut in cuts.items():
        names = (PARTIES[a], PARTIES[b])
        if a == b:
            assert cut == within_party_threshold(pooled.value)
        elif names in own:
            assert round(cut, 2) == own[names]
        else:
            assert cut == pooled.value


def test_a_threshold_the_user_gave_holds_for_every_pair() -> None:
    _, jobs, counts = _large()
    given = ThresholdChoice.explicit(0.86)
    assert job_cuts(given, jobs, counts, automatic=False) == [0.86] * len(jobs)


def test_one_party_keeps_the_threshold() -> None:
    pooled, _, counts = _large()
    assert job_cuts(pooled, [(0, 0)], counts[:1], automatic=True) == [pooled.value]


def test_conflict_bars_follow_each_cross_pair_cut() -> None:
    bars = conflict_bars(3, [(0, 1), (0, 2), (1, 2), (1, 1)], [0.8, 0.7, 0.8, 0.95], 0.8, 0.15)
    assert bars[0, 2] == bars[2, 0] == pytest.approx(0.55)
    assert bars[0, 1] == bars[1, 2] == bars[1, 1] == pytest.approx(0.65)


def test_the_merge_veto_uses_the_bar_of_the_pair_it_scores() -> None:
    """A0-B0 and B0-C0 link; A0 and C0 score 0.6 against each other. Under one bar of
    0.65 that vetoes the second merge; when A~C is linked at its own lower cut (bar
    0.5), 0.6 is no clear non-match and the three rows become one entity."""
    a = np.array

    def compare(p: int, i: np.ndarray, q: int, j: np.ndarray) -> np.ndarray:
        assert {p, q} == {0, 2}
        return np.full(len(i), 0.6, np.float32)

    args = ([1, 1, 1], a([0, 1]), a([0, 0]), a([1, 2]), a([0, 0]),
            a([0.95, 0.9], np.float32))
    one_bar, _ = merge_entities(*args, compare=compare, reject_below=0.65)
    assert len({int(lab[0]) for lab in one_bar}) == 2
    bars = np.full((3, 3), 0.65)
    bars[0, 2] = bars[2, 0] = 0.5
    own_bar, stats = merge_entities(*args, compare=compare, reject_below=bars)
    assert len({int(lab[0]) for lab in own_bar}) == 1 and stats.refused_conflict == 0
