# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""The fs scorer's per-pair comparisons in one pass each: a field's Dice binned into
levels, and the agreement of two token columns.

:mod:`hashmatch.link.levels` documents both and keeps the numpy routes they must equal.
"""

from libc.stdint cimport int8_t, int32_t, int64_t, uint8_t, uint16_t, uint64_t


def dice_levels(
    const int32_t[:, :] counts,
    Py_ssize_t column,
    const uint16_t[:, :] left_popcounts,
    const uint16_t[:, :] right_popcounts,
    const uint8_t[:, :] left_present,
    const uint8_t[:, :] right_present,
    const int64_t[::1] i,
    const int64_t[::1] j,
    Py_ssize_t segment,
    bint nested,
    const float[::1] edges,
    int8_t[::1] level,
    uint8_t[::1] missing,
) -> None:
    cdef Py_ssize_t n = i.shape[0], k, e, edge_count = edges.shape[0]
    cdef int64_t a, b
    cdef double pl, pr, half
    cdef float dice
    cdef int8_t found
    with nogil:
        for k in range(n):
            a = i[k]
            b = j[k]
            pl = left_popcounts[a, segment]
            pr = right_popcounts[b, segment]
            half = (pl if pl < pr else pr) if nested else (pl + pr) / 2.0
            if not (left_present[a, segment] and right_present[b, segment] and half > 0):
                missing[k] = 1
                level[k] = <int8_t>(2 + edge_count)  # "else", as the numpy route leaves it
                continue
            missing[k] = 0
            dice = <float>(counts[k, column] / half)  # float32, as the numpy route stores it
            if dice > 1.0:
                dice = 1.0
            if dice >= 1.0:
                level[k] = 1
                continue
            found = <int8_t>(2 + edge_count)  # "else"
            for e in range(edge_count):  # edges descending: the first reached is the bin
                if dice >= edges[e]:
                    found = <int8_t>(2 + e)
                    break
            level[k] = found


def token_agreement(
    const uint64_t[:, ::1] left,
    const uint64_t[:, ::1] right,
    const int64_t[::1] i,
    const int64_t[::1] j,
    uint8_t[::1] agree,
    uint8_t[::1] both,
) -> None:
    cdef Py_ssize_t n = i.shape[0], k, w, words = left.shape[1]
    cdef int64_t a, b
    cdef bint held_left, held_right, same
    with nogil:
        for k in range(n):
            a = i[k]
            b = j[k]
            held_left = held_right = False
            same = True
            for w in range(words):
                held_left = held_left or left[a, w] != 0
                held_right = held_right or right[b, w] != 0
                same = same and left[a, w] == right[b, w]
            both[k] = held_left and held_right
            agree[k] = held_left and held_right and same
