"""Comparison levels of one field for many candidate pairs, in compiled code.

:func:`dice_levels` bins a field's Dice; :func:`token_agreement` compares a token column.

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
from hashmatch.kernel._levels import dice_levels as _dice_levels
from hashmatch.kernel._levels import token_agreement as _token_agreement


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
    n = len(i)
    level = np.empty(n, np.int8)
    missing = np.empty(n, np.bool_)
    _dice_levels(
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
    n = len(i)
    agree = np.empty(n, np.bool_)
    both = np.empty(n, np.bool_)
    _token_agreement(
        _words(left), _words(right), np.ascontiguousarray(i, np.int64),
        np.ascontiguousarray(j, np.int64), agree.view(np.uint8), both.view(np.uint8),
    )
    return agree, both


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
