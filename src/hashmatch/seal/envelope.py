"""Sealed encoding files: encrypted for the coordinator, signed by the party.

A party seals its ``.hme`` file so that only the coordinator can read it and the coordinator
can tell which party produced it. Everything is built from `cryptography` primitives:

* **Encryption**: an ephemeral X25519 key agreement with the coordinator's public key;
  HKDF-SHA256 over the shared secret (salt = ephemeral public || recipient public) gives a
  256-bit ChaCha20-Poly1305 key used only for this file. The payload is encrypted in chunks
  (the STREAM construction: nonce = 11-byte big-endian chunk counter || 1 byte "last chunk"
  flag), so files of any size are sealed and opened with bounded memory, and chunks cannot
  be reordered, dropped or truncated without detection. Every chunk authenticates the
  header as associated data.
* **Signature**: Ed25519 by the party's signing key over SHA-256 of everything before the
  signature (magic, header, ciphertext), so the coordinator verifies the signer before it
  decrypts anything.

Layout (version 1; integers little-endian)::

    offset  size  field
    0       8     magic  b"\\x89HMSEAL\\n"
    8       4     uint32 header length H
    12      H     header: canonical UTF-8 JSON (format_version, party, recipient_key_id,
                  ephemeral_x25519 (base64), signer_key_id or null, chunk_size,
                  plaintext_bytes, created)
    12+H    C     ciphertext: ceil(plaintext_bytes / chunk_size) chunks (at least one),
                  each chunk_size + 16 bytes except a shorter last one
    12+H+C  64    Ed25519 signature, or 64 zero bytes when unsigned

The party name in the header is checked three ways on opening: against the trusted key
that verified the signature, and (by the caller, after decryption) against the party
name inside the ``.hme`` header.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, BinaryIO

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from hashmatch.errors import SealedFileError, SignatureError, WrongRecipientError
from hashmatch.seal.keyfiles import (
    CoordinatorKey,
    CoordinatorPublicKey,
    PartyPublicKey,
    PartySigningKey,
)

MAGIC = b"\x89HMSEAL\n"
SEAL_VERSION = 1
DEFAULT_CHUNK = 1 << 20
_TAG = 16
_SIG = 64
_NO_SIGNATURE = b"\x00" * _SIG
_HKDF_INFO = b"hashmatch/v1/seal/chacha20poly1305"


@dataclass(frozen=True)
class SealHeader:
    format_version: int
    party: str
    recipient_key_id: str
    ephemeral_x25519: bytes
    signer_key_id: str | None
    chunk_size: int
    plaintext_bytes: int
    created: str

    def to_bytes(self) -> bytes:
        doc = {
            "format_version": self.format_version,
            "party": self.party,
            "recipient_key_id": self.recipient_key_id,
            "ephemeral_x25519": base64.b64encode(self.ephemeral_x25519).decode("ascii"),
            "signer_key_id": self.signer_key_id,
            "chunk_size": self.chunk_size,
            "plaintext_bytes": self.plaintext_bytes,
            "created": self.created,
        }
        return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()

    @property
    def signed(self) -> bool:
        return self.signer_key_id is not None


def is_sealed(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` starts with the sealed-file magic."""
    with open(path, "rb") as fh:
        return fh.read(len(MAGIC)) == MAGIC


def _file_key(shared: bytes, ephemeral: bytes, recipient: bytes) -> ChaCha20Poly1305:
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=ephemeral + recipient, info=_HKDF_INFO
    ).derive(shared)
    return ChaCha20Poly1305(key)


def _nonce(counter: int, last: bool) -> bytes:
    return counter.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


def _chunk_count(plaintext_bytes: int, chunk_size: int) -> int:
    return max(1, -(-plaintext_bytes // chunk_size))


def seal_file(
    source: str | os.PathLike[str] | IO[bytes],
    dest: str | os.PathLike[str],
    *,
    party: str,
    recipient: CoordinatorPublicKey,
    signer: PartySigningKey | None = None,
    chunk_size: int = DEFAULT_CHUNK,
) -> SealHeader:
    """Encrypt ``source`` for ``recipient`` (and sign it with ``signer``) into ``dest``.

    ``source`` is a path or an open binary file (read from its start: an anonymous file
    holding the plain encodings, see :mod:`hashmatch.anonymous_file`). ``dest`` appears
    atomically: it is written to a temporary file beside it and renamed.
    """
    from hashmatch.atomic import atomic_write

    if signer is not None and signer.party != party:
        raise SealedFileError(
            f"signing key belongs to party {signer.party!r}, not {party!r}",
            hint="use the signing key made for this party (hashmatch keygen --party NAME)",
        )
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as opened:
            return seal_file(
                opened, dest, party=party, recipient=recipient, signer=signer, chunk_size=chunk_size
            )
    src: IO[bytes] = source
    src.seek(0, os.SEEK_END)
    size = src.tell()
    src.seek(0)
    name = getattr(src, "name", "the encoding file")
    ephemeral = X25519PrivateKey.generate()
    eph_pub = ephemeral.public_key().public_bytes_raw()
    rec_pub = recipient.x25519.public_bytes_raw()
    aead = _file_key(ephemeral.exchange(recipient.x25519), eph_pub, rec_pub)
    header = SealHeader(
        format_version=SEAL_VERSION,
        party=party,
        recipient_key_id=recipient.key_id,
        ephemeral_x25519=eph_pub,
        signer_key_id=signer.key_id if signer else None,
        chunk_size=chunk_size,
        plaintext_bytes=size,
        created=datetime.now(UTC).replace(microsecond=0).isoformat(),
    )
    header_bytes = header.to_bytes()
    digest = hashlib.sha256()
    with atomic_write(dest, "wb") as out:
        prefix = MAGIC + struct.pack("<I", len(header_bytes)) + header_bytes
        out.write(prefix)
        digest.update(prefix)
        n_chunks = _chunk_count(size, chunk_size)
        for counter in range(n_chunks):
            plain = src.read(chunk_size)
            last = counter == n_chunks - 1
            sealed = aead.encrypt(_nonce(counter, last), plain, header_bytes)
            out.write(sealed)
            digest.update(sealed)
        if src.read(1):
            raise SealedFileError(f"{name} changed while it was being sealed")
        out.write(signer.ed25519.sign(digest.digest()) if signer else _NO_SIGNATURE)
    return header


def _read_header(fh: BinaryIO, path: Path, file_size: int) -> tuple[SealHeader, bytes]:
    if fh.read(len(MAGIC)) != MAGIC:
        raise SealedFileError(f"{path} is not a sealed hashmatch file")
    raw_len = fh.read(4)
    if len(raw_len) != 4:
        raise SealedFileError(f"{path} is truncated (no header)")
    (hlen,) = struct.unpack("<I", raw_len)
    if hlen > min(file_size, 1 << 20):
        raise SealedFileError(f"{path} is truncated or corrupt (header length out of range)")
    header_bytes = fh.read(hlen)
    try:
        doc = json.loads(header_bytes)
        header = SealHeader(
            format_version=int(doc["format_version"]),
            party=str(doc["party"]),
            recipient_key_id=str(doc["recipient_key_id"]),
            ephemeral_x25519=base64.b64decode(doc["ephemeral_x25519"], validate=True),
            signer_key_id=None if doc["signer_key_id"] is None else str(doc["signer_key_id"]),
            chunk_size=int(doc["chunk_size"]),
            plaintext_bytes=int(doc["plaintext_bytes"]),
            created=str(doc["created"]),
        )
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise SealedFileError(f"{path}: the sealed-file header is corrupt") from None
    if header.format_version > SEAL_VERSION:
        raise SealedFileError(
            f"{path} was sealed by a newer hashmatch (sealed format {header.format_version})",
            hint="upgrade hashmatch",
        )
    if header.to_bytes() != header_bytes:  # canonical form: any edit is visible here
        raise SealedFileError(f"{path}: the sealed-file header is not in canonical form")
    if header.chunk_size <= 0 or header.plaintext_bytes < 0 or len(header.ephemeral_x25519) != 32:
        raise SealedFileError(f"{path}: the sealed-file header is corrupt")
    return header, header_bytes


def read_seal_header(path: str | os.PathLike[str]) -> SealHeader:
    """Read a sealed file's header (party, key ids) without verifying or decrypting."""
    path = Path(path)
    with open(path, "rb") as fh:
        return _read_header(fh, path, path.stat().st_size)[0]


def _ciphertext_chunks(fh: IO[bytes], header: SealHeader) -> Iterator[tuple[int, bool, bytes]]:
    n_chunks = _chunk_count(header.plaintext_bytes, header.chunk_size)
    remaining = header.plaintext_bytes
    for counter in range(n_chunks):
        plain_len = min(header.chunk_size, remaining)
        remaining -= plain_len
        yield counter, counter == n_chunks - 1, fh.read(plain_len + _TAG)


def open_sealed(
    path: str | os.PathLike[str],
    dest: str | os.PathLike[str] | IO[bytes],
    *,
    key: CoordinatorKey,
    trusted: Mapping[str, PartyPublicKey] | None = None,
    require_signature: bool = True,
) -> SealHeader:
    """Verify and decrypt a sealed file into ``dest`` (written atomically, mode 0600).

    ``dest`` may be an open binary file instead of a path (an anonymous file, see
    :mod:`hashmatch.anonymous_file`): the plaintext is written to it, then it is flushed.

    Order of checks: structure and length, recipient key, signature against the trusted key
    of the party named in the header (before any decryption), then authenticated
    decryption of every chunk. Each failure raises its own error naming the file.
    ``trusted=None`` skips signature checks; then ``require_signature`` must be False.
    """
    from hashmatch.atomic import atomic_write

    path = Path(path)
    file_size = path.stat().st_size
    with open(path, "rb") as fh:
        header, header_bytes = _read_header(fh, path, file_size)
        body_start = len(MAGIC) + 4 + len(header_bytes)
        n_chunks = _chunk_count(header.plaintext_bytes, header.chunk_size)
        expected = body_start + header.plaintext_bytes + n_chunks * _TAG + _SIG
        if file_size != expected:
            what = "truncated" if file_size < expected else "longer than its header says"
            raise SealedFileError(f"{path} is {what} ({file_size} of {expected} bytes)")
        if header.recipient_key_id != key.key_id:
            raise WrongRecipientError(
                f"{path} was sealed for another coordinator key "
                f"(key id {header.recipient_key_id}, yours is {key.key_id})",
                hint="ask the party to seal the file with your coordinator.pub",
            )

        # Pass 1: verify the signature over magic, header and ciphertext.
        fh.seek(0)
        digest = hashlib.sha256(fh.read(body_start))
        for _, _, chunk in _ciphertext_chunks(fh, header):
            digest.update(chunk)
        signature = fh.read(_SIG)
        _check_signature(path, header, digest.digest(), signature, trusted, require_signature)

        # Pass 2: authenticated decryption, chunk by chunk.
        eph = X25519PublicKey.from_public_bytes(header.ephemeral_x25519)
        recipient_pub = key.x25519.public_key().public_bytes_raw()
        aead = _file_key(key.x25519.exchange(eph), header.ephemeral_x25519, recipient_pub)
        fh.seek(body_start)
        if not isinstance(dest, (str, os.PathLike)):
            _decrypt(fh, dest, path, header, header_bytes, aead)
            dest.flush()
            return header
        # 0600: the decrypted encodings are the coordinator's private working copy.
        with atomic_write(dest, "wb", permissions=0o600) as out:
            _decrypt(fh, out, path, header, header_bytes, aead)
    return header


def _decrypt(
    fh: IO[bytes],
    out: IO[bytes],
    path: Path,
    header: SealHeader,
    header_bytes: bytes,
    aead: ChaCha20Poly1305,
) -> None:
    for counter, last, chunk in _ciphertext_chunks(fh, header):
        try:
            out.write(aead.decrypt(_nonce(counter, last), chunk, header_bytes))
        except InvalidTag:
            raise SignatureError(
                f"{path} failed authenticated decryption at chunk {counter}: "
                "it was modified after sealing"
            ) from None


def _check_signature(
    path: Path,
    header: SealHeader,
    digest: bytes,
    signature: bytes,
    trusted: Mapping[str, PartyPublicKey] | None,
    require_signature: bool,
) -> None:
    if not header.signed:
        if signature != _NO_SIGNATURE:
            raise SignatureError(f"{path} carries a signature but its header says unsigned")
        if require_signature:
            raise SignatureError(
                f"{path} is not signed, and signatures are required",
                hint="the party must seal with --sign PARTY.key",
            )
        return
    if trusted is None:
        if require_signature:
            raise SignatureError(f"{path}: no trusted party keys given to verify its signature")
        return
    party_key = trusted.get(header.party)
    if party_key is None:
        raise SignatureError(
            f"{path} claims to come from party {header.party!r}, which has no trusted key",
            hint="add the party's public key to the trust folder",
        )
    if party_key.key_id != header.signer_key_id:
        raise SignatureError(
            f"{path} was signed with key {header.signer_key_id}, not with the trusted key of "
            f"party {header.party!r} ({party_key.key_id})"
        )
    try:
        party_key.ed25519.verify(signature, digest)
    except InvalidSignature:
        raise SignatureError(f"{path}: the signature does not match the content") from None
