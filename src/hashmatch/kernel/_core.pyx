# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""Compiled similarity kernel: the loops only (validation lives in hashmatch.kernel).

The same source is built several times with different instruction sets (see setup.py):
`_core` (portable baseline), `_core_avx2` (-mavx2 -mpopcnt) and `_core_avx512`
(-mavx512f -mavx512vpopcntdq). The C side lives in the `_hm_*.h` headers (declared in
`_hm.pxd`), whose inner loops follow the compile flags; `hashmatch.kernel.dispatch` picks
the module from CPUID at import time. Work is split into chunks of A rows
(or of listed pairs) run under OpenMP `prange` with the GIL released; the grid runs in two
passes (find and count, then write each chunk's hits at its prefix-sum offset), so the
output never depends on the thread count.
"""

import numpy as np
cimport numpy as cnp
from cython.parallel cimport prange
from libc.stdint cimport int32_t, int64_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free

cnp.import_array()

from hashmatch.kernel._hm cimport (
    hm_chunk,
    hm_chunk_count_owners,
    hm_chunk_emit,
    hm_chunk_find,
    hm_chunk_free,
    hm_chunk_scatter,
    hm_cpu_has,
    hm_grid,
    hm_isa_name,
    hm_pair_counts,
    hm_pair_scores,
    hm_popcount_rows,
    hm_rows_finish,
)


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


cdef class _Chunks:
    """Chunks of A rows and their hit lists between passes (freed on deallocation)."""

    cdef hm_chunk *chunks
    cdef int64_t nchunks, chunk_rows, n

    def __cinit__(self, int64_t n, int64_t chunk_rows):
        self.n = n
        self.chunk_rows = chunk_rows
        self.nchunks = (n + chunk_rows - 1) // chunk_rows
        self.chunks = <hm_chunk *>calloc(self.nchunks if self.nchunks else 1, sizeof(hm_chunk))
        if self.chunks == NULL:
            raise MemoryError()

    def __dealloc__(self):
        cdef int64_t c
        if self.chunks != NULL:
            for c in range(self.nchunks):
                hm_chunk_free(&self.chunks[c], self.rows_end(c) - c * self.chunk_rows)
            free(self.chunks)

    cdef inline int64_t rows_end(self, int64_t c) noexcept nogil:
        return self.n if (c + 1) * self.chunk_rows > self.n else (c + 1) * self.chunk_rows

    cdef void find(self, const hm_grid *g, int threads) except *:
        cdef int64_t c
        cdef int failed = 0
        with nogil:
            for c in prange(self.nchunks, num_threads=threads, schedule="dynamic"):
                failed += hm_chunk_find(g, c * self.chunk_rows, self.rows_end(c),
                                        &self.chunks[c]) != 0
        if failed:
            raise MemoryError("not enough memory for the similarity hits")


cdef void _grid(hm_grid *g, const uint64_t[:, ::1] a, const int32_t[::1] pa,
                const int64_t[::1] kstart, const int64_t[::1] kend, int64_t i_offset,
                const uint64_t[:, ::1] b_sorted, const int32_t[::1] pb_sorted,
                const int64_t[::1] b_order, const int64_t[::1] run_end,
                const int32_t[::1] cmin, int metric, double nbits, bint self_mode,
                int64_t topk) except *:
    if b_sorted.shape[0] > 0xFFFFFFFF:
        raise ValueError("b has 2**32 rows or more; compare it in slices")
    g.A = &a[0, 0]
    g.pa = &pa[0]
    g.kstart = &kstart[0]
    g.kend = &kend[0]
    g.i_offset = i_offset
    g.B = &b_sorted[0, 0]
    g.pb = &pb_sorted[0]
    g.border = &b_order[0]
    g.run_end = &run_end[0]
    g.m = b_sorted.shape[0]
    g.W = a.shape[1]
    g.cmin = &cmin[0]
    g.metric = metric
    g.nbits = nbits
    g.self_mode = self_mode
    g.topk = topk


def _empty():
    return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float32)


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
    """Hits of A rows against sorted B: (i, j, score) in row order.

    Two parallel passes over chunks of A rows: the first finds each chunk's hits and
    counts them, a prefix sum gives every chunk its place in the output, and the second
    writes each chunk's hits straight there (no per-thread buffers to join, and the
    output's first-touch page faults are shared by the threads).
    """
    cdef int64_t n = a.shape[0], c, total = 0
    cdef int failed = 0
    cdef hm_grid g
    if n == 0 or b_sorted.shape[0] == 0:
        return _empty()
    _grid(&g, a, pa, kstart, kend, i_offset, b_sorted, pb_sorted, b_order, run_end, cmin,
          metric, nbits, self_mode, topk)
    cdef _Chunks ch = _Chunks(n, chunk_rows)
    ch.find(&g, threads)
    offset = np.empty(ch.nchunks, np.int64)
    cdef int64_t[::1] off = offset
    for c in range(ch.nchunks):
        off[c] = total
        total += ch.chunks[c].nout
    out_i = np.empty(total, dtype=np.int64)
    out_j = np.empty(total, dtype=np.int64)
    out_s = np.empty(total, dtype=np.float32)
    cdef int64_t *oi = <int64_t *>cnp.PyArray_DATA(out_i)
    cdef int64_t *oj = <int64_t *>cnp.PyArray_DATA(out_j)
    cdef float *os = <float *>cnp.PyArray_DATA(out_s)
    if total:
        with nogil:
            for c in prange(ch.nchunks, num_threads=threads, schedule="dynamic"):
                failed += hm_chunk_emit(&g, c * chunk_rows, ch.rows_end(c), &ch.chunks[c],
                                        oi + off[c], oj + off[c], os + off[c]) != 0
        if failed:
            raise MemoryError("not enough memory for the similarity hits")
    return out_i, out_j, out_s


cdef void _lane_pass(const hm_grid *g, _Chunks ch, int64_t lane, int64_t lanes,
                     int64_t *cur, int64_t *oj, float *os) noexcept nogil:
    """Chunks lane, lane + lanes, ...: count owners (oj NULL) or scatter to them."""
    cdef int64_t c = lane
    while c < ch.nchunks:
        if oj == NULL:
            hm_chunk_count_owners(g, c * ch.chunk_rows, ch.rows_end(c), &ch.chunks[c], cur)
        else:
            hm_chunk_scatter(g, c * ch.chunk_rows, ch.rows_end(c), &ch.chunks[c], cur, oj, os)
        c = c + lanes


def triangle_pairs(
    const uint64_t[:, ::1] a,
    const int32_t[::1] pa,
    const int64_t[::1] kstart,
    const int64_t[::1] kend,
    const uint64_t[:, ::1] a_sorted,
    const int32_t[::1] pa_sorted,
    const int64_t[::1] order,
    const int64_t[::1] run_end,
    const int32_t[::1] cmin,
    int metric,
    double nbits,
    int64_t topk,
    int threads,
    int64_t chunk_rows,
):
    """Hits of A against itself, i < j, each pair compared once: (i, j, score) in row order.

    The caller starts row i's range after its own sorted position, so each unordered pair
    {i, j} is found once, by one of its rows; pass 2 moves it to row min(i, j) (see
    hm_chunk_scatter) and pass 3 sorts each row's hits.
    """
    cdef int64_t n = a.shape[0], c, x, total = 0, kept = 0
    cdef int failed = 0
    cdef hm_grid g
    if n == 0:
        return _empty()
    _grid(&g, a, pa, kstart, kend, 0, a_sorted, pa_sorted, order, run_end, cmin,
          metric, nbits, False, topk)
    cdef _Chunks ch = _Chunks(n, chunk_rows)
    ch.find(&g, threads)
    # lane l owns chunks l, l + lanes, ...: private per-owner counts, then cursors
    cdef int64_t lanes = min(threads, ch.nchunks), lane, base
    lane_arr = np.zeros((lanes, n), np.int64)
    cdef int64_t[:, ::1] cur = lane_arr
    with nogil:
        for lane in prange(lanes, num_threads=threads, schedule="static", chunksize=1):
            _lane_pass(&g, ch, lane, lanes, &cur[lane, 0], NULL, NULL)
    seg_arr = np.empty(n + 1, np.int64)
    toff_arr = np.empty(n if topk else 1, np.int64)
    cdef int64_t[::1] seg = seg_arr
    cdef int64_t[::1] toff = toff_arr
    for x in range(n):  # counts -> segment starts, lane cursors, top-k output offsets
        seg[x] = total
        base = total
        for lane in range(lanes):
            cur[lane, x], base = base, base + cur[lane, x]
        if topk:
            toff[x] = kept
            kept += base - total if base - total < topk else topk
        total = base
    seg[n] = total
    out_i = np.empty(0 if topk else total, dtype=np.int64)
    out_j = np.empty(total, dtype=np.int64)
    out_s = np.empty(total, dtype=np.float32)
    top_i = np.empty(kept, dtype=np.int64)
    top_j = np.empty(kept, dtype=np.int64)
    top_s = np.empty(kept, dtype=np.float32)
    cdef int64_t *oi = <int64_t *>cnp.PyArray_DATA(out_i)
    cdef int64_t *oj = <int64_t *>cnp.PyArray_DATA(out_j)
    cdef float *os = <float *>cnp.PyArray_DATA(out_s)
    cdef int64_t *ti = <int64_t *>cnp.PyArray_DATA(top_i)
    cdef int64_t *tj = <int64_t *>cnp.PyArray_DATA(top_j)
    cdef float *ts = <float *>cnp.PyArray_DATA(top_s)
    if total:
        with nogil:
            for lane in prange(lanes, num_threads=threads, schedule="static", chunksize=1):
                _lane_pass(&g, ch, lane, lanes, &cur[lane, 0], oj, os)
            for c in prange(ch.nchunks, num_threads=threads, schedule="dynamic"):
                failed += hm_rows_finish(&g, c * chunk_rows, ch.rows_end(c), &seg[0], oi, oj,
                                         os, &toff[0], ti, tj, ts) != 0
        if failed:
            raise MemoryError("not enough memory for the similarity hits")
    if topk:
        return top_i, top_j, top_s
    return out_i, out_j, out_s


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
    cdef int64_t n = ii.shape[0], step = _PAIR_STEP, c, p0, p1
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


#: Listed pairs per work unit of pair_scores and pair_counts.
cdef int64_t _PAIR_STEP = 4096


def pair_counts(
    const uint64_t[:, ::1] a,
    const uint64_t[:, ::1] b,
    const int64_t[::1] ii,
    const int64_t[::1] jj,
    const int64_t[::1] seg_lo,
    const int64_t[::1] seg_hi,
    const uint64_t[:, ::1] seg_mask,
    int threads,
):
    """Intersection counts of the listed pairs: int32[pairs, 1 + segments] (column 0 the
    whole rows, then one per segment). Indices and segments already validated."""
    cdef int64_t n = ii.shape[0], nseg = seg_lo.shape[0], c, p0, p1
    cdef int64_t nchunks = (n + _PAIR_STEP - 1) // _PAIR_STEP
    out = np.zeros((n, 1 + nseg), dtype=np.int32)
    cdef int32_t[:, ::1] o = out
    if n == 0 or a.shape[1] == 0:
        return out
    cdef const int64_t *lo = &seg_lo[0] if nseg else NULL
    cdef const int64_t *hi = &seg_hi[0] if nseg else NULL
    cdef const uint64_t *mask = &seg_mask[0, 0] if nseg else NULL
    if threads > nchunks:
        threads = <int>nchunks
    with nogil:
        for c in prange(nchunks, num_threads=threads, schedule="static"):
            p0 = c * _PAIR_STEP
            p1 = p0 + _PAIR_STEP
            if p1 > n:
                p1 = n
            hm_pair_counts(&a[0, 0], &b[0, 0], a.shape[1], &ii[0], &jj[0], p0, p1, nseg,
                           lo, hi, mask, &o[0, 0])
    return out
