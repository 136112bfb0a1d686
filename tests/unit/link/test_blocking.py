"""Blocking: recall on planted near-duplicates, exactness of the token join, streaming."""

from __future__ import annotations

import numpy as np
import pytest

from hashmatch.link.blocking import BlockingConfig, candidate_pairs

WORDS = 16  # 1024-bit CLKs
SEGMENTS = [(s * 128, 128) for s in range(8)]  # eight "fields"
LSH = BlockingConfig(methods=("lsh",))
TOKENS = BlockingConfig(methods=("tokens",))


def random_clks(rng: np.random.Generator, rows: int, fill: float = 0.3) -> np.ndarray:
    bits = rng.random((rows, WORDS * 64)) < fill
    return np.packbits(bits, axis=1, bitorder="little").view("<u8").astype(np.uint64)


def corrupt(rng: np.random.Generator, clks: np.ndarray, fields: int = 2) -> np.ndarray:
    """Re-draw `fields` random segments of each row: a near-duplicate with 2 fields changed."""
    out = clks.copy()
    for row in out:
        for seg in rng.choice(len(SEGMENTS), size=fields, replace=False):
            words = slice(seg * 2, seg * 2 + 2)
            row[words] = random_clks(rng, 1)[0, :2]
    return out


def collect(stream) -> tuple[np.ndarray, np.ndarray]:
    parts = list(stream)
    if not parts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def as_set(i: np.ndarray, j: np.ndarray) -> set[tuple[int, int]]:
    return set(zip(i.tolist(), j.tolist(), strict=True))


def tokens_from(values: np.ndarray) -> np.ndarray:
    """uint8[rows, 16] tokens; value 0 -> missing (all-zero), otherwise a fixed pattern."""
    out = np.zeros((len(values), 16), np.uint8)
    out[:, 0] = values
    out[:, 8] = values * 7 % 251
    return out


@pytest.fixture(scope="module")
def planted() -> tuple[np.ndarray, np.ndarray, int]:
    rng = np.random.default_rng(7)
    left = random_clks(rng, 600)
    dups = corrupt(rng, left[:300])
    right = np.concatenate([dups, random_clks(rng, 300)])
    return left, right, 300


def test_lsh_finds_planted_near_duplicates_with_few_candidates(planted) -> None:
    left, right, n_dup = planted
    stream = candidate_pairs(left, {}, right, {}, LSH, segments=SEGMENTS)
    pairs = as_set(*collect(stream))
    found = sum((k, k) in pairs for k in range(n_dup))
    assert found / n_dup >= 0.99
    stats = stream.stats
    assert stats.candidates == len(pairs)
    assert stats.full_grid == 600 * 600
    assert stats.reduction_ratio > 0.98
    assert stats.lsh_bands == LSH.bands


def test_lsh_without_segments_still_finds_exact_duplicates() -> None:
    rng = np.random.default_rng(3)
    left = random_clks(rng, 200)
    pairs = as_set(*collect(candidate_pairs(left, {}, left.copy(), {}, LSH)))
    assert all((k, k) in pairs for k in range(200))


def test_dedup_pairs_are_ordered_unique_and_find_planted(planted) -> None:
    left, _, _ = planted
    rng = np.random.default_rng(11)
    rows = np.concatenate([left[:200], corrupt(rng, left[:50])])  # rows 200+k ~ k
    i, j = collect(candidate_pairs(rows, {}, None, None, LSH, segments=SEGMENTS))
    assert np.all(i < j)
    keys = i << 32 | j
    assert len(np.unique(keys)) == len(keys)
    pairs = as_set(i, j)
    assert sum((k, 200 + k) in pairs for k in range(50)) >= 49


def test_chunks_never_repeat_a_pair_and_do_not_change_the_result(planted) -> None:
    left, right, _ = planted
    tokens = {"id": tokens_from(np.arange(600) % 40)}
    config = BlockingConfig()
    whole = collect(candidate_pairs(left, tokens, right, tokens, config, segments=SEGMENTS))
    chunks = list(candidate_pairs(left, tokens, right, tokens, config, segments=SEGMENTS,
                                  chunk_pairs=500))
    assert len(chunks) > 5
    i = np.concatenate([c[0] for c in chunks])
    j = np.concatenate([c[1] for c in chunks])
    keys = i << 32 | j
    assert len(np.unique(keys)) == len(keys)  # nothing repeated, within or across chunks
    assert np.all(np.diff(keys) > 0)  # sorted by (i, j)
    np.testing.assert_array_equal(i, whole[0])
    np.testing.assert_array_equal(j, whole[1])


def test_deterministic_for_a_seed_and_seed_matters(planted) -> None:
    left, right, _ = planted
    a = collect(candidate_pairs(left, {}, right, {}, LSH, segments=SEGMENTS))
    b = collect(candidate_pairs(left, {}, right, {}, LSH, segments=SEGMENTS))
    c = collect(candidate_pairs(left, {}, right, {}, BlockingConfig(methods=("lsh",), seed=1),
                                segments=SEGMENTS))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert as_set(*a) != as_set(*c)


@pytest.mark.parametrize("dedup", [False, True])
def test_token_join_equals_brute_force_and_missing_never_joins(dedup: bool) -> None:
    rng = np.random.default_rng(5)
    lv = rng.integers(0, 6, 80)  # 0 = missing
    rv = rng.integers(0, 6, 70)
    left_tokens = {"email": tokens_from(lv)}
    right_tokens = None if dedup else {"email": tokens_from(rv)}
    clks = random_clks(rng, 80)
    right_clks = None if dedup else random_clks(rng, 70)
    i, j = collect(candidate_pairs(clks, left_tokens, right_clks, right_tokens, TOKENS,
                                   chunk_pairs=37))
    other = lv if dedup else rv
    expected = {(a, b) for a in range(80) for b in range(len(other))
                if lv[a] and lv[a] == other[b] and (not dedup or a < b)}
    assert as_set(i, j) == expected
    assert not np.any(lv[i] == 0)


def test_empty_clks_never_join_through_lsh() -> None:
    clks = np.zeros((50, WORDS), np.uint64)
    i, _ = collect(candidate_pairs(clks, {}, clks.copy(), {}, LSH, segments=SEGMENTS))
    assert len(i) == 0


def test_missing_fields_do_not_make_rows_collide() -> None:
    rng = np.random.default_rng(9)
    clks = random_clks(rng, 100)
    clks[:, 2:] = 0  # only field 0 present: empty fields 1-7 must not join anyone
    i, j = collect(candidate_pairs(clks, {}, None, None, LSH, segments=SEGMENTS))
    assert len(i) < 1000  # not the 4,950 pairs of "all share empty fields"


def test_oversized_blocks_are_skipped_and_reported() -> None:
    rng = np.random.default_rng(2)
    shared = {"phone": tokens_from(np.full(40, 3))}  # one placeholder shared by everyone
    config = BlockingConfig(methods=("tokens",), max_block_pairs=100)
    stream = candidate_pairs(random_clks(rng, 40), shared, None, None, config)
    assert collect(stream)[0].size == 0
    stats = stream.stats
    assert (stats.skipped_blocks, stats.skipped_pairs) == (1, 40 * 39 // 2)
    assert stats.largest_block == 0
    assert stats.to_dict()["skipped_blocks"] == 1


def test_stats_count_methods_and_reduction() -> None:
    rng = np.random.default_rng(4)
    clks = random_clks(rng, 30)
    tokens = {"id": tokens_from(np.r_[np.arange(1, 16), np.arange(1, 16)])}  # k ~ k + 15
    stream = candidate_pairs(clks, tokens, None, None, BlockingConfig(methods=("tokens",)))
    i, j = collect(stream)
    stats = stream.stats
    assert as_set(i, j) == {(k, k + 15) for k in range(15)}
    assert stats.per_method == {"tokens": 15}
    assert stats.full_grid == 30 * 29 // 2
    assert stats.reduction_ratio == pytest.approx(1 - 15 / 435)
    assert stats.largest_block == 1
    assert stats.token_columns == ("id",)


def test_empty_inputs() -> None:
    empty = np.zeros((0, WORDS), np.uint64)
    stream = candidate_pairs(empty, {}, empty, {}, BlockingConfig())
    assert list(stream) == []
    assert stream.stats.candidates == 0
    assert stream.stats.reduction_ratio == 0.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"right_clks": np.zeros((2, 8), np.uint64)}, "widths differ"),
        ({"right_tokens": None}, "both be given"),
        ({"right_clks": np.zeros((2, WORDS), np.float64)}, "uint64"),
    ],
)
def test_bad_inputs_are_refused(kwargs, match: str) -> None:
    args = {"left_clks": np.zeros((2, WORDS), np.uint64), "left_tokens": {},
            "right_clks": np.zeros((2, WORDS), np.uint64), "right_tokens": {}}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        candidate_pairs(**args)


def test_config_is_validated() -> None:
    with pytest.raises(ValueError, match="methods"):
        BlockingConfig(methods=("soundex",))
    with pytest.raises(ValueError, match="LSH settings"):
        BlockingConfig(hashes_per_segment=2, values_per_segment=3)


def test_fields_marked_absent_never_join_even_when_their_bits_are_filled() -> None:
    # Hardening (balanced filters) fills a missing field's segment with a constant pattern.
    rng = np.random.default_rng(12)
    clks = random_clks(rng, 60)
    clks[:, :] = clks[0]  # every field identical...
    present = np.zeros((60, len(SEGMENTS)), np.bool_)  # ...but absent everywhere
    stream = candidate_pairs(clks, {}, None, None, LSH, segments=SEGMENTS,
                             left_present=present)
    assert collect(stream)[0].size == 0
    with pytest.raises(ValueError, match="present"):
        candidate_pairs(clks, {}, None, None, LSH, segments=SEGMENTS,
                        left_present=present[:, :3])


def test_segments_outside_the_clk_are_refused() -> None:
    clks = np.zeros((2, WORDS), np.uint64)
    with pytest.raises(ValueError, match="segments"):
        candidate_pairs(clks, {}, None, None, LSH, segments=[(1000, 100)])
