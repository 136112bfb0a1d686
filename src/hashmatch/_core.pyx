# cython: language_level=3, boundscheck=False, wraparound=False
"""Compiled similarity kernel (placeholder until the kernel issue lands: row popcounts)."""

import numpy as np
cimport numpy as cnp
from libc.stdint cimport uint64_t

cnp.import_array()

cdef extern from *:
    int __builtin_popcountll(unsigned long long) nogil


def popcount_rows(const uint64_t[:, ::1] a):
    cdef Py_ssize_t i, w
    cdef cnp.ndarray[cnp.int32_t, ndim=1] out = np.zeros(a.shape[0], dtype=np.int32)
    cdef int[::1] o = out
    cdef int acc
    with nogil:
        for i in range(a.shape[0]):
            acc = 0
            for w in range(a.shape[1]):
                acc = acc + __builtin_popcountll(a[i, w])
            o[i] = acc
    return out
