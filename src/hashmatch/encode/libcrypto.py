"""The SHA-256 functions of the OpenSSL that Python's ``hashlib`` runs on, for compiled code.

:mod:`hashmatch.encode._hmac` hashes many tokens per call through OpenSSL's low-level
``SHA256_Init``/``SHA256_Update``/``SHA256_Final`` (no allocation per message, unlike
``hashlib``'s contexts). Nothing is linked at build time: the functions are looked up in
the ``libcrypto`` this very process has loaded for ``hashlib``, found in Linux's map of
the process. Elsewhere (macOS, where loading a system ``libcrypto`` by name can abort the
process, and Windows) or when anything is missing, :func:`sha256_functions` answers None
and the tokens are computed through ``hashlib``, with the same results.
"""

from __future__ import annotations

import ctypes
import functools
import sys
from pathlib import Path

_MAPS = Path("/proc/self/maps")
_FUNCTIONS = ("SHA256_Init", "SHA256_Update", "SHA256_Final")


@functools.cache
def sha256_functions() -> tuple[int, int, int] | None:
    """Addresses of ``SHA256_Init``, ``SHA256_Update`` and ``SHA256_Final`` in the loaded
    ``libcrypto``, or None when they cannot be had (then use ``hashlib``)."""
    if not sys.platform.startswith("linux"):
        return None
    path = _loaded_libcrypto()
    if path is None:
        return None
    try:
        library = ctypes.CDLL(path)  # already loaded: this only takes a handle to it
        init, update, final = (
            ctypes.cast(getattr(library, name), ctypes.c_void_p).value for name in _FUNCTIONS
        )
    except (OSError, AttributeError):  # a build without the low-level digest functions
        return None
    if init is None or update is None or final is None:
        return None
    return init, update, final


def _loaded_libcrypto() -> str | None:
    """The file of the ``libcrypto`` mapped into this process for ``hashlib`` (None when
    ``hashlib``'s OpenSSL is linked in statically, or there is none)."""
    try:
        import _hashlib  # noqa: F401  (loads the library, if it is a shared one)
    except ImportError:  # a Python built without OpenSSL
        return None
    try:
        with _MAPS.open(encoding="utf-8", errors="replace") as maps:
            for line in maps:
                fields = line.split(maxsplit=5)
                if len(fields) == 6 and Path(fields[5].strip()).name.startswith("libcrypto."):
                    return fields[5].strip()
    except OSError:
        return None
    return None
