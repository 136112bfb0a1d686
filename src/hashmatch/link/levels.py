"""A field's comparison level and a token column's agreement for many candidate pairs,
in one compiled pass each (:mod:`hashmatch.kernel._levels`).

:func:`dice_levels` bins a field's Dice (:func:`~hashmatch.link.segments.field_dice`,
from the kernel's intersection counts and the rows' per-segment popcounts): ``exact``
(1), then one level per edge of ``edges`` (descending: 2, 3, ...), else the level after
them, and ``missing`` where either row lacks the field. In numpy that is some ten passes
over the pairs a field (gathers, a division, a comparison per edge); compiled, one: at a
million records the fs link spent ~70 s there. :func:`token_agreement` compares two
token columns as 64-bit words (numpy's byte gathers and reductions: 25 s there).

Each keeps the numpy route it must equal, which answers where the extension is not
built (a source tree run as such); ``tests/unit/link/test_levels.py`` compares them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from hashmatch._types import Indices, Tokens
from hashmatch.link.segments import Counts, SegmentView, field_dice, is_nested

try:
    from hashmatch.kernel import _levels
except ImportError:  # not built: the numpy routes answer
    _levels = None  # type: ignore[assignment]


def dice_levels(
    counts: Counts,
    left: SegmentView,
    right: SegmentView,
    i: Indices,
    j: Indices,
    segment: int,
    edges: Sequence[float],
) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.bool_]]:
    """``(level, missing)`` of pairs ``(i, j)`` on segment ``segment``, whose
    intersection counts are ``counts[:, 1 + segment]``: the field Dice binned as above;
    ``missing`` where either row lacks the field (``level`` is then the last level)."""
    if _levels is None:
        return numpy_dice_levels(counts, left, right, i, j, segment, edges)
    n = len(i)
    level = np.empty(n, np.int8)
    missing = np.empty(n, np.bool_)
    _levels.dice_levels(
        np.asarray(counts, np.int32),
        1 + int(segment),
        np.asarray(left.popcounts, np.uint16),
        np.asarray(right.popcounts, np.uint16),
        np.asarray(left.present, np.bool_).view(np.uint8),
        np.asarray(right.present, np.bool_).view(np.uint8),
        np.ascontiguousarray(i, np.int64),
        np.ascontiguousarray(j, np.int64),
        int(segment),
        is_nested(left, right, segment),
        np.asarray(edges, np.float32),
        level,
        missing.view(np.uint8),
    )
    return level, missing


def numpy_dice_levels(
    counts: Counts,
    left: SegmentView,
    right: SegmentView,
    i: Indices,
    j: Indices,
    segment: int,
    edges: Sequence[float],
) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.bool_]]:
    """:func:`dice_levels` in numpy, on :func:`~hashmatch.link.segments.field_dice`."""
    dice = field_dice(counts[:, 1 + segment], left, right, i, j, segment)
    level = np.full(len(i), 2 + len(edges), np.int8)  # "else"
    for k, edge in reversed(list(enumerate(edges))):
        level[dice >= edge] = 2 + k
    level[dice >= 1.0] = 1
    return level, np.isnan(dice)


def token_agreement(
    left: Tokens, right: Tokens, i: Indices, j: Indices
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """``(agree, both)`` of pairs ``(i, j)`` of two token columns (``uint8[rows, 16]``;
    all-zero is a missing token): ``both`` rows hold a token, and they are equal."""
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
