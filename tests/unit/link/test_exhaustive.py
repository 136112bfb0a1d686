"""Linking without blocking through the grid kernel: nothing the all-pairs path kept is
missed, the threshold comes from the same scores, and the cost guard refuses big grids."""

from __future__ import annotations

import csv
from typing import Any

import numpy as np
import pytest

from hashmatch.encode import LinkageSecret, encode_records
from hashmatch.errors import CostLimitError
from hashmatch.link import exhaustive
from hashmatch.link.exhaustive import check_cost, grid_size, likely_pairs, sample_pairs
from hashmatch.link.inputs import as_encoding, info_of
from hashmatch.link.pipeline import link_encodings
from hashmatch.link.scorer import PairScorer
from hashmatch.link.scoring import ScoringConfig
from hashmatch.link.solve import solve_one_to_one
from hashmatch.link.threshold import choose_threshold
from hashmatch.schema import load_mapping, load_schema
from hashmatch.synth import synthesize

SECRET = LinkageSecret(bytes(range(32)))


@pytest.fixture(scope="module")
def batches(tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    """Two small synthetic parties (a swap pair, exact tokens, match keys)."""
    folder = tmp_path_factory.mktemp("exhaustive")
    synthesize(folder, entities=260, seed=5, parties=["crm", "callcentre"])
    schema = load_schema(folder / "schema.toml")
    out = []
    for party in ("crm", "callcentre"):
        with (folder / f"{party}.csv").open(newline="") as fh:
            rows = list(csv.DictReader(fh))
        mapping = load_mapping(folder / f"{party}.mapping.toml", schema)
        out.append(encode_records(rows, schema=schema, secret=SECRET, party=party,
                                  mapping=mapping))
    return out


def _all_scores(batches: list[Any], a: int, b: int) -> tuple[np.ndarray, ...]:
    """The old path: every pair in row-major order, scored."""
    parties = [as_encoding(x) for x in batches]
    scorer = PairScorer(parties, ScoringConfig.for_tokens(info_of(batches[0]).token_kinds))
    n, m = len(batches[a].row_tokens), None if a == b else len(batches[b].row_tokens)
    i, j = (np.concatenate(x) for x in zip(*sample_pairs(n, m, 1), strict=True))
    return i, j, scorer(a, i, b, j), scorer


def test_sample_pairs_walk_the_grid_in_row_major_order() -> None:
    i, j = (np.concatenate(x) for x in zip(*sample_pairs(4, 3, 1), strict=True))
    assert list(zip(i.tolist(), j.tolist(), strict=True)) == [(x, y) for x in range(4)
                                                               for y in range(3)]
    i, j = (np.concatenate(x) for x in zip(*sample_pairs(5, None, 1), strict=True))
    assert list(zip(i.tolist(), j.tolist(), strict=True)) == [(x, y) for x in range(5)
                                                               for y in range(x + 1, 5)]
    i, _ = (np.concatenate(x) for x in zip(*sample_pairs(5, None, 3), strict=True))
    assert len(i) == 4 and grid_size(5, None) == 10


@pytest.mark.parametrize("floor", [0.2, 0.45, 0.6, 0.75, 0.9])
@pytest.mark.parametrize("within", [False, True], ids=["a-b", "dedup"])
def test_no_pair_reaching_the_floor_is_missed(batches: list[Any], floor: float,
                                              within: bool) -> None:
    a, b = (0, 0) if within else (0, 1)
    i, j, s, scorer = _all_scores(batches, a, b)
    want = set(zip(i[s >= floor].tolist(), j[s >= floor].tolist(), strict=True))
    assert want  # the case means something
    right = None if within else scorer.parties[b]
    chunks = list(likely_pairs(scorer.parties[a], right, floor, scorer.config))
    gi, gj = (np.concatenate(x) for x in zip(*chunks, strict=True))
    keys = gi * 10**6 + gj
    assert (np.diff(keys) > 0).all()  # sorted by (i, j), no pair twice
    got = set(zip(gi.tolist(), gj.tolist(), strict=True))
    assert want <= got
    if floor >= 0.75:  # the bound prunes most of the grid
        assert len(got) < 0.5 * grid_size(len(batches[a].row_tokens),
                                          None if within else len(batches[b].row_tokens))


@pytest.mark.parametrize("threshold", [None, 0.7])
def test_link_without_blocking_equals_the_all_pairs_result(batches: list[Any],
                                                           threshold: float | None) -> None:
    result = link_encodings(batches, blocking=False, threshold=threshold)
    i, j, s, _ = _all_scores(batches, 0, 1)
    np.testing.assert_array_equal(result.score_sample, s)  # the pool: every pair, in order
    cut = choose_threshold(s).value if threshold is None else threshold
    assert result.threshold.value == cut
    accept = s >= cut
    keep, _ = solve_one_to_one(i[accept], j[accept], s[accept], threshold=cut)
    pa, ra, pb, rb, ps = result.pairs
    assert (pa == 0).all() and (pb == 1).all()
    np.testing.assert_array_equal(ra, i[accept][keep])
    np.testing.assert_array_equal(rb, j[accept][keep])
    np.testing.assert_array_equal(ps, s[accept][keep])
    assert result.pair_stats[0].candidates == len(s)


def test_a_sampled_pool_still_gives_the_matches(batches: list[Any],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    full = link_encodings(batches, blocking=False, threshold=0.7)
    monkeypatch.setattr("hashmatch.link.pipeline.SCORE_POOL_CAP", 5000)
    sampled = link_encodings(batches, blocking=False, threshold=0.7)
    assert len(sampled.score_sample) <= 5000 < len(full.score_sample)
    for got, want in zip(sampled.pairs, full.pairs, strict=True):
        np.testing.assert_array_equal(got, want)


def test_the_cost_guard_refuses_big_grids_unless_allowed(
    batches: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert check_cost([("a ~ b", 10_000, 10_000)], allow_costly=True) == 10**8
    with pytest.raises(CostLimitError, match="100,000,000 pairs") as err:
        check_cost([("a ~ b", 10_000, 10_000)], allow_costly=False)
    assert "--force" in (err.value.hint or "")
    assert check_cost([("a", 5000, None)], allow_costly=False) == 5000 * 4999 // 2
    monkeypatch.setattr(exhaustive, "NO_BLOCKING_MAX_PAIRS", 1000)
    with pytest.raises(CostLimitError):
        link_encodings(batches, blocking=False, threshold=0.7)
    assert link_encodings(batches, blocking=False, threshold=0.7, allow_costly=True).pairs


