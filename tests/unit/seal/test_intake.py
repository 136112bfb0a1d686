"""Coordinator intake: the signature policy, decrypted copies without a name, the party check."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest

from hashmatch.encfile import EncodingFile, EncodingWriter
from hashmatch.errors import EncodingFileError, SealedFileError, SignatureError
from hashmatch.seal.envelope import seal_file
from hashmatch.seal.intake import Input, open_inputs, opened_inputs
from hashmatch.seal.keyfiles import CoordinatorKey, PartyPublicKey, PartySigningKey


def _hme(path: Path, party: str) -> Path:
    with EncodingWriter(
        path,
        party=party,
        schema_fingerprint="sha256:00",
        clk_bits=64,
        segments=[("name", 0, 64)],
        token_names=[],
        field_names=["name"],
    ) as w:
        w.append(
            np.arange(3, dtype=np.uint64).reshape(3, 1),
            {},
            np.ones((3, 1), bool),
            np.full((3, 16), 7, np.uint8),
        )
    return path


@pytest.fixture()
def world(tmp_path: Path) -> dict:
    coordinator = CoordinatorKey.generate()
    signers = {name: PartySigningKey.generate(name) for name in ("crm", "partner")}
    plain = {name: _hme(tmp_path / f"{name}.hme", name) for name in signers}
    sealed = {}
    for name, signer in signers.items():
        sealed[name] = tmp_path / f"{name}.sealed"
        seal_file(
            plain[name], sealed[name], party=name, recipient=coordinator.public, signer=signer
        )
    trusted: dict[str, PartyPublicKey] = {name: s.public for name, s in signers.items()}
    return {
        "key": coordinator,
        "signers": signers,
        "trusted": trusted,
        "plain": plain,
        "sealed": sealed,
        "folder": tmp_path,
    }


def test_sealed_inputs_are_decrypted_privately_with_their_envelope(world: dict) -> None:
    sealed = world["sealed"]
    inputs = open_inputs(
        [sealed["crm"], sealed["partner"]],
        key=world["key"],
        trusted=world["trusted"],
    )
    assert [i.source for i in inputs] == [sealed["crm"], sealed["partner"]]
    for item, name in zip(inputs, ("crm", "partner"), strict=True):
        # an anonymous file (memfd), read through /proc/self/fd: no name on any disk
        assert str(item.path).startswith(("/proc/self/fd/", "/dev/fd/"))
        assert item.path.read_bytes() == world["plain"][name].read_bytes()
        assert item.envelope is not None
        assert item.envelope["signature_verified"] is True
        assert item.envelope["signer_key_id"] == world["signers"][name].key_id
        assert item.envelope["recipient_key_id"] == world["key"].key_id
        with EncodingFile.open(item) as f:  # an Input is usable as a path
            assert f.header.party == name


def test_plain_files_need_a_waiver_once_signatures_are_trusted(world: dict) -> None:
    plain = world["plain"]["crm"]
    with pytest.raises(SignatureError, match="not sealed"):
        open_inputs([plain], trusted=world["trusted"])
    inputs = open_inputs(
        [plain], trusted=world["trusted"], require_signature=False
    )
    assert inputs == [Input(plain)]
    assert open_inputs([plain]) == [Input(plain)]  # no keys at all


def test_a_sealed_input_needs_the_key_and_something_to_verify_it_by(world: dict) -> None:
    sealed = world["sealed"]["crm"]
    with pytest.raises(SealedFileError, match="no coordinator key") as caught:
        open_inputs([sealed], trusted=world["trusted"])
    assert "--key" in caught.value.hint
    with pytest.raises(SignatureError, match="no trusted party keys"):
        open_inputs([sealed], key=world["key"])
    inputs = open_inputs([sealed], key=world["key"], require_signature=False)
    assert inputs[0].envelope is not None
    assert inputs[0].envelope["signature_verified"] is False  # opened, sender not verified


def test_the_policy_is_checked_for_every_input_before_anything_is_decrypted(
    world: dict,
) -> None:
    with pytest.raises(SignatureError, match="not sealed"):
        open_inputs(
            [world["sealed"]["crm"], world["plain"]["partner"]],
            key=world["key"],
            trusted=world["trusted"],
        )
    assert sorted(p.name for p in world["folder"].iterdir()) == sorted(
        ["crm.hme", "partner.hme", "crm.sealed", "partner.sealed"]
    )


def test_a_party_cannot_seal_another_partys_encodings(world: dict, tmp_path: Path) -> None:
    # crm wraps partner's file under its own name and key: the signature is valid.
    borrowed = tmp_path / "borrowed.sealed"
    seal_file(
        world["plain"]["partner"],
        borrowed,
        party="crm",
        recipient=world["key"].public,
        signer=world["signers"]["crm"],
    )
    with pytest.raises(SignatureError, match="sealed as party 'crm' but holds .* 'partner'"):
        open_inputs([borrowed], key=world["key"], trusted=world["trusted"])


def test_decrypted_copies_get_no_name_in_tmpdir(
    world: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    watched = tmp_path / "tmpdir"
    watched.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(watched))
    inputs = open_inputs([world["sealed"]["crm"]], key=world["key"], trusted=world["trusted"])
    assert list(watched.iterdir()) == []
    for item in inputs:
        item.close()


@pytest.mark.parametrize("name", ["missing.hme", "."])
def test_an_unreadable_input_is_named(world: dict, tmp_path: Path, name: str) -> None:
    with pytest.raises(EncodingFileError, match="no such file|is a directory"):
        open_inputs([tmp_path / name])


def test_opened_inputs_closes_the_decrypted_copies_also_on_error(world: dict) -> None:
    kwargs = {"key": world["key"], "trusted": world["trusted"]}
    with opened_inputs([world["sealed"]["crm"]], **kwargs) as inputs:
        plain = inputs[0].plain
        assert plain is not None and inputs[0].path.is_file()
    assert plain.closed  # the memory is released: the copy is gone
    with pytest.raises(RuntimeError), opened_inputs([world["sealed"]["crm"]], **kwargs) as inputs:
        plain = inputs[0].plain
        raise RuntimeError
    assert plain is not None and plain.closed
