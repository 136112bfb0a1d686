# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""Compiled batch fast paths of the normalisers: many distinct raw values in one C loop.

A fast path here never decides anything the normaliser would not: for each value it
either returns exactly the canonical form the normaliser returns, or ``None`` ("not
settled here"), and the caller then runs the normaliser itself on that value (which also
produces every missing/invalid outcome with its reason). So a value of an unusual shape,
a placeholder or an invalid number costs what it did before, and the common, valid
values cost a pass over their characters. The tests hold each fast path to its
normaliser over generated values.
"""

cdef extern from "Python.h":
    bint PyUnicode_IS_ASCII(object text)
    const char *PyUnicode_DATA(object text)
    Py_ssize_t PyUnicode_GET_LENGTH(object text)


cdef inline bint _is_space(char c) noexcept nogil:
    # what str.strip() removes from an ASCII string: \t\n\v\f\r, \x1c-\x1f and space
    return c == 32 or (9 <= c <= 13) or (28 <= c <= 31)


cdef inline bint _is_digit(char c) noexcept nogil:
    return 48 <= c <= 57


cdef inline bint _is_sep(char c) noexcept nogil:
    return c == b'-' or c == b'.' or c == b' '


cdef inline bint _digits(const char *t, Py_ssize_t i, Py_ssize_t count, Py_ssize_t n,
                         char *out) noexcept nogil:
    """Copy ``count`` digits from ``t[i]`` (not past ``t[n]``) to ``out``; 0 if they are not."""
    cdef Py_ssize_t k
    if i + count > n:
        return 0
    for k in range(count):
        if not _is_digit(t[i + k]):
            return 0
        out[k] = t[i + k]
    return 1


cdef bint _local(const char *t, Py_ssize_t i, Py_ssize_t n, char *out) noexcept nogil:
    """Match ``(AAA)`` or ``AAA`` (A first 2-9), ``[-. ]?``, 3 digits, ``[-. ]?``, 4 digits
    from ``t[i]`` to exactly ``t[n]``; the ten digits go to ``out``. 1 on a match, else 0."""
    if i < n and t[i] == b'(':
        if i + 5 > n or t[i + 4] != b')' or not _digits(t, i + 1, 3, n, out):
            return 0
        i += 5
    else:
        if not _digits(t, i, 3, n, out):
            return 0
        i += 3
    if out[0] < b'2':
        return 0
    if i < n and _is_sep(t[i]):
        i += 1
    if not _digits(t, i, 3, n, out + 3):
        return 0
    i += 3
    if i < n and _is_sep(t[i]):
        i += 1
    return i + 4 == n and _digits(t, i, 4, n, out + 6)


cdef bint _ends_with(const char *digits, Py_ssize_t n, bytes tail):
    cdef Py_ssize_t m = len(tail), k
    cdef const char *t = tail
    if m > n:
        return False
    for k in range(m):
        if digits[n - m + k] != t[k]:
            return False
    return True


def nanp_e164(list values, bint national, tuple sequences, dict valid_by_prefix,
              list lengths):
    """Per value, ``"+1"`` and its ten digits when the phone normaliser's NANP fast path
    (:mod:`hashmatch.normalize.phone_nanp`) settles it as a valid number, else None.

    A value is settled when it is ASCII and, stripped, in one of the fast path's shapes
    (``+1`` then ``[-. ]?``, or a bare national number when ``national``; then
    ``(AAA)``/``AAA``, ``[-. ]?``, ``EEE``, ``[-. ]?``, ``LLLL``), none of the phone
    placeholder rules applies (every digit alike; the digits ending in one of
    ``sequences``), and the first of the remembered prefix ``lengths`` found in
    ``valid_by_prefix`` says valid. (The general placeholder rules cannot apply: their
    keys hold letters, or are all zeros, and an area code starts with 2-9; the caller
    checks the first.) Everything else (placeholders, invalid or unremembered numbers,
    other shapes) is None: the normaliser decides it.
    """
    cdef Py_ssize_t n_values = len(values), v, start, end, n_digits, k, length
    cdef const char *text
    cdef char digits[11]  # the "1" of "+1" (counted by the placeholder rules), then ten
    cdef bint same
    out = [None] * n_values
    for v in range(n_values):
        raw = values[v]
        if type(raw) is not str or not PyUnicode_IS_ASCII(raw):
            continue
        text = PyUnicode_DATA(raw)
        start, end = 0, PyUnicode_GET_LENGTH(raw)
        while start < end and _is_space(text[start]):
            start += 1
        while end > start and _is_space(text[end - 1]):
            end -= 1
        if end - start >= 2 and text[start] == b'+' and text[start + 1] == b'1':
            k = start + 2
            if k < end and _is_sep(text[k]):
                k += 1
            if not _local(text, k, end, digits + 1):
                continue
            digits[0] = b'1'
            n_digits = 11
        elif national and _local(text, start, end, digits + 1):
            digits[0] = b'1'  # not a digit of this value: skipped below
            n_digits = 10
        else:
            continue
        # the phone placeholder rules, on the value's digits
        same = True
        for k in range(11 - n_digits + 1, 11):
            if digits[k] != digits[11 - n_digits]:
                same = False
                break
        if same:
            continue
        for seq in sequences:
            if _ends_with(digits + 11 - n_digits, n_digits, seq):
                same = True
                break
        if same:
            continue
        national_number = digits[1:11].decode("ascii")
        for length in lengths:
            found = valid_by_prefix.get(national_number[:length])
            if found is not None:
                if found is True:
                    out[v] = "+1" + national_number
                break
    return out
