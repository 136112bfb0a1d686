"""Set operations on the integer arrays of a registry run, at a million records.

NumPy's ``unique`` (and ``union1d``, ``setdiff1d``, which call it) takes a hash-based
path for plain integer arrays that was 40x slower than a sort on the run's arrays
(millions of packed candidate pairs, keys and record numbers); and record numbers are
small dense integers, so membership is a lookup table (``np.isin(kind="table")``)
rather than a sort. These helpers do that.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import numpy.typing as npt

__all__ = ["distinct", "ids_among", "ids_outside"]

_Int = TypeVar("_Int", np.int64, np.uint64)


def distinct(values: npt.NDArray[_Int]) -> npt.NDArray[_Int]:
    """The distinct values, sorted (``np.unique`` by a sort)."""
    out = np.sort(values)
    return out[np.r_[True, out[1:] != out[:-1]]] if len(out) else out


def ids_among(ids: npt.NDArray[np.int64], wanted: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """Whether each record number of ``ids`` is among ``wanted`` (both non-negative)."""
    if not len(ids) or not len(wanted):
        return np.zeros(len(ids), np.bool_)
    return np.isin(ids, wanted, kind="table")


def ids_outside(ids: npt.NDArray[np.int64], dropped: npt.NDArray[np.int64]
                ) -> npt.NDArray[np.int64]:
    """The distinct record numbers of ``ids`` not in ``dropped``, sorted (``setdiff1d``)."""
    return distinct(ids[~ids_among(ids, dropped)])
