"""Sealed files: every kind of tampering is refused with its own clear error."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hashmatch.errors import KeyFileError, SealedFileError, SignatureError, WrongRecipientError
from hashmatch.seal.envelope import is_sealed, open_sealed, read_seal_header, seal_file
from hashmatch.seal.keyfiles import (
    CoordinatorKey,
    PartySigningKey,
    load_coordinator_key,
    load_coordinator_public,
    load_party_key,
    load_trusted_parties,
    write_coordinator_keys,
    write_party_keys,
)

PAYLOAD = os.urandom(5000) + b"tail"


@pytest.fixture()
def setup(tmp_path: Path):
    coord = CoordinatorKey.generate()
    crm = PartySigningKey.generate("crm")
    partner = PartySigningKey.generate("partner")
    trust = tmp_path / "trust"
    trust.mkdir()
    write_party_keys(crm, tmp_path / "crm.key", trust / "crm.pub")
    write_party_keys(partner, tmp_path / "partner.key", trust / "partner.pub")
    src = tmp_path / "crm.hme"
    src.write_bytes(PAYLOAD)
    sealed = tmp_path / "crm.sealed"
    # small chunks so the payload spans several AEAD chunks
    seal_file(src, sealed, party="crm", recipient=coord.public, signer=crm, chunk_size=1024)
    return coord, crm, partner, load_trusted_parties(trust), src, sealed


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_round_trip_recovers_the_exact_bytes(setup, tmp_path: Path) -> None:
    coord, _, _, trusted, _, sealed = setup
    assert is_sealed(sealed)
    assert PAYLOAD not in sealed.read_bytes()  # actually encrypted
    header = open_sealed(sealed, tmp_path / "out.hme", key=coord, trusted=trusted)
    assert (tmp_path / "out.hme").read_bytes() == PAYLOAD
    assert header.party == "crm" and header.signed
    assert (tmp_path / "out.hme").stat().st_mode & 0o077 == 0


def test_empty_payload_round_trips(tmp_path: Path) -> None:
    coord = CoordinatorKey.generate()
    (tmp_path / "e.hme").write_bytes(b"")
    seal_file(tmp_path / "e.hme", tmp_path / "e.sealed", party="p", recipient=coord.public)
    open_sealed(tmp_path / "e.sealed", tmp_path / "o", key=coord, require_signature=False)
    assert (tmp_path / "o").read_bytes() == b""


def test_flipped_byte_in_header_is_refused(setup, tmp_path: Path) -> None:
    coord, _, _, trusted, _, sealed = setup
    _flip(sealed, 20)  # inside the JSON header
    with pytest.raises(SealedFileError):
        open_sealed(sealed, tmp_path / "o", key=coord, trusted=trusted)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("where", ["first_chunk", "last_chunk"])
def test_flipped_byte_in_body_breaks_the_signature(setup, tmp_path: Path, where: str) -> None:
    coord, _, _, trusted, _, sealed = setup
    size = sealed.stat().st_size
    _flip(sealed, 400 if where == "first_chunk" else size - 64 - 5)
    with pytest.raises(SignatureError, match="signature does not match"):
        open_sealed(sealed, tmp_path / "o", key=coord, trusted=trusted)
    assert not (tmp_path / "o").exists()


def test_flipped_body_byte_is_caught_by_aead_even_without_signature_checks(
    tmp_path: Path,
) -> None:
    coord = CoordinatorKey.generate()
    (tmp_path / "a.hme").write_bytes(PAYLOAD)
    seal_file(tmp_path / "a.hme", tmp_path / "a.sealed", party="a", recipient=coord.public)
    _flip(tmp_path / "a.sealed", 300)
    with pytest.raises(SignatureError, match="modified after sealing"):
        open_sealed(tmp_path / "a.sealed", tmp_path / "o", key=coord, require_signature=False)
    assert not (tmp_path / "o").exists()


def test_flipped_byte_in_signature_is_refused(setup, tmp_path: Path) -> None:
    coord, _, _, trusted, _, sealed = setup
    _flip(sealed, sealed.stat().st_size - 10)
    with pytest.raises(SignatureError, match="signature does not match"):
        open_sealed(sealed, tmp_path / "o", key=coord, trusted=trusted)


@pytest.mark.parametrize("keep", [0, 5, 30, 1500, -1])
def test_truncation_is_refused(setup, tmp_path: Path, keep: int) -> None:
    coord, _, _, trusted, _, sealed = setup
    data = sealed.read_bytes()
    sealed.write_bytes(data[:keep] if keep >= 0 else data[:-1])
    with pytest.raises(SealedFileError):
        open_sealed(sealed, tmp_path / "o", key=coord, trusted=trusted)


def test_sealed_for_another_coordinator_is_refused(setup, tmp_path: Path) -> None:
    _, _, _, trusted, _, sealed = setup
    other = CoordinatorKey.generate()
    with pytest.raises(WrongRecipientError, match="another coordinator key"):
        open_sealed(sealed, tmp_path / "o", key=other, trusted=trusted)


def test_unsigned_file_is_refused_when_signatures_are_required(setup, tmp_path: Path) -> None:
    coord, _, _, trusted, src, _ = setup
    seal_file(src, tmp_path / "u.sealed", party="crm", recipient=coord.public)
    with pytest.raises(SignatureError, match="not signed"):
        open_sealed(tmp_path / "u.sealed", tmp_path / "o", key=coord, trusted=trusted)


def test_party_claiming_another_partys_name_is_refused(setup, tmp_path: Path) -> None:
    coord, _, partner, trusted, src, _ = setup
    impostor = PartySigningKey("crm", partner.ed25519)  # partner's key, crm's name
    seal_file(src, tmp_path / "s.sealed", party="crm", recipient=coord.public, signer=impostor)
    with pytest.raises(SignatureError, match="not with the trusted key of party 'crm'"):
        open_sealed(tmp_path / "s.sealed", tmp_path / "o", key=coord, trusted=trusted)


def test_untrusted_party_is_refused(setup, tmp_path: Path) -> None:
    coord, _, _, trusted, src, _ = setup
    stranger = PartySigningKey.generate("stranger")
    seal_file(src, tmp_path / "x.sealed", party="stranger", recipient=coord.public, signer=stranger)
    with pytest.raises(SignatureError, match="no trusted key"):
        open_sealed(tmp_path / "x.sealed", tmp_path / "o", key=coord, trusted=trusted)


def test_signer_must_match_the_declared_party(setup, tmp_path: Path) -> None:
    coord, crm, _, _, src, _ = setup
    with pytest.raises(SealedFileError, match="belongs to party 'crm'"):
        seal_file(src, tmp_path / "y", party="partner", recipient=coord.public, signer=crm)


def test_plain_file_is_not_a_sealed_file(setup, tmp_path: Path) -> None:
    coord, _, _, trusted, src, _ = setup
    assert not is_sealed(src)
    with pytest.raises(SealedFileError, match="not a sealed hashmatch file"):
        open_sealed(src, tmp_path / "o", key=coord, trusted=trusted)


def test_header_is_readable_without_keys(setup) -> None:
    coord, crm, _, _, _, sealed = setup
    header = read_seal_header(sealed)
    assert header.recipient_key_id == coord.key_id
    assert header.signer_key_id == crm.key_id
    assert header.plaintext_bytes == len(PAYLOAD)


def test_key_files_round_trip_and_private_ones_are_owner_only(tmp_path: Path) -> None:
    coord = CoordinatorKey.generate()
    write_coordinator_keys(coord, tmp_path / "c.key", tmp_path / "c.pub")
    assert (tmp_path / "c.key").stat().st_mode & 0o777 == 0o600
    assert load_coordinator_key(tmp_path / "c.key").key_id == coord.key_id
    assert load_coordinator_public(tmp_path / "c.pub").key_id == coord.key_id
    with pytest.raises(KeyFileError, match="already exists"):
        write_coordinator_keys(coord, tmp_path / "c.key", tmp_path / "c2.pub")


def test_key_file_of_the_wrong_kind_or_mode_is_refused(tmp_path: Path) -> None:
    party = PartySigningKey.generate("crm")
    write_party_keys(party, tmp_path / "p.key", tmp_path / "p.pub")
    with pytest.raises(KeyFileError, match="p.key is a party's signing key .*expected the coo"):
        load_coordinator_key(tmp_path / "p.key")
    os.chmod(tmp_path / "p.key", 0o644)
    with pytest.raises(KeyFileError, match="readable by other users"):
        load_party_key(tmp_path / "p.key")


def test_a_public_key_passed_for_the_private_one_says_so(tmp_path: Path) -> None:
    """A .pub (mode 0644) given as --key: name the mix-up, not the file's permissions."""
    coord = CoordinatorKey.generate()
    write_coordinator_keys(coord, tmp_path / "c.key", tmp_path / "c.pub")
    with pytest.raises(KeyFileError) as info:
        load_coordinator_key(tmp_path / "c.pub")
    assert "c.pub is the coordinator's public key" in str(info.value)
    assert "expected the coordinator's private key (coordinator.key, for link --key)" in str(
        info.value
    )
    assert "readable" not in str(info.value) and "chmod" not in (info.value.hint or "")
