"""Key files: what is written is what loads, private halves stay private, bad files are refused."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path

import pytest

from hashmatch.errors import KeyFileError
from hashmatch.seal.keyfiles import (
    CoordinatorKey,
    PartySigningKey,
    key_id,
    load_coordinator_key,
    load_coordinator_public,
    load_party_key,
    load_party_public,
    load_trusted_parties,
    write_coordinator_keys,
    write_party_keys,
)


def test_party_keys_round_trip_and_still_sign_and_verify(tmp_path: Path) -> None:
    key = PartySigningKey.generate("crm")
    write_party_keys(key, tmp_path / "crm.key", tmp_path / "crm.pub")
    private, public = load_party_key(tmp_path / "crm.key"), load_party_public(tmp_path / "crm.pub")
    assert private.party == public.party == "crm"
    assert private.key_id == public.key_id == key.key_id
    public.ed25519.verify(private.ed25519.sign(b"digest"), b"digest")  # raises if not a pair
    assert (tmp_path / "crm.key").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "crm.pub").stat().st_mode & 0o077 != 0o077  # shareable, not secret


def test_coordinator_keys_round_trip_for_both_algorithms(tmp_path: Path) -> None:
    key = CoordinatorKey.generate()
    write_coordinator_keys(key, tmp_path / "c.key", tmp_path / "c.pub")
    loaded, public = (
        load_coordinator_key(tmp_path / "c.key"),
        load_coordinator_public(tmp_path / "c.pub"),
    )
    assert loaded.key_id == public.key_id == key.key_id
    # X25519: both sides derive the same shared secret; Ed25519: signatures verify.
    other = CoordinatorKey.generate()
    assert loaded.x25519.exchange(other.public.x25519) == other.x25519.exchange(public.x25519)
    public.ed25519.verify(loaded.ed25519.sign(b"m"), b"m")


def test_the_public_file_holds_no_private_bytes(tmp_path: Path) -> None:
    key = CoordinatorKey.generate()
    write_coordinator_keys(key, tmp_path / "c.key", tmp_path / "c.pub")
    public_text = (tmp_path / "c.pub").read_text()
    for secret in (key.x25519.private_bytes_raw(), key.ed25519.private_bytes_raw()):
        assert base64.b64encode(secret).decode() not in public_text


def test_key_id_is_a_short_hash_of_the_public_bytes() -> None:
    key = PartySigningKey.generate("crm")
    raw = key.public.ed25519.public_bytes_raw()
    assert key.key_id == key_id(raw) == hashlib.sha256(raw).hexdigest()[:16]


def test_an_existing_key_file_is_never_overwritten_unless_asked(tmp_path: Path) -> None:
    first, second = PartySigningKey.generate("crm"), PartySigningKey.generate("crm")
    write_party_keys(first, tmp_path / "crm.key", tmp_path / "crm.pub")
    with pytest.raises(KeyFileError, match="already exists"):
        write_party_keys(second, tmp_path / "crm.key", tmp_path / "other.pub")
    assert load_party_key(tmp_path / "crm.key").key_id == first.key_id
    write_party_keys(second, tmp_path / "crm.key", tmp_path / "crm.pub", overwrite=True)
    assert load_party_key(tmp_path / "crm.key").key_id == second.key_id


def _rewrite(path: Path, **changes: object) -> None:
    doc = json.loads(path.read_text())
    doc.update(changes)
    path.write_text(json.dumps(doc))
    os.chmod(path, 0o600)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"version": 2}, "unsupported key file version; upgrade hashmatch"),
        ({"kind": "hashmatch-party-public-key"}, "is a party's public key .*expected a party's"),
        ({"ed25519": "not base64!"}, "'ed25519' is missing or not base64"),
        ({"ed25519": base64.b64encode(b"short").decode()}, "'ed25519' must hold 32 bytes"),
    ],
)
def test_a_malformed_key_file_is_refused_by_name(
    tmp_path: Path, changes: dict[str, object], message: str
) -> None:
    key = PartySigningKey.generate("crm")
    write_party_keys(key, tmp_path / "crm.key", tmp_path / "crm.pub")
    private_b64 = base64.b64encode(key.ed25519.private_bytes_raw()).decode()
    _rewrite(tmp_path / "crm.key", **changes)
    with pytest.raises(KeyFileError, match=message) as caught:
        load_party_key(tmp_path / "crm.key")
    assert private_b64 not in str(caught.value)


def test_unreadable_or_foreign_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="does not exist"):
        load_party_public(tmp_path / "missing.pub")
    (tmp_path / "notes.pub").write_text("hello")
    with pytest.raises(KeyFileError, match="is not a hashmatch key file"):
        load_party_public(tmp_path / "notes.pub")


def test_a_private_key_readable_by_others_is_refused_with_the_fix(tmp_path: Path) -> None:
    write_party_keys(PartySigningKey.generate("crm"), tmp_path / "crm.key", tmp_path / "crm.pub")
    os.chmod(tmp_path / "crm.key", 0o640)
    with pytest.raises(KeyFileError, match="readable by other users") as caught:
        load_party_key(tmp_path / "crm.key")
    assert caught.value.hint == f"run: chmod 600 {tmp_path / 'crm.key'}"


def test_the_trust_folder_maps_each_party_to_one_key(tmp_path: Path) -> None:
    trust = tmp_path / "trust"
    trust.mkdir()
    keys = {name: PartySigningKey.generate(name) for name in ("crm", "partner")}
    for name, key in keys.items():
        write_party_keys(key, tmp_path / f"{name}.key", trust / f"{name}.pub")
    (trust / "README.txt").write_text("not a key")  # only *.pub files are read
    trusted = load_trusted_parties(trust)
    assert {name: k.key_id for name, k in trusted.items()} == {
        name: k.key_id for name, k in keys.items()
    }
    write_party_keys(PartySigningKey.generate("crm"), tmp_path / "x.key", trust / "crm2.pub")
    with pytest.raises(KeyFileError, match="two public keys for party 'crm'"):
        load_trusted_parties(trust)


def test_an_empty_or_missing_trust_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="does not exist or is not a folder"):
        load_trusted_parties(tmp_path / "nowhere")
    with pytest.raises(KeyFileError, match="holds no party public keys"):
        load_trusted_parties(tmp_path)
