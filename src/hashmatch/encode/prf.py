"""The encoder's keyed hashes, set up once per key: same outputs, a fraction of the cost.

The definitions live in :mod:`hashmatch.encode.tokens` (exact tokens and match keys,
HMAC-SHA256) and :mod:`hashmatch.encode.bloom` (Bloom positions, keyed BLAKE2b). Called
once per distinct value they are dominated by per-call set-up: ``hmac.digest`` builds the
key's pad blocks every time, ``hashlib.blake2b(key=...)`` absorbs the key every time.
Here that work is done once per key and each message starts from a copy of the prepared
state (RFC 2104 for HMAC; a copied BLAKE2b object continues exactly as a new one would).
``tests/unit/encode/test_prf.py`` checks every function against its reference definition.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from hashmatch.encode._rows import set_bits
from hashmatch.encode.tokens import TOKEN_BYTES

_SHA256_BLOCK = 64
_BLAKE2B_WORDS = 8  # a 64-byte BLAKE2b digest holds 8 uint64 positions


class HmacSha256:
    """HMAC-SHA256 under one key, with the inner and outer pad states precomputed."""

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        if len(key) > _SHA256_BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(_SHA256_BLOCK, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def token(self, message: bytes) -> bytes:
        """The first 16 bytes of ``HMAC-SHA256(key, message)``: a keyed token."""
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()[:TOKEN_BYTES]


class BloomPositions:
    """The positions of :func:`hashmatch.encode.bloom.feature_positions` for many
    features at once, as the rows of a field's segment words ``[first_word, end_word)``."""

    def __init__(self, key: bytes, *, k: int, bits: int, offset: int, words: int) -> None:
        self.k, self.bits, self.offset, self.words = k, bits, offset, words
        blocks = -(-k // _BLAKE2B_WORDS)
        self._states = [
            hashlib.blake2b(key=key, digest_size=64, salt=i.to_bytes(16, "little"))
            for i in range(blocks)
        ]

    def _digests(self, feature: str) -> bytes:
        data = feature.encode("utf-8")
        out = b""
        for state in self._states:
            h = state.copy()
            h.update(data)
            out += h.digest()
        return out

    def rows(self, features: Sequence[str]) -> npt.NDArray[np.uint64]:
        """``uint64[len(features), words]``: each feature's mask in the segment words."""
        n = len(features)
        rows = np.zeros((n, self.words), dtype=np.uint64)
        if not n:
            return rows
        digests = b"".join(map(self._digests, features))
        words = np.frombuffer(digests, dtype="<u8").reshape(n, -1)[:, : self.k]
        set_bits(rows, (words % np.uint64(self.bits)).astype(np.int64) + self.offset)
        return rows
