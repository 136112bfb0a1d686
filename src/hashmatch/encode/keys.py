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

Messages about the secret name the file and the problem, never any of its content.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from hashmatch.atomic import atomic_write
from hashmatch.errors import SecretError

SECRET_BYTES = 32
_MAGIC_LINE = "# hashmatch linkage secret v1: keep private; never send it to the coordinator"
_INFO_PREFIX = b"hashmatch/v1/"
#: Purposes a key can be derived for (a typo must not silently make a new key space).
PURPOSES = ("bloom", "exact", "matchkey", "commitment", "harden")


class LinkageSecret:
    """A 256-bit linkage secret. Its bytes never appear in ``repr``, ``str`` or errors.

    Example
    -------
    >>> s = LinkageSecret(bytes(32))
    >>> len(s.derive("bloom", "first_name")), s
    (32, LinkageSecret(<hidden>))
    """

    __slots__ = ("_secret",)

    def __init__(self, secret: bytes) -> None:
        if not isinstance(secret, bytes | bytearray) or len(secret) != SECRET_BYTES:
            got = len(secret) if isinstance(secret, bytes | bytearray) else type(secret).__name__
            msg = f"a linkage secret must be exactly {SECRET_BYTES} bytes, got {got}"
            raise SecretError(msg)
        self._secret = bytes(secret)

    def __repr__(self) -> str:
        return "LinkageSecret(<hidden>)"

    __str__ = __repr__

    def __reduce__(self) -> str:  # keep it out of pickles sent to other processes by mistake
        msg = "a LinkageSecret is not picklable"
        raise TypeError(msg)

    @classmethod
    def generate(cls) -> LinkageSecret:
        """A new random secret from the operating system's CSPRNG."""
        return cls(secrets.token_bytes(SECRET_BYTES))

    # -- files ---------------------------------------------------------------------------

    def write(self, path: str | os.PathLike[str]) -> None:
        """Write the secret to a new file readable by its owner only (mode 0600).

        Raises
        ------
        SecretError
            ``path`` exists already (a secret is never overwritten: encodings made with the
            old one would become unlinkable) or cannot be written.
        """
        p = Path(path)
        text = f"{_MAGIC_LINE}\n{self._secret.hex()}\n"
        try:
            with atomic_write(p, "w", permissions=0o600, overwrite=False) as fh:
                fh.write(text)
        except FileExistsError:
            msg = f"{p} exists already; refusing to overwrite a linkage secret"
            raise SecretError(msg, hint="choose another file name or delete it first") from None
        except OSError as exc:
            msg = f"cannot write the secret to {p}: {exc.strerror or type(exc).__name__}"
            raise SecretError(msg) from None

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> LinkageSecret:
        """Read a secret file written by :meth:`write` (``hashmatch keygen``).

        Raises
        ------
        SecretError
            The file is missing, readable by group or others, not a secret file, or holds
            the wrong number of bytes. The message never quotes the content.
        """
        p = Path(path)
        try:
            st = p.stat()
        except FileNotFoundError:
            raise SecretError(
                f"secret file {p} not found", hint="create one with: hashmatch keygen -o FILE"
            ) from None
        except OSError as exc:
            msg = f"cannot read secret file {p}: {exc.strerror or type(exc).__name__}"
            raise SecretError(msg) from None
        if not stat.S_ISREG(st.st_mode):
            msg = f"secret file {p} is not a regular file"
            raise SecretError(msg)
        if os.name == "posix" and st.st_mode & 0o077:
            msg = (
                f"secret file {p} is readable or writable by group/others "
                f"(mode {stat.S_IMODE(st.st_mode):04o}); expected 0600"
            )
            raise SecretError(msg, hint=f"run: chmod 600 {p}")
        try:
            raw = p.read_bytes()
        except OSError as exc:
            msg = f"cannot read secret file {p}: {exc.strerror or type(exc).__name__}"
            raise SecretError(msg) from None
        return cls(_parse(raw, p))

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


def _parse(raw: bytes, path: Path) -> bytes:
    try:
        lines = [ln.strip() for ln in raw.decode("ascii").splitlines()]
    except UnicodeDecodeError:
        lines = []
    body = [ln for ln in lines if ln and not ln.startswith("#")]
    if not lines or lines[0] != _MAGIC_LINE or len(body) != 1:
        msg = f"{path} is not a hashmatch linkage secret file"
        raise SecretError(msg, hint="create one with: hashmatch keygen -o FILE")
    text = body[0]
    if len(text) != 2 * SECRET_BYTES or any(c not in "0123456789abcdef" for c in text):
        msg = (
            f"secret file {path} holds a malformed key; expected {2 * SECRET_BYTES} "
            f"lower-case hex digits ({SECRET_BYTES} bytes)"
        )
        raise SecretError(msg)
    return bytes.fromhex(text)
