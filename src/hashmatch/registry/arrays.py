"""Set operations on the integer arrays of a registry run, at a million records.

NumPy's ``unique`` (and ``union1d``, ``setdiff1d``, which call it) takes a hash-based
path for plain integer arrays that was 40x slower than a sort on the run's arrays
(millions of packed candidate pairs, keys and record numbers); and record numbers are
small dense integers, so membership is a lookup table rather than a sort. The table is
built here: ``np.isin(kind="table")`` makes several temporaries the size of its input,
and testing 6 million record numbers against 19,000 took it 0.33-0.40 s in a fresh
process (fresh memory to fault in), a table and one gather 0.02-0.03 s. These helpers do
that.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import numpy.typing as npt

__all__ = ["distinct", "ids_among", "ids_outside"]

_Int = TypeVar("_Int", np.int64, np.uint64)
#: A membership table is used while it has at most this many slots per number tested
#: (plus a few million, one byte each); sparser numbers are tested by a sort.
_TABLE_SLOTS_PER_ID = 8
_TABLE_SLOTS_MIN = 1 << 22


def distinct(values: npt.NDArray[_Int]) -> npt.NDArray[_Int]:
    """The distinct values, sorted (``np.unique`` by a sort)."""
    out = np.sort(values)
    return out[np.r_[True, out[1:] != out[:-1]]] if len(out) else out


def ids_among(ids: npt.NDArray[np.int64], wanted: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """Whether each record number of ``ids`` is among ``wanted`` (both non-negative)."""
    if not len(ids) or not len(wanted):
        return np.zeros(len(ids), np.bool_)
    top = int(wanted.max()) + 1
    if top > _TABLE_SLOTS_PER_ID * (len(ids) + len(wanted)) + _TABLE_SLOTS_MIN:  # sparse
        return np.isin(ids, wanted)
    table = np.zeros(top + 1, np.bool_)  # the last slot: every number above ``wanted``'s
    table[wanted] = True
    return table[np.minimum(ids, top)]


def ids_outside(ids: npt.NDArray[np.int64], dropped: npt.NDArray[np.int64]
                ) -> npt.NDArray[np.int64]:
    """The distinct record numbers of ``ids`` not in ``dropped``, sorted (``setdiff1d``)."""
    return distinct(ids[~ids_among(ids, dropped)])
