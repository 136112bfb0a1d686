# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""One field's Dice of candidate pairs, binned into comparison levels, in one pass.

:func:`hashmatch.kernel.levels.dice_levels` documents it and keeps the numpy route it
must equal (``hashmatch.link.segments.field_dice`` and the binning of
``hashmatch.link.comparison.comparison_vectors``).
"""

from libc.stdint cimport int8_t, int32_t, int64_t, uint8_t, uint16_t


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
