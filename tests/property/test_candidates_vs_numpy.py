"""The compiled candidate path agrees with its numpy reference, bit for bit.

Blocking's candidate chunks (pairs, order, chunk bounds and statistics), the MinHash pool,
the combined Dice score of every candidate and of random pairs, and a whole link (pairs,
scores, entities; Dice and Fellegi-Sunter scoring) are computed with each compiled variant
and with ``HASHMATCH_KERNEL=numpy`` (the reference) on synthetic parties, plus random key
tables and CLKs from hypothesis.
"""

from __future__ import annotations

import csv
import itertools
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hashmatch import kernel
from hashmatch.encode import LinkageSecret, encode_records
from hashmatch.kernel import candidates as compiled_path
from hashmatch.link import blocking, pipeline
from hashmatch.link.blocking import BlockingConfig, candidate_pairs
from hashmatch.link.inputs import Encoding, as_encoding, info_of
from hashmatch.link.pipeline import AUTO_KEEP_FLOOR, link_encodings, score_candidates
from hashmatch.link.scorer import PairScorer
from hashmatch.link.scoring import ScoringConfig
from hashmatch.schema import load_mapping, load_schema
from hashmatch.synth import synthesize

SECRET = LinkageSecret(bytes(range(1, 33)))
PARTIES = ("crm", "callcentre", "catalogue", "partner")


@pytest.fixture(scope="module")
def batches(tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    """Four synthetic parties with within-party duplicates (every field kind, a swap pair,
    nested dates, exact tokens and match keys)."""
    folder = tmp_path_factory.mktemp("candidates")
    synthesize(folder, entities=250, seed=11)
    schema = load_schema(folder / "schema.toml")
    out = []
    for party in PARTIES:
        with (folder / f"{party}.csv").open(newline="") as fh:
            rows = list(csv.DictReader(fh))
        mapping = load_mapping(folder / f"{party}.mapping.toml", schema)
        out.append(encode_records(rows, schema=schema, secret=SECRET, party=party,
                                  mapping=mapping))
    return out


def _jobs(n: int) -> list[tuple[int, int]]:
    return [*itertools.combinations(range(n), 2), *((p, p) for p in range(n))]


def _stream(left: Encoding, right: Encoding | None) -> tuple[list[tuple[Any, Any]], Any]:
    stream = candidate_pairs(
        left.clks, left.tokens, None if right is None else right.clks,
        None if right is None else right.tokens, BlockingConfig(),
        segments=left.segments, left_present=left.present,
        right_present=None if right is None else right.present, chunk_pairs=300,
    )
    chunks = [(i.copy(), j.copy()) for i, j in stream]
    return chunks, stream.stats


def _with_kernel(name: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    previous = kernel.set_kernel(name)
    try:
        return fn(*args, **kwargs)
    finally:
        kernel.set_kernel(previous)


def test_candidate_chunks_match_the_reference(variant: str, batches: list[Any]) -> None:
    parties = [as_encoding(b) for b in batches]
    chunked = 0
    for a, b in _jobs(len(parties)):
        right = None if a == b else parties[b]
        got_chunks, got_stats = _stream(parties[a], right)
        want_chunks, want_stats = _with_kernel("numpy", _stream, parties[a], right)
        assert len(got_chunks) == len(want_chunks)
        chunked += len(got_chunks) > 1
        for (gi, gj), (wi, wj) in zip(got_chunks, want_chunks, strict=True):
            assert gi.dtype == wi.dtype == np.int64
            np.testing.assert_array_equal(gi, wi)
            np.testing.assert_array_equal(gj, wj)
        assert got_stats == want_stats
    assert chunked >= 4  # most jobs come in several chunks


def test_combined_scores_match_the_reference_bit_for_bit(variant: str,
                                                         batches: list[Any]) -> None:
    parties = [as_encoding(b) for b in batches]
    scorer = PairScorer(parties, ScoringConfig.for_tokens(info_of(batches[0]).token_kinds))
    rng = np.random.default_rng(3)
    for a, b in _jobs(len(parties)):
        chunks, _ = _stream(parties[a], None if a == b else parties[b])
        i = np.concatenate([c[0] for c in chunks])
        j = np.concatenate([c[1] for c in chunks])
        rows_a, rows_b = len(parties[a].clks), len(parties[b].clks)
        i = np.concatenate([i, rng.integers(0, rows_a, 3000), [0, rows_a - 1]])
        j = np.concatenate([j, rng.integers(0, rows_b, 3000), [rows_b - 1, 0]])
        got = scorer(a, i, b, j)
        want = scorer.reference(a, i, b, j)
        assert got.dtype == want.dtype == np.float32
        np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))


def test_scorer_refuses_rows_out_of_range(variant: str, batches: list[Any]) -> None:
    parties = [as_encoding(b) for b in batches[:2]]
    scorer = PairScorer(parties, ScoringConfig.for_tokens(info_of(batches[0]).token_kinds))
    with pytest.raises(IndexError, match="out of range"):
        scorer(0, np.array([len(parties[0].clks)]), 1, np.array([0]))


@pytest.mark.parametrize("scoring", ["dice", "fs"])
def test_a_link_gives_the_same_pairs_scores_and_entities(
    variant: str, batches: list[Any], scoring: str
) -> None:
    got = link_encodings(batches, dedup=True, scoring=scoring)
    want = _with_kernel("numpy", link_encodings, batches, dedup=True,
                        scoring=scoring)
    for g, w in zip(got.pairs, want.pairs, strict=True):
        assert g.dtype == w.dtype
        np.testing.assert_array_equal(g, w)
    assert got.threshold.value == want.threshold.value
    for g, w in zip(got.entities, want.entities, strict=True):
        np.testing.assert_array_equal(g, w)
    assert got.pair_stats == want.pair_stats


@st.composite
def clk_rows(draw: st.DrawFn) -> tuple[np.ndarray, list[tuple[int, int]]]:
    words = draw(st.sampled_from([1, 2, 5]))
    rows = draw(st.integers(0, 60))
    density = draw(st.sampled_from([0.0, 0.01, 0.1, 0.3, 0.9]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    clks = np.packbits(rng.random((rows, words * 64)) < density, axis=1)
    clks = clks.view(np.uint64).reshape(rows, words).copy()
    cuts = sorted(draw(st.sets(st.integers(1, words * 64 - 1), max_size=3)))
    edges = [0, *cuts, words * 64]
    return clks, [(s, e - s) for s, e in itertools.pairwise(edges)]


@given(case=clk_rows(), per_seg=st.integers(1, 4))
def test_minhash_matches_the_reference(variant: str, case: tuple[Any, Any],
                                       per_seg: int) -> None:
    clks, segs = case
    orders = blocking._orders(segs, per_seg, 7)[0]
    got = compiled_path.minhash(clks, orders)
    assert got is not None
    np.testing.assert_array_equal(got, blocking._minhash_reference(clks, orders))


@st.composite
def band_pools(draw: st.DrawFn) -> tuple[np.ndarray, list[list[int]], np.ndarray]:
    """A random uint16 MinHash pool (values up to each pool row's empty value, which many
    take), a band plan over its rows and the empty values."""
    depth = draw(st.integers(1, 8))
    rows = draw(st.integers(0, 70))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    empty = rng.choice([1, 3, 64, 1000, 65535], depth).astype(np.int64)
    pool = (rng.random((depth, rows)) * (empty[:, None] + 1)).astype(np.uint16)
    gone = rng.random((depth, rows)) < draw(st.sampled_from([0.0, 0.2, 0.7]))
    pool[gone] = np.broadcast_to(empty[:, None], pool.shape)[gone]
    plan = [list(rng.choice(depth, draw(st.integers(1, depth)), replace=False))
            for _ in range(draw(st.integers(1, 5)))]
    return pool, plan, empty


@given(case=band_pools())
def test_band_keys_match_the_reference(variant: str, case: tuple[Any, Any, Any]) -> None:
    pool, plan, empty = case
    found = compiled_path.band_keys(pool, plan, empty)
    assert found is not None
    keys, valid = blocking._band_keys_reference(pool, plan, empty)
    np.testing.assert_array_equal(found[0].T, keys)
    np.testing.assert_array_equal(found[1].T, valid)


def test_band_keys_refuse_a_plan_outside_the_pool() -> None:
    pool = np.zeros((3, 5), np.uint16)
    with pytest.raises(ValueError, match="inside 3"):
        compiled_path.band_keys(pool, [[0, 3]], np.full(3, 64, np.int64))


@st.composite
def key_columns(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray | None,
                                          np.ndarray | None, int]:
    """Small random key columns (few distinct keys, so blocks collide) and a chunk size."""
    n = draw(st.integers(1, 50))
    m = None if draw(st.booleans()) else draw(st.integers(1, 50))
    width = draw(st.integers(1, 4))
    distinct = draw(st.integers(1, 6))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    left = rng.integers(0, distinct, (n, width)).astype(np.uint64)
    right = None if m is None else rng.integers(0, distinct, (m, width)).astype(np.uint64)
    lvalid = rng.random((n, width)) < 0.8
    rvalid = None if m is None else rng.random((m, width)) < 0.8
    return left, lvalid, right, rvalid, draw(st.integers(1, 80))


@given(case=key_columns(), max_block=st.sampled_from([3, 40, 250_000]))
def test_expansion_matches_the_reference(variant: str, case: tuple[Any, ...],
                                         max_block: int) -> None:
    left, lvalid, right, rvalid, chunk = case
    dedup = right is None
    columns = [
        (left[:, c], lvalid[:, c], left[:, c] if dedup else right[:, c],
         lvalid[:, c] if dedup else rvalid[:, c])
        for c in range(left.shape[1])
    ]
    half = max(len(columns) // 2, 1)
    tables = [blocking._build_table(method, cols, dedup, max_block)[0]
              for method, cols in (("tokens", columns[:half]), ("lsh", columns[half:])) if cols]
    full = len(left) * (len(left) - 1) // 2 if dedup else len(left) * len(right)

    def run() -> tuple[list[np.ndarray], Any, np.ndarray]:
        stream = blocking.CandidatePairs(tables, len(left), dedup, full, ((), 0), (0, 0, 0),
                                         chunk)
        raw = stream._raw_per_row.copy()  # raw partner counts (they size the chunks)
        return [np.stack(c) for c in stream], stream.stats, raw

    got, got_stats, got_raw = run()
    want, want_stats, want_raw = _with_kernel("numpy", run)
    assert got_raw.dtype == want_raw.dtype == np.int64
    np.testing.assert_array_equal(got_raw, want_raw)
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)
    assert got_stats == want_stats


def test_score_candidates_over_row_ranges_gives_the_whole_job(variant: str,
                                                              batches: list[Any]) -> None:
    """A task's share (left rows start..stop) concatenates to the job's kept pairs."""
    left, right = batches[0], batches[1]
    whole = score_candidates(left, right, None, BlockingConfig(), AUTO_KEEP_FLOOR)
    rows = len(left.row_tokens)
    parts = [score_candidates(left, right, (a, b), BlockingConfig(), AUTO_KEEP_FLOOR)
             for a, b in ((0, rows // 3), (rows // 3, rows // 2), (rows // 2, rows))]
    for k in range(3):
        np.testing.assert_array_equal(whole[k], np.concatenate([p[k] for p in parts]))
    assert whole[3].candidates == sum(p[3].candidates for p in parts) > 0
    np.testing.assert_array_equal(whole[3].counts, sum(p[3].counts for p in parts))
    assert (whole[2] >= AUTO_KEEP_FLOOR).all()
    within = score_candidates(left, None, (0, rows), BlockingConfig(), 0.0)
    assert within[3].candidates == len(within[0]) and (within[0] < within[1]).all()
    with pytest.raises(ValueError, match="rows: expected"):
        score_candidates(left, right, (0, rows + 1))


@pytest.mark.parametrize("reserve", [12_000_000, 2])
def test_the_keep_floor_changes_cost_not_results(batches: list[Any], reserve: int,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A threshold below the floor takes the pairs in between from the reserve held below
    the floor, or (a reserve too small to hold them) scores the candidates again: the
    same result either way."""
    want = link_encodings(batches[:2], dedup=True)
    monkeypatch.setattr("hashmatch.link.pipeline.AUTO_KEEP_FLOOR", 0.999)
    monkeypatch.setattr("hashmatch.link.pipeline.BELOW_FLOOR_PAIRS", reserve)
    passes = []
    score_job = pipeline._score_job
    monkeypatch.setattr(pipeline, "_score_job",
                        lambda *a, **k: passes.append(1) or score_job(*a, **k))
    got = link_encodings(batches[:2], dedup=True)
    assert got.threshold.value == want.threshold.value < 0.999
    jobs = len(got.pair_stats)
    assert len(passes) == (jobs if reserve > 2 else 2 * jobs)
    for g, w in zip(got.pairs, want.pairs, strict=True):
        np.testing.assert_array_equal(g, w)
    for g, w in zip(got.entities, want.entities, strict=True):
        np.testing.assert_array_equal(g, w)
    assert [s.accepted for s in got.pair_stats] == [s.accepted for s in want.pair_stats]


@given(case=key_columns(), max_block=st.sampled_from([1, 3, 40]))
def test_within_party_groups_are_those_a_lookup_finds(case: tuple[Any, ...],
                                                      max_block: int) -> None:
    """Within a party, each entry's group comes from the sort itself; the same as a search."""
    left, lvalid = case[0], case[1]
    columns = [(left[:, c], lvalid[:, c], left[:, c], lvalid[:, c])
               for c in range(left.shape[1])]
    table = blocking._build_table("tokens", columns, True, max_block)[0]
    salt = np.arange(1, left.shape[1] + 1, dtype=np.uint64) * np.uint64(0x9E37_79B9_7F4A_7C15)
    with np.errstate(over="ignore"):
        mixed = ((left ^ salt) * np.uint64(0xBF58_476D_1CE4_E5B9)).ravel()
    group_keys = mixed[table.right_order][table.group_start]
    want = blocking._lookup(mixed, lvalid.ravel(), group_keys)
    np.testing.assert_array_equal(table.left_group, want)


@given(case=key_columns(), max_block=st.sampled_from([0, 1, 3, 40, 250_000]))
def test_key_tables_match_the_reference(variant: str, case: tuple[Any, ...],
                                        max_block: int) -> None:
    """The compiled key table (radix sorts in C): the reference's arrays and statistics."""
    left, lvalid, right, rvalid = case[:4]
    dedup = right is None
    columns = [
        (left[:, c], lvalid[:, c], left[:, c] if dedup else right[:, c],
         lvalid[:, c] if dedup else rvalid[:, c])
        for c in range(left.shape[1])
    ]
    # each build takes its own list: it lets go of the columns once they are mixed
    got, got_stats = blocking._build_table("lsh", list(columns), dedup, max(max_block, 1))
    want, want_stats = _with_kernel("numpy", blocking._build_table, "lsh", list(columns),
                                    dedup, max(max_block, 1))
    assert got_stats == want_stats
    for name in ("left_group", "group_start", "group_size", "right_order", "rank"):
        g, w = getattr(got, name), getattr(want, name)
        if w is None:
            assert g is None
            continue
        assert g.dtype == w.dtype == np.int64, name
        np.testing.assert_array_equal(g, w, err_msg=name)


@pytest.mark.parametrize("dedup", [True, False])
@pytest.mark.parametrize("n", [3000, 60_000])
def test_key_tables_of_wide_random_keys_match_the_reference(variant: str, dedup: bool,
                                                            n: int) -> None:
    """Full 64-bit keys (every radix pass runs), repeats, invalid entries, a big block; at
    60,000 rows the buckets of the first pass hold ~90 entries each, sorted by LSD passes."""
    rng = np.random.default_rng(5)
    m, width = 2 * n // 3, 3
    left = rng.integers(0, 2**64 - 1, (n, width), dtype=np.uint64)
    left[::7] = left[1]  # repeats within and across rows
    left[:400, 0] = 12345  # a block of 400 rows: skipped under max_block 10_000 when dedup
    right = left[:m].copy() if not dedup else None
    lvalid = rng.random((n, width)) < 0.9
    rvalid = None if dedup else rng.random((m, width)) < 0.9
    case = (left, lvalid, right, rvalid, 1)
    for max_block in (10_000, 250_000):
        test_key_tables_match_the_reference.hypothesis.inner_test(variant, case, max_block)
