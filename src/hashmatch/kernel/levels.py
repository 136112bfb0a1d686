"""Comparison levels of one field for many candidate pairs, in compiled code.

:func:`dice_levels` bins a field's Dice; :func:`token_agreement` compares a token column.
Each keeps the numpy route it must equal (used when the extension is not built, as from
a source tree; ``tests/unit/kernel/test_levels.py`` compares the two).

The probabilistic scorer bins each field's Dice (from the kernel's intersection counts
and the rows' per-segment popcounts) into levels: ``exact`` (1), then one level per
edge of ``edges`` (descending: 2, 3, ...), else the level after them; a pair where either
row lacks the field is ``missing``. In numpy that is some ten passes over the pairs a
field (gathers, a division, a comparison per edge); here one: at a million records the
fs link spent ~70 s there.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from hashmatch._types import Indices, Tokens

try:
    from hashmatch.kernel import _levels
except ImportError:  # not built: the numpy routes answer
    _levels = None  # type: ignore[assignment]


def dice_levels(
    counts: npt.NDArray[np.int32] | npt.NDArray[np.int64],
    column: int,
    left_popcounts: npt.NDArray[np.uint16],
    right_popcounts: npt.NDArray[np.uint16],
    left_present: npt.NDArray[np.bool_],
    right_present: npt.NDArray[np.bool_],
    i: Indices,
    j: Indices,
    segment: int,
    *,
    nested: bool,
    edges: Sequence[float],
) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.bool_]]:
    """``(level, missing)`` of pairs ``(i, j)`` on segment ``segment``: the field Dice
    ``counts[:, column] / half`` (``half``: the mean of the two popcounts, their minimum
    when ``nested``), capped at 1, as float32, binned as above; ``missing`` where either
    row lacks the field or both have no bits (``level`` is then the last level)."""
    if _levels is None:
        return numpy_dice_levels(
            counts, column, left_popcounts, right_popcounts, left_present, right_present,
            i, j, segment, nested=nested, edges=edges,
        )
    n = len(i)
    level = np.empty(n, np.int8)
    missing = np.empty(n, np.bool_)
    _levels.dice_levels(
        np.asarray(counts, np.int32),
        int(column),
        np.asarray(left_popcounts, np.uint16),
        np.asarray(right_popcounts, np.uint16),
        np.asarray(left_present, np.bool_).view(np.uint8),
        np.asarray(right_present, np.bool_).view(np.uint8),
        np.ascontiguousarray(i, np.int64),
        np.ascontiguousarray(j, np.int64),
        int(segment),
        bool(nested),
        np.asarray(edges, np.float32),
        level,
        missing.view(np.uint8),
    )
    return level, missing


def token_agreement(
    left: Tokens, right: Tokens, i: Indices, j: Indices
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """``(agree, both)`` of pairs ``(i, j)`` of two token columns (``uint8[rows, 16]``;
    all-zero is a missing token): ``both`` rows hold a token, and they are equal. One
    pass comparing 64-bit words (numpy's gathers and reductions were 25 s of an fs link
    at a million records)."""
    if _levels is None:
        return numpy_token_agreement(left, right, i, j)
    n = len(i)
    agree = np.empty(n, np.bool_)
    both = np.empty(n, np.bool_)
    _levels.token_agreement(
        _words(left), _words(right), np.ascontiguousarray(i, np.int64),
        np.ascontiguousarray(j, np.int64), agree.view(np.uint8), both.view(np.uint8),
    )
    return agree, both


def numpy_dice_levels(
    counts: npt.NDArray[np.int32] | npt.NDArray[np.int64],
    column: int,
    left_popcounts: npt.NDArray[np.uint16],
    right_popcounts: npt.NDArray[np.uint16],
    left_present: npt.NDArray[np.bool_],
    right_present: npt.NDArray[np.bool_],
    i: Indices,
    j: Indices,
    segment: int,
    *,
    nested: bool,
    edges: Sequence[float],
) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.bool_]]:
    """:func:`dice_levels` in numpy (the route it replaced)."""
    shared = np.asarray(counts[:, column], np.float64)
    pl = left_popcounts[i, segment].astype(np.float64)
    pr = right_popcounts[j, segment].astype(np.float64)
    half = np.minimum(pl, pr) if nested else (pl + pr) / 2
    held = left_present[i, segment] & right_present[j, segment] & (half > 0)
    dice = np.full(len(i), np.nan, dtype=np.float32)
    dice[held] = np.minimum(shared[held] / half[held], 1.0)
    level = np.full(len(i), 2 + len(edges), np.int8)  # "else"
    for k, edge in reversed(list(enumerate(edges))):
        level[dice >= np.float32(edge)] = 2 + k
    level[dice >= 1.0] = 1
    return level, ~held


def numpy_token_agreement(
    left: Tokens, right: Tokens, i: Indices, j: Indices
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """:func:`token_agreement` in numpy (byte comparisons)."""
    a, b = np.asarray(left)[i], np.asarray(right)[j]
    both = np.asarray(a.any(axis=1) & b.any(axis=1), np.bool_)
    return np.asarray(both & (a == b).all(axis=1), np.bool_), both


def _words(tokens: Tokens) -> npt.NDArray[np.uint64]:
    """A token column as rows of 64-bit words (a view where it is contiguous; a padded
    copy when its width is not a multiple of 8 bytes)."""
    column = np.ascontiguousarray(tokens, dtype=np.uint8)
    if column.ndim != 2:
        msg = f"a token column must be 2-d, got shape {column.shape}"
        raise ValueError(msg)
    if column.shape[1] % 8:
        padded = np.zeros((len(column), -(-column.shape[1] // 8) * 8), np.uint8)
        padded[:, : column.shape[1]] = column
        column = padded
    return column.view(np.uint64)
