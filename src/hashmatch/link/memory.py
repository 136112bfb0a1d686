"""The coordinator's memory budget (``link --memory 4GB``): what it bounds and how.

Linking holds two kinds of memory. What grows with the *rows* of a party pair: the
encodings (memory-mapped), each side's MinHash pool and the sorted key tables of blocking
(about :data:`TABLE_BYTES_PER_ENTRY` bytes per row and key column, and
:data:`POOL_BYTES_PER_ROW` per row). The LSH bands are the most columns (24 by default):
when one table of all of them would not fit, they are joined a group at a time
(:func:`bands_per_group`; the same candidates), so the table of one group is what counts.
What grows with the *candidates*: each chunk of left
rows is expanded, scored and filtered at once, about :data:`BYTES_PER_CANDIDATE` bytes
per raw candidate pair, plus the reserve of pairs scoring just below the keep floor
(:mod:`hashmatch.link.below_floor`, at most three chunks' worth of 12 bytes a pair). The
budget bounds the second by the chunk size (a quarter of the budget, never more than the
default chunk, so results at the default budget are those of an unbudgeted run) and
checks the first before any work: a party pair whose key tables
cannot fit even one LSH band at a time is refused with the budget it needs, rather than
swapping or being killed. Without a budget, an LSH table may take
:data:`DEFAULT_LSH_SHARE` of the machine's memory (2 x 10M records then join 3 bands at a
time on 24 GB).

Chunk size changes nothing but memory when the pooled candidate scores fit the threshold's
pool (:data:`hashmatch.link.pipeline.SCORE_POOL_CAP`); beyond, the pool is a per-chunk
subsample, so a budget below the default can move an automatic threshold slightly
(deterministically: the same budget gives the same result).
"""

from __future__ import annotations

import os
import re

from hashmatch.errors import CostLimitError

__all__ = [
    "DEFAULT_CHUNK_PAIRS",
    "MemoryBudget",
    "bands_per_group",
    "default_lsh_memory",
    "parse_memory",
]

#: Raw candidate pairs per chunk without a budget (and at most with one).
DEFAULT_CHUNK_PAIRS = 4_000_000
#: Working memory per raw candidate of a chunk: its reserved (i, j) slots, the distinct
#: pairs, their float32 scores and the filter's temporaries.
BYTES_PER_CANDIDATE = 64
#: Key tables per (row, key column) at their sort: the column's keys and flags, the mixed
#: keys, the sort's order and temporaries, groups (65 measured at 2 x 1M rows, 4 bands).
TABLE_BYTES_PER_ENTRY = 64
#: Per row: the CLK and tokens as read, the MinHash pool as it is computed (int64 values
#: before they are narrowed to uint16) and the row's share of the LSH pairs held when bands
#: are grouped (2 x 10M rows of benchmarks/link.py: 7.9 GB at the peak, 2.7 GB of it 335M
#: held pairs, ~260 bytes a row the rest with the token table).
POOL_BYTES_PER_ROW = 400
#: Share of physical memory the LSH key table of one band group may take without a
#: budget (a quarter of the rest goes to the CLKs, pools, token table and pairs).
DEFAULT_LSH_SHARE = 0.2
#: The smallest chunk a budget may ask for (smaller only adds per-chunk overhead).
MIN_CHUNK_PAIRS = 10_000

_UNITS = {"": 1, "B": 1, "K": 1 << 10, "KB": 1 << 10, "M": 1 << 20, "MB": 1 << 20,
          "G": 1 << 30, "GB": 1 << 30, "T": 1 << 40, "TB": 1 << 40}


def default_lsh_memory() -> int:
    """Bytes an LSH key table may take without a budget: :data:`DEFAULT_LSH_SHARE` of this
    machine's physical memory (so a link too large for it joins its bands in groups
    rather than being killed; the grouping changes memory and time, never results)."""
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # no sysconf: assume a small machine
        physical = 8 << 30
    return int(physical * DEFAULT_LSH_SHARE)


def bands_per_group(rows: int, bands: int, lsh_memory: int | None) -> int:
    """How many LSH bands are joined at once when a key table of ``rows`` (both sides')
    rows may take ``lsh_memory`` bytes (None: :func:`default_lsh_memory`); at least one,
    at most ``bands``."""
    budget = default_lsh_memory() if lsh_memory is None else lsh_memory
    per_band = rows * TABLE_BYTES_PER_ENTRY
    return bands if per_band <= 0 else int(max(1, min(bands, budget // per_band)))


def parse_memory(text: str | int) -> int:
    """Bytes of a size such as ``"4GB"``, ``"512MB"``, ``"1.5G"`` or ``1048576`` (binary
    units: 1 GB = 2**30 bytes).

    >>> parse_memory("4GB"), parse_memory("512 mb"), parse_memory(1024)
    (4294967296, 536870912, 1024)
    """
    if isinstance(text, int):
        value, unit = float(text), ""
    else:
        found = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*", text)
        if not found or found.group(2).upper() not in _UNITS:
            msg = f"memory: expected a size such as 4GB or 512MB, got {text!r}"
            raise ValueError(msg)
        value, unit = float(found.group(1)), found.group(2).upper()
    size = int(value * _UNITS[unit])
    if size < 1:
        msg = f"memory: expected a positive size, got {text!r}"
        raise ValueError(msg)
    return size


class MemoryBudget:
    """A budget in bytes: the chunk size it allows and the check of each party pair."""

    def __init__(self, size: str | int | None) -> None:
        self.bytes = None if size is None else parse_memory(size)

    @property
    def chunk_pairs(self) -> int:
        """Raw candidate pairs per chunk: a quarter of the budget, within the bounds."""
        if self.bytes is None:
            return DEFAULT_CHUNK_PAIRS
        fits = self.bytes // 4 // BYTES_PER_CANDIDATE
        return int(min(DEFAULT_CHUNK_PAIRS, max(MIN_CHUNK_PAIRS, fits)))

    def lsh_memory(self, left_rows: int, right_rows: int | None, token_columns: int
                   ) -> int | None:
        """Bytes left for the LSH key table of a party pair once its pools, token table
        and a chunk are counted (the bands are joined in groups that fit it); None without
        a budget."""
        if self.bytes is None:
            return None
        rows = left_rows + (right_rows or 0)
        return (self.bytes - self.chunk_pairs * BYTES_PER_CANDIDATE
                - rows * (POOL_BYTES_PER_ROW + token_columns * TABLE_BYTES_PER_ENTRY))

    def check_tables(self, label: str, left_rows: int, right_rows: int | None,
                     token_columns: int, lsh: bool) -> None:
        """Refuse a party pair whose blocking would not fit the budget even with its LSH
        bands joined one at a time.

        Raises
        ------
        CostLimitError
            The estimate exceeds the budget (the message gives the budget it needs).
        """
        left = self.lsh_memory(left_rows, right_rows, token_columns)
        rows = left_rows + (right_rows or 0)
        one_band = rows * TABLE_BYTES_PER_ENTRY if lsh else 0
        if left is None or left >= one_band:
            return
        assert self.bytes is not None
        need = self.bytes - left + one_band
        msg = (f"{label}: blocking needs about {_size(need)} (key tables for {rows:,} "
               f"rows), over the memory budget of {_size(self.bytes)}")
        raise CostLimitError(msg, hint=f"raise --memory to at least {_size(need)}")


def _size(n: int) -> str:
    for unit in ("GB", "MB", "KB"):
        scale = _UNITS[unit]
        if n >= scale:
            return f"{n / scale:.1f}{unit}"
    return f"{n}B"
