"""Privacy-preserving blocking: which pairs of rows are worth scoring at all.

The coordinator holds neither the linkage secret nor any PII, so blocking is computed
from the encodings alone. Every method turns each row into one or more *block keys*
(``uint64``); two rows become a candidate pair when they share a key in the same key
column. The methods are:

``tokens``
    Hash join on the keyed exact-token columns the parties computed at encode time
    (field tokens such as ``soc_sec_id`` or ``email``, match keys such as
    ``surname_dob`` and coarse block keys such as ``soundex(surname)+birth year``).
    An all-zero token means *missing* and never joins.
``lsh``
    MinHash locality-sensitive hashing over the CLK, field by field. For each field's
    segment (layout from the file header) a pool of MinHash values is computed: the
    first set bit of the segment in a pseudo-random order of its bits, which two segments
    share with probability equal to their Jaccard similarity. The orders derive from
    ``seed`` (public: no secret is involved, and none is needed, since the CLK bits are
    already keyed). Each of ``bands`` key columns draws a few fields in a seeded random
    order and mixes ``values_per_segment`` MinHash values of each, adding fields until
    the chance that unrelated rows share the band, *measured on the data*, is below
    ``lsh_pairs_per_row / rows``. So a band says "these two or three fields are the same
    or nearly so": two records of one person share every band whose fields are intact,
    however many other fields are mistyped or missing, while unrelated rows give about
    ``lsh_pairs_per_row`` candidates per row and band at any scale. Chosen over
    whole-CLK MinHash and Hamming bit-sampling, which need far more candidates for a lower
    recall (benchmarks/README.md, "Blocking design").

Cost grows with the number of rows plus the number of candidates, never with ``n * m``:
keys are computed per row, the right-side keys of each method (all its columns, each key
mixed with its column number) are sorted once, every left key is looked up once, and the
left rows are streamed in chunks whose candidate count is known in advance (so memory
beyond the key tables stays bounded by ``chunk_pairs``). Within a chunk the pairs of all
key columns are packed as ``i << 32 | j`` and de-duplicated with one sort; chunks cover
disjoint ranges of ``i``, so no pair is ever produced twice. A block whose pair count exceeds
``max_block_pairs`` (a placeholder token shared by thousands of rows, a band where
everything collides) carries no information and is skipped; skipped blocks are counted
in :class:`BlockingStats` so the report can say what was left out.

The LSH key table (about ``TABLE_BYTES_PER_ENTRY`` bytes per row of both sides and band,
at its sort) is the largest thing blocking holds. When one table of every band would not
fit the memory allowed (``lsh_memory``, from ``link --memory`` or a share of the
machine's), the bands are joined a group at a time: each group's table is built, expanded
and dropped, and the distinct pairs of all groups (8 bytes each) are held, merged, until
the chunks are cut from them as from the one table. Chunks, pairs and statistics are
the same; only memory and time change.

Interface (plain arrays; rows of each party are numbered from 0)::

    stream = candidate_pairs(left_clks, left_tokens, right_clks, right_tokens, config)
    for i, j in stream:          # int64 arrays of equal length, sorted by (i, j)
        ...                      # right=None: pairs within left, always i < j
    stream.stats                 # BlockingStats, complete once the stream is exhausted

Example
-------
>>> import numpy as np
>>> clks = np.zeros((3, 1), np.uint64); clks[:, 0] = [0xFF, 0xFF, 0xFF00]
>>> tokens = {"id": np.array([[1] * 16, [0] * 16, [1] * 16], np.uint8)}
>>> stream = candidate_pairs(clks, tokens, None, None, BlockingConfig(bands=4))
>>> [(int(a), int(b)) for i, j in stream for a, b in zip(i, j)]
[(0, 1), (0, 2)]
>>> stream.stats.candidates, stream.stats.full_grid
(2, 3)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from hashmatch._types import Clks, Indices, Tokens
from hashmatch.kernel.candidates import (
    KeyTableArrays,
    band_keys,
    expand_candidates,
    key_table,
    minhash,
    raw_partners,
)
from hashmatch.link.memory import bands_per_group

__all__ = [
    "METHODS",
    "BlockingConfig",
    "BlockingStats",
    "CandidatePairs",
    "LshPlan",
    "MinHashCache",
    "candidate_pairs",
    "plan_lsh",
    "token_column_names",
    "token_keys",
]

#: The blocking methods, in the order they are applied.
METHODS = ("tokens", "lsh")

_U64 = npt.NDArray[np.uint64]
_LOW32 = np.uint64(0xFFFF_FFFF)
#: Positions of the random order inspected at once when looking for a first set bit;
#: a CLK with ~30% fill has none among the first 16 with probability ~0.3%.
_PREFIX = 16
#: Rows whose MinHash values are computed at once (bounds the temporary arrays).
_ROW_BATCH = 32768


@dataclass(frozen=True)
class BlockingConfig:
    """How candidate pairs are found.

    Attributes
    ----------
    methods:
        Subset of :data:`METHODS` to apply (their union is returned).
    token_columns:
        Exact-token columns to join on; ``None`` = every column both sides have.
    bands:
        Number of LSH key columns; more bands raise recall (and candidates).
    lsh_pairs_per_row:
        Each band combines MinHash values until unrelated rows are expected to give about
        this many candidates per left row (measured on the data), so the LSH candidate
        count grows linearly with the rows whatever their number.
    hashes_per_segment, values_per_segment:
        MinHash values computed per CLK segment (field), and how many of them a band
        takes from each field it draws. Several values of one field say "this field is
        (nearly) the same", so a band keys on a few whole fields and a pair with other
        fields corrupted or missing still shares it. Bands draw from this pool, so the
        cost of many bands is mostly the joins, not the hashing.
    seed:
        Derives the pseudo-random bit orders (public; any fixed value works).
    max_block_pairs:
        A block (rows sharing one key in one column) that would yield more pairs than
        this is skipped and reported instead of being expanded.
    """

    methods: tuple[str, ...] = METHODS
    token_columns: tuple[str, ...] | None = None
    bands: int = 24
    lsh_pairs_per_row: float = 1.0
    hashes_per_segment: int = 6
    values_per_segment: int = 3
    seed: int = 0x6861_7368
    max_block_pairs: int = 250_000

    def __post_init__(self) -> None:
        unknown = sorted(set(self.methods) - set(METHODS))
        if unknown:
            msg = f"blocking methods: expected a subset of {list(METHODS)}, got {unknown}"
            raise ValueError(msg)
        if (min(self.bands, self.values_per_segment) < 1 or not self.lsh_pairs_per_row > 0
                or self.hashes_per_segment < self.values_per_segment):
            msg = ("LSH settings: expected bands >= 1, lsh_pairs_per_row > 0 and "
                   "hashes_per_segment >= values_per_segment >= 1")
            raise ValueError(msg)
        if self.max_block_pairs < 1:
            msg = f"max_block_pairs: expected >= 1, got {self.max_block_pairs}"
            raise ValueError(msg)


@dataclass(frozen=True)
class BlockingStats:
    """What blocking did, for the report (counts only; no key is ever exposed).

    ``reduction_ratio`` is ``1 - candidates / full_grid``. ``per_method`` counts the
    distinct pairs each method found (a pair found by both counts in both);
    ``token_columns`` and ``lsh_bands`` say which key columns were used. ``skipped_blocks``
    and ``skipped_pairs`` count the oversized blocks left out (see ``max_block_pairs``),
    ``largest_block`` the pair count of the largest block that was expanded.
    """

    candidates: int
    full_grid: int
    reduction_ratio: float
    per_method: Mapping[str, int]
    token_columns: tuple[str, ...]
    lsh_bands: int
    largest_block: int
    skipped_blocks: int
    skipped_pairs: int

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-ready data for report.json."""
        return {
            "candidates": self.candidates,
            "full_grid": self.full_grid,
            "reduction_ratio": self.reduction_ratio,
            "per_method": dict(self.per_method),
            "token_columns": list(self.token_columns),
            "lsh_bands": self.lsh_bands,
            "largest_block": self.largest_block,
            "skipped_blocks": self.skipped_blocks,
            "skipped_pairs": self.skipped_pairs,
        }


@dataclass(frozen=True)
class _KeyTable:
    """The key columns of one method, joined left-to-right.

    Keys are stored flat, one *entry* per (row, column): entry ``e`` is row ``e // width``.
    Each key is mixed with its column number, so one sort groups every column at once
    and equal keys of different columns never meet. The right entries are sorted once
    (stable: ascending row within a key); left rows then look their keys up in chunks.
    """

    method: str
    width: int  # key columns
    left_group: Indices  # [rows * width]: group of each left entry, -1 if none
    group_start: Indices  # first position of each group in right_order
    group_size: Indices
    right_order: Indices  # right entries sorted by key
    rank: Indices | None  # dedup only: position of each entry in right_order (-1: none)


@dataclass(frozen=True)
class _HeldPairs:
    """The distinct pairs of one method found ahead of the chunks (LSH joined band group by
    band group, see :func:`_grouped_lsh`): sorted packed ``i << 32 | j`` keys, and each left
    row's raw partner count over all the method's key columns (so chunk bounds are those
    of the one-table join)."""

    method: str
    keys: _U64
    raw_per_row: Indices

    def between(self, start: int, stop: int) -> _U64:
        """The keys of left rows start..stop (a slice: no copy)."""
        lo, hi = np.searchsorted(self.keys, np.array([start, stop], np.uint64) << np.uint64(32))
        return self.keys[lo:hi]


class CandidatePairs(Iterator[tuple[Indices, Indices]]):
    """Iterator over chunks of candidate pairs; ``stats`` is final once it is exhausted."""

    def __init__(self, tables: list[_KeyTable], n_left: int, dedup: bool, full_grid: int,
                 columns: tuple[tuple[str, ...], int], skipped: tuple[int, int, int],
                 chunk_pairs: int, rows: tuple[int, int] | None = None,
                 held: _HeldPairs | None = None) -> None:
        self._tables = tables
        self._held = held
        self._dedup = dedup
        self._full_grid = full_grid
        self._columns = columns
        self._largest, self._skipped_blocks, self._skipped_pairs = skipped
        self._candidates = 0
        self._per_method = {m: 0 for m in self.methods}
        per_row = raw_partners(self._arrays(), dedup, n_left)
        if per_row is None:  # the numpy reference
            per_row = np.zeros(n_left, np.int64)
            for t in tables:
                per_row += _partners(t, 0, n_left, dedup)[1].reshape(n_left, t.width).sum(1)
        #: raw partners per left row in the tables (what their expansion writes) ...
        self._table_raw = per_row
        # ... and with the held pairs' (what chunk bounds are cut from)
        self._raw_per_row = per_row if held is None else per_row + held.raw_per_row
        per_row = self._raw_per_row
        start, stop = (0, n_left) if rows is None else rows
        #: Left-row ranges of the chunks, in order (plain tuples: the object pickles, so a
        #: distributed engine can ship it and expand ranges elsewhere with pairs_in).
        self.bounds = [(start + a, start + b)
                       for a, b in _chunk_bounds(per_row[start:stop], chunk_pairs)]
        self._next = 0

    def _arrays(self) -> list[KeyTableArrays]:
        return [(t.width, t.left_group, t.group_start, t.group_size, t.right_order, t.rank)
                for t in self._tables]

    @property
    def methods(self) -> tuple[str, ...]:
        """The methods whose key tables (or held pairs) these are, in the order they are
        applied."""
        held = () if self._held is None else (self._held.method,)
        return tuple(t.method for t in self._tables) + held

    @property
    def stats(self) -> BlockingStats:
        return self.stats_for(self._candidates, self._per_method)

    def stats_for(self, candidates: int, per_method: Mapping[str, int]) -> BlockingStats:
        """The statistics of these key tables given the counts of expanded chunks (summed
        over all of ``bounds``, they are what :attr:`stats` gives after iterating)."""
        grid = self._full_grid
        return BlockingStats(
            candidates=candidates,
            full_grid=grid,
            reduction_ratio=1.0 - candidates / grid if grid else 0.0,
            per_method=MappingProxyType(dict(per_method)),
            token_columns=self._columns[0],
            lsh_bands=self._columns[1],
            largest_block=self._largest,
            skipped_blocks=self._skipped_blocks,
            skipped_pairs=self._skipped_pairs,
        )

    def __iter__(self) -> CandidatePairs:
        return self

    def __next__(self) -> tuple[Indices, Indices]:
        while True:
            if self._next >= len(self.bounds):
                raise StopIteration
            i, j, found = self.pairs_in(*self.bounds[self._next])
            self._next += 1
            for method, n in found.items():
                self._per_method[method] += n
            if len(i):
                break
        self._candidates += len(i)
        return i, j

    def pairs_in(self, start: int, stop: int) -> tuple[Indices, Indices, dict[str, int]]:
        """The candidate pairs of left rows start..stop, sorted by (i, j), and the distinct
        pairs each method found there; does not touch the iteration or its counts."""
        found = expand_candidates(self._arrays(), self._dedup, start, stop,
                                  self._table_raw[start:stop]) if self._tables else None
        if found is not None:  # the compiled path: the same pairs as the reference below
            i, j, per_table = found
            per_method = {t.method: n
                          for t, n in zip(self._tables, per_table.tolist(), strict=True)}
            if self._held is None:
                return i, j, per_method
            keys = (i.astype(np.uint64) << np.uint64(32)) | j.astype(np.uint64)
        else:
            keys, per_method = self._chunk_reference(start, stop)
        if self._held is not None:
            held = self._held.between(start, stop)
            per_method[self._held.method] = len(held)
            keys = _union_sorted(keys, held)
        i, j = (keys >> np.uint64(32)).astype(np.int64), (keys & _LOW32).astype(np.int64)
        return i, j, per_method

    def _chunk_reference(self, start: int, stop: int) -> tuple[_U64, dict[str, int]]:
        """The numpy reference of :meth:`pairs_in` (the test oracle and the fallback): the
        distinct pair keys ``i << 32 | j`` and each method's distinct count."""
        distinct = []
        found = {}
        for table in self._tables:
            keys = _sorted_unique(_expand(table, start, stop, self._dedup))
            found[table.method] = len(keys)
            distinct.append(keys)
        keys = (distinct[0] if len(distinct) == 1
                else _sorted_unique(np.concatenate(distinct or [np.zeros(0, np.uint64)])))
        return keys, found


def candidate_pairs(
    left_clks: Clks,
    left_tokens: Mapping[str, Tokens],
    right_clks: Clks | None,
    right_tokens: Mapping[str, Tokens] | None,
    config: BlockingConfig | None = None,
    *,
    segments: Sequence[tuple[int, int]] | None = None,
    left_present: npt.NDArray[np.bool_] | None = None,
    right_present: npt.NDArray[np.bool_] | None = None,
    chunk_pairs: int = 4_000_000,
    rows: tuple[int, int] | None = None,
    minhash: MinHashCache | None = None,
    lsh_memory: int | None = None,
) -> CandidatePairs:
    """Stream the candidate pairs of two parties (or of one party with itself).

    Parameters
    ----------
    left_clks, right_clks:
        ``uint64[rows, words]`` CLK matrices of equal width (memory maps are fine).
        ``right_clks=None`` (with ``right_tokens=None``) asks for pairs within the left
        party, each once with ``i < j``.
    left_tokens, right_tokens:
        Exact-token columns by name, ``uint8[rows, 16]``; all-zero rows are missing.
    config:
        :class:`BlockingConfig`; default settings if None.
    segments:
        ``(start, bits)`` of each field's Bloom segment in the CLK (from the file header);
        LSH then draws one MinHash value per field, so a band keys on a few whole fields
        (two rows with the same surname and birth date always share such a band). None:
        the whole CLK is one segment.
    left_present, right_present:
        Optional ``bool[rows, len(segments)]``: which fields each row has (the file's
        ``present`` matrix). Needed when hardening fills the segments of missing fields
        (balanced filters, padding): a segment marked absent never joins. Without it a
        segment with no bit set counts as absent.
    chunk_pairs:
        Target number of pairs per chunk (a chunk always holds whole left rows, so a
        single row with more partners than this makes a larger chunk).
    rows:
        ``(start, stop)``: only the pairs of left rows ``start .. stop - 1`` (a task's
        share of a job; the key tables still cover every row). None: all left rows.
    minhash:
        A :class:`MinHashCache` shared by the jobs of one link, so each party's MinHash
        pool is computed once rather than once per job. None: computed here.
    lsh_memory:
        Bytes the LSH key table may take (about ``TABLE_BYTES_PER_ENTRY`` per row of both
        sides and band). When every band does not fit, the bands are joined a group at a
        time (:func:`~hashmatch.link.memory.bands_per_group`) and their distinct pairs
        held (8 bytes each) before the chunks are cut: the same chunks, pairs and
        statistics. None: a share of this machine's memory
        (:func:`~hashmatch.link.memory.default_lsh_memory`).

    Returns
    -------
    CandidatePairs
        An iterator of ``(i, j)`` int64 chunks, sorted by ``(i, j)``, with no pair repeated
        anywhere in the stream, and ``.stats`` (:class:`BlockingStats`).

    Raises
    ------
    ValueError
        Mismatched shapes, more than 2**32 rows, or only one of right_clks/right_tokens.
    """
    config = config or BlockingConfig()
    if (right_clks is None) != (right_tokens is None):
        msg = "right_clks and right_tokens must both be given or both be None"
        raise ValueError(msg)
    dedup = right_clks is None
    r_clks = left_clks if right_clks is None else right_clks
    r_tokens = left_tokens if right_tokens is None else right_tokens
    _check_shapes(left_clks, r_clks)
    n, m = len(left_clks), len(r_clks)
    if rows is not None and not 0 <= rows[0] <= rows[1] <= n:
        msg = f"rows: expected 0 <= start <= stop <= {n}, got {tuple(rows)}"
        raise ValueError(msg)
    full_grid = n * (n - 1) // 2 if dedup else n * m

    tables = []
    skipped = [(0, 0, 0)]
    token_names: list[str] = []
    if "tokens" in config.methods:
        columns = []
        for name, lkeys, lvalid, rkeys, rvalid in _token_columns(
                left_tokens, r_tokens, len(left_clks), len(r_clks), config, dedup):
            columns.append((lkeys, lvalid, rkeys, rvalid))
            token_names.append(name)
        if columns:
            # handed over, not shared: the table build lets go of the columns once mixed
            table, stats = _build_table("tokens", columns, dedup, config.max_block_pairs)
            tables.append(table)
            skipped.append(stats)
    held = None
    bands = 0
    if "lsh" in config.methods:
        r_present = left_present if right_clks is None else right_present
        lsh = _LshPools.of(left_clks, r_clks, segments, (left_present, r_present), config,
                           dedup, minhash or MinHashCache())
        bands = len(lsh.plan)
        per_group = bands_per_group(n + (0 if dedup else m), bands, lsh_memory)
        if per_group >= bands and not _twins(lsh.plan):  # one table of every band
            table, stats = _build_table("lsh", lsh.columns(range(bands)), dedup,
                                        config.max_block_pairs)
            tables.append(table)
            skipped.append(stats)
        else:
            held, stats = _grouped_lsh(lsh, per_group, n, config.max_block_pairs,
                                       chunk_pairs, rows)
            skipped.append(stats)
    counts = (max(s[0] for s in skipped), sum(s[1] for s in skipped),
              sum(s[2] for s in skipped))
    return CandidatePairs(tables, n, dedup, full_grid, (tuple(token_names), bands), counts,
                          chunk_pairs, rows, held)


# -- key columns -------------------------------------------------------------------------


def _check_shapes(left: Clks, right: Clks) -> None:
    for side, arr in (("left", left), ("right", right)):
        if arr.ndim != 2 or arr.dtype != np.uint64:
            msg = f"{side}_clks: expected uint64[rows, words], got {arr.dtype}{list(arr.shape)}"
            raise ValueError(msg)
        if len(arr) >= 1 << 32:
            msg = f"{side}_clks: at most 2**32 - 1 rows per party, got {len(arr)}"
            raise ValueError(msg)
    if left.shape[1] != right.shape[1]:
        msg = f"CLK widths differ: {left.shape[1]} and {right.shape[1]} words"
        raise ValueError(msg)


def _token_columns(
    left_tokens: Mapping[str, Tokens], right_tokens: Mapping[str, Tokens], n: int, m: int,
    config: BlockingConfig, dedup: bool,
) -> Iterator[tuple[str, _U64, npt.NDArray[np.bool_], _U64, npt.NDArray[np.bool_]]]:
    """(name, left keys, left valid, right keys, right valid) per exact-token column."""
    for name in token_column_names(config, left_tokens, right_tokens):
        if name not in left_tokens or name not in right_tokens:
            msg = f"token column {name!r} is missing on one side"
            raise ValueError(msg)
        lk, lv = token_keys(left_tokens[name], n, name)
        rk, rv = (lk, lv) if dedup else token_keys(right_tokens[name], m, name)
        yield name, lk, lv, rk, rv


def token_column_names(config: BlockingConfig, left_tokens: Mapping[str, Tokens],
                       right_tokens: Mapping[str, Tokens]) -> Sequence[str]:
    """The exact-token columns blocking joins on: ``config.token_columns``, else every
    column both sides have (none unless the ``tokens`` method is on)."""
    if "tokens" not in config.methods:
        return ()
    if config.token_columns is not None:
        return config.token_columns
    return [t for t in left_tokens if t in right_tokens]


def token_keys(tokens: Tokens, rows: int, name: str) -> tuple[_U64, npt.NDArray[np.bool_]]:
    """First 8 bytes of each keyed token as the key (HMAC output: uniform); all-zero = missing.

    A 64-bit prefix collision between different tokens only adds a candidate pair, which
    scoring then judges on its merits.
    """
    arr = np.ascontiguousarray(tokens, dtype=np.uint8)
    if arr.shape != (rows, 16):
        msg = f"token column {name!r}: expected uint8[{rows}, 16], got {list(arr.shape)}"
        raise ValueError(msg)
    words = arr.view("<u8")
    return words[:, 0].astype(np.uint64), (words != 0).any(axis=1)


@dataclass(frozen=True)
class LshPlan:
    """Which MinHash values each LSH band mixes: fixed, so keys can be computed for any
    rows later (an entity registry keys its records once and looks new rows up).

    ``segments`` and ``hashes_per_segment`` fix the MinHash pool (its bit orders derive
    from ``seed``); ``bands`` lists the pool positions each band mixes.
    """

    segments: tuple[tuple[int, int], ...]
    hashes_per_segment: int
    seed: int
    bands: tuple[tuple[int, ...], ...]

    def keys(self, clks: Clks, present: npt.NDArray[np.bool_] | None = None
             ) -> tuple[_U64, npt.NDArray[np.bool_]]:
        """Band keys and validity ``[rows, bands]`` of ``clks`` under this plan."""
        pool, empty = _pool(clks, self.segments, self.hashes_per_segment, self.seed, present)
        return _band_keys(pool, [list(b) for b in self.bands], empty)


def plan_lsh(left: Clks, right: Clks | None, config: BlockingConfig, *,
             segments: Sequence[tuple[int, int]] | None = None,
             present: tuple[npt.NDArray[np.bool_] | None, npt.NDArray[np.bool_] | None]
             = (None, None), right_rows: int | None = None) -> LshPlan:
    """The band layout :func:`candidate_pairs` would use for ``left`` and ``right``
    (None: within ``left``), measured on them; ``right_rows`` overrides the row count
    the selectivity target is set for."""
    segs = _segments(left, segments)
    dedup = right is None
    lpool, empty = _pool(left, segs, config.hashes_per_segment, config.seed, present[0])
    rpool = lpool if right is None else _pool(right, segs, config.hashes_per_segment,
                                              config.seed, present[1])[0]
    n_right = right_rows if right_rows is not None else len(left if right is None else right)
    return _plan(lpool, rpool, segs, config, dedup, n_right)


@dataclass(frozen=True)
class _LshPools:
    """Both sides' MinHash pools and the band plan drawn on them: any band's keys can be
    mixed from here, so bands can be joined a group at a time.

    A pool of MinHash values is computed once: ``hashes_per_segment`` per segment, each
    with its own seeded order of the segment's bits. Each band then draws (segment, hash)
    pairs, segments in a seeded random order, until the measured chance that two
    unrelated rows share the band falls below ``lsh_pairs_per_row / right rows``, and
    mixes the drawn values into its key. A row with an empty drawn segment (a missing
    field) is not valid in that band, so missing fields never make rows collide.
    """

    lpool: Indices
    rpool: Indices  # lpool when dedup
    empty: Indices
    plan: list[list[int]]
    dedup: bool

    @classmethod
    def of(cls, left: Clks, right: Clks, segments: Sequence[tuple[int, int]] | None,
           present: tuple[npt.NDArray[np.bool_] | None, npt.NDArray[np.bool_] | None],
           config: BlockingConfig, dedup: bool, minhash: MinHashCache) -> _LshPools:
        segs = _segments(left, segments)
        lpool, empty = minhash.pool(left, segs, config.hashes_per_segment, config.seed,
                                    present[0])
        rpool = lpool if dedup else minhash.pool(right, segs, config.hashes_per_segment,
                                                 config.seed, present[1])[0]
        plan = [list(b) for b in _plan(lpool, rpool, segs, config, dedup, len(right)).bands]
        return cls(lpool, rpool, empty, plan, dedup)

    def columns(self, bands: Sequence[int]
                ) -> list[tuple[_U64, npt.NDArray[np.bool_], _U64, npt.NDArray[np.bool_]]]:
        """Key columns (left keys, left valid, right keys, right valid) of these bands, for
        :func:`_build_table` (the right ones are the left ones when dedup)."""
        plan = [self.plan[b] for b in bands]
        lk, lv = _band_keys(self.lpool, plan, self.empty)
        rk, rv = (lk, lv) if self.dedup else _band_keys(self.rpool, plan, self.empty)
        return [(lk[:, b], lv[:, b], rk[:, b], rv[:, b]) for b in range(len(plan))]


def _twins(plan: Sequence[Sequence[int]]) -> list[int]:
    """How many bands draw each band's set of pool values, at its first band (0 at the
    others). Bands drawing one set (in any order) put the same rows in their blocks, so
    they find the same pairs: with few fields, e.g. a CLK of one segment, the pool runs out
    and every band draws all of it."""
    first: dict[frozenset[int], int] = {}
    count = [0] * len(plan)
    for band, cols in enumerate(plan):
        count[first.setdefault(frozenset(cols), band)] += 1
    return count if any(c > 1 for c in count) else []


def _band_groups(plan: Sequence[Sequence[int]], per_group: int
                 ) -> Iterator[tuple[list[int], int]]:
    """(bands, times) to join: consecutive bands, ``per_group`` at most; a band whose twins
    (:func:`_twins`) are skipped alone, counted ``times`` over."""
    twins = _twins(plan) or [1] * len(plan)
    group: list[int] = []
    for band, times in enumerate(twins):
        if times > 1:
            yield [band], times
        elif times:
            group.append(band)
        if group and (len(group) == per_group or times > 1):
            yield group, 1
            group = []
    if group:
        yield group, 1


def _grouped_lsh(lsh: _LshPools, per_group: int, n_left: int, max_block_pairs: int,
                 chunk_pairs: int, rows: tuple[int, int] | None,
                 ) -> tuple[_HeldPairs, tuple[int, int, int]]:
    """The distinct LSH pairs (of left rows ``rows``) joined ``per_group`` bands at a time,
    so only one group's key table is ever held, and a band whose twin was joined already
    not again: the same pairs, raw counts and skipped blocks as one table of every band
    (each group's keys are salted with their band numbers there, so its blocks are the
    one table's blocks of those bands)."""
    keys = np.zeros(0, np.uint64)
    raw = np.zeros(n_left, np.int64)
    largest = blocks = pairs = 0
    start, stop = (0, n_left) if rows is None else rows
    for bands, times in _band_groups(lsh.plan, per_group):
        table, (big, b, p) = _build_table("lsh", lsh.columns(bands), lsh.dedup,
                                          max_block_pairs, column_numbers=bands)
        largest, blocks, pairs = max(largest, big), blocks + times * b, pairs + times * p
        stream = CandidatePairs([table], n_left, lsh.dedup, 0, ((), 0), (0, 0, 0),
                                chunk_pairs, rows)
        raw += times * stream._table_raw
        # new pairs written in place: at most the group's raw pairs, no list to concatenate
        new = np.empty(int(stream._table_raw[start:stop].sum()), np.uint64)
        filled = 0
        for i, j in stream:  # chunks of ascending rows: one sorted run
            found = (i.astype(np.uint64) << np.uint64(32)) | j.astype(np.uint64)
            found = found[~_within(found, keys)]
            new[filled:filled + len(found)] = found
            filled += len(found)
        del table, stream
        new.resize(filled, refcheck=False)  # in place: nothing else refers to it
        keys = _merge_disjoint(keys, new)
        del new
    return _HeldPairs("lsh", keys, raw), (largest, blocks, pairs)


def _segments(clks: Clks, segments: Sequence[tuple[int, int]] | None
              ) -> tuple[tuple[int, int], ...]:
    bits = clks.shape[1] * 64
    segs = ((0, bits),) if not segments else tuple((int(a), int(b)) for a, b in segments)
    if any(a < 0 or b < 1 or a + b > bits for a, b in segs):
        msg = f"segments: expected (start, bits) ranges inside the {bits}-bit CLK"
        raise ValueError(msg)
    return segs


class MinHashCache:
    """The MinHash pools of the parties one link has met, so a party blocked against
    several others (and itself, with dedup) is hashed once.

    A pool is keyed by the identity of its CLK and presence arrays (held here, so the
    identities stay theirs while the cache lives) and the pool's settings. Values are
    ranks below a segment's bit count, so they are kept as uint16 when they fit: a
    quarter of the memory, and every key mixed from them is the same.
    """

    def __init__(self) -> None:
        self._pools: dict[tuple[object, ...], tuple[object, object, Indices, Indices]] = {}

    def pool(self, clks: Clks, segs: Sequence[tuple[int, int]], per_seg: int, seed: int,
             present: npt.NDArray[np.bool_] | None) -> tuple[Indices, Indices]:
        """``_pool(clks, segs, per_seg, seed, present)``, computed on the first call."""
        key = (id(clks), id(present), tuple(segs), per_seg, seed)
        found = self._pools.get(key)
        if found is None:
            pool, empty = _pool(clks, segs, per_seg, seed, present)
            if pool.max(initial=0) < 1 << 16:
                pool = pool.astype(np.uint16)
            found = self._pools[key] = (clks, present, pool, empty)
        return found[2], found[3]


def _orders(segs: Sequence[tuple[int, int]], per_seg: int, seed: int
            ) -> tuple[list[npt.NDArray[np.intp]], np.random.Generator]:
    """The pool's bit orders, and the generator positioned after them (for the plan)."""
    rng = np.random.default_rng(seed)
    return [a + rng.permutation(b) for a, b in segs for _ in range(per_seg)], rng


def _pool(clks: Clks, segs: Sequence[tuple[int, int]], per_seg: int, seed: int,
          present: npt.NDArray[np.bool_] | None) -> tuple[Indices, Indices]:
    """MinHash pool ``[len(segs) * per_seg, rows]`` and each pool row's "empty" value."""
    empty = np.repeat([b for _, b in segs], per_seg)
    return _absent(_minhash(clks, _orders(segs, per_seg, seed)[0]), present, per_seg,
                   empty), empty


def _plan(lpool: Indices, rpool: Indices, segs: Sequence[tuple[int, int]],
          config: BlockingConfig, dedup: bool, n_right: int) -> LshPlan:
    """Draw each band's pool positions until unrelated rows rarely share it."""
    per_seg, take = config.hashes_per_segment, config.values_per_segment
    rng = _orders(segs, per_seg, config.seed)[1]
    # how often unrelated rows agree on `take` values of a segment (any `take` of the pool
    # follow the same law, so the first ones are measured)
    collide = [_collision_rate(_combine(lpool[s * per_seg:s * per_seg + take]),
                               _combine(rpool[s * per_seg:s * per_seg + take]),
                               lvalid=(lpool[s * per_seg] != segs[s][1]),
                               rvalid=(rpool[s * per_seg] != segs[s][1]), dedup=dedup)
               for s in range(len(segs))]
    target = config.lsh_pairs_per_row / max(n_right, 1)
    plan: list[tuple[int, ...]] = []  # pool columns per band
    for _ in range(config.bands):
        band: list[int] = []
        rate = 1.0
        # fields in a random order until selective; a field recurs (with other values)
        # only when all were drawn, e.g. when the whole CLK is one segment
        draws = [int(x) for _ in range(per_seg // take) for x in rng.permutation(len(segs))]
        for seg in draws:
            if rate <= target:
                break
            free = [seg * per_seg + h for h in range(per_seg) if seg * per_seg + h not in band]
            band.extend(int(x) for x in rng.choice(free, size=take, replace=False))
            rate *= collide[seg]
        plan.append(tuple(band))
    return LshPlan(tuple(segs), per_seg, config.seed, tuple(plan))


def _absent(pool: Indices, present: npt.NDArray[np.bool_] | None, per_seg: int,
            empty: Indices) -> Indices:
    """Mark the MinHash values of absent fields as empty."""
    if present is None:
        return pool
    present = np.asarray(present, np.bool_)
    rows, fields = pool.shape[1], len(empty) // per_seg
    if present.shape != (rows, fields):
        msg = f"present: expected bool[{rows}, {fields}], got {list(present.shape)}"
        raise ValueError(msg)
    return np.where(np.repeat(present.T, per_seg, axis=0), pool, empty[:, None])


def _collision_rate(left: _U64, right: _U64, *, lvalid: npt.NDArray[np.bool_],
                    rvalid: npt.NDArray[np.bool_], dedup: bool) -> float:
    """Share of (left, right) row pairs with equal keys, both valid (dedup: rows != self)."""
    lv, lc = np.unique(left[lvalid], return_counts=True)
    rv, rc = np.unique(right[rvalid], return_counts=True)
    _, li, ri = np.intersect1d(lv, rv, assume_unique=True, return_indices=True)
    pairs = float(np.dot(lc[li].astype(np.float64), rc[ri]))
    grid = len(left) * len(right)
    if dedup:  # every valid row "collides" with itself: not a pair
        pairs -= float(lvalid.sum())
        grid -= len(left)
    return max(pairs / max(grid, 1), 1e-12)


def _minhash(clks: Clks, orders: Sequence[npt.NDArray[np.intp]]) -> Indices:
    """MinHash values ``int64[len(orders), rows]``; an order's length marks "no bit set"."""
    found = minhash(clks, orders)
    if found is not None:  # the compiled loop: the same values as the reference below
        return found
    return _minhash_reference(clks, orders)


def _minhash_reference(clks: Clks, orders: Sequence[npt.NDArray[np.intp]]) -> Indices:
    """The numpy reference of :func:`_minhash` (the test oracle and the fallback)."""
    out = np.empty((len(orders), len(clks)), np.int64)
    for start in range(0, len(clks), _ROW_BATCH):
        block = np.asarray(clks[start:start + _ROW_BATCH], dtype=np.uint64)
        words_major = np.ascontiguousarray(block.T)
        for h, order in enumerate(orders):
            out[h, start:start + len(block)] = _first_set(words_major, order)
    return out


def _band_keys(
    pool: Indices, plan: list[list[int]], empty: Indices
) -> tuple[_U64, npt.NDArray[np.bool_]]:
    """Keys and validity ``[rows, bands]``: each band mixes its pool values (and their
    pool positions, so equal values of different hashes give different keys)."""
    found = band_keys(pool, plan, empty)
    if found is not None:  # the compiled loop: the same keys as the reference below
        return found[0].T, found[1].T
    return _band_keys_reference(pool, plan, empty)


def _band_keys_reference(
    pool: Indices, plan: list[list[int]], empty: Indices
) -> tuple[_U64, npt.NDArray[np.bool_]]:
    """The numpy reference of :func:`_band_keys` (the test oracle and the fallback)."""
    keys = np.empty((len(plan), pool.shape[1]), np.uint64)
    valid = np.empty((len(plan), pool.shape[1]), np.bool_)
    for b, cols in enumerate(plan):
        part = pool[cols]
        valid[b] = (part != empty[cols][:, None]).all(axis=0)
        keys[b] = _combine(part + np.asarray(cols)[:, None] * 65536)
    return keys.T, valid.T


def _first_set(words_major: _U64, order: npt.NDArray[np.intp]) -> Indices:
    """Rank in ``order`` of each row's first set bit (``len(order)`` if none): a MinHash value.

    ``words_major`` is the CLK block transposed, ``uint64[words, rows]``, so the bits of
    one position across rows are read from one contiguous row of words.
    """
    window = _bits(words_major, order[:_PREFIX])  # almost every row has a set bit in here
    out: Indices = window.argmax(axis=0).astype(np.int64)
    todo = np.flatnonzero(~window.any(axis=0))
    if len(todo):  # the few others (and rows with an empty segment): the whole order at once
        rest = _bits(words_major[:, todo], order)
        out[todo] = np.where(rest.any(axis=0), rest.argmax(axis=0), len(order))
    return out


def _bits(words_major: _U64, positions: npt.NDArray[np.intp]) -> npt.NDArray[np.bool_]:
    """``bool[len(positions), rows]``: bit ``positions[k]`` of every row."""
    shifts = (positions & 63).astype(np.uint64)[:, None]
    bits: npt.NDArray[np.bool_] = ((words_major[positions >> 6] >> shifts) & np.uint64(1)) != 0
    return bits


def _combine(values: Indices) -> _U64:
    """Mix the values ``[k, rows]`` of each row into one 64-bit key (FNV-1a style)."""
    key = np.full(values.shape[1], 0xCBF2_9CE4_8422_2325, np.uint64)
    prime = np.uint64(0x0000_0100_0000_01B3)
    with np.errstate(over="ignore"):
        for value in values:
            key ^= value.astype(np.uint64)
            key *= prime
    return key


# -- joining -----------------------------------------------------------------------------


def _build_table(
    method: str,
    columns: list[tuple[_U64, npt.NDArray[np.bool_], _U64, npt.NDArray[np.bool_]]],
    dedup: bool,
    max_block_pairs: int,
    column_numbers: Sequence[int] | None = None,
) -> tuple[_KeyTable, tuple[int, int, int]]:
    """Mix, flatten and sort the key columns; drop oversized blocks. Empties ``columns``
    once they are mixed, so that the sort does not hold them too. ``column_numbers``: the
    method's numbers of the columns (keys are salted with them); None: 0, 1, ...

    Returns the table and (largest kept block, blocks skipped, pairs skipped) in pairs.
    """
    width = len(columns)
    numbers = np.arange(width) if column_numbers is None else np.asarray(column_numbers)
    salt = (numbers.astype(np.uint64) + np.uint64(1)) * np.uint64(0x9E37_79B9_7F4A_7C15)
    with np.errstate(over="ignore"):
        lkeys = ((np.stack([c[0] for c in columns], axis=1) ^ salt)
                 * np.uint64(0xBF58_476D_1CE4_E5B9)).ravel()
        rkeys = lkeys if dedup else ((np.stack([c[2] for c in columns], axis=1) ^ salt)
                                     * np.uint64(0xBF58_476D_1CE4_E5B9)).ravel()
    lvalid = np.stack([c[1] for c in columns], axis=1).ravel()
    rvalid = lvalid if dedup else np.stack([c[3] for c in columns], axis=1).ravel()
    columns.clear()
    found = key_table(lkeys, lvalid, rkeys, rvalid, dedup, max_block_pairs)
    if found is not None:  # the compiled radix sorts: the same table as the reference
        order, start, size, group, rank, stats = found
        return _KeyTable(method, width, group, start, size, order, rank), stats
    return _table_reference(method, width, lkeys, lvalid, rkeys, rvalid, dedup,
                            max_block_pairs)


def _table_reference(
    method: str, width: int, lkeys: _U64, lvalid: npt.NDArray[np.bool_], rkeys: _U64,
    rvalid: npt.NDArray[np.bool_], dedup: bool, max_block_pairs: int,
) -> tuple[_KeyTable, tuple[int, int, int]]:
    """The numpy reference of the table :func:`_build_table` builds from mixed keys (the
    test oracle and the fallback)."""
    entries = np.flatnonzero(rvalid)
    order = entries[np.argsort(rkeys[entries], kind="stable")]
    sorted_keys = rkeys[order]
    bounds = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]]) if len(order) \
        else np.zeros(0, np.int64)
    gkeys = sorted_keys[bounds]
    gsize = np.diff(np.r_[bounds, len(order)]).astype(np.int64)
    if dedup:
        gpairs = gsize * (gsize - 1) // 2
    else:
        lsorted = np.sort(lkeys[lvalid])
        gpairs = gsize * (np.searchsorted(lsorted, gkeys, "right")
                          - np.searchsorted(lsorted, gkeys, "left"))
    oversized = gpairs > max_block_pairs
    kept = ~oversized
    stats = (int(gpairs[kept].max(initial=0)), int(oversized.sum()), int(gpairs[oversized].sum()))
    rank = None
    if dedup:
        rank = np.full(len(rkeys), -1, np.int64)
        rank[order] = np.arange(len(order))
        # the left entries are the right ones: each one's group is where the sort put it
        # (what _lookup would find, without a second sort and search)
        renumber = np.cumsum(kept) - 1
        renumber[oversized] = -1
        group_of = np.zeros(len(order), np.int64)
        if len(bounds):
            group_of[bounds[1:]] = 1
        left_group = np.full(len(lkeys), -1, np.int64)
        left_group[order] = renumber[np.cumsum(group_of)] if len(order) else []
    else:
        left_group = _lookup(lkeys, lvalid, gkeys[kept])
    table = _KeyTable(method, width, left_group,
                      bounds[kept].astype(np.int64), gsize[kept], order.astype(np.int64), rank)
    return table, stats


def _lookup(keys: _U64, valid: npt.NDArray[np.bool_], group_keys: _U64) -> Indices:
    """Index into ``group_keys`` of each key (-1: invalid or absent); queries sorted first,
    which makes the binary searches cache-friendly."""
    out = np.full(len(keys), -1, np.int64)
    if not len(group_keys):
        return out
    entries = np.flatnonzero(valid)
    order = entries[np.argsort(keys[entries])]
    pos = np.minimum(np.searchsorted(group_keys, keys[order]), len(group_keys) - 1)
    hit = group_keys[pos] == keys[order]
    out[order[hit]] = pos[hit]
    return out


def _partners(table: _KeyTable, start: int, stop: int, dedup: bool) -> tuple[Indices, Indices]:
    """For the entries of left rows start..stop: first partner position and partner count."""
    lo, hi = start * table.width, stop * table.width
    group = table.left_group[lo:hi]
    hit = group >= 0
    first = np.zeros(hi - lo, np.int64)
    count = np.zeros(hi - lo, np.int64)
    gstart, gsize = table.group_start[group[hit]], table.group_size[group[hit]]
    if dedup:  # partners are the entries after this one in its group: j > i, each pair once
        assert table.rank is not None
        after = table.rank[lo:hi][hit] + 1
        first[hit] = after
        count[hit] = gstart + gsize - after
    else:
        first[hit] = gstart
        count[hit] = gsize
    return first, count


def _expand(table: _KeyTable, start: int, stop: int, dedup: bool) -> _U64:
    """Packed ``i << 32 | j`` keys of the table's pairs for left rows start..stop."""
    first, count = _partners(table, start, stop, dedup)
    total = int(count.sum())
    if not total:
        return np.zeros(0, np.uint64)
    entries = np.arange(start * table.width, stop * table.width, dtype=np.int64)
    i = np.repeat(entries // table.width, count)
    offsets = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(count) - count, count)
    j = table.right_order[np.repeat(first, count) + offsets] // table.width
    if dedup:  # a 64-bit key collision across columns could pair a row with itself
        keep = j > i
        i, j = i[keep], j[keep]
    packed: _U64 = (i.astype(np.uint64) << np.uint64(32)) | j.astype(np.uint64)
    return packed


def _within(keys: _U64, sorted_keys: _U64) -> npt.NDArray[np.bool_]:
    """Which of ``keys`` are in ``sorted_keys`` (sorted)."""
    if not len(sorted_keys):
        return np.zeros(len(keys), np.bool_)
    pos = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    found: npt.NDArray[np.bool_] = sorted_keys[pos] == keys
    return found


def _merge_disjoint(a: _U64, b: _U64) -> _U64:
    """The sorted union of two sorted arrays with no key in common."""
    if not len(a) or not len(b):
        return b if not len(a) else a
    merged = np.concatenate([a, b])
    merged.sort(kind="stable")  # two sorted runs: a linear merge
    return merged


def _union_sorted(a: _U64, b: _U64) -> _U64:
    """The sorted union of two sorted arrays of distinct keys."""
    return _merge_disjoint(a, b[~_within(b, a)]) if len(a) else b


def _sorted_unique(keys: _U64) -> _U64:
    keys = np.sort(keys)
    return keys[np.r_[True, keys[1:] != keys[:-1]]] if len(keys) else keys


def _chunk_bounds(counts: Indices, chunk_pairs: int) -> Iterator[tuple[int, int]]:
    """Split the left rows into consecutive ranges of about ``chunk_pairs`` raw pairs each."""
    cum = np.cumsum(counts)
    start = 0
    while start < len(counts):
        before = int(cum[start - 1]) if start else 0
        stop = max(int(np.searchsorted(cum, before + chunk_pairs, "right")), start + 1)
        yield start, stop
        start = stop
