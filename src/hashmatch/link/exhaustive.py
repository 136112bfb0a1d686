"""Linking without blocking: every pair of rows is a candidate, compared on the grid.

Building all ``n * m`` index pairs and scoring each one (what ``--no-blocking`` used to do)
costs memory and time in proportion to the grid: 10k x 10k rows took 347 s and 18.5 GB.
Instead, the grid kernel finds the pairs that *can* reach the score floor, and only those
are scored:

* **The bound.** A pair's combined score (:mod:`hashmatch.link.scoring`) is at most its
  blended Dice plus the bonus of its agreeing exact tokens (penalties and disagreement
  factors only lower it). The blended Dice is ``(d + f) / 2``, the whole-CLK Dice ``d``
  (read crosswise where a swap pair allows) and the field-aware Dice ``f <= 1``. So a pair
  that shares no exact token reaches ``floor`` only if ``d >= 2 * floor - 1``: the grid
  kernel runs at that Dice (a hair lower, for float rounding), against the right party as
  it is and with each combination of its swap-pair fields exchanged (the crosswise reading
  is the Dice against those rows). Both Dice grow with the intersection count, so the
  blended Dice at the largest count over those readings bounds the pair's own; it is
  computed for each pair the grid returns (a few array operations, with the popcounts the
  parties hold), and only pairs whose bound reaches the floor go on to full scoring. The
  grid alone prunes when ``2 * floor - 1`` lies above the Dice of most unrelated pairs;
  the second bound prunes where field-aware Dice does not lift a pair much above its
  Dice, e.g. balanced (hardened) CLKs whose unrelated pairs score about 0.5.
* **Token pairs.** Pairs sharing an exact token that carries evidence are all candidates
  (the keyed-token join of :mod:`hashmatch.link.blocking`, without its block-size cap).
* A floor of 0 or below makes every pair a candidate.

The union is scored a chunk of left rows at a time, in ``(i, j)`` order, so the pairs kept
are exactly those the all-pairs path kept, in the same order. The threshold, when chosen
from the data, needs the scores of *all* pairs (their histogram): it is taken from a
deterministic sample, every ``stride``-th pair in row-major order (every pair when the grid
is no larger than the score pool), which is what the all-pairs path pooled.

**Cost guard.** Without blocking, the work and, at a low threshold, the pairs kept grow
with ``n * m``. :func:`check_cost` refuses more than :data:`NO_BLOCKING_MAX_PAIRS` pairs
over all party pairs unless the caller allows it (``allow_costly=True``, ``hashmatch link
--force``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence

import numpy as np
import numpy.typing as npt

from hashmatch._types import Clks, Indices
from hashmatch.errors import CostLimitError
from hashmatch.kernel import iter_dice_pairs
from hashmatch.link.blocking import BlockingConfig, candidate_pairs
from hashmatch.link.inputs import Encoding
from hashmatch.link.scoring import ScoringConfig
from hashmatch.link.segments import blended_dice, clk_dice, swap_segments

__all__ = [
    "NO_BLOCKING_MAX_PAIRS",
    "check_cost",
    "grid_size",
    "likely_pairs",
    "sample_pairs",
]

#: Most pairs (over all party pairs) linked without blocking unless allowed: 25 million,
#: e.g. 5,000 x 5,000 rows, about a minute's work and well under 1 GB here.
NO_BLOCKING_MAX_PAIRS = 25_000_000
#: Bytes per pair kept between chunks (i, j, score), for the memory estimate.
_BYTES_PER_PAIR = 20
#: Left rows per chunk are chosen so a chunk holds at most this many pairs of the grid.
_CHUNK_PAIRS = 1 << 20
#: Slack under the Dice bound, far above float32 rounding of the scores compared.
_ROUNDING = 1e-6

_LOW32 = np.uint64(0xFFFF_FFFF)


def grid_size(n: int, m: int | None) -> int:
    """Pairs of an ``n`` x ``m`` grid (``m`` None: pairs within ``n`` rows, i < j)."""
    return n * (n - 1) // 2 if m is None else n * m


def check_cost(grids: Sequence[tuple[str, int, int | None]], *, allow_costly: bool) -> int:
    """The pairs comparing every ``(name, n, m)`` grid costs; raises beyond the limit.

    Raises
    ------
    CostLimitError
        More than :data:`NO_BLOCKING_MAX_PAIRS` pairs and not ``allow_costly``.
    """
    total = sum(grid_size(n, m) for _, n, m in grids)
    if total > NO_BLOCKING_MAX_PAIRS and not allow_costly:
        largest = max(grids, key=lambda g: grid_size(g[1], g[2]))
        name, n, m = largest
        shape = f"{n:,} x {m:,}" if m is not None else f"{n:,} rows with themselves"
        gib = total * _BYTES_PER_PAIR / 2**30
        msg = (
            f"linking without blocking compares {total:,} pairs (largest: {name}, {shape}); "
            f"if most of them scored above the threshold they would need about {gib:.1f} GiB; "
            f"the limit without blocking is {NO_BLOCKING_MAX_PAIRS:,} pairs"
        )
        raise CostLimitError(
            msg,
            hint="link with blocking (drop --no-blocking), or allow the run with --force "
            "(allow_costly=True in Python)",
        )
    return total


def sample_pairs(n: int, m: int | None, stride: int) -> Iterator[tuple[Indices, Indices]]:
    """Every ``stride``-th pair of the grid in row-major order (``m`` None: i < j), in
    chunks; ``stride`` 1 gives every pair."""
    total = grid_size(n, m)
    step = _CHUNK_PAIRS * stride
    for p0 in range(0, total, step):
        p = np.arange(p0, min(total, p0 + step), stride, dtype=np.int64)
        if m is not None:
            yield p // m, p % m
            continue
        # row i of the triangle starts at position i * (n - 1) - i * (i - 1) / 2
        rows = np.arange(n, dtype=np.int64)
        starts = rows * (n - 1) - rows * (rows - 1) // 2
        i = np.searchsorted(starts, p, side="right") - 1
        yield i, p - starts[i] + i + 1


def likely_pairs(
    left: Encoding, right: Encoding | None, floor: float, config: ScoringConfig
) -> Iterator[tuple[Indices, Indices]]:
    """Chunks of ``(i, j)`` holding every pair that can score ``floor`` or more (and some
    that cannot), sorted by ``(i, j)`` with no pair repeated; ``right`` None: pairs within
    ``left``, i < j. See the module docstring for why nothing is missed."""
    n = len(left.row_tokens)
    m = None if right is None else len(right.row_tokens)
    if n == 0 or m == 0:
        return
    if floor <= 0.0:
        yield from sample_pairs(n, m, 1)
        return
    rows = max(1, _CHUNK_PAIRS // max(1, n if m is None else m))
    dice = min(1.0, max(0.0, 2.0 * floor - 1.0 - _ROUNDING))
    grids = [
        iter_dice_pairs(left.clks, other, dice, row_chunk=rows)
        for other in _right_readings(left, right)
    ]
    tokens = _token_keys(left, right, config)
    lv, rv = left.view, (left if right is None else right).view
    for r0, parts in zip(itertools.count(0, rows), zip(*grids, strict=True), strict=False):
        keys, counts = [], []
        for i, j, d in parts:
            if right is None:
                i, j, d = i[j > i], j[j > i], d[j > i]  # crosswise readings: both orders
            keys.append((i.astype(np.uint64) << np.uint64(32)) | j.astype(np.uint64))
            # |a & b| back from the Dice (exact: an integer far inside float32 precision)
            total = lv.totals[i] + rv.totals[j]
            counts.append(np.rint(d.astype(np.float64) * total / 2.0).astype(np.int64))
        found = _best_reading(np.concatenate(keys), np.concatenate(counts))
        i = (found[0] >> np.uint64(32)).astype(np.int64)
        j = (found[0] & _LOW32).astype(np.int64)
        # the blended Dice at the best reading's count bounds the score of a pair that
        # shares no token (see the module docstring); the rest cannot reach the floor
        bound = blended_dice(clk_dice(found[1], lv, rv, i, j), found[1], lv, rv, i, j)
        lo = np.searchsorted(tokens, np.uint64(r0) << np.uint64(32))
        hi = np.searchsorted(tokens, np.uint64(r0 + rows) << np.uint64(32))
        both = np.union1d(found[0][bound >= floor - _ROUNDING], tokens[lo:hi])
        if len(both):
            yield (both >> np.uint64(32)).astype(np.int64), (both & _LOW32).astype(np.int64)


def _best_reading(
    keys: npt.NDArray[np.uint64], counts: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64]]:
    """Distinct pair keys, sorted, each with its largest count over the readings."""
    if len(keys) == 0:
        return keys, counts
    order = np.argsort(keys, kind="stable")
    keys, counts = keys[order], counts[order]
    first = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    return keys[first], np.maximum.reduceat(counts, first)


def _right_readings(left: Encoding, right: Encoding | None) -> list[Clks | None]:
    """The right side's CLKs as they are (None: left with itself), then with the fields
    of each non-empty combination of swap pairs exchanged."""
    base = left if right is None else right
    readings: list[Clks | None] = [None if right is None else right.clks]
    pairs = [(left.segments[s], left.segments[t]) for s, t in left.swap_segments]
    for size in range(1, len(pairs) + 1):
        for combo in itertools.combinations(pairs, size):
            clks = np.ascontiguousarray(base.clks)
            for first, second in combo:
                clks = swap_segments(clks, first, second)
            readings.append(clks)
    return readings


def _token_keys(
    left: Encoding, right: Encoding | None, config: ScoringConfig
) -> np.ndarray:
    """``i << 32 | j`` of every pair sharing an exact token whose agreement adds to the
    score, sorted (the token join of blocking, with no block left out)."""
    columns = tuple(
        name for name, ev in config.evidence.items()
        if ev.agree_bits > 0 and name in left.tokens
        and (right is None or name in right.tokens)
    )
    if not columns or config.max_bonus <= 0 or config.dice_per_bit <= 0:
        return np.zeros(0, np.uint64)
    n = len(left.row_tokens)
    m = n if right is None else len(right.row_tokens)
    stream = candidate_pairs(
        left.clks, left.tokens,
        None if right is None else right.clks, None if right is None else right.tokens,
        BlockingConfig(methods=("tokens",), token_columns=columns,
                       max_block_pairs=max(1, n * m)),
    )
    keys = [(i.astype(np.uint64) << np.uint64(32)) | j.astype(np.uint64) for i, j in stream]
    return np.concatenate(keys) if keys else np.zeros(0, np.uint64)


def sample_stride(total: int, cap: int) -> int:
    """The smallest power of two ``s`` with ``ceil(total / s) <= cap``."""
    return 1 if total <= cap else 1 << math.ceil(math.log2(total / cap))
