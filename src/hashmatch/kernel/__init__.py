"""Similarity kernel: compare CLKs (bit matrices) pairwise, fast and exactly.

The package, by job:

* :mod:`~hashmatch.kernel.similarity`: the public, typed functions. They validate and
  convert their inputs and give the same result on every variant and thread count:
  :func:`similarity_pairs` / :func:`dice_pairs` (every pair of A x B at a threshold),
  :func:`similarity_topk` / :func:`dice_topk`, the streamed :func:`iter_similarity_pairs`,
  :func:`similarity_candidates` / :func:`dice_candidates` (scores of listed pairs) and
  :func:`intersection_counts` (raw counts of listed pairs, whole and per segment).
* :mod:`~hashmatch.kernel.grid`: the exact preparation of a grid comparison (popcounts,
  B sorted by popcount, the threshold table and each row's feasible popcount range).
* :mod:`~hashmatch.kernel.dispatch`: which compiled variant runs (CPUID,
  ``HASHMATCH_KERNEL=auto|avx512|avx2|scalar|numpy``, :func:`set_kernel`).
* :mod:`~hashmatch.kernel.reference`: the plain numpy oracle every variant must match bit
  for bit, and the slow fallback.
* ``_core*.pyx`` (the loops, GIL released, OpenMP threads) over the C headers
  ``_hm_*.h`` declared in ``_hm.pxd``; ``_core.pyi`` is the stub of the compiled modules.

Design notes: docs/explanation/kernel.md.
"""

from __future__ import annotations

from hashmatch._types import Pairs
from hashmatch.kernel.dispatch import active_kernel, available_kernels, set_kernel
from hashmatch.kernel.similarity import (
    METRICS,
    dice_candidates,
    dice_pairs,
    dice_topk,
    intersection_counts,
    iter_dice_pairs,
    iter_similarity_pairs,
    popcount,
    segment_mask,
    similarity_candidates,
    similarity_pairs,
    similarity_topk,
)

__all__ = [
    "METRICS",
    "Pairs",
    "active_kernel",
    "available_kernels",
    "dice_candidates",
    "dice_pairs",
    "dice_topk",
    "intersection_counts",
    "iter_dice_pairs",
    "iter_similarity_pairs",
    "popcount",
    "segment_mask",
    "set_kernel",
    "similarity_candidates",
    "similarity_pairs",
    "similarity_topk",
]
