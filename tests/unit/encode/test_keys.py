"""The linkage secret: file permissions, refusals, HKDF derivation, commitment, no leaks."""

from __future__ import annotations

import hashlib
import hmac
import os
import pickle
from pathlib import Path

import pytest

from hashmatch.encode.keys import SECRET_BYTES, LinkageSecret
from hashmatch.errors import SecretError

SECRET = bytes(range(32))


def _hkdf_sha256(ikm: bytes, info: bytes, length: int = 32) -> bytes:
    """RFC 5869 written out, as an oracle independent of `cryptography`."""
    prk = hmac.new(b"\0" * 32, ikm, hashlib.sha256).digest()  # salt=None -> zeros
    out, block, i = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([i]), hashlib.sha256).digest()
        out += block
        i += 1
    return out[:length]


def test_write_is_owner_only_and_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "k.secret"
    LinkageSecret(SECRET).write(path)
    assert path.stat().st_mode & 0o777 == 0o600
    again = LinkageSecret.load(path)
    assert again.derive("bloom", "x") == LinkageSecret(SECRET).derive("bloom", "x")


def test_write_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "k.secret"
    path.write_text("keep me")
    with pytest.raises(SecretError, match="refusing to overwrite"):
        LinkageSecret.generate().write(path)
    assert path.read_text() == "keep me"


def test_load_refuses_group_or_world_readable(tmp_path: Path) -> None:
    path = tmp_path / "k.secret"
    LinkageSecret(SECRET).write(path)
    os.chmod(path, 0o644)
    with pytest.raises(SecretError, match="chmod 600|0600") as info:
        LinkageSecret.load(path)
    assert SECRET.hex() not in str(info.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not a hashmatch linkage secret"),
        (b"hello\n", "not a hashmatch linkage secret"),
        (
            "# hashmatch linkage secret v1: keep private; never send it to the coordinator\n"
            + "ab" * 31
            + "\n",
            "malformed",
        ),
        (
            "# hashmatch linkage secret v1: keep private; never send it to the coordinator\n"
            + "AB" * 32
            + "\n",
            "malformed",
        ),
    ],
)
def test_load_refuses_malformed_files_without_quoting_them(
    tmp_path: Path, content: bytes | str, message: str
) -> None:
    path = tmp_path / "k.secret"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    os.chmod(path, 0o600)
    with pytest.raises(SecretError, match=message) as info:
        LinkageSecret.load(path)
    assert "abab" not in str(info.value).lower()


def test_missing_file_has_a_hint(tmp_path: Path) -> None:
    with pytest.raises(SecretError, match="not found") as info:
        LinkageSecret.load(tmp_path / "nope")
    assert info.value.hint and "keygen" in info.value.hint


@pytest.mark.parametrize("raw", [b"", bytes(31), bytes(33), "x" * 32])
def test_wrong_length_is_refused(raw: object) -> None:
    with pytest.raises(SecretError, match=f"exactly {SECRET_BYTES} bytes"):
        LinkageSecret(raw)  # type: ignore[arg-type]


def test_derive_is_rfc5869_hkdf_with_purpose_and_field_labels() -> None:
    s = LinkageSecret(SECRET)
    assert s.derive("bloom", "surname") == _hkdf_sha256(SECRET, b"hashmatch/v1/bloom/surname")
    assert s.commitment() == _hkdf_sha256(SECRET, b"hashmatch/v1/commitment/").hex()


def test_keys_differ_by_purpose_field_and_secret() -> None:
    s, t = LinkageSecret(SECRET), LinkageSecret(bytes(32))
    keys = {
        s.derive("bloom", "a"),
        s.derive("bloom", "b"),
        s.derive("exact", "a"),
        s.derive("matchkey", "a"),
        t.derive("bloom", "a"),
        bytes.fromhex(s.commitment()),
    }
    assert len(keys) == 6
    assert s.commitment() != t.commitment()
    with pytest.raises(ValueError, match="unknown key purpose"):
        s.derive("blom", "a")


def test_secret_never_shows_in_repr_or_pickles() -> None:
    s = LinkageSecret(SECRET)
    assert SECRET.hex() not in repr(s) + str(s)
    assert "hidden" in repr(s)
    with pytest.raises(TypeError):
        pickle.dumps(s)


def test_commitment_reveals_nothing_of_the_secret() -> None:
    s = LinkageSecret(SECRET)
    c = bytes.fromhex(s.commitment())
    assert SECRET not in c and SECRET[:8] not in c
    assert c != hashlib.sha256(SECRET).digest()
