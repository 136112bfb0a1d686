"""Keyed Bloom-filter encoding of features into a field's CLK segment, and CLK assembly.

Each feature is mapped to ``k`` bit positions of its field's segment by a keyed PRF:
BLAKE2b keyed with the field's Bloom key (HKDF purpose ``bloom``), whose output is read
as little-endian uint64 words, one per position (``ceil(k / 8)`` digests of 64 bytes,
the block index in BLAKE2b's ``salt``). The positions are therefore independent
pseudo-random values; the double-hashing scheme ``h1 + i*h2``, whose structure enables a
published cryptanalysis of CLKs, is not used. ``word % bits`` has a bias below
``bits / 2**64`` (< 2**-50 for any segment), far below anything measurable.

The PRF is fixed for a run, so its outputs are memoised per (field, feature), and a whole
value's filter, packed into CLK words, per (field, canonical value): a chunk then costs
one dict look-up per *distinct* value, and rows are assembled by numpy gathers and ORs.
CLK bit ``b`` is bit ``b % 64`` of little-endian uint64 word ``b // 64``.

**Even fill** (``hardening.even``): a long value has more features than a short one, so
with one ``k`` its filter has more bits set, and the popcount tells the value's length.
With ``even`` set to the type's expected feature count ``E``, a value with ``F`` distinct
features sets ``k_v = even_k(k, E, F)`` positions per feature (``k E / F`` rounded, at
least 1), so every value sets about ``k E`` positions whatever its length. A feature's
first ``min(k_v, k_w)`` positions are the same in two values (positions come from one
stream), so two values still share bits in proportion to their shared features.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from functools import reduce
from itertools import repeat
from operator import or_
from typing import Any

import numpy as np
import numpy.typing as npt

_WORDS_PER_DIGEST = 8  # 64-byte BLAKE2b digest = 8 uint64 words
_CACHE_LIMIT = 1 << 16  # entries per memo (bounded memory; a memo is emptied when full)


def feature_positions(key: bytes, feature: str, k: int, bits: int) -> list[int]:
    """The ``k`` positions in ``[0, bits)`` of one feature under ``key`` (with repeats).

    >>> feature_positions(bytes(32), "q:an", 4, 128)
    [70, 42, 105, 36]
    """
    data = feature.encode("utf-8")
    blocks = -(-k // _WORDS_PER_DIGEST)
    digest = b"".join(
        hashlib.blake2b(data, key=key, digest_size=64, salt=i.to_bytes(16, "little")).digest()
        for i in range(blocks)
    )
    return [int.from_bytes(digest[8 * i : 8 * i + 8], "little") % bits for i in range(k)]


#: Field types whose filters even fill evens out: their features are q-grams, whose count
#: grows with the value's length. A date has a fixed set of components (a year-only date
#: must stay a subset of the full date, which a larger k per feature would break).
EVEN_TYPES = frozenset({"name", "text", "address", "email", "id", "postcode", "phone"})


def even_features(field_type: str) -> int | None:
    """The expected feature count even fill scales to for ``field_type`` (None: not
    evened; see :data:`EVEN_TYPES`)."""
    from hashmatch.schema.defaults import EXPECTED_FEATURES

    return EXPECTED_FEATURES[field_type] if field_type in EVEN_TYPES else None


def even_k(k: int, expected: int, features: Any) -> Any:
    """Positions per feature of a value with ``features`` distinct features under even
    fill: ``k * expected / features`` rounded half up, at least 1 (``features`` an int,
    or an integer array for many values at once).

    >>> even_k(11, 7, 7), even_k(11, 7, 3), even_k(11, 7, 14), even_k(2, 7, 40)
    (11, 26, 6, 1)
    """
    per = (2 * k * expected + features) // (2 * features)
    return np.maximum(per, 1) if isinstance(per, np.ndarray) else max(1, int(per))


class FieldBloom:
    """The Bloom encoder of one field: canonical value -> its bits in the CLK.

    A value's filter is kept packed, as the little-endian bytes of the uint64 CLK words its
    segment spans (``[first_word, end_word)``), so a chunk's CLKs are built by OR-ing one
    gathered table per field: no per-row or per-bit work. Features and values are held
    as Python integers (bit ``i`` = CLK bit ``64 * first_word + i``), cheap to OR.
    """

    def __init__(
        self,
        key: bytes,
        *,
        start: int,
        bits: int,
        k: int,
        prefix: str,
        tokens: Callable[[str], Iterable[str]],
        even: int | None = None,
    ) -> None:
        self.key, self.start, self.bits, self.k = key, start, bits, k
        self.prefix, self.tokens = prefix, tokens
        #: Expected feature count of the type under even fill (see the module doc), or None.
        self.even = even
        self.first_word = start // 64
        self.end_word = (start + bits + 63) // 64
        self._offset = start - 64 * self.first_word
        self._nbytes = 8 * (self.end_word - self.first_word)
        self._features: dict[str, int] = {}  # token -> mask of feature prefix + token
        self._values: dict[str, bytes] = {}
        self._empty = bytes(self._nbytes)

    def mask(self, canonical: str) -> int:
        """The value's filter: the OR of its features' masks (features memoised)."""
        if self.even is not None:
            return self._even_mask(canonical)
        cache = self._features
        tokens = list(self.tokens(canonical))
        masks = list(map(cache.get, tokens))
        if None in masks:
            for i, m in enumerate(masks):
                if m is None:
                    masks[i] = self._feature_mask(tokens[i])
        return reduce(or_, masks, 0)

    def _even_mask(self, canonical: str) -> int:
        tokens = list(dict.fromkeys(self.tokens(canonical)))
        assert self.even is not None
        k = even_k(self.k, self.even, len(tokens))
        m = 0
        for token in tokens:
            for p in feature_positions(self.key, self.prefix + token, k, self.bits):
                m |= 1 << (p + self._offset)
        return m

    def _feature_mask(self, token: str) -> int:
        m = 0
        for p in feature_positions(self.key, self.prefix + token, self.k, self.bits):
            m |= 1 << (p + self._offset)
        if len(self._features) >= _CACHE_LIMIT:
            self._features.clear()
        self._features[token] = m
        return m

    def positions(self, canonical: str) -> list[int]:
        """Sorted absolute CLK bit positions set by ``canonical``."""
        m, base = self.mask(canonical), 64 * self.first_word
        return [base + i for i in range(m.bit_length()) if m >> i & 1]

    def packed(self, canonical: str | None) -> bytes:
        """The value's filter as little-endian CLK words ``[first_word, end_word)``."""
        if canonical is None:
            return self._empty
        found = self._values.get(canonical)
        if found is None:
            found = self.mask(canonical).to_bytes(self._nbytes, "little")
            if len(self._values) >= _CACHE_LIMIT:
                self._values.clear()
            self._values[canonical] = found
        return found

    def or_into(
        self,
        clks: npt.NDArray[np.uint64],
        codes: npt.NDArray[np.int64],
        canonicals: Sequence[str | None],
    ) -> None:
        """Set this field's bits in ``clks[r]`` for the value ``canonicals[codes[r]]``."""
        if not len(canonicals):
            return
        values = self._values
        if values.keys() >= set(canonicals) - {None}:
            # Every filter remembered (the usual case after the first chunks): one C pass;
            # a missing value (None) is not a key, so it gets the empty filter.
            packed = b"".join(map(values.get, canonicals, repeat(self._empty)))  # type: ignore[arg-type]
        else:
            packed = b"".join([self.packed(c) for c in canonicals])
        table = np.frombuffer(packed, dtype="<u8").reshape(len(canonicals), -1)
        clks[:, self.first_word : self.end_word] |= table[codes]
