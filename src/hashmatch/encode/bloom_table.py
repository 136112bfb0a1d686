"""Bloom filters of many canonical values at once: one numpy row per distinct value.

:class:`~hashmatch.encode.bloom.FieldBloom` defines a field's filter: the OR of its
features' keyed masks. Computing it value by value costs a few microseconds of Python
per distinct value, which dominates the encoding of files whose values rarely repeat.
:class:`BloomTable` gives the same bits for a whole list of values with numpy:

* q-gram fields (name, text, address, email, id, postcode) on ASCII values: the padded
  values are concatenated into one byte array, each q-gram read as an integer code
  (``q <= 7`` bytes), the distinct codes looked up in a memo of gram masks (new grams
  are hashed once, in a batch: :class:`~hashmatch.encode.prf.BloomPositions`), and each
  value's filter is the OR of its grams' masks (:func:`hashmatch.encode._rows.or_segments`);
* dates (``YYYY``, ``YYYY-MM``, ``YYYY-MM-DD``): year, month, day and day/month features
  are looked up per component and OR-ed;
* North American phones (``+1`` and ten digits, without even fill): the ``cc:1`` feature
  OR-ed with the q-grams of the ten digits, as for a q-gram field (the features
  :func:`~hashmatch.encode.features.phone_features` gives them);
* anything else (other phones, gender, non-ASCII text, values shorter than ``q``) goes through
  ``FieldBloom.packed`` value by value, which is the definition the fast paths are
  tested against.

A value's row is remembered (bounded), so values met in earlier chunks cost one dict
look-up; rows are the field's CLK words ``[first_word, end_word)``, which the encoder
OR-s into the CLKs of all fields in one compiled pass (:meth:`BloomTable.per_row`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from hashmatch.encode._rows import factorize, or_segments, qgram_codes
from hashmatch.encode.bloom import FieldBloom, even_k
from hashmatch.encode.features import NANP_E164
from hashmatch.encode.prf import BloomPositions

Rows = npt.NDArray[np.uint64]
_MEMO_LIMIT = 1 << 16  # remembered values per field (bounded memory; reset when full)
_DATE = re.compile(r"[0-9]{4}(?:-[0-9]{2}(?:-[0-9]{2})?)?")

_MAX_Q = 7  # q bytes of a gram fit an int64 code
_QGRAM_TYPES = frozenset({"name", "text", "address", "email", "id", "postcode"})


class BloomTable:
    """The filters of one field's values as rows of its CLK words (see the module doc)."""

    def __init__(self, bloom: FieldBloom, field_type: str, q: int, padding: bool) -> None:
        self.bloom = bloom
        self.words = bloom.end_word - bloom.first_word
        self._kind = "value"  # value by value, through FieldBloom
        if field_type in _QGRAM_TYPES and q <= _MAX_Q:
            self._kind = "qgram"
        elif field_type == "date":
            self._kind = "date"
        elif field_type == "phone" and q <= _MAX_Q and bloom.even is None:
            self._kind = "phone"
        #: What a gram's feature name starts with: phone features carry their own prefix.
        self._gram_prefix = "q:" if self._kind == "phone" else bloom.prefix
        self._q = q
        self._pad = "_" * (q - 1) if padding else ""
        self._positions = BloomPositions(
            bloom.key,
            k=bloom.k,
            bits=bloom.bits,
            offset=bloom.start - 64 * bloom.first_word,
            words=self.words,
        )
        self._features: dict[str, Rows] = {}  # date feature -> its mask row
        self._grams: dict[int, Rows] = {}  # q-gram code -> its mask row
        self._grams_k: dict[int, dict[int, Rows]] = {}  # even fill: per k, as _grams
        self._positions_k: dict[int, BloomPositions] = {}
        self._memo: dict[str | None, int] = {}  # canonical value -> row of _rows
        self._rows = np.zeros((1, self.words), dtype=np.uint64)
        self._used = 0
        self._forget()

    def rows(self, canonicals: Sequence[str | None]) -> Rows:
        """``uint64[len(canonicals), words]``: each value's filter (zero for None)."""
        indices = self._indices(canonicals)  # first: it may grow the memo rows
        return np.take(self._rows, indices, axis=0)

    def per_row(
        self, canonicals: Sequence[str | None], codes: npt.NDArray[np.intp]
    ) -> tuple[Rows, npt.NDArray[np.intp]]:
        """``(table, index)``: row ``r`` (holding ``canonicals[codes[r]]``) has the filter
        ``table[index[r]]``. The table is the memo itself (no per-row copy), valid until
        the next call."""
        index = np.take(self._indices(canonicals), codes)  # may grow the memo rows
        return self._rows, index

    def _indices(self, canonicals: Sequence[str | None]) -> npt.NDArray[np.intp]:
        """Each value's row in ``_rows``, computing the filters of values not remembered."""
        memo = self._memo
        found = list(map(memo.get, canonicals))
        if None in found:
            pairs = zip(canonicals, found, strict=True)
            new = list(dict.fromkeys(c for c, i in pairs if i is None and c is not None))
            if self._used + len(new) > _MEMO_LIMIT:
                self._forget()
                new = list(dict.fromkeys(c for c in canonicals if c is not None))
            self._remember(new, self._compute(new))
            found = list(map(memo.get, canonicals))
        return np.fromiter(found, np.intp, len(found))

    def _forget(self) -> None:
        """Empty the value memo; row 0 stays the empty filter of a missing value."""
        self._memo.clear()
        self._memo[None] = 0
        self._used = 1

    def _remember(self, values: list[str], rows: Rows) -> None:
        end = self._used + len(values)
        if end > len(self._rows):
            grown = np.zeros((max(end, 2 * len(self._rows)), self.words), dtype=np.uint64)
            grown[: self._used] = self._rows[: self._used]
            self._rows = grown
        self._rows[self._used : end] = rows
        self._memo.update(zip(values, range(self._used, end), strict=True))
        self._used = end

    def _compute(self, values: list[str]) -> Rows:
        if self._kind == "qgram" and "".join(values).isascii():
            return self._qgram_rows(values)
        if self._kind == "date" and all(_DATE.fullmatch(v) for v in values):
            return self._date_rows(values)
        if self._kind == "phone" and all(NANP_E164.fullmatch(v) for v in values):
            national = self._qgram_rows([v[2:] for v in values])
            return national | self._feature_rows(["cc:1"])  # (broadcast over the values)
        return self._one_by_one(values)

    def _one_by_one(self, values: list[str]) -> Rows:
        packed = b"".join(map(self.bloom.packed, values))
        return np.frombuffer(packed, dtype="<u8").reshape(len(values), self.words).copy()

    # -- features ------------------------------------------------------------------------

    def _feature_rows(self, features: list[str]) -> Rows:
        """The masks of features (full names, prefix included), remembered by name."""
        memo = self._features
        new = [f for f in dict.fromkeys(features) if f not in memo]
        if new:
            if len(memo) + len(new) > _MEMO_LIMIT:  # bounded: start over
                memo.clear()
                new = list(dict.fromkeys(features))
            memo.update(zip(new, self._positions.rows(new), strict=True))
        if not features:
            return np.zeros((0, self.words), dtype=np.uint64)
        return np.stack([memo[f] for f in features])

    # -- q-grams -------------------------------------------------------------------------

    def _qgram_rows(self, values: list[str]) -> Rows:
        """Filters of ASCII values from their padded q-grams, all values at once."""
        q = self._q
        codes, counts = qgram_codes(values, q, len(self._pad))  # compiled: one pass
        out = np.zeros((len(values), self.words), dtype=np.uint64)
        short = counts == 0  # one gram shorter than q: the value-by-value definition
        for i in np.flatnonzero(short).tolist():
            out[i] = self._one_by_one([values[i]])[0]
        keep = np.flatnonzero(~short)
        if not len(keep):
            return out
        counts = counts[keep]  # grams per value
        group = np.cumsum(counts) - counts  # first gram of each value
        if self.bloom.even is not None:
            out[keep] = self._even_rows(codes, counts, group)
            return out
        masks, index = self._gram_masks(codes)
        if len(keep) == len(values):  # the usual case: no value left aside
            or_segments(out, masks, index, group)  # a value's filter: OR of its grams' masks
            return out
        rows = np.zeros((len(keep), self.words), dtype=np.uint64)
        or_segments(rows, masks, index, group)
        out[keep] = rows
        return out

    def _even_rows(
        self,
        codes: npt.NDArray[np.int64],
        counts: npt.NDArray[np.intp],
        group: npt.NDArray[np.intp],
    ) -> Rows:
        """Even fill (see :mod:`hashmatch.encode.bloom`): each value's ``k`` follows from
        its number of distinct grams; values are filtered in groups of equal ``k``."""
        assert self.bloom.even is not None
        distinct, gram = factorize(codes)
        n = len(counts)
        owner = np.repeat(np.arange(n, dtype=np.int64), counts)  # value of each gram
        pairs = np.unique(owner * max(len(distinct), 1) + gram)
        features = np.bincount(pairs // max(len(distinct), 1), minlength=n)
        k_of = even_k(self.bloom.k, self.bloom.even, features)
        rows = np.zeros((n, self.words), dtype=np.uint64)
        for k in np.unique(k_of).tolist():
            values = np.flatnonzero(k_of == k)
            sub_counts = counts[values]
            sub_codes = codes[np.isin(owner, values)]  # a value's grams stay contiguous
            masks, index = self._gram_masks(sub_codes, k)
            sub = np.zeros((len(values), self.words), dtype=np.uint64)
            or_segments(sub, masks, index, np.cumsum(sub_counts) - sub_counts)
            rows[values] = sub
        return rows

    def _gram_masks(
        self, codes: npt.NDArray[np.int64], k: int | None = None
    ) -> tuple[Rows, npt.NDArray[np.intp]]:
        """``(masks, index)``: the mask of gram ``g`` is ``masks[index[g]]``. One hashing
        pass finds the distinct grams, a dict (bounded) remembers each gram's mask across
        calls, new grams are hashed. ``k`` other than the field's (even fill) keeps its own
        memo and positions."""
        distinct, index = factorize(codes)
        grams = distinct.tolist()
        memo, positions = self._grams, self._positions
        if k is not None and k != self.bloom.k:
            memo = self._grams_k.setdefault(k, {})
            positions = self._positions_k.get(k) or self._positions_k.setdefault(
                k,
                BloomPositions(self.bloom.key, k=k, bits=self.bloom.bits,
                               offset=positions.offset, words=self.words),
            )
        if len(memo) + len(grams) > _MEMO_LIMIT:
            memo.clear()
        new = [g for g in grams if g not in memo]
        if new:
            prefix, q = self._gram_prefix, self._q
            rows = positions.rows([prefix + _gram_text(c, q) for c in new])
            memo.update(zip(new, rows, strict=True))
        return np.stack(list(map(memo.__getitem__, grams))), index

    # -- dates ---------------------------------------------------------------------------

    def _date_rows(self, values: list[str]) -> Rows:
        """Filters of canonical dates from per-component feature masks."""
        out = np.zeros((len(values), self.words), dtype=np.uint64)
        by_length: dict[int, list[int]] = {}
        for i, v in enumerate(values):
            by_length.setdefault(len(v), []).append(i)
        for length, where in by_length.items():
            digits = np.frombuffer(
                "".join(values[i] for i in where).encode("ascii"), dtype=np.uint8
            ).reshape(len(where), length).astype(np.int64) - ord("0")
            year = digits[:, 0] * 1000 + digits[:, 1] * 100 + digits[:, 2] * 10 + digits[:, 3]
            rows = self._component_rows(year, "y:{:04d}")
            if length >= 7:
                month = digits[:, 5] * 10 + digits[:, 6]
                rows |= self._component_rows(month, "m:{:02d}")
            if length == 10:
                day = digits[:, 8] * 10 + digits[:, 9]
                lo, hi = np.minimum(month, day), np.maximum(month, day)
                rows |= self._component_rows(day, "d:{:02d}")
                rows |= self._component_rows(lo * 100 + hi, "dm:{:02d}/{:02d}", pair=True)
            out[where] = rows
        return out

    def _component_rows(
        self, component: npt.NDArray[np.int64], form: str, *, pair: bool = False
    ) -> Rows:
        distinct, inverse = factorize(component)
        features = [
            form.format(*divmod(c, 100)) if pair else form.format(c) for c in distinct.tolist()
        ]
        return np.take(self._feature_rows(features), inverse, axis=0)


def _gram_text(code: int, q: int) -> str:
    """The ASCII text of a q-gram code (its ``q`` bytes, big-endian)."""
    return code.to_bytes(q, "big").decode("ascii")
