"""A chunk of rows seen column by column, each column *factorised*: distinct texts + codes.

The encoder does its work once per distinct value of a field and then gathers per row,
so what it needs of a chunk is, per column, the distinct cell texts and each row's index
among them (a :class:`Factor`). Two kinds of chunk provide that:

* :class:`RowChunk` wraps the rows of the Python reader
  (:class:`hashmatch.encode.sources.rows.Chunk`: DataFrames, dicts, and CSV input the
  columnar reader set aside) and factorises a column with two C-level dict passes when it
  is first asked for;
* :class:`ArrowChunk` wraps a pyarrow table whose columns the CSV parser already
  dictionary-encoded (:mod:`hashmatch.encode.sources.columnar`): factors come for free.

Both give the same factors up to the order of the distinct values, and nothing
downstream depends on that order, so either path encodes a row to the same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt

from hashmatch.encode._rows import factorize
from hashmatch.encode.sources.chunk import BadRow, Chunk, cut_bounds, split_bad_rows

if TYPE_CHECKING:
    import pyarrow as pa

Codes = npt.NDArray[np.intp]


@dataclass(frozen=True)
class Factor:
    """A column over a chunk: row ``r`` holds ``values[codes[r]]``.

    ``values`` may repeat a text (a joined column can reach one string from two
    combinations of cells); consumers treat entries, not texts, as the unit of work.
    """

    values: list[str]
    codes: Codes


class ColumnChunk(Protocol):
    """What :class:`~hashmatch.encode.encoder.ChunkEncoder` reads from a chunk."""

    @property
    def row_numbers(self) -> Sequence[int]:
        """1-based data row numbers of the usable rows."""
        ...

    @property
    def bad_rows(self) -> list[BadRow]:
        """Rows the reader set aside (never encoded)."""
        ...

    @property
    def rows(self) -> int: ...

    def factor(self, index: int) -> Factor:
        """Column ``index`` factorised."""
        ...

    def cells(self, index: int) -> list[str]:
        """Column ``index`` as one text per row (record ids)."""
        ...


def factorise(values: Sequence[str]) -> Factor:
    """Distinct values in order of first appearance, and each value's index among them.

    Two C-level passes (``dict.fromkeys``, ``map``): no Python code per row.

    >>> f = factorise(["b", "a", "b"])
    >>> f.values, f.codes.tolist()
    (['b', 'a'], [0, 1, 0])
    """
    distinct = dict.fromkeys(values)
    index = dict(zip(distinct, range(len(distinct)), strict=True))
    codes = np.fromiter(map(index.__getitem__, values), np.intp, len(values))
    return Factor(list(distinct), codes)


def join_factors(factors: Sequence[Factor]) -> Factor:
    """Several columns joined by one space per row, factorised.

    The texts are joined once per distinct *combination* of cells, not once per row.

    >>> f = join_factors([factorise(["12", "12", "3"]), factorise(["high st", "high st", "x"])])
    >>> [f.values[c] for c in f.codes.tolist()]
    ['12 high st', '12 high st', '3 x']
    """
    if len(factors) == 1:
        return factors[0]
    codes = np.stack([f.codes for f in factors], axis=1)
    combos, inverse = unique_rows(codes, max(len(f.values) for f in factors))
    cells = [  # per column, its cell in each combination (C-level maps, no per-row code)
        list(map(f.values.__getitem__, ids))
        for f, ids in zip(factors, combos.T.tolist(), strict=True)
    ]
    return Factor(list(map(" ".join, zip(*cells, strict=True))), inverse)


def unique_rows(ids: npt.NDArray[np.integer], base: int) -> tuple[Codes, Codes]:
    """Distinct rows of ``ids`` (entries in ``[0, base)``) and each row's index among them.

    Rows are packed into one int64 each when ``base ** width`` fits and numbered in one
    hashing pass (:func:`hashmatch.encode._rows.factorize`, first appearance first), else
    compared as rows by ``np.unique(axis=0)`` (sorted). Callers rely on neither order.
    """
    packed = pack_rows(ids, base)
    if packed is not None:
        distinct, inverse = factorize(packed)
        return unpack_rows(distinct, base, ids.shape[1]), inverse
    combos, inverse = np.unique(ids, axis=0, return_inverse=True)
    return combos.astype(np.intp, copy=False), inverse.reshape(-1).astype(np.intp)


def pack_rows(ids: npt.NDArray[np.integer], base: int) -> npt.NDArray[np.int64] | None:
    """Each row of ``ids`` (entries in ``[0, base)``) as one int64, its digits in base
    ``base``; None when ``base ** width`` does not fit in an int64."""
    width = ids.shape[1]
    base = max(base, 1)
    if base**width >= 2**63:
        return None
    packed = np.zeros(len(ids), dtype=np.int64)
    for j in range(width):
        packed = packed * base + ids[:, j]
    return packed


def unpack_rows(packed: npt.NDArray[np.int64], base: int, width: int) -> Codes:
    """The rows :func:`pack_rows` packed: ``unpack_rows(pack_rows(x, b), b, w) == x``."""
    base = max(base, 1)
    rows = np.empty((len(packed), width), dtype=np.intp)
    for j in reversed(range(width)):
        packed, rows[:, j] = np.divmod(packed, base)
    return rows


@dataclass
class RowChunk:
    """A :class:`hashmatch.encode.sources.rows.Chunk` (rows of texts) seen as factorised columns."""

    chunk: Chunk
    _columns: list[tuple[str, ...]] = field(init=False)
    _factors: dict[int, Factor] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self._columns = list(zip(*self.chunk.rows, strict=True))

    @property
    def row_numbers(self) -> Sequence[int]:
        return self.chunk.row_numbers

    @property
    def bad_rows(self) -> list[BadRow]:
        return self.chunk.bad_rows

    @property
    def rows(self) -> int:
        return len(self.chunk.rows)

    def factor(self, index: int) -> Factor:
        found = self._factors.get(index)
        if found is None:
            found = self._factors[index] = factorise(self._column(index))
        return found

    def cells(self, index: int) -> list[str]:
        return list(self._column(index))

    def _column(self, index: int) -> Sequence[str]:
        return self._columns[index] if self._columns else ()


@dataclass
class ArrowChunk:
    """Rows parsed by pyarrow: columns of type ``string`` (the CSV reader's) or
    ``dictionary<int32, string>`` (Parquet's dictionary pages); :meth:`factor` gives
    either as distinct values and codes."""

    table: pa.Table
    row_numbers: range
    bad_rows: list[BadRow] = field(default_factory=list)
    #: A slice of a parsed table (:meth:`cut`): its columns' dictionaries still hold
    #: values of the rows cut off, which :meth:`factor` leaves out.
    cut_from_larger: bool = False

    @property
    def rows(self) -> int:
        return int(self.table.num_rows)

    @property
    def read(self) -> int:
        """Data rows read in this chunk, usable or not."""
        return self.rows + len(self.bad_rows)

    def cut(self, parts: int) -> list[ArrowChunk]:
        """As :meth:`hashmatch.encode.sources.chunk.Chunk.cut` (table slices: no copy)."""
        bounds = cut_bounds(self.rows, parts)
        if len(bounds) <= 2:
            return [self]
        bad = split_bad_rows(self.bad_rows, self.row_numbers, bounds)
        return [
            ArrowChunk(self.table.slice(a, b - a), self.row_numbers[a:b], aside, True)
            for a, b, aside in zip(bounds, bounds[1:], bad, strict=False)
        ]

    def factor(self, index: int) -> Factor:
        import pyarrow as pa  # only here: an ArrowChunk exists only when pyarrow does
        import pyarrow.compute as pc

        column = self.table.column(index)
        # A dictionary's values may include rows cut off (see cut_from_larger); a column
        # read as text is factorised here, on the process that encodes the chunk (a pooled
        # worker), over only its own rows.
        from_larger = self.cut_from_larger and pa.types.is_dictionary(column.type)
        if not pa.types.is_dictionary(column.type):
            column = pc.dictionary_encode(column)
        if column.num_chunks == 1:
            array = column.chunk(0)
        else:  # several parser blocks (or none): one dictionary for all of them
            array = column.unify_dictionaries().combine_chunks()
        indices = array.indices  # int32, never null (strings cannot be null)
        # Straight from the buffer: Array.to_numpy would import pandas (~0.5 s).
        codes = np.frombuffer(
            indices.buffers()[1], dtype=np.int32, count=len(indices), offset=4 * indices.offset
        ).astype(np.intp)
        values = array.dictionary
        if from_larger:  # only the values of these rows: the encoder works per value
            used, codes = np.unique(codes, return_inverse=True)
            # From the buffer: pa.array would import pandas (~0.5 s in each worker).
            buffer = pa.py_buffer(used.astype(np.int64))
            indices = pa.Array.from_buffers(pa.int64(), len(used), [None, buffer])
            values = values.take(indices)
        dictionary: list[str] = values.to_pylist()
        return Factor(dictionary, codes.reshape(-1))

    def cells(self, index: int) -> list[str]:
        cells: list[str] = self.table.column(index).cast("string").to_pylist()
        return cells
