# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""Compiled similarity kernel: the loops only (validation lives in hashmatch.kernel).

The same source is built several times with different instruction sets (see setup.py):
`_core` (portable baseline), `_core_avx2` (-mavx2 -mpopcnt) and `_core_avx512`
(-mavx512f -mavx512vpopcntdq). `_popcount.h` picks the inner loop from the compile flags;
`hashmatch.kernel` picks the module from CPUID at import time. Work is split into chunks
of A rows run under OpenMP `prange` with the GIL released; each chunk writes its own hit
buffer and the buffers are joined in chunk order, so the output never depends on the
thread count.
"""

import numpy as np
cimport numpy as cnp
from cython.parallel cimport prange
from libc.stdint cimport int32_t, int64_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free
from libc.string cimport memcpy

cnp.import_array()


cdef extern from "_popcount.h" nogil:
    ctypedef struct hm_buf:
        int64_t *i
        int64_t *j
        float *s
        int64_t n
    ctypedef struct hm_grid:
        const uint64_t *A
        const int32_t *pa
        const int64_t *kstart
        const int64_t *kend
        int64_t i_offset
        const uint64_t *B
        const int32_t *pb
        const int64_t *border
        const int64_t *run_end
        int64_t m
        int64_t W
        const int32_t *cmin
        int metric
        double nbits
        int self_mode
        int64_t topk
    int hm_cpu_has(int which)
    const char *hm_isa_name()
    void hm_popcount_rows(const uint64_t *a, int64_t n, int64_t words, int32_t *out)
    int hm_grid_rows(const hm_grid *g, int64_t r0, int64_t r1, hm_buf *out)
    void hm_buf_free(hm_buf *b)
    void hm_pair_scores(const uint64_t *A, const int32_t *pa, const uint64_t *B,
                        const int32_t *pb, int64_t W, const int64_t *ii, const int64_t *jj,
                        int64_t p0, int64_t p1, int metric, double nbits, float *out)


#: Instruction set this module was compiled for: "avx512", "avx2", "popcnt" or "scalar".
ISA = hm_isa_name().decode("ascii")


def cpu_features():
    """CPU features relevant to variant choice, from CPUID (via gcc's cpu model)."""
    return {
        "popcnt": bool(hm_cpu_has(0)),
        "avx2": bool(hm_cpu_has(1)),
        "avx512f": bool(hm_cpu_has(2)),
        "avx512vpopcntdq": bool(hm_cpu_has(3)),
    }


def popcount_rows(const uint64_t[:, ::1] a):
    """Popcount of each row, int32."""
    out = np.empty(a.shape[0], dtype=np.int32)
    cdef int32_t[::1] o = out
    if a.shape[0] and a.shape[1]:
        with nogil:
            hm_popcount_rows(&a[0, 0], a.shape[0], a.shape[1], &o[0])
    else:
        out[:] = 0
    return out


def grid_pairs(
    const uint64_t[:, ::1] a,
    const int32_t[::1] pa,
    const int64_t[::1] kstart,
    const int64_t[::1] kend,
    int64_t i_offset,
    const uint64_t[:, ::1] b_sorted,
    const int32_t[::1] pb_sorted,
    const int64_t[::1] b_order,
    const int64_t[::1] run_end,
    const int32_t[::1] cmin,
    int metric,
    double nbits,
    bint self_mode,
    int64_t topk,
    int threads,
    int64_t chunk_rows,
):
    """Hits of A rows against sorted B: (i, j, score) in row order (see hm_grid_rows)."""
    cdef int64_t n = a.shape[0], m = b_sorted.shape[0]
    cdef int64_t nchunks = (n + chunk_rows - 1) // chunk_rows if n else 0
    cdef int64_t c, r0, r1, total = 0, pos = 0
    cdef int failed = 0
    cdef hm_grid g
    cdef uint64_t dummy_row = 0
    cdef int32_t dummy_pop = 0
    cdef int64_t dummy_idx = 0
    cdef hm_buf *bufs
    cdef int *status

    out_i = np.empty(0, dtype=np.int64)
    out_j = np.empty(0, dtype=np.int64)
    out_s = np.empty(0, dtype=np.float32)
    if nchunks == 0 or m == 0:
        return out_i, out_j, out_s

    g.A = &a[0, 0]
    g.pa = &pa[0]
    g.kstart = &kstart[0]
    g.kend = &kend[0]
    g.i_offset = i_offset
    g.B = &b_sorted[0, 0]
    g.pb = &pb_sorted[0]
    g.border = &b_order[0]
    g.run_end = &run_end[0]
    g.m = m
    g.W = a.shape[1]
    g.cmin = &cmin[0]
    g.metric = metric
    g.nbits = nbits
    g.self_mode = self_mode
    g.topk = topk

    bufs = <hm_buf *>calloc(nchunks, sizeof(hm_buf))
    status = <int *>calloc(nchunks, sizeof(int))
    if bufs == NULL or status == NULL:
        free(bufs)
        free(status)
        raise MemoryError()
    try:
        with nogil:
            for c in prange(nchunks, num_threads=threads, schedule="dynamic"):
                r0 = c * chunk_rows
                r1 = r0 + chunk_rows
                if r1 > n:
                    r1 = n
                status[c] = hm_grid_rows(&g, r0, r1, &bufs[c])
        for c in range(nchunks):
            if status[c] != 0:
                failed = 1
            total += bufs[c].n
        if failed:
            raise MemoryError("not enough memory for the similarity hits")
        out_i = np.empty(total, dtype=np.int64)
        out_j = np.empty(total, dtype=np.int64)
        out_s = np.empty(total, dtype=np.float32)
        if total:
            _join(bufs, nchunks, out_i, out_j, out_s)
    finally:
        for c in range(nchunks):
            hm_buf_free(&bufs[c])
        free(bufs)
        free(status)
    return out_i, out_j, out_s


cdef void _join(hm_buf *bufs, int64_t nchunks, int64_t[::1] oi, int64_t[::1] oj,
                float[::1] os) noexcept:
    cdef int64_t c, pos = 0, k
    with nogil:
        for c in range(nchunks):
            k = bufs[c].n
            if k:
                memcpy(&oi[pos], bufs[c].i, k * sizeof(int64_t))
                memcpy(&oj[pos], bufs[c].j, k * sizeof(int64_t))
                memcpy(&os[pos], bufs[c].s, k * sizeof(float))
                pos += k


def pair_scores(
    const uint64_t[:, ::1] a,
    const int32_t[::1] pa,
    const uint64_t[:, ::1] b,
    const int32_t[::1] pb,
    const int64_t[::1] ii,
    const int64_t[::1] jj,
    int metric,
    double nbits,
    int threads,
):
    """Scores of the listed pairs (indices already validated by the caller)."""
    cdef int64_t n = ii.shape[0], step = 4096, c, p0, p1
    cdef int64_t nchunks = (n + step - 1) // step
    out = np.empty(n, dtype=np.float32)
    cdef float[::1] o = out
    if n == 0:
        return out
    with nogil:
        for c in prange(nchunks, num_threads=threads, schedule="static"):
            p0 = c * step
            p1 = p0 + step
            if p1 > n:
                p1 = n
            hm_pair_scores(&a[0, 0], &pa[0], &b[0, 0], &pb[0], a.shape[1], &ii[0], &jj[0],
                           p0, p1, metric, nbits, &o[0])
    return out
