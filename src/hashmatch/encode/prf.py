"""The encoder's keyed hashes, set up once per key: same outputs, a fraction of the cost.

The definitions live in :mod:`hashmatch.encode.tokens` (exact tokens and match keys,
HMAC-SHA256) and :mod:`hashmatch.encode.bloom` (Bloom positions, keyed BLAKE2b). Called
once per distinct value they are dominated by per-call set-up: ``hmac.digest`` builds the
key's pad blocks every time, ``hashlib.blake2b(key=...)`` absorbs the key every time.
Here that work is done once per key and each message starts from a copy of the prepared
state (RFC 2104 for HMAC; a copied BLAKE2b object continues exactly as a new one would).
Many HMAC tokens at once (:meth:`HmacSha256.tokens`) go through compiled code over the
same OpenSSL (:mod:`hashmatch.encode._hmac`) where it is found and gives the same tokens
as this module's Python (checked once per process), else through ``hashlib``.
``tests/unit/encode/test_prf.py`` checks every function against its reference definition.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from hashmatch.encode._rows import set_bits
from hashmatch.encode.libcrypto import sha256_functions
from hashmatch.encode.tokens import TOKEN_BYTES

try:
    from hashmatch.encode._hmac import CompiledHmac
except ImportError:  # not built: hashlib does the work
    CompiledHmac = None  # type: ignore[assignment,misc]

_SHA256_BLOCK = 64
_BLAKE2B_WORDS = 8  # a 64-byte BLAKE2b digest holds 8 uint64 positions


class HmacSha256:
    """HMAC-SHA256 under one key, with the inner and outer pad states precomputed.

    ``compiled=False`` keeps :meth:`tokens` in Python (the tests compare both ways).
    """

    __slots__ = ("_compiled", "_inner", "_outer")

    def __init__(self, key: bytes, *, compiled: bool = True) -> None:
        if len(key) > _SHA256_BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(_SHA256_BLOCK, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))
        functions = _checked_sha256() if compiled else None
        self._compiled = (
            None if functions is None or CompiledHmac is None else CompiledHmac(*functions, key)
        )

    def token(self, message: bytes) -> bytes:
        """The first 16 bytes of ``HMAC-SHA256(key, message)``: a keyed token."""
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()[:TOKEN_BYTES]

    def tokens(self, messages: list[bytes] | list[str]) -> bytes:
        """The tokens of ``messages`` (``str`` hashed as UTF-8), concatenated: 16 bytes each."""
        if self._compiled is not None:
            return self._compiled.tokens(messages)
        return b"".join(
            self.token(m.encode("utf-8") if isinstance(m, str) else m) for m in messages
        )


@functools.cache
def _checked_sha256() -> tuple[int, int, int] | None:
    """OpenSSL's SHA-256 functions (:mod:`hashmatch.encode.libcrypto`) if compiled HMACs
    over them give the tokens this module's Python gives (messages of every padding case
    across the first two blocks, and text); else None: ``hashlib`` then does the work."""
    functions = sha256_functions()
    if functions is None or CompiledHmac is None:
        return None
    key = bytes(range(1, 41))
    messages: list[bytes] = [bytes(range(n)) for n in range(0, 130, 7)] + [bytes(200)]
    reference = HmacSha256(key, compiled=False)
    expected = b"".join(map(reference.token, messages))
    try:
        compiled = CompiledHmac(*functions, key.ljust(_SHA256_BLOCK, b"\0"))
        same = compiled.tokens(messages) == expected
        same = same and compiled.tokens(["é-mail"]) == reference.token("é-mail".encode())
    except (TypeError, ValueError):  # pragma: no cover - an unexpected library
        return None
    return functions if same else None


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
