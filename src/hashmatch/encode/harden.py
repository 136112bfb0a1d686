"""Hardening: keyed, deterministic transforms of CLK segments against re-identification.

Bloom-filter encodings leak: frequent names give frequent bit patterns, popcount grows with
value length, and bit positions set by frequent q-grams are set far more often than others.
The transforms here run after the Bloom filters are assembled and before the file is
written. Every party applies the same ones with the same keys (derived from the linkage
secret), so encodings stay comparable. They act per field segment, so field-level filters
stay retrievable from the CLK. See docs/guides/hardening.md for measurements.

Pipeline, per segment, in this fixed order (each step optional)::

    raw filter (raw_segment_bits wide)
      -> XOR fold      Schnell, Borgs & Encheva 2016          raw is 2x the segment
      -> Rule 90       Schnell & Borgs 2018                   b'_i = b_(i-1) ^ b_(i+1), cyclic
      -> pad           keyed dummy bits up to a target popcount (length hiding)
      -> balance       Berger/Schnell et al. 2016: filter ++ complement; raw is 1/2 the segment
      -> permute       keyed Fisher-Yates permutation of positions (always on with balance)
      -> BLIP          Alaggan, Gambs & Kermarrec 2012: randomised response per bit, epsilon-DP

An all-zero raw filter means "field missing" and stays all-zero through every step, so a
missing field adds nothing to a Dice score (its absence is public anyway: the ``present``
section of the file says so). Salting (``salt_features``) acts on features before the Bloom
filter is built, not on bits.

Keys: ``apply_hardening`` takes one key per field, ``LinkageSecret.derive("harden", field)``
(HKDF, like every other key); the permutation, padding and BLIP keys are sub-keys of it
under distinct BLAKE2b labels, so none of them says anything about the Bloom keys. The two
fields of a swap pair (``swaps_with``) share one Bloom key, so they must also share the
*layout* of their hardened bits (permutation and padding order: ``layout_keys``, derived
from the pair's label ``"a+b"``) or their filters could not be compared crosswise; their
BLIP noise stays keyed per field, because equal noise in both segments of one row would
cancel in their XOR and show how the two names differ.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from functools import lru_cache

import numpy as np
import numpy.typing as npt
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from hashmatch.schema.hardening import (
    MAX_BLIP_EPSILON,
    PROFILES,
    RECOMMENDED,
    RECOMMENDED_V1,
    Hardening,
    hardening_problems,
    header_extra,
    profile_name,
    raw_layout,
    raw_segment_bits,
)
from hashmatch.schema.model import Segment

#: Rows unpacked to one byte per bit at a time (bounds memory: 64k x 1024 bits = 64 MiB).
_ROWS_PER_PASS = 1 << 16


# -- the transform -----------------------------------------------------------------------


def apply_hardening(
    raw_clks: npt.NDArray[np.uint64],
    segments: Sequence[Segment],
    hardening: Hardening,
    *,
    keys: Mapping[str, bytes],
    row_tokens: npt.NDArray[np.uint8] | None = None,
    bloom_k: Mapping[str, int] | None = None,
    layout_keys: Mapping[str, bytes] | None = None,
) -> npt.NDArray[np.uint64]:
    """Harden a chunk of raw CLKs into final CLKs laid out as ``segments``.

    Parameters
    ----------
    raw_clks
        ``uint64[n, raw_words]`` in the layout of :func:`raw_layout` (equal to the final
        layout when neither ``xor_fold`` nor ``balance`` is on).
    segments
        The schema's final segments (``Schema.segments``); they must fill whole words.
    hardening
        The options.
    keys
        One key (>= 16 bytes) per segment field: HKDF(secret, ``harden``, field).
    row_tokens
        ``uint8[n, 16]``; required for BLIP, whose noise is a keyed PRF of the row token.
    bloom_k
        The Bloom ``k`` of each field; required for BLIP (it sets the flip probability).
    layout_keys
        Per field, the key of the permutation and padding order when it is not the
        field's own key (the fields of a swap pair: HKDF(secret, ``harden``, ``"a+b"``)).

    Returns
    -------
    ``uint64[n, clk_bits/64]`` with ``clk_bits`` the end of the last segment.
    """
    raw = np.ascontiguousarray(raw_clks, dtype="<u8")
    if raw.ndim != 2:
        msg = "raw_clks: expected a 2-D uint64 array"
        raise ValueError(msg)
    raw_segs, raw_bits = raw_layout(segments, hardening)
    if raw.shape[1] * 64 != raw_bits:
        msg = f"raw_clks: expected {raw_bits // 64} words per row, got {raw.shape[1]}"
        raise ValueError(msg)
    clk_bits = sum(s.bits for s in segments)
    if clk_bits % 64 or [s.start for s in segments] != _starts(segments):
        msg = "segments must tile the CLK from bit 0, back to back, in whole 64-bit words"
        raise ValueError(msg)
    layout = {s.field: keys.get(s.field, b"") for s in segments}
    layout.update(layout_keys or {})
    for s in segments:
        for name, given in (("keys", keys), ("layout_keys", layout)):
            if len(given.get(s.field, b"")) < 16:
                msg = f"{name}[{s.field!r}]: expected a key of at least 16 bytes"
                raise ValueError(msg)
    n = raw.shape[0]
    if any(hardening.blip_on(s.field) for s in segments):
        if row_tokens is None or row_tokens.shape != (n, 16) or row_tokens.dtype != np.uint8:
            msg = "row_tokens: BLIP needs uint8[n, 16] row tokens"
            raise ValueError(msg)
        if bloom_k is None or any(
            s.field not in bloom_k for s in segments if hardening.blip_on(s.field)
        ):
            msg = "bloom_k: BLIP needs the Bloom k of every segment's field"
            raise ValueError(msg)
    out = np.empty((n, clk_bits // 64), dtype="<u8")
    for lo in range(0, n, _ROWS_PER_PASS):
        hi = min(n, lo + _ROWS_PER_PASS)
        bits_in = _unpack_t(raw[lo:hi])
        bits_out = np.empty((clk_bits, hi - lo), dtype=np.uint8)
        for seg, rseg in zip(segments, raw_segs, strict=True):
            bits_out[seg.start : seg.start + seg.bits] = _harden_segment(
                bits_in[rseg.start : rseg.start + rseg.bits],
                hardening,
                key=keys[seg.field],
                layout_key=layout[seg.field],
                row_tokens=None if row_tokens is None else row_tokens[lo:hi],
                bloom_k=0 if bloom_k is None else bloom_k.get(seg.field, 0),
                blip=hardening.blip_on(seg.field),
            )
        out[lo:hi] = _pack_t(bits_out)
    return out


def _starts(segments: Sequence[Segment]) -> list[int]:
    return [sum(s.bits for s in segments[:i]) for i in range(len(segments))]


def _harden_segment(
    b: npt.NDArray[np.uint8],
    hardening: Hardening,
    *,
    key: bytes,
    layout_key: bytes,
    row_tokens: npt.NDArray[np.uint8] | None,
    bloom_k: int,
    blip: bool,
) -> npt.NDArray[np.uint8]:
    """Harden one segment held bit-major: 0/1 ``uint8[raw_bits, n]`` (row r = bit r);
    ``blip``: add BLIP noise to this one (``Hardening.blip_on`` its field).

    Bit-major makes every step a gather or shift of whole contiguous rows (the
    permutation is a row gather, Rule 90 two row rolls): ~5x faster than row-major.
    """
    present: npt.NDArray[np.bool_] = np.asarray(b.any(axis=0))
    if hardening.xor_fold:
        half = b.shape[0] // 2
        b = b[:half] ^ b[half : 2 * half]
    if hardening.rule90:
        b = np.roll(b, 1, axis=0) ^ np.roll(b, -1, axis=0)
    if hardening.pad_fill is not None:
        b = _pad(b, present, round(hardening.pad_fill * b.shape[0]), _subkey(layout_key, b"pad"))
    if hardening.balance:
        b = np.concatenate([b, 1 - b], axis=0)
    if hardening.permute or hardening.balance:
        b = b[keyed_permutation(_subkey(layout_key, b"permute"), b.shape[0])]
    if blip:
        if row_tokens is None or bloom_k < 1:
            msg = "BLIP needs row_tokens and the field's bloom k"
            raise ValueError(msg)
        p = blip_probability(hardening, bloom_k)
        b = b ^ _blip_noise_t(_subkey(key, b"blip"), row_tokens, b.shape[0], p)
    # A missing field stays missing (Rule 90, balance and BLIP would fill it otherwise).
    return b * present.view(np.uint8)


def blip_probability(hardening: Hardening, bloom_k: int) -> float:
    """The flip probability BLIP applies to a field with Bloom ``k`` (0 without BLIP):
    the given ``flip``, or the one ``epsilon`` implies, rounded up to the noise
    resolution either way (see :func:`blip_flip_probability`).

    >>> blip_probability(Hardening(blip_flip=0.045), 11), blip_probability(Hardening(), 11)
    (0.045013427734375, 0.0)
    """
    if hardening.blip_epsilon is not None:
        sensitivity = blip_sensitivity(bloom_k, hardening)
        return blip_flip_probability(hardening.blip_epsilon, sensitivity)[0]
    if hardening.blip_flip is None:
        return 0.0
    resolution = _blip_resolution(hardening.blip_flip)
    return math.ceil(hardening.blip_flip * resolution) / resolution


def blip_sensitivity(bloom_k: int, hardening: Hardening) -> int:
    """Most bits in which two neighbouring segments can differ when BLIP runs.

    Neighbouring = feature sets differing by one feature (one q-gram or date component
    added or removed): ``k`` raw bits; Rule 90 spreads each raw bit to 2 output bits, and
    balancing adds the complement bit. XOR folding and permutation do not increase it.
    Padding is refused with BLIP: it makes the number of differing bits data-dependent.
    """
    return bloom_k * (2 if hardening.rule90 else 1) * (2 if hardening.balance else 1)


def blip_flip_probability(epsilon: float, sensitivity: int) -> tuple[float, float]:
    """BLIP flip probability for ``epsilon``-DP at ``sensitivity`` differing bits.

    Randomised response on each bit with ``p = 1 / (1 + exp(epsilon / sensitivity))``: the
    likelihood ratio of any output for two neighbours is at most ``((1-p)/p)^sensitivity =
    exp(epsilon)``. ``p`` is rounded *up* to the noise resolution (a multiple of 2**-8
    when ``p >= 1/16``, else of 2**-16), so the returned epsilon, the one the rounded
    ``p`` actually achieves, is never above the requested one (and within 2% of it).

    >>> p, eps = blip_flip_probability(25.0, 12)
    >>> round(p, 4), round(eps, 2)
    (0.1133, 24.69)
    """
    p = 1.0 / (1.0 + math.exp(epsilon / sensitivity))
    resolution = _blip_resolution(p)
    p_real = math.ceil(p * resolution) / resolution
    return p_real, sensitivity * math.log((1 - p_real) / p_real)


def _blip_resolution(p: float) -> int:
    # 8-bit uniforms halve the keystream (the dominant cost) and are precise enough for
    # p >= 1/16 (relative rounding error < 3%); smaller p needs 16 bits.
    return 1 << 8 if p >= 1 / 16 else 1 << 16


# -- salting (features, not bits) ---------------------------------------------------------


def salt_features(features: Sequence[str], salt_value: str) -> tuple[str, ...]:
    """Prefix every feature with a record attribute (e.g. the year of birth).

    The salted features hash to unrelated positions for each salt value, so a frequency
    attack must work per salt group (much smaller, flatter distributions), and the same
    name in two years gives unrelated filters. The cost: **two records whose salt values
    differ can no longer match on this field at all** (a typo in the year of birth makes a
    true match invisible), and a missing salt must be passed as ``""`` (its own group).
    The salt value never appears in the output except through the keyed hash.

    >>> salt_features(("_j", "jo", "o_"), "1970")
    ('1970\\x1f_j', '1970\\x1fjo', '1970\\x1fo_')
    """
    prefix = salt_value + "\x1f"  # unit separator: cannot occur in canonical values
    return tuple(prefix + f for f in features)


# -- keyed primitives ---------------------------------------------------------------------


def _subkey(key: bytes, label: bytes) -> bytes:
    return hashlib.blake2b(label, key=key[:64], digest_size=32, person=b"hashmatch/harden").digest()


@lru_cache(maxsize=256)
def keyed_permutation(key: bytes, size: int) -> npt.NDArray[np.intp]:
    """A keyed pseudo-random permutation of ``range(size)`` (Fisher-Yates).

    The random numbers come from BLAKE2b in counter mode keyed with ``key``; each swap
    index is a 64-bit value reduced modulo ``i + 1`` (bias below 2**-50 for any
    realistic segment size). Cached: a chunk reuses the permutation of each segment.
    """
    stream = _prf_stream(key, b"fisher-yates", size)
    perm = np.arange(size, dtype=np.intp)
    for i in range(size - 1, 0, -1):
        j = int(stream[i]) % (i + 1)
        perm[i], perm[j] = perm[j], perm[i]
    perm.setflags(write=False)
    return perm


def _prf_stream(key: bytes, label: bytes, count: int) -> npt.NDArray[np.uint64]:
    blocks = [
        hashlib.blake2b(label + c.to_bytes(8, "little"), key=key, digest_size=64).digest()
        for c in range(-(-count // 8))
    ]
    return np.frombuffer(b"".join(blocks), dtype="<u8")[:count]


def _blip_noise_t(
    key: bytes, row_tokens: npt.NDArray[np.uint8], bits: int, p: float
) -> npt.NDArray[np.uint8]:
    """Bit-major 0/1 ``uint8[bits, n]``, each entry 1 with probability ``p``, keyed by row.

    AES-256 as a PRF: a per-row nonce ``AES(k, row_token)[:12]`` followed by a 32-bit
    counter is encrypted block by block (counter mode, done as one ECB call over the
    whole chunk); each 16-byte output gives sixteen 8-bit or eight 16-bit uniforms (see
    ``_blip_resolution``), compared with ``p`` times the resolution.
    """
    n = row_tokens.shape[0]
    resolution = _blip_resolution(p)
    dtype = np.dtype("<u1") if resolution == 1 << 8 else np.dtype("<u2")
    per_block = 16 // dtype.itemsize
    aes = Cipher(algorithms.AES(key), modes.ECB()).encryptor()  # noqa: S305 - used as a PRF
    nonces = np.frombuffer(aes.update(np.ascontiguousarray(row_tokens).tobytes()), np.uint8)
    blocks = -(-bits // per_block)
    inputs = np.empty((blocks, n, 16), dtype=np.uint8)
    inputs[:, :, :12] = nonces.reshape(n, 16)[None, :, :12]
    inputs[:, :, 12:] = np.arange(blocks, dtype="<u4").view(np.uint8).reshape(blocks, 1, 4)
    uniforms = np.frombuffer(aes.update(inputs.tobytes()), dtype=dtype)
    flips = np.less(uniforms.reshape(blocks, n, per_block), math.ceil(p * resolution))
    bit_major = np.ascontiguousarray(flips.transpose(0, 2, 1)).reshape(blocks * per_block, n)
    return bit_major[:bits].view(np.uint8)


def _pad(
    b: npt.NDArray[np.uint8], present: npt.NDArray[np.bool_], target: int, key: bytes
) -> npt.NDArray[np.uint8]:
    """Set the first unset positions in a keyed order until each present row has ``target``.

    ``b`` is bit-major. The order is the same for every row, so equal filters get equal
    padding and similar filters mostly the same dummy bits (similarity survives better
    than with random dummies).
    """
    order = keyed_permutation(key, b.shape[0])
    view = b[order]
    need = np.maximum(target - view.sum(axis=0, dtype=np.int32), 0) * present
    # Walk the positions in keyed order, setting free ones while a row still needs bits
    # (a row loop over contiguous bit rows: numpy's cumsum along axis 0 is ~25x slower).
    for row in view:
        add = (row == 0) & (need > 0)
        row |= add.view(np.uint8)
        need -= add
    out = np.empty_like(b)
    out[order] = view
    return out


# -- bit views -----------------------------------------------------------------------------


def unpack_bits(clks: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint8]:
    """``uint64[n, w]`` -> 0/1 ``uint8[n, 64 w]`` (bit b = bit b%64 of word b//64)."""
    words = np.ascontiguousarray(clks, dtype="<u8")
    return np.unpackbits(words.view(np.uint8), axis=1, bitorder="little")


def pack_bits(bits: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint64]:
    """Inverse of :func:`unpack_bits` (the bit count must be a multiple of 64)."""
    packed = np.packbits(np.asarray(bits, dtype=np.uint8), axis=1, bitorder="little")
    return np.ascontiguousarray(packed).view("<u8").astype(np.uint64, copy=False)


_SHIFTS = np.arange(8, dtype=np.uint8).reshape(1, 8, 1)


def _unpack_t(words: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint8]:
    """``uint64[n, w]`` -> bit-major 0/1 ``uint8[64 w, n]``.

    Shifts over a byte-transposed copy: numpy's unpackbits along axis 0 is ~15x slower.
    """
    by_byte = np.ascontiguousarray(words.view(np.uint8).T)  # [bytes, n]
    bits = by_byte[:, None, :] >> _SHIFTS
    np.bitwise_and(bits, 1, out=bits)
    return bits.reshape(-1, words.shape[0])


def _pack_t(bits: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint64]:
    """Bit-major 0/1 ``uint8[64 w, n]`` -> ``uint64[n, w]``."""
    grouped = bits.reshape(-1, 8, bits.shape[1])
    packed = grouped[:, 0].copy()
    for i in range(1, 8):
        packed |= grouped[:, i] << np.uint8(i)
    return np.ascontiguousarray(packed.T).view("<u8")


__all__ = [
    "MAX_BLIP_EPSILON",
    "PROFILES",
    "RECOMMENDED",
    "RECOMMENDED_V1",
    "Hardening",
    "apply_hardening",
    "blip_flip_probability",
    "blip_probability",
    "blip_sensitivity",
    "hardening_problems",
    "header_extra",
    "keyed_permutation",
    "pack_bits",
    "profile_name",
    "raw_layout",
    "raw_segment_bits",
    "salt_features",
    "unpack_bits",
]
