"""The linkage secret and the keys derived from it.

Every party of one linkage holds the same 256-bit secret; the coordinator never does.
Nothing is keyed with the secret directly: each use gets its own 32-byte key from
HKDF-SHA256 (RFC 5869, from ``cryptography``) with ``info = b"hashmatch/v1/" + purpose +
b"/" + field``, so a key leaked from one purpose (say, the Bloom key of ``postcode``) says
nothing about any other. Purposes: ``bloom``, ``exact``, ``matchkey``, ``commitment``,
``harden``.

The *secret commitment* stored in every encoding file is the HKDF output for purpose
``commitment``. It is a pseudo-random function of a 256-bit secret, so it reveals nothing
about it, yet two files made with different secrets show different commitments and the
coordinator can refuse to compare them (``SecretMismatchError``).

Secret file format, version 1 (UTF-8 text, mode 0600)::

    # hashmatch linkage secret v1: keep private; never send it to the coordinator
    <64 lower-case hex digits>

The *row key* (:class:`RowKey`) is the party's own, not shared: a random 256-bit key,
made by the first ``hashmatch encode`` and kept beside the lookup file. A row token is
``BLAKE2b-128(key = row key, person = "hm/row-token/v1", record id as UTF-8)``, so the same
record id gets the same token on every run (the coordinator can recognise a record it
has seen), nobody without the row key can turn a token back into an id or test a guessed
one, and two parties' tokens are unrelated even for equal ids (each party has its own
key; the shared linkage secret plays no part). The PRF is keyed BLAKE2b (RFC 7693, from
``hashlib``; the Bloom positions use it too) with a 16-byte digest and the
personalisation ``hm/row-token/v1``: a MAC by design, and 2.5 times faster per row than
HMAC-SHA256, which matters because every row has a distinct id (nothing to memoise).
Row key file format, version 1, like the secret's with another first line::

    # hashmatch row key v1: keep private, beside your lookup file; never send it anywhere
    <64 lower-case hex digits>

Messages about a key name the file and the problem, never any of its content.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np
import numpy.typing as npt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from hashmatch.atomic import atomic_write
from hashmatch.errors import SecretError

SECRET_BYTES = 32
_MAGIC_LINE = "# hashmatch linkage secret v1: keep private; never send it to the coordinator"
_ROW_KEY_MAGIC = (
    "# hashmatch row key v1: keep private, beside your lookup file; never send it anywhere"
)
_ROW_TOKEN_PERSON = b"hm/row-token/v1"
_INFO_PREFIX = b"hashmatch/v1/"
#: Purposes a key can be derived for (a typo must not silently make a new key space).
PURPOSES = ("bloom", "exact", "matchkey", "commitment", "harden")


class _KeyFile:
    """A 256-bit key held in memory and in a text file readable by its owner only.

    The bytes never appear in ``repr``, ``str``, pickles or errors. Subclasses name the
    file's magic line and what the key is, for messages.
    """

    __slots__ = ("_secret",)
    _MAGIC_LINE = ""
    _WHAT = "key"  # "a {_WHAT} must be ..."
    _FILE = "key file"  # "{_FILE} {path} not found"
    _CREATE_HINT = ""

    def __init__(self, secret: bytes) -> None:
        if not isinstance(secret, bytes | bytearray) or len(secret) != SECRET_BYTES:
            got = len(secret) if isinstance(secret, bytes | bytearray) else type(secret).__name__
            msg = f"a {self._WHAT} must be exactly {SECRET_BYTES} bytes, got {got}"
            raise SecretError(msg)
        self._secret = bytes(secret)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(<hidden>)"

    __str__ = __repr__

    def __reduce__(self) -> str:  # keep it out of pickles sent to other processes by mistake
        msg = f"a {type(self).__name__} is not picklable"
        raise TypeError(msg)

    @classmethod
    def generate(cls: type[_K]) -> _K:
        """A new random key from the operating system's CSPRNG."""
        return cls(secrets.token_bytes(SECRET_BYTES))

    # -- files ---------------------------------------------------------------------------

    def write(self, path: str | os.PathLike[str], *, force: bool = False) -> None:
        """Write the key to a new file readable by its owner only (mode 0600).

        An existing file is replaced only with ``force`` (what was made with the old key
        then no longer matches what is made with the new one).

        Raises
        ------
        SecretError
            ``path`` exists already and ``force`` is False.
        OutputError
            ``path`` cannot be written (a folder or device, its folder missing, no
            permission, disk full, ...).
        """
        from hashmatch.output_policy import check_output_file

        p = Path(path)
        refusal = f"{p} exists already; refusing to overwrite a {self._WHAT}"
        if not force and p.exists():
            raise SecretError(refusal, hint="choose another file name (or --force to replace it)")
        check_output_file(p, force=force)
        text = f"{self._MAGIC_LINE}\n{self._secret.hex()}\n"
        try:
            with atomic_write(p, "w", permissions=0o600, overwrite=force) as fh:
                fh.write(text)
        except FileExistsError:
            raise SecretError(refusal, hint="choose another file name or delete it first") from None

    @classmethod
    def load(cls: type[_K], path: str | os.PathLike[str]) -> _K:
        """Read a key file written by :meth:`write`.

        Raises
        ------
        SecretError
            The file is missing, readable by group or others, not a key file of this
            kind, or holds the wrong number of bytes. The message never quotes the content.
        """
        p = Path(path)
        try:
            st = p.stat()
        except FileNotFoundError:
            raise SecretError(f"{cls._FILE} {p} not found", hint=cls._CREATE_HINT) from None
        except OSError as exc:
            msg = f"cannot read {cls._FILE} {p}: {exc.strerror or type(exc).__name__}"
            raise SecretError(msg) from None
        if not stat.S_ISREG(st.st_mode):
            msg = f"{cls._FILE} {p} is not a regular file"
            raise SecretError(msg)
        if os.name == "posix" and st.st_mode & 0o077:
            msg = (
                f"{cls._FILE} {p} is readable or writable by group/others "
                f"(mode {stat.S_IMODE(st.st_mode):04o}); expected 0600"
            )
            raise SecretError(msg, hint=f"run: chmod 600 {p}")
        try:
            raw = p.read_bytes()
        except OSError as exc:
            msg = f"cannot read {cls._FILE} {p}: {exc.strerror or type(exc).__name__}"
            raise SecretError(msg) from None
        return cls(_parse(raw, p, cls))


_K = TypeVar("_K", bound=_KeyFile)


class LinkageSecret(_KeyFile):
    """A 256-bit linkage secret. Its bytes never appear in ``repr``, ``str`` or errors.

    Written by :meth:`write` (``hashmatch keygen``) and read by :meth:`load`.

    Example
    -------
    >>> s = LinkageSecret(bytes(32))
    >>> len(s.derive("bloom", "first_name")), s
    (32, LinkageSecret(<hidden>))
    """

    __slots__ = ()
    _MAGIC_LINE = _MAGIC_LINE
    _WHAT = "linkage secret"
    _FILE = "secret file"
    _CREATE_HINT = "create one with: hashmatch keygen -o FILE"

    # -- derivation ----------------------------------------------------------------------

    def derive(self, purpose: str, field: str = "", length: int = 32) -> bytes:
        """The key for ``purpose`` and ``field``: HKDF-SHA256 with a distinct ``info`` label."""
        if purpose not in PURPOSES:
            msg = f"unknown key purpose {purpose!r}; expected one of {', '.join(PURPOSES)}"
            raise ValueError(msg)
        info = _INFO_PREFIX + purpose.encode() + b"/" + field.encode("utf-8")
        return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(
            self._secret
        )

    def commitment(self) -> str:
        """Hex of the commitment key: identifies the secret without revealing it."""
        return self.derive("commitment").hex()


class RowKey(_KeyFile):
    """The party's private key for row tokens (see the module docstring).

    Example
    -------
    >>> key = RowKey(bytes(32))
    >>> tokens = key.tokens(["cust-7", "cust-8", "cust-7"])
    >>> tokens.shape, bool((tokens[0] == tokens[2]).all()), bool((tokens[0] == tokens[1]).all())
    ((3, 16), True, False)
    """

    __slots__ = ()
    _MAGIC_LINE = _ROW_KEY_MAGIC
    _WHAT = "row key"
    _FILE = "row key file"
    _CREATE_HINT = "hashmatch encode creates one beside the lookup file (see --row-key)"

    def tokens(self, record_ids: Sequence[str]) -> npt.NDArray[np.uint8]:
        """``uint8[len(record_ids), 16]``: the row token of each record id."""
        keyed = hashlib.blake2b(key=self._secret, digest_size=16, person=_ROW_TOKEN_PERSON)

        def token(record_id: str) -> bytes:
            h = keyed.copy()  # the key is absorbed once; a copy continues as a fresh MAC
            h.update(record_id.encode("utf-8"))
            return h.digest()

        out = b"".join(map(token, record_ids))
        return np.frombuffer(out, np.uint8).reshape(len(record_ids), 16).copy()


def key_bytes(key: _KeyFile) -> bytes:
    """The key's bytes, to hand it to a worker process of the same run
    (:mod:`hashmatch.encode.parallel`, through the pool's initializer). Never log them."""
    return key._secret


def _parse(raw: bytes, path: Path, kind: type[_KeyFile]) -> bytes:
    try:
        lines = [ln.strip() for ln in raw.decode("ascii").splitlines()]
    except UnicodeDecodeError:
        lines = []
    body = [ln for ln in lines if ln and not ln.startswith("#")]
    if not lines or lines[0] != kind._MAGIC_LINE or len(body) != 1:
        msg = f"{path} is not a hashmatch {kind._WHAT} file"
        raise SecretError(msg, hint=kind._CREATE_HINT)
    text = body[0]
    if len(text) != 2 * SECRET_BYTES or any(c not in "0123456789abcdef" for c in text):
        msg = (
            f"{kind._FILE} {path} holds a malformed key; expected {2 * SECRET_BYTES} "
            f"lower-case hex digits ({SECRET_BYTES} bytes)"
        )
        raise SecretError(msg)
    return bytes.fromhex(text)
