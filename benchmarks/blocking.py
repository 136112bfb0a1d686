"""Blocking at scale: time, peak memory, candidates and recall on synthetic CLKs.

Two parties of N rows each; every row is 8 "fields" of 128 bits, each field value drawn
from a Zipf-like vocabulary (common names collide, as in real data) and encoded as a
fixed ~30%-fill bit pattern. The first half of the right party are near-duplicates of
left rows (2 of 8 fields re-typed with ~15% of their bits flipped, the id token changed
in 10% and missing in 5% of them); the rest are other people.

    python benchmarks/blocking.py                  # 100k x 100k and 1M x 1M
    python benchmarks/blocking.py --rows 200000    # one size
    python benchmarks/blocking.py --quick          # 10k x 10k, a few seconds (smoke test)

Prints one line per size: seconds, peak RSS, candidates per left row, reduction ratio
and the share of planted pairs kept. Not collected by pytest.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

from hashmatch.link.blocking import BlockingConfig, candidate_pairs

FIELDS, FIELD_WORDS = 8, 2
SEGMENTS = [(f * FIELD_WORDS * 64, FIELD_WORDS * 64) for f in range(FIELDS)]
VOCAB = 50_000


def make_parties(rows: int, seed: int = 0) -> tuple[np.ndarray, dict, np.ndarray, dict]:
    rng = np.random.default_rng(seed)
    patterns = [
        np.packbits(rng.random((VOCAB, FIELD_WORDS * 64)) < 0.3, axis=1, bitorder="little")
        .view("<u8").astype(np.uint64)
        for _ in range(FIELDS)
    ]
    weights = 1.0 / (np.arange(VOCAB) + 20.0)
    weights /= weights.sum()

    def people(n: int) -> np.ndarray:
        clks = np.empty((n, FIELDS * FIELD_WORDS), np.uint64)
        for f in range(FIELDS):
            clks[:, f * FIELD_WORDS:(f + 1) * FIELD_WORDS] = patterns[f][
                rng.choice(VOCAB, size=n, p=weights)]
        return clks

    left = people(rows)
    dup = rows // 2
    right = np.concatenate([left[:dup], people(rows - dup)])
    for f in range(FIELDS):  # re-type 2 of 8 fields per duplicate, on average
        hit = np.flatnonzero(rng.random(dup) < 2 / FIELDS)
        cols = slice(f * FIELD_WORDS, (f + 1) * FIELD_WORDS)
        flips = np.packbits(rng.random((len(hit), FIELD_WORDS * 64)) < 0.15, axis=1,
                            bitorder="little").view("<u8").astype(np.uint64)
        right[hit, cols] ^= flips
    left_ids = rng.integers(1, 2**63, size=(rows, 2), dtype=np.int64)
    right_ids = rng.integers(1, 2**63, size=(rows, 2), dtype=np.int64)
    keep = rng.random(dup)
    right_ids[:dup][keep >= 0.15] = left_ids[:dup][keep >= 0.15]
    right_ids[:dup][keep < 0.05] = 0
    as_tokens = lambda ids: ids.view(np.uint8).reshape(rows, 16)  # noqa: E731
    return left, {"id": as_tokens(left_ids)}, right, {"id": as_tokens(right_ids)}


def run(rows: int) -> None:
    left, ltok, right, rtok = make_parties(rows)
    t0 = time.perf_counter()
    stream = candidate_pairs(left, ltok, right, rtok, BlockingConfig(), segments=SEGMENTS)
    found = 0
    for i, j in stream:
        found += int(np.count_nonzero((i == j) & (i < rows // 2)))
    seconds = time.perf_counter() - t0
    stats = stream.stats
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"{rows:>9,} x {rows:<9,} {seconds:7.1f} s  peak RSS {peak_gib:5.1f} GiB  "
          f"{stats.candidates / rows:6.1f} candidates/row  RR {stats.reduction_ratio:.6f}  "
          f"planted kept {found / (rows // 2):.4f}  skipped blocks {stats.skipped_blocks}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, action="append", help="rows per party")
    parser.add_argument("--quick", action="store_true", help="one small size (smoke test)")
    args = parser.parse_args()
    sizes = [10_000] if args.quick else (args.rows or [100_000, 1_000_000])
    for rows in sizes:
        run(rows)


if __name__ == "__main__":
    main()
