# cython: language_level=3, boundscheck=False, wraparound=False
"""Many HMAC-SHA256 tokens in one call, over the SHA-256 of the OpenSSL Python links.

SHA-256 itself is OpenSSL's, reached through the addresses of its ``SHA256_Init``,
``SHA256_Update`` and ``SHA256_Final`` that :mod:`hashmatch.encode.libcrypto` finds in the
library Python's own ``hashlib`` has loaded (nothing is linked at build time, so building
needs no OpenSSL headers). What is done here is what :class:`hashmatch.encode.prf.HmacSha256`
does in Python (RFC 2104 with the key's pad states prepared once), without a Python call
per message: the low-level digest state is a plain struct copied in place, where
``hashlib``'s ``copy()`` allocates a new context (measured: 120 ns a token here, 550-800
through ``hashlib``). :mod:`hashmatch.encode.prf` checks the result against the Python
definition before using it.
"""

from cpython.bytes cimport (
    PyBytes_AS_STRING, PyBytes_Check, PyBytes_FromStringAndSize, PyBytes_GET_SIZE,
)
from cpython.unicode cimport PyUnicode_Check
from libc.stdint cimport uintptr_t
from libc.string cimport memcpy

cdef extern from "Python.h":
    const char* PyUnicode_AsUTF8AndSize(object text, Py_ssize_t* size) except NULL

ctypedef int (*sha256_init_t)(void* state) nogil
ctypedef int (*sha256_update_t)(void* state, const void* data, size_t length) nogil
ctypedef int (*sha256_final_t)(unsigned char* digest, void* state) nogil

cdef enum:
    STATE_BYTES = 256  # room for OpenSSL's SHA256_CTX (112 bytes in every release)
    BLOCK = 64
    DIGEST = 32
    TOKEN = 16


cdef class CompiledHmac:
    """HMAC-SHA256 under one key (at most one 64-byte block: longer keys are hashed by
    the caller, as RFC 2104 says), tokens of the first 16 bytes."""

    cdef unsigned char inner[STATE_BYTES]
    cdef unsigned char outer[STATE_BYTES]
    cdef sha256_update_t update
    cdef sha256_final_t final

    def __init__(self, uintptr_t init, uintptr_t update, uintptr_t final, bytes key):
        if len(key) > BLOCK:
            raise ValueError("the key must be at most one SHA-256 block")
        cdef unsigned char ipad[BLOCK]
        cdef unsigned char opad[BLOCK]
        cdef Py_ssize_t i
        cdef const unsigned char* k = <const unsigned char*>PyBytes_AS_STRING(key)
        for i in range(BLOCK):
            ipad[i] = (k[i] if i < len(key) else 0) ^ 0x36
            opad[i] = (k[i] if i < len(key) else 0) ^ 0x5C
        self.update = <sha256_update_t>update
        self.final = <sha256_final_t>final
        (<sha256_init_t>init)(self.inner)
        self.update(self.inner, ipad, BLOCK)
        (<sha256_init_t>init)(self.outer)
        self.update(self.outer, opad, BLOCK)

    def tokens(self, list messages) -> bytes:
        """The tokens of ``messages`` (bytes, or str hashed as UTF-8), concatenated."""
        cdef Py_ssize_t n = len(messages), i, size
        cdef const char* data
        out = PyBytes_FromStringAndSize(NULL, n * TOKEN)
        cdef unsigned char* tokens = <unsigned char*>PyBytes_AS_STRING(out)
        cdef unsigned char state[STATE_BYTES]
        cdef unsigned char digest[DIGEST]
        for i in range(n):
            message = messages[i]
            if PyUnicode_Check(message):
                data = PyUnicode_AsUTF8AndSize(message, &size)
            elif PyBytes_Check(message):
                data = PyBytes_AS_STRING(message)
                size = PyBytes_GET_SIZE(message)
            else:
                raise TypeError(f"a message must be bytes or str, not {type(message).__name__}")
            memcpy(state, self.inner, STATE_BYTES)
            self.update(state, data, <size_t>size)
            self.final(digest, state)
            memcpy(state, self.outer, STATE_BYTES)
            self.update(state, digest, DIGEST)
            self.final(digest, state)
            memcpy(tokens + i * TOKEN, digest, TOKEN)
        return out
