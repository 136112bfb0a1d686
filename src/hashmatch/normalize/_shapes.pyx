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

from libc.string cimport memcmp


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


cdef const char *_ascii_stripped(object raw, Py_ssize_t *length):
    """The text of ``raw`` as ``str.strip()`` leaves it (its start; its length into
    ``length``), or NULL when ``raw`` is not an ASCII ``str`` (not for the fast paths)."""
    cdef const char *text
    cdef Py_ssize_t start = 0, end
    if type(raw) is not str or not PyUnicode_IS_ASCII(raw):
        return NULL
    text = PyUnicode_DATA(raw)
    end = PyUnicode_GET_LENGTH(raw)
    while start < end and _is_space(text[start]):
        start += 1
    while end > start and _is_space(text[end - 1]):
        end -= 1
    length[0] = end - start
    return text + start


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
    cdef Py_ssize_t n_values = len(values), v, end, n_digits, k, length
    cdef const char *text
    cdef char digits[11]  # the "1" of "+1" (counted by the placeholder rules), then ten
    cdef bint same
    out = [None] * n_values
    for v in range(n_values):
        text = _ascii_stripped(values[v], &end)
        if text == NULL:
            continue
        if end >= 2 and text[0] == b'+' and text[1] == b'1':
            k = 2
            if k < end and _is_sep(text[k]):
                k += 1
            if not _local(text, k, end, digits + 1):
                continue
            digits[0] = b'1'
            n_digits = 11
        elif national and _local(text, 0, end, digits + 1):
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


cdef inline bint _is_lower_alnum(char c) noexcept nogil:
    return (97 <= c <= 122) or _is_digit(c)


cdef bint _may_be_placeholder(const char *t, Py_ssize_t n, const unsigned char[::1] safe,
                              dict rules) except -1:
    """False when ``placeholders.placeholder_rule`` finds no rule for the folded, lower-case
    ASCII text ``t[:n]`` (extra table: none), computed as it does; True when it may find one
    (the caller then leaves the value to the normaliser). ``safe[128 * a + b]`` says whether
    a value starting ``ab`` is ruled out at once; ``rules`` is the table of every type."""
    cdef char key[25]
    cdef Py_ssize_t k, m = 0
    cdef bint zeros = True, xs = True
    if n >= 2 and safe[128 * <unsigned char>t[0] + <unsigned char>t[1]]:
        return False
    if n > 72:  # 3 * placeholders._MAX_KEY: never a placeholder
        return False
    for k in range(n):
        if _is_lower_alnum(t[k]):
            if m == 24:
                return False  # a key longer than placeholders._MAX_KEY: no rule
            key[m] = t[k]
            zeros = zeros and t[k] == b'0'
            xs = xs and t[k] == b'x'
            m += 1
    if m == 0 or zeros or (xs and m >= 3):
        return True  # punctuation, zeros, xxx
    return key[:m].decode("ascii") in rules


cdef bint _atom_char(char c) noexcept nogil:
    # e-mail local part: [a-z0-9!#$%&'*+/=?^_`{|}~-] (on lower-cased text)
    return _is_lower_alnum(c) or (c != 0 and c in b"!#$%&'*+/=?^_`{|}~-")


cdef bint _local_part(const char *t, Py_ssize_t n) noexcept nogil:
    """``t[:n]`` is a dot-atom: atoms of atom characters, joined by single dots."""
    cdef Py_ssize_t k
    if n == 0 or t[0] == b'.' or t[n - 1] == b'.':
        return False
    for k in range(n):
        if t[k] == b'.':
            if t[k - 1] == b'.':
                return False
        elif not _atom_char(t[k]):
            return False
    return True


cdef bint _domain(const char *t, Py_ssize_t n) noexcept nogil:
    """``t[:n]`` is one or more labels ``[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?`` each followed
    by a dot, then a top-level label ``[a-z]{2,63}`` or ``xn--[a-z0-9-]{1,59}``."""
    cdef Py_ssize_t start = 0, end, k, labels = 0
    while True:
        end = start
        while end < n and t[end] != b'.':
            end += 1
        if end == n:
            break  # t[start:n] is the top-level label
        if end - start < 1 or end - start > 63:
            return False
        if not _is_lower_alnum(t[start]) or not _is_lower_alnum(t[end - 1]):
            return False
        for k in range(start, end):
            if not (_is_lower_alnum(t[k]) or t[k] == b'-'):
                return False
        labels += 1
        start = end + 1
    if labels == 0:
        return False
    if n - start >= 5 and t[start] == b'x' and t[start + 1] == b'n' \
            and t[start + 2] == b'-' and t[start + 3] == b'-':
        if n - start - 4 > 59:
            return False
        for k in range(start + 4, n):
            if not (_is_lower_alnum(t[k]) or t[k] == b'-'):
                return False
        return True
    if n - start < 2 or n - start > 63:
        return False
    for k in range(start, n):
        if not (97 <= t[k] <= 122):
            return False
    return True


def email_canonicals(list values, bint provider_rules, const unsigned char[::1] safe,
                     dict rules, dict local_rules, dict domain_rules, frozenset reserved_tlds,
                     frozenset gmail_domains):
    """Per value, the e-mail normaliser's canonical form (:mod:`hashmatch.normalize.email`)
    when this settles it, else None (the normaliser decides).

    Settled: ASCII values that, stripped and lower-cased, do not start with ``mailto:``, are
    no placeholder (``safe`` and ``rules`` as for :func:`_may_be_placeholder`; the local
    part's ``local_rules``, the domain's ``domain_rules``, ``reserved_tlds`` and
    ``example.`` parents), and match the normaliser's address pattern within its lengths.
    With ``provider_rules``, a domain of ``gmail_domains`` gets Gmail's rules (dots and
    ``+tag`` dropped from the local part, domain ``gmail.com``); an empty or placeholder
    local part after them is left to the normaliser.
    """
    cdef Py_ssize_t n_values = len(values), v, n, k, at, plus, dots
    cdef const char *raw_text
    cdef bytearray buffer = bytearray(256)
    cdef char *t = buffer
    out = [None] * n_values
    for v in range(n_values):
        raw_text = _ascii_stripped(values[v], &n)
        if raw_text == NULL or n == 0 or n > 254:
            continue
        at = -1
        for k in range(n):
            t[k] = raw_text[k]
            if 65 <= t[k] <= 90:
                t[k] += 32
            if t[k] == b'@' and at < 0:
                at = k
        if at <= 0 or at > 64 or (n >= 7 and memcmp(t, b"mailto:", 7) == 0):
            continue
        if not _local_part(t, at) or not _domain(t + at + 1, n - at - 1):
            continue
        if _may_be_placeholder(t, n, safe, rules):
            continue
        plus = at
        for k in range(at):
            if t[k] == b'+':
                plus = k
                break
        if t[:plus].decode("ascii") in local_rules:
            continue
        domain = t[at + 1:n].decode("ascii")
        if domain in domain_rules:
            continue
        dots = 0
        for k in range(at + 1, n):
            if t[k] == b'.':
                dots += 1
        if domain.rpartition(".")[2] in reserved_tlds:
            continue
        if dots > 1 and domain.split(".", 1)[1].startswith("example."):
            continue
        if provider_rules and domain in gmail_domains:
            local = t[:plus].decode("ascii").replace(".", "")
            if not local or local in local_rules:
                continue
            out[v] = local + "@gmail.com"
        else:
            out[v] = t[:n].decode("ascii")
    return out


def address_canonicals(list values, const unsigned char[::1] safe, dict rules,
                       frozenset rewritten):
    """Per value, the address normaliser's canonical form (:mod:`hashmatch.normalize.address`)
    when this settles it, else None (the normaliser decides).

    Settled: ASCII values of letters and digits in words split by whitespace, no word of
    which the abbreviations may rewrite (``rewritten``; empty when they are off), and no
    placeholder (``safe`` and ``rules`` as for :func:`_may_be_placeholder`). Their form
    is the lower-cased words joined by single spaces.
    """
    cdef Py_ssize_t n_values = len(values), v, n, k, m, word
    cdef const char *text
    cdef bytearray buffer = bytearray(64)
    cdef char *t
    cdef char c
    cdef bint plain
    out = [None] * n_values
    for v in range(n_values):
        text = _ascii_stripped(values[v], &n)
        if text == NULL or n == 0:
            continue
        if n > len(buffer):
            buffer = bytearray(n)
        t = buffer
        m = 0  # the canonical form: lower-cased words, single spaces
        plain = True
        for k in range(n):
            c = text[k]
            if _is_space(c):
                if t[m - 1] != b' ':
                    t[m] = b' '
                    m += 1
                continue
            if 65 <= c <= 90:
                c += 32
            if not _is_lower_alnum(c):
                plain = False
                break
            t[m] = c
            m += 1
        if not plain or _may_be_placeholder(t, m, safe, rules):
            continue
        canonical = t[:m].decode("ascii")
        if rewritten:
            word = 0
            for k in range(m + 1):
                if k == m or t[k] == b' ':
                    if t[word:k].decode("ascii") in rewritten:
                        plain = False
                        break
                    word = k + 1
        if plain:
            out[v] = canonical
    return out
