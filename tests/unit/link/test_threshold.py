"""Threshold: the valley of a bimodal score mixture, fallbacks, and the renderings."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hashmatch.link.threshold import (
    FALLBACK_THRESHOLD,
    OWN_VALLEY_MIN_SCORES,
    OWN_VALLEY_PROMINENCE,
    ThresholdChoice,
    _choose,
    choose_threshold,
    own_valley,
    pair_threshold,
    render_histogram_text,
    write_histogram_png,
)

#: Histograms of the 4-party synth link at 969,205 records (see the file's "_about").
LARGE = Path(__file__).parents[2] / "data" / "threshold" / "s500k_histograms.json"
#: Histograms of one party deduplicated alone under 10 secrets (see the file's "_about").
DEDUP = LARGE.with_name("dedup5000_histograms.json")
SMALL_MODE = LARGE.with_name("s500k_histograms_small_mode.json")


def mixture(seed: int = 0, matches: int = 2000) -> np.ndarray:
    rng = np.random.default_rng(seed)
    non = rng.normal(0.40, 0.06, 40_000)
    match = rng.normal(0.90, 0.04, matches)
    return np.clip(np.r_[non, match], 0, 1).astype(np.float32)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_valley_between_modes_of_a_bimodal_mixture(seed: int) -> None:
    choice = choose_threshold(mixture(seed))
    assert choice.method == "valley"
    assert 0.58 < choice.value < 0.78  # both populations are > 3 sd away from here
    assert choice.modes[0] == pytest.approx(0.40, abs=0.03)
    assert choice.modes[1] == pytest.approx(0.90, abs=0.03)
    assert "valley" in choice.explanation
    edges, counts = choice.histogram
    assert len(edges) == len(counts) + 1 and counts.sum() == 42_000


def test_small_match_mode_is_still_found() -> None:
    choice = choose_threshold(mixture(matches=200))  # 0.5% of the candidates
    assert choice.method == "valley"
    assert 0.58 < choice.value < 0.8


def test_unimodal_scores_fall_back_and_say_so() -> None:
    scores = np.random.default_rng(0).normal(0.4, 0.05, 10_000).astype(np.float32)
    choice = choose_threshold(scores, fallback=0.77)
    assert (choice.method, choice.value) == ("fallback-unimodal", 0.77)
    assert "single mode" in choice.explanation
    assert "fallback" in choice.explanation


def test_empty_scores_fall_back() -> None:
    choice = choose_threshold(np.zeros(0, np.float32))
    assert (choice.method, choice.value) == ("fallback-empty", FALLBACK_THRESHOLD)
    assert "no candidate scores" in choice.explanation


def test_explicit_choice_and_dict() -> None:
    choice = ThresholdChoice.explicit(0.75, mixture())
    assert (choice.value, choice.method) == (0.75, "explicit")
    data = choice.to_dict()
    assert data["value"] == 0.75
    assert sum(data["histogram"]["counts"]) == 42_000  # type: ignore[index]
    with pytest.raises(ValueError, match="threshold"):
        ThresholdChoice.explicit(1.5)


def test_text_histogram_marks_the_threshold() -> None:
    scores = mixture()
    choice = choose_threshold(scores)
    text = render_histogram_text(scores, choice, rows=10)
    lines = text.splitlines()
    marker = [k for k, line in enumerate(lines) if "threshold" in line]
    assert len(marker) == 1
    assert len(lines) == 1 + 10 + 1
    above = lines[marker[0] + 1]
    assert float(above.split("-")[0]) >= choice.value - 0.1


def test_png_is_written(tmp_path) -> None:
    scores = mixture()
    path = tmp_path / "hist.png"
    write_histogram_png(scores, choose_threshold(scores), path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["hist.png"]  # no temporary left over


def test_png_draws_bars_and_the_threshold_line(tmp_path) -> None:
    import numpy as np
    from PIL import Image

    scores = mixture()
    choice = choose_threshold(scores)
    path = tmp_path / "hist.png"
    write_histogram_png(scores, choice, path)
    img = np.asarray(Image.open(path).convert("RGB"))
    red = (img[..., 0] == 192) & (img[..., 1] == 48)
    columns = np.flatnonzero(red.any(axis=0))
    # the dashed line stands where the threshold is on the 0-1 axis of the plot area
    assert abs(columns.mean() - (70 + 610 * choice.value)) <= 2
    blue = (img[..., 0] == 72) & (img[..., 2] == 168)
    assert blue.sum() > 1000  # bars for both modes


def _floor_rules(scores: np.ndarray) -> tuple[float, float, float]:
    """Threshold, and where each floor rule alone would put it (factor 2 of the minimum;
    16x below the smaller mode, 1.0 if the valley never gets that deep), recomputed from
    the smoothed histogram."""
    import math

    from hashmatch.link.threshold import _histogram, _prominent_peaks, _smooth

    edges, counts = _histogram(scores.astype(np.float64), 100)
    smooth = _smooth(np.log1p(counts.astype(np.float64)), 1.5)
    low, high = sorted(_prominent_peaks(smooth, 1.0)[:2])
    seg = smooth[low : high + 1]
    by_minimum = edges[low + int(np.flatnonzero(seg <= seg.min() + math.log(2))[0])]
    mode = min(smooth[low], smooth[high])
    deep = np.flatnonzero(seg <= mode - math.log(16))
    by_mode = edges[low + int(deep[0])] if len(deep) else 1.0
    return choose_threshold(scores).value, float(by_minimum), float(by_mode)


def test_deep_valley_floor_reaches_16x_below_the_match_mode() -> None:
    rng = np.random.default_rng(5)  # far-apart modes: the valley is hundreds of times deep
    scores = np.r_[rng.normal(0.35, 0.05, 40_000), rng.normal(0.95, 0.02, 5_000)]
    chosen, by_minimum, by_mode = _floor_rules(scores.astype(np.float32))
    assert by_mode < by_minimum
    assert chosen == pytest.approx(by_mode)


def test_shallow_valley_floor_stays_within_a_factor_2_of_its_minimum() -> None:
    rng = np.random.default_rng(6)  # a broad match mode and a tail reaching into it
    scores = np.r_[rng.normal(0.35, 0.09, 40_000), rng.uniform(0.55, 1.0, 2_000),
                   rng.normal(0.98, 0.01, 1_500)]
    chosen, by_minimum, by_mode = _floor_rules(np.clip(scores, 0, 1).astype(np.float32))
    assert by_minimum < by_mode
    assert chosen == pytest.approx(by_minimum)


def _flat_floor(seed: int) -> np.ndarray:
    """A single file's pairs with itself: non-matches, a long flat tail of near-misses
    (households, namesakes) and the duplicates' mode at the top."""
    rng = np.random.default_rng(seed)
    return np.clip(np.r_[rng.normal(0.25, 0.06, 30_000), rng.uniform(0.55, 0.95, 400),
                         rng.normal(0.98, 0.015, 250)], 0, 1).astype(np.float32)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_a_file_deduplicated_alone_is_cut_at_the_centre_of_the_valley_floor(seed: int) -> None:
    scores = _flat_floor(seed)
    lower = choose_threshold(scores)
    centre = choose_threshold(scores, within_party=True)
    assert centre.method == lower.method == "valley"
    assert centre.modes == lower.modes
    assert lower.value < centre.value < centre.modes[1]
    assert "centre of the valley floor" in centre.explanation
    assert "centre" not in lower.explanation
    edges, counts = centre.histogram
    first = int(np.flatnonzero(np.isclose(edges, centre.value))[0])  # a bin edge
    assert f"{int(counts[first:].sum()):,} of" in centre.explanation


def test_the_floor_centre_holds_still_where_the_lower_edge_moves_with_the_secret() -> None:
    """One file deduplicated under 10 secrets: the lower edge of its flat valley floor
    moved between 0.71 and 0.77 (pairwise precision 0.898-0.971), the centre stays
    within 0.82-0.85, where F1 was 0.952-0.974 for every secret."""
    doc = json.loads(DEDUP.read_text(encoding="utf-8"))
    edges = np.linspace(0.0, 1.0, 101)
    lowers, centres = [], []
    for counts in doc["histograms"]:
        counts = np.asarray(counts, dtype=np.int64)
        lowers.append(_choose(edges, counts).value)
        centres.append(_choose(edges, counts, within_party=True).value)
    assert max(lowers) - min(lowers) >= 0.05
    assert max(centres) - min(centres) <= 0.03
    assert all(0.8 <= c <= 0.86 for c in centres)


def test_a_party_pair_whose_matches_the_pooled_threshold_cuts_off_gets_its_own_valley() -> None:
    """At 1M records the pooled valley sat at 0.86, above the match mode of the pair that
    shares only names and a birth year (crm ~ catalogue, 0.83-0.85) and above the tail of
    the matches of crm's pairs with the call centre and the partner: those three pairs are
    linked at their own valleys, with the counts on each side said; the others (a valley
    less than 0.1 below, or none) keep the pooled threshold."""
    doc = json.loads(LARGE.read_text())
    edges = np.linspace(0.0, 1.0, 101)
    pooled = _choose(edges, np.asarray(doc["pooled_counts"], np.int64))
    assert (pooled.method, round(pooled.value, 2)) == ("valley", doc["chosen"])
    own = {name: own_valley(pooled, counts) for name, counts in doc["pairs"].items()}
    assert sorted(name for name, v in own.items() if v is not None) == [
        "catalogue ~ partner", "crm ~ callcentre", "crm ~ catalogue", "crm ~ partner"]
    valley = own["crm ~ catalogue"]
    assert valley is not None and round(valley.value, 2) == 0.69
    assert valley.between > valley.above > 0
    tail = own["crm ~ callcentre"]
    assert tail is not None and round(tail.value, 2) == 0.75 and tail.above > tail.between > 0
    assert pair_threshold(pooled, doc["pairs"]["crm ~ catalogue"]) == valley.value
    assert pair_threshold(pooled, doc["pairs"]["callcentre ~ partner"]) == pooled.value
    # names and a birth year only: a match mode at 0.66 (prominence 0.3-1 once smoothed)
    assert pair_threshold(pooled, doc["pairs"]["catalogue ~ partner"]) == pytest.approx(0.59)
    note = valley.describe("crm ~ catalogue")
    assert note.startswith("crm ~ catalogue: ") and "0.69" in note and "0.86" in note
    # a threshold the user gave, or one low enough for every pair: every pair keeps it
    explicit = ThresholdChoice.explicit(0.86, np.zeros(0, np.float32))
    low = _choose(edges, np.asarray(doc["pairs"]["catalogue ~ partner"], np.int64),
                  min_prominence=OWN_VALLEY_PROMINENCE)  # 0.59, the lowest own valley
    for choice in (explicit, low):
        assert all(own_valley(choice, c) is None for c in doc["pairs"].values())


def test_a_small_match_mode_among_millions_of_scores_is_a_mode() -> None:
    """callcentre ~ catalogue at 969,205 records: its matches are a bump at 0.79 (3,437
    scores over 1,090 at 0.76) on 11.5M namesake scores, too weak a mode for the pooled
    choice (the pair alone reads as unimodal), strong enough for its own valley: 0.69,
    where the pooled 0.86 accepted 30 of its pairs."""
    doc = json.loads(SMALL_MODE.read_text())
    edges = np.linspace(0.0, 1.0, 101)
    pooled = _choose(edges, np.asarray(doc["pooled_counts"], np.int64))
    counts = np.asarray(doc["pairs"]["callcentre ~ catalogue"], np.int64)
    assert _choose(edges, counts).method == "fallback-unimodal"
    valley = own_valley(pooled, counts)
    assert valley is not None and round(valley.value, 2) == 0.69
    assert valley.between > 1000 * valley.above
    # the pairs whose match mode is strong or missing are as before
    own = {name: own_valley(pooled, c) for name, c in doc["pairs"].items()}
    assert own["callcentre ~ partner"] is None
    assert round(own["crm ~ catalogue"].value, 2) == 0.69  # type: ignore[union-attr]


def test_a_weak_bump_below_the_non_matches_mode_is_no_match_mode() -> None:
    """Without its matches, the same pair's histogram still has a weak bump at 0.25 (pairs
    sharing fewer fields), below the non-matches' mode: no cut between the two (it would
    link nearly every candidate)."""
    doc = json.loads(SMALL_MODE.read_text())
    edges = np.linspace(0.0, 1.0, 101)
    pooled = _choose(edges, np.asarray(doc["pooled_counts"], np.int64))
    counts = np.asarray(doc["pairs"]["callcentre ~ catalogue"], np.int64)
    no_matches = counts.copy()
    no_matches[70:] = np.minimum(no_matches[70:], no_matches[70])  # the tail, falling
    no_matches[70:] = (no_matches[70] * 0.8 ** np.arange(30)).astype(np.int64)
    weak = _choose(edges, no_matches, min_prominence=OWN_VALLEY_PROMINENCE)
    assert weak.method == "valley" and weak.modes[0] < 0.3 < weak.modes[1] < 0.45
    assert own_valley(pooled, no_matches) is None


def test_one_bimodal_pair_keeps_the_pooled_threshold() -> None:
    scores = mixture()
    choice = choose_threshold(scores)
    counts, _ = np.histogram(scores, bins=np.asarray(choice.edges))
    assert own_valley(choice, counts.tolist()) is None


def test_a_pair_with_few_candidate_scores_keeps_the_pooled_threshold() -> None:
    """The same shape in a few thousand scores (a party pair of a small input) is not
    trusted: there the noise alone makes valleys far below the pooled one."""
    doc = json.loads(LARGE.read_text())
    pooled = _choose(np.linspace(0.0, 1.0, 101), np.asarray(doc["pooled_counts"], np.int64))
    counts = np.asarray(doc["pairs"]["crm ~ catalogue"], np.int64)
    assert own_valley(pooled, counts) is not None
    few = counts * (OWN_VALLEY_MIN_SCORES - 1) // counts.sum()
    assert 0 < few.sum() < OWN_VALLEY_MIN_SCORES
    assert own_valley(pooled, few) is None
