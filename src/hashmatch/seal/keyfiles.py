"""Asymmetric key files for moving encodings between parties and the coordinator.

Two kinds of key pair, both from `cryptography` (no hand-rolled primitives):

* the **coordinator** key pair: X25519 (parties seal files for it) and Ed25519 (it can sign
  what it sends back). ``coordinator.key`` stays with the coordinator; ``coordinator.pub`` is
  given to every party.
* a **party** signing key pair: Ed25519. ``NAME.key`` stays with the party; ``NAME.pub`` is
  given to the coordinator, who keeps the public keys it trusts in one folder.

These keys are unrelated to the linkage secret: the coordinator can hold its private key
without learning anything that would let it encode PII.

File format (version 1): UTF-8 JSON with ``kind``, ``version``, ``key_id`` and base64 raw key
bytes; private files are written with mode 0600 and refused when group/world readable.
``key_id`` is the first 16 hex digits of SHA-256 over the public key bytes, so a file names
the key it was sealed for or signed with without revealing anything else.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from hashmatch.errors import KeyFileError

KEYFILE_VERSION = 1

COORDINATOR_PRIVATE = "hashmatch-coordinator-private-key"
COORDINATOR_PUBLIC = "hashmatch-coordinator-public-key"
PARTY_PRIVATE = "hashmatch-party-signing-key"
PARTY_PUBLIC = "hashmatch-party-public-key"


def key_id(public_bytes: bytes) -> str:
    """Short public identifier of a key: 16 hex digits of SHA-256 over its raw public bytes."""
    return hashlib.sha256(public_bytes).hexdigest()[:16]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass(frozen=True)
class CoordinatorPublicKey:
    x25519: X25519PublicKey
    ed25519: Ed25519PublicKey

    @property
    def key_id(self) -> str:
        return key_id(self.x25519.public_bytes_raw())


@dataclass(frozen=True)
class CoordinatorKey:
    x25519: X25519PrivateKey
    ed25519: Ed25519PrivateKey

    @classmethod
    def generate(cls) -> CoordinatorKey:
        return cls(X25519PrivateKey.generate(), Ed25519PrivateKey.generate())

    @property
    def public(self) -> CoordinatorPublicKey:
        return CoordinatorPublicKey(self.x25519.public_key(), self.ed25519.public_key())

    @property
    def key_id(self) -> str:
        return self.public.key_id


@dataclass(frozen=True)
class PartyPublicKey:
    party: str
    ed25519: Ed25519PublicKey

    @property
    def key_id(self) -> str:
        return key_id(self.ed25519.public_bytes_raw())


@dataclass(frozen=True)
class PartySigningKey:
    party: str
    ed25519: Ed25519PrivateKey

    @classmethod
    def generate(cls, party: str) -> PartySigningKey:
        return cls(party, Ed25519PrivateKey.generate())

    @property
    def public(self) -> PartyPublicKey:
        return PartyPublicKey(self.party, self.ed25519.public_key())

    @property
    def key_id(self) -> str:
        return self.public.key_id


# --------------------------------------------------------------------------- writing


def _write_json(path: Path, doc: dict[str, Any], *, private: bool, overwrite: bool) -> None:
    from hashmatch.atomic import atomic_write_text

    try:
        atomic_write_text(
            path,
            json.dumps(doc, indent=2) + "\n",
            permissions=0o600 if private else 0o644,
            overwrite=overwrite,
        )
    except FileExistsError:
        raise KeyFileError(f"{path} already exists; refusing to overwrite a key file") from None


def write_coordinator_keys(
    key: CoordinatorKey, private_path: Path, public_path: Path, *, overwrite: bool = False
) -> None:
    pub = key.public
    _write_json(
        public_path,
        {
            "kind": COORDINATOR_PUBLIC,
            "version": KEYFILE_VERSION,
            "key_id": pub.key_id,
            "x25519": _b64(pub.x25519.public_bytes_raw()),
            "ed25519": _b64(pub.ed25519.public_bytes_raw()),
        },
        private=False,
        overwrite=overwrite,
    )
    _write_json(
        private_path,
        {
            "kind": COORDINATOR_PRIVATE,
            "version": KEYFILE_VERSION,
            "key_id": key.key_id,
            "x25519": _b64(key.x25519.private_bytes_raw()),
            "ed25519": _b64(key.ed25519.private_bytes_raw()),
        },
        private=True,
        overwrite=overwrite,
    )


def write_party_keys(
    key: PartySigningKey, private_path: Path, public_path: Path, *, overwrite: bool = False
) -> None:
    pub = key.public
    _write_json(
        public_path,
        {
            "kind": PARTY_PUBLIC,
            "version": KEYFILE_VERSION,
            "party": key.party,
            "key_id": pub.key_id,
            "ed25519": _b64(pub.ed25519.public_bytes_raw()),
        },
        private=False,
        overwrite=overwrite,
    )
    _write_json(
        private_path,
        {
            "kind": PARTY_PRIVATE,
            "version": KEYFILE_VERSION,
            "party": key.party,
            "key_id": key.key_id,
            "ed25519": _b64(key.ed25519.private_bytes_raw()),
        },
        private=True,
        overwrite=overwrite,
    )


# --------------------------------------------------------------------------- reading


#: What each kind of key file is called in messages, and the option or file it belongs to.
_KIND_NAMES = {
    COORDINATOR_PRIVATE: "the coordinator's private key (coordinator.key, for link --key)",
    COORDINATOR_PUBLIC: "the coordinator's public key (coordinator.pub, for encode --seal-for)",
    PARTY_PRIVATE: "a party's signing key (PARTY.key, for encode --sign)",
    PARTY_PUBLIC: "a party's public key (PARTY.pub, for the link --trust folder)",
}


def _read_json(path: Path, kind: str, *, private: bool) -> dict[str, Any]:
    path = Path(path)
    try:
        st = path.stat()
        raw = path.read_bytes()
    except FileNotFoundError:
        raise KeyFileError(f"key file {path} does not exist") from None
    except IsADirectoryError:
        raise KeyFileError(f"key file {path} is a folder, not a key file") from None
    except OSError as exc:
        raise KeyFileError(f"key file {path} cannot be read ({exc.strerror})") from None
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise KeyFileError(f"{path} is not a hashmatch key file") from None
    # The kind first: a public key passed for a private one is a mix-up, not a permission
    # problem, whatever its mode.
    if not isinstance(doc, dict) or doc.get("kind") != kind:
        found = doc.get("kind") if isinstance(doc, dict) else None
        raise KeyFileError(
            f"{path} is {_KIND_NAMES.get(str(found), 'not a hashmatch key file')}; "
            f"expected {_KIND_NAMES[kind]}",
            hint="check which key file goes with which option (hashmatch keygen --help)",
        )
    if private and st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(
            f"private key file {path} is readable by other users",
            hint=f"run: chmod 600 {path}",
        )
    if doc.get("version") != KEYFILE_VERSION:
        raise KeyFileError(f"{path}: unsupported key file version; upgrade hashmatch")
    return doc


def _raw(doc: dict[str, Any], name: str, path: Path) -> bytes:
    try:
        data = base64.b64decode(doc[name], validate=True)
    except (KeyError, TypeError, ValueError):
        raise KeyFileError(f"{path}: field {name!r} is missing or not base64") from None
    if len(data) != 32:
        raise KeyFileError(f"{path}: field {name!r} must hold 32 bytes")
    return data


def load_coordinator_key(path: str | os.PathLike[str]) -> CoordinatorKey:
    path = Path(path)
    doc = _read_json(path, COORDINATOR_PRIVATE, private=True)
    return CoordinatorKey(
        X25519PrivateKey.from_private_bytes(_raw(doc, "x25519", path)),
        Ed25519PrivateKey.from_private_bytes(_raw(doc, "ed25519", path)),
    )


def load_coordinator_public(path: str | os.PathLike[str]) -> CoordinatorPublicKey:
    path = Path(path)
    doc = _read_json(path, COORDINATOR_PUBLIC, private=False)
    return CoordinatorPublicKey(
        X25519PublicKey.from_public_bytes(_raw(doc, "x25519", path)),
        Ed25519PublicKey.from_public_bytes(_raw(doc, "ed25519", path)),
    )


def load_party_key(path: str | os.PathLike[str]) -> PartySigningKey:
    path = Path(path)
    doc = _read_json(path, PARTY_PRIVATE, private=True)
    return PartySigningKey(
        str(doc.get("party", "")), Ed25519PrivateKey.from_private_bytes(_raw(doc, "ed25519", path))
    )


def load_party_public(path: str | os.PathLike[str]) -> PartyPublicKey:
    path = Path(path)
    doc = _read_json(path, PARTY_PUBLIC, private=False)
    return PartyPublicKey(
        str(doc.get("party", "")), Ed25519PublicKey.from_public_bytes(_raw(doc, "ed25519", path))
    )


def load_trusted_parties(folder: str | os.PathLike[str]) -> dict[str, PartyPublicKey]:
    """Load every ``*.pub`` party key in ``folder``, keyed by party name.

    Two keys claiming the same party name are refused: trust must be unambiguous.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise KeyFileError(f"trust folder {folder} does not exist or is not a folder")
    trusted: dict[str, PartyPublicKey] = {}
    for path in sorted(folder.glob("*.pub")):
        key = load_party_public(path)
        if key.party in trusted:
            raise KeyFileError(f"{folder} holds two public keys for party {key.party!r}")
        trusted[key.party] = key
    if not trusted:
        raise KeyFileError(f"trust folder {folder} holds no party public keys (*.pub)")
    return trusted
