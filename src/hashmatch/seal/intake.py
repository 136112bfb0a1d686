"""Coordinator intake: turn the files the parties sent into plain ``.hme`` files to link.

Parties may send plain encoding files or sealed ones (``hashmatch.seal.envelope``: encrypted for the
coordinator, signed by the party). This module sits in front of :func:`hashmatch.link.link_files`:
it verifies and decrypts each sealed input into a private working folder, checks that the
party named on the envelope is the party named inside the encodings, and applies the
signature policy to every input, so the linkage itself never sees a file it should not trust.

Signature policy:

* ``trusted`` given and ``require_signature`` (the default): every input must be sealed and
  signed by the trusted key of the party it names; plain files are refused.
* ``require_signature=False``: unsigned sealed files and plain files are accepted; signed
  files are still verified when ``trusted`` is given.
* ``trusted=None`` with ``require_signature``: a sealed input is refused (there is nothing
  to verify its signature against); plain files pass through as before sealing existed.

Decrypted copies are the coordinator's private working data, so they never get a name on
disk: each lives in an anonymous file (:mod:`hashmatch.anonymous_file`: in memory on
Linux), read through ``/proc/self/fd/N``, and vanishes when :func:`opened_inputs` closes it,
or with the process, even on SIGKILL.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from hashmatch.anonymous_file import anonymous_file, reopen_path
from hashmatch.encfile import EncodingFile
from hashmatch.errors import EncodingFileError, SealedFileError, SignatureError
from hashmatch.seal.envelope import is_sealed, open_sealed
from hashmatch.seal.keyfiles import CoordinatorKey, PartyPublicKey

__all__ = ["Input", "open_inputs", "opened_inputs"]


@dataclass(frozen=True)
class Input:
    """One input ready to link: the ``.hme`` to open (for a sealed input, the path of its
    decrypted anonymous copy) and, for a sealed input, what its verified envelope says
    (for report.json: who signed it, for which coordinator key, when). Usable wherever a
    path is expected; :meth:`close` releases a decrypted copy."""

    path: Path
    envelope: Mapping[str, Any] | None = None
    source: Path | None = None  # the file the party sent, for a sealed input
    plain: IO[bytes] | None = field(default=None, repr=False, compare=False)

    def __fspath__(self) -> str:
        return str(self.path)

    def close(self) -> None:
        if self.plain is not None:
            self.plain.close()


def open_inputs(
    paths: Sequence[str | os.PathLike[str]],
    *,
    key: CoordinatorKey | None = None,
    trusted: Mapping[str, PartyPublicKey] | None = None,
    require_signature: bool = True,
) -> list[Input]:
    """Verify and decrypt the sealed inputs into anonymous files; return the inputs to link.

    Plain ``.hme`` inputs are returned as they are (subject to the signature policy in the
    module docstring); a sealed input becomes an :class:`Input` whose ``path`` reopens its
    decrypted anonymous copy. The caller closes the inputs (:func:`opened_inputs` does);
    on an error here, the copies made so far are closed.

    Parameters
    ----------
    paths:
        The files the parties sent, in linkage order.
    key:
        The coordinator's private key; needed as soon as one input is sealed.
    trusted:
        Party name -> public signing key (:func:`hashmatch.seal.keyfiles.load_trusted_parties`).
    require_signature:
        Refuse inputs whose signature cannot be verified against ``trusted``.

    Raises
    ------
    SealedFileError
        A sealed input without ``key``, or a sealed file that is truncated or corrupt.
    WrongRecipientError
        Sealed for another coordinator key.
    SignatureError
        Unsigned or plain when signatures are required, untrusted or wrong signer,
        modified after sealing, or sealed under one party's name around another party's
        encodings.
    EncodingFileError
        An input is missing or unreadable, or the decrypted content is not an ``.hme`` file.
    """
    inputs = [Path(p) for p in paths]
    sealed = [_sealed(path) for path in inputs]
    # The policy is checked for every input before anything is decrypted.
    for path, is_sealed_input in zip(inputs, sealed, strict=True):
        _check_policy(path, is_sealed_input, key, trusted, require_signature)
    opened: list[Input] = []
    try:
        for path, is_sealed_input in zip(inputs, sealed, strict=True):
            if not is_sealed_input:
                opened.append(Input(path))
                continue
            assert key is not None  # _check_policy
            opened.append(_decrypted(path, key, trusted, require_signature))
    except BaseException:
        for done in opened:
            done.close()
        raise
    return opened


def _decrypted(
    path: Path,
    key: CoordinatorKey,
    trusted: Mapping[str, PartyPublicKey] | None,
    require_signature: bool,
) -> Input:
    plain = anonymous_file(f"hashmatch-intake-{path.name}")
    try:
        header = open_sealed(
            path, plain, key=key, trusted=trusted, require_signature=require_signature
        )
        target = reopen_path(plain)
        _check_inner_party(path, target, header.party)
    except BaseException:
        plain.close()
        raise
    envelope = {
        "sealed": True,
        "sealed_at": header.created,
        "recipient_key_id": header.recipient_key_id,
        "signer_key_id": header.signer_key_id,
        # open_sealed has verified a signature whenever there were keys to check it by
        "signature_verified": header.signer_key_id is not None and trusted is not None,
    }
    return Input(target, envelope, source=path, plain=plain)


@contextmanager
def opened_inputs(
    paths: Sequence[str | os.PathLike[str]],
    *,
    key: CoordinatorKey | None = None,
    trusted: Mapping[str, PartyPublicKey] | None = None,
    require_signature: bool = True,
) -> Iterator[list[Input]]:
    """:func:`open_inputs`, closing (and so discarding) every decrypted copy on exit.

    Example
    -------
    >>> with opened_inputs([]) as files:
    ...     files
    []
    """
    inputs = open_inputs(paths, key=key, trusted=trusted, require_signature=require_signature)
    try:
        yield inputs
    finally:
        for item in inputs:
            item.close()


def _sealed(path: Path) -> bool:
    try:
        return is_sealed(path)
    except FileNotFoundError:
        raise EncodingFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise EncodingFileError(f"{path}: is a directory, not an encoding file") from None
    except OSError as exc:
        raise EncodingFileError(f"{path}: cannot be read ({exc.strerror})") from None


def _check_policy(
    path: Path,
    sealed: bool,
    key: CoordinatorKey | None,
    trusted: Mapping[str, PartyPublicKey] | None,
    require_signature: bool,
) -> None:
    """Refuse an input the signature policy rules out, or one that cannot be opened."""
    if not sealed:
        if trusted is not None and require_signature:
            raise SignatureError(
                f"{path} is not sealed, so it carries no signature, and signatures are required",
                hint="the party must encode with --seal-for coordinator.pub --sign PARTY.key "
                "(or pass --allow-unsigned)",
            )
        return
    if key is None:
        raise SealedFileError(
            f"{path} is sealed, and no coordinator key was given to open it",
            hint="pass the coordinator's private key: --key coordinator.key",
        )
    if trusted is None and require_signature:
        raise SignatureError(
            f"{path} is sealed, and no trusted party keys were given to verify its signature",
            hint="pass the folder of trusted party keys (--trust parties/), or "
            "--allow-unsigned to accept files whose sender is not verified",
        )


def _check_inner_party(path: Path, decrypted: Path, sealed_party: str) -> None:
    """The envelope's party must be the party the encodings were made by.

    Without this, a party could wrap another party's file under its own name and key
    (a replayed or borrowed file would pass the signature check).
    """
    try:
        with EncodingFile.open(decrypted, verify=False) as inner:
            inner_party = inner.header.party
    except EncodingFileError as exc:
        raise EncodingFileError(
            f"{path}: the sealed content is not a usable encoding file ({exc})", hint=exc.hint
        ) from None
    if inner_party != sealed_party:
        raise SignatureError(
            f"{path} is sealed as party {sealed_party!r} but holds the encodings of "
            f"party {inner_party!r}",
            hint="each party must seal its own encoding file under its own name",
        )
