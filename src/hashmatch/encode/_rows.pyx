# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""Compiled row loops of the encoder: factorising integer keys, OR-ing filter rows.

The encoder does its real work once per distinct value and then only moves rows: every
row's field filters are OR-ed into its CLK, and every row's combination of part ids is
numbered. In numpy each of those steps is a gather into a temporary plus a second pass
(or a sort, for ``np.unique``); here each is one pass over the rows. Validation lives
with the callers (``hashmatch.encode``), which pass arrays of the right shapes and dtypes.
"""

import numpy as np
cimport numpy as cnp
from libc.stdint cimport int64_t, uint8_t, uint64_t
from libc.string cimport memcpy
from libc.stdlib cimport free, malloc

cnp.import_array()

ctypedef cnp.intp_t intp_t

# Fibonacci hashing: the multiplier spreads consecutive ids over the whole table.
cdef uint64_t _GOLDEN = 0x9E3779B97F4A7C15ULL


def factorize(const int64_t[::1] values):
    """``(distinct, codes)``: the distinct values in order of first appearance (int64)
    and each value's index among them (intp), so ``distinct[codes] == values``.

    One pass with an open-addressing hash table (linear probing, load <= 1/2): O(n),
    where ``np.unique`` sorts.
    """
    cdef Py_ssize_t n = values.shape[0], i, slot, found = 0
    cdef int bits = 1
    while (<Py_ssize_t>1 << bits) < 2 * n:
        bits += 1
    cdef Py_ssize_t size = <Py_ssize_t>1 << bits
    cdef uint64_t mask = <uint64_t>size - 1
    cdef int shift = 64 - bits
    codes_array = np.empty(n, dtype=np.intp)
    distinct_array = np.empty(n, dtype=np.int64)
    cdef intp_t[::1] codes = codes_array
    cdef int64_t[::1] distinct = distinct_array
    cdef intp_t *table = <intp_t *>malloc(size * sizeof(intp_t))  # slot -> index + 1
    if table == NULL:
        raise MemoryError()
    cdef int64_t value
    try:
        with nogil:
            for slot in range(size):
                table[slot] = 0
            for i in range(n):
                value = values[i]
                slot = <Py_ssize_t>((<uint64_t>value * _GOLDEN) >> shift)
                while table[slot] != 0 and distinct[table[slot] - 1] != value:
                    slot = <Py_ssize_t>((<uint64_t>slot + 1) & mask)
                if table[slot] == 0:
                    distinct[found] = value
                    found += 1
                    table[slot] = found
                codes[i] = table[slot] - 1
    finally:
        free(table)
    return distinct_array[:found].copy(), codes_array


def or_fields(uint64_t[:, ::1] out, first_words, tables, const intp_t[:, ::1] codes):
    """OR several fields' filters into the rows' CLK words, one row at a time:
    ``out[r, first_words[f]:first_words[f] + w_f] |= tables[f][codes[f, r]]``.

    ``tables[f]`` is field ``f``'s C-contiguous ``uint64[values, w_f]`` filter rows. A row
    of ``out`` is read and written once for all fields, while it is in the L1 cache.
    """
    cdef Py_ssize_t fields = len(tables), n = out.shape[0], f, r, w, width
    if codes.shape[0] != fields or len(first_words) != fields or codes.shape[1] != n:
        raise ValueError("or_fields: one first word and one row of codes per table")
    cdef const uint64_t[:, ::1] table
    cdef const uint64_t **rows = <const uint64_t **>malloc(fields * sizeof(void *))
    cdef Py_ssize_t *widths = <Py_ssize_t *>malloc(fields * sizeof(Py_ssize_t))
    cdef Py_ssize_t *firsts = <Py_ssize_t *>malloc(fields * sizeof(Py_ssize_t))
    cdef uint64_t *dst
    cdef const uint64_t *src
    if rows == NULL or widths == NULL or firsts == NULL:
        free(rows); free(widths); free(firsts)
        raise MemoryError()
    try:
        for f in range(fields):
            table = tables[f]
            widths[f], firsts[f] = table.shape[1], first_words[f]
            rows[f] = &table[0, 0] if table.shape[0] and widths[f] else NULL
            if firsts[f] < 0 or firsts[f] + widths[f] > out.shape[1]:
                raise ValueError("or_fields: a field's words fall outside out")
            for r in range(n):
                if codes[f, r] < 0 or codes[f, r] >= table.shape[0]:
                    raise IndexError("or_fields: a code is outside its table")
        with nogil:
            for r in range(n):
                for f in range(fields):
                    width = widths[f]
                    if width == 0:
                        continue
                    dst = &out[r, 0] + firsts[f]
                    src = rows[f] + codes[f, r] * width
                    for w in range(width):
                        dst[w] |= src[w]
    finally:
        free(rows); free(widths); free(firsts)


def or_segments(
    uint64_t[:, ::1] out,
    const uint64_t[:, ::1] table,
    const intp_t[::1] codes,
    const intp_t[::1] starts,
):
    """``out[s] |= table[codes[k]]`` for every ``k`` of segment ``s``, which runs from
    ``starts[s]`` to ``starts[s + 1]`` (the last to the end of ``codes``): each value's
    filter as the OR of its q-grams' masks, without a per-gram temporary."""
    cdef Py_ssize_t segments = starts.shape[0], n = codes.shape[0], width = table.shape[1]
    cdef Py_ssize_t s, k, end, w
    cdef uint64_t *dst
    cdef const uint64_t *src
    if out.shape[0] != segments or out.shape[1] != width:
        raise ValueError("or_segments: out needs one row per segment, as wide as the table")
    for s in range(segments):
        end = starts[s + 1] if s + 1 < segments else n
        if starts[s] < 0 or starts[s] > end or end > n:
            raise ValueError("or_segments: segment starts must be ascending within codes")
    for k in range(n):
        if codes[k] < 0 or codes[k] >= table.shape[0]:
            raise IndexError("or_segments: a code is outside the table")
    if width == 0:
        return
    with nogil:
        for s in range(segments):
            end = starts[s + 1] if s + 1 < segments else n
            dst = &out[s, 0]
            for k in range(starts[s], end):
                src = &table[codes[k], 0]
                for w in range(width):
                    dst[w] |= src[w]


def set_bits(uint64_t[:, ::1] rows, const int64_t[:, ::1] positions):
    """Set bit ``positions[i, t]`` (counted from bit 0 of word 0) of row ``i``, for every
    ``t``: each feature's mask from its ``k`` positions (``np.bitwise_or.at`` is slow)."""
    cdef Py_ssize_t n = positions.shape[0], k = positions.shape[1], i, t
    cdef int64_t bit, nbits = rows.shape[1] * 64
    if rows.shape[0] != n:
        raise ValueError("set_bits: one row of positions per row")
    for i in range(n):
        for t in range(k):
            if positions[i, t] < 0 or positions[i, t] >= nbits:
                raise IndexError("set_bits: a position is outside the row")
    with nogil:
        for i in range(n):
            for t in range(k):
                bit = positions[i, t]
                rows[i, bit >> 6] |= (<uint64_t>1) << (bit & 63)


cdef extern from "Python.h":
    bint PyUnicode_IS_ASCII(object text)
    const char *PyUnicode_DATA(object text)
    Py_ssize_t PyUnicode_GET_LENGTH(object text)
    object PyBytes_FromStringAndSize(const char *data, Py_ssize_t size)
    char *PyBytes_AS_STRING(object data)

cdef const char *_HEX = b"0123456789abcdef"


def lookup_lines(const uint8_t[:, ::1] tokens, list ids):
    """The lookup file's rows ``hex(token),id\\r\\n`` as ASCII bytes, or None when an id
    is not an ASCII ``str``, holds a character the csv module would quote (``,"``, CR,
    LF) or starts with one a spreadsheet-safe cell may need to escape (``=+-@'``, TAB;
    see hashmatch.csv_cells): the caller then writes through the csv module and
    csv_cells, whose bytes these equal for every other id."""
    cdef Py_ssize_t n = len(ids), r, c, length, total = 0, width = tokens.shape[1]
    cdef const char *text
    cdef char ch
    if tokens.shape[0] != n:
        raise ValueError("lookup_lines: one token per id")
    for r in range(n):
        rid = ids[r]
        if type(rid) is not str or not PyUnicode_IS_ASCII(rid):
            return None
        text = PyUnicode_DATA(rid)
        length = PyUnicode_GET_LENGTH(rid)
        if length and (text[0] == b'=' or text[0] == b'+' or text[0] == b'-'
                       or text[0] == b'@' or text[0] == b"'" or text[0] == b'\t'):
            return None
        for c in range(length):
            ch = text[c]
            if ch == b',' or ch == b'"' or ch == b'\r' or ch == b'\n':
                return None
        total += 2 * width + length + 3
    out = PyBytes_FromStringAndSize(NULL, total)
    cdef char *dst = PyBytes_AS_STRING(out)
    cdef uint8_t byte
    for r in range(n):
        for c in range(width):
            byte = tokens[r, c]
            dst[0] = _HEX[byte >> 4]
            dst[1] = _HEX[byte & 15]
            dst += 2
        dst[0] = b','
        dst += 1
        rid = ids[r]
        length = PyUnicode_GET_LENGTH(rid)
        memcpy(dst, PyUnicode_DATA(rid), length)
        dst += length
        dst[0] = b'\r'
        dst[1] = b'\n'
        dst += 2
    return out


def qgram_codes(list values, int q, int pad):
    """``(codes, counts)``: the q-grams of each ASCII value padded with ``pad`` underscores
    on both sides, value after value, each gram as the integer of its ``q`` bytes read
    big-endian (``q <= 7``); ``counts[i]`` grams of value ``i`` (0 when its padded form is
    shorter than ``q``). One pass over the characters, no joined text or index arrays."""
    cdef Py_ssize_t n = len(values), i, p, length, total = 0, k = 0
    cdef int64_t code
    cdef int64_t mask = ((<int64_t>1) << (8 * q)) - 1
    cdef const char *text
    cdef char ch
    if q < 1 or q > 7 or pad < 0:
        raise ValueError("qgram_codes: q must be 1 to 7 and pad at least 0")
    counts_array = np.empty(n, dtype=np.intp)
    cdef intp_t[::1] counts = counts_array
    for i in range(n):
        value = values[i]
        if type(value) is not str or not PyUnicode_IS_ASCII(value):
            raise ValueError("qgram_codes: every value must be an ASCII str")
        length = PyUnicode_GET_LENGTH(value) + 2 * pad
        counts[i] = length - q + 1 if length >= q else 0
        total += counts[i]
    codes_array = np.empty(total, dtype=np.int64)
    cdef int64_t[::1] codes = codes_array
    for i in range(n):
        if counts[i] == 0:
            continue
        value = values[i]
        text = PyUnicode_DATA(value)
        length = PyUnicode_GET_LENGTH(value)
        code = 0
        for p in range(length + 2 * pad):
            ch = text[p - pad] if pad <= p < pad + length else b'_'
            code = ((code << 8) | <unsigned char>ch) & mask
            if p >= q - 1:
                codes[k] = code
                k += 1
    return codes_array, counts_array
