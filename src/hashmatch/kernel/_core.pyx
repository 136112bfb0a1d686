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
from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free
from libc.string cimport memmove

cnp.import_array()

from hashmatch.kernel._hm cimport (
    hm_band_keys,
    hm_chunk,
    hm_chunk_count_owners,
    hm_chunk_emit,
    hm_chunk_find,
    hm_chunk_free,
    hm_chunk_scatter,
    hm_combined,
    hm_combined_scores,
    hm_cpu_has,
    hm_expand_rows,
    hm_key_table,
    hm_raw_partners,
    hm_grid,
    hm_isa_name,
    hm_minhash_rows,
    hm_pair_counts,
    hm_pair_scores,
    hm_popcount_rows,
    hm_rows_finish,
    hm_table,
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


def expand_candidates(
    list tables,
    bint dedup,
    const int64_t[::1] bounds,
    const int64_t[::1] raw_offset,
    int threads,
):
    """Blocked candidate pairs of left rows ``bounds[0] .. bounds[-1]``, sorted by (i, j).

    ``tables``: per key table ``(width, left_group, group_start, group_size, right_order,
    rank)`` (rank None unless ``dedup``). The rows are cut into the ranges of ``bounds``
    (one work unit each), range ``u`` writing from ``raw_offset[u]`` (its raw partner
    count's prefix sum; ``raw_offset[-1]`` is the total). Returns ``(i, j, per_table)``.
    """
    cdef int64_t ntables = len(tables), nunits = bounds.shape[0] - 1, u, at = 0
    cdef int64_t total = raw_offset[nunits]
    cdef hm_table *tab = <hm_table *>calloc(ntables if ntables else 1, sizeof(hm_table))
    if tab == NULL:
        raise MemoryError()
    cdef int64_t[::1] oi, oj, found
    try:
        keep = _fill_tables(tab, tables)
        out_i = np.empty(max(total, 1), dtype=np.int64)
        out_j = np.empty(max(total, 1), dtype=np.int64)
        found_arr = np.zeros(max(nunits, 1), dtype=np.int64)
        per_arr = np.zeros((max(nunits, 1), max(ntables, 1)), dtype=np.int64)
        oi = out_i
        oj = out_j
        found = found_arr
        _expand_units(tab, ntables, dedup, bounds, raw_offset, oi, oj, found, per_arr, threads)
        for u in range(nunits):  # close the gaps between units, in order
            if raw_offset[u] != at and found[u]:
                memmove(&oi[at], &oi[raw_offset[u]], found[u] * sizeof(int64_t))
                memmove(&oj[at], &oj[raw_offset[u]], found[u] * sizeof(int64_t))
            at += found[u]
    finally:
        free(tab)
    return out_i[:at].copy(), out_j[:at].copy(), per_arr[:nunits].sum(axis=0)[:ntables]


def key_table(lkeys, lvalid, rkeys, rvalid, bint dedup, int64_t max_block_pairs, int threads):
    """One blocking method's key table from its mixed keys (contiguous uint64 keys and
    uint8 validity; the right ones are the left ones when ``dedup``): ``(order,
    group_start, group_size, left_group, rank or None, stats)``, as
    ``hashmatch.link.blocking._build_table``'s numpy reference gives them (sorted on
    ``threads`` threads)."""
    cdef int64_t nl = len(lkeys), nr = len(rkeys), rc
    order = np.empty(max(nr, 1), dtype=np.int64)
    gstart = np.empty(max(nr, 1), dtype=np.int64)
    gsize = np.empty(max(nr, 1), dtype=np.int64)
    left_group = np.empty(max(nl, 1), dtype=np.int64)
    rank = np.empty(max(nr, 1), dtype=np.int64) if dedup else None
    stats = np.zeros(3, dtype=np.int64)
    counts = np.zeros(2, dtype=np.int64)
    cdef const uint64_t *lk = <const uint64_t *>cnp.PyArray_DATA(lkeys)
    cdef const uint8_t *lv = <const uint8_t *>cnp.PyArray_DATA(lvalid)
    cdef const uint64_t *rk = <const uint64_t *>cnp.PyArray_DATA(rkeys)
    cdef const uint8_t *rv = <const uint8_t *>cnp.PyArray_DATA(rvalid)
    cdef int64_t *po = <int64_t *>cnp.PyArray_DATA(order)
    cdef int64_t *ps = <int64_t *>cnp.PyArray_DATA(gstart)
    cdef int64_t *pz = <int64_t *>cnp.PyArray_DATA(gsize)
    cdef int64_t *pl = <int64_t *>cnp.PyArray_DATA(left_group)
    cdef int64_t *pr = NULL if rank is None else <int64_t *>cnp.PyArray_DATA(rank)
    cdef int64_t *pst = <int64_t *>cnp.PyArray_DATA(stats)
    cdef int64_t *pc = <int64_t *>cnp.PyArray_DATA(counts)
    with nogil:
        rc = hm_key_table(lk, lv, nl, rk, rv, nr, dedup, max_block_pairs, po, ps, pz, pl,
                          pr, pst, pc, threads)
    if rc:
        raise MemoryError()
    valid, kept = int(counts[0]), int(counts[1])
    # views, not copies: the pages past the used part were never touched
    return (order[:valid], gstart[:kept], gsize[:kept],
            left_group[:nl], None if rank is None else rank[:nr], stats)


cdef list _fill_tables(hm_table *tab, list tables):
    """Point ``tab[t]`` at the arrays of ``tables[t]``; returns the arrays to keep alive."""
    cdef int64_t t
    keep = []
    for t, (width, group, start, size, order, rank) in enumerate(tables):
        arrays = [np.ascontiguousarray(x, dtype=np.int64) for x in (group, start, size, order)]
        arrays.append(None if rank is None else np.ascontiguousarray(rank, dtype=np.int64))
        keep.append(arrays)
        tab[t].width = width
        tab[t].left_group = _i64_ptr(arrays[0])
        tab[t].group_start = _i64_ptr(arrays[1])
        tab[t].group_size = _i64_ptr(arrays[2])
        tab[t].right_order = _i64_ptr(arrays[3])
        tab[t].rank = NULL if rank is None else _i64_ptr(arrays[4])
    return keep


def raw_partners(list tables, bint dedup, int64_t rows, int threads):
    """Each left row's partner count over the key tables before de-duplication (tables
    as for :func:`expand_candidates`), int64[rows]."""
    cdef int64_t ntables = len(tables), step = 16384, nunits = (rows + step - 1) // step
    cdef int64_t u, r0, r1
    out = np.zeros(max(rows, 1), dtype=np.int64)
    cdef int64_t *po = <int64_t *>cnp.PyArray_DATA(out)
    cdef hm_table *tab = <hm_table *>calloc(ntables if ntables else 1, sizeof(hm_table))
    if tab == NULL:
        raise MemoryError()
    try:
        keep = _fill_tables(tab, tables)
        with nogil:
            for u in prange(nunits, num_threads=threads, schedule="static"):
                r0 = u * step
                r1 = r0 + step
                if r1 > rows:
                    r1 = rows
                hm_raw_partners(tab, ntables, dedup, r0, r1, po + r0)
    finally:
        free(tab)
    return out[:rows]


cdef const int64_t *_i64_ptr(arr):
    return <const int64_t *>cnp.PyArray_DATA(arr)


cdef void _expand_units(const hm_table *tab, int64_t ntables, bint dedup,
                        const int64_t[::1] bounds, const int64_t[::1] raw_offset,
                        int64_t[::1] oi, int64_t[::1] oj, int64_t[::1] found,
                        int64_t[:, ::1] per, int threads) noexcept:
    cdef int64_t nunits = bounds.shape[0] - 1, u
    cdef int64_t *pi = &oi[0]
    cdef int64_t *pj = &oj[0]
    with nogil:
        for u in prange(nunits, num_threads=threads, schedule="dynamic"):
            found[u] = hm_expand_rows(tab, ntables, dedup, bounds[u], bounds[u + 1],
                                      pi + raw_offset[u], pj + raw_offset[u], &per[u, 0])


cdef class CombinedPlan:
    """The inputs of the combined Dice score of one party pair, held for the C loop
    (built by hashmatch.kernel.combined, which documents every field)."""

    cdef hm_combined c
    cdef list keep
    cdef const uint64_t **ptrs

    def __cinit__(self):
        self.ptrs = NULL

    def __dealloc__(self):
        free(self.ptrs)

    def __init__(self, a, b, tot_a, tot_b, pop_a, pop_b, pres_a, pres_b, nested, seg_lo,
                 seg_hi, seg_mask, counted, sw_s, sw_t, sw_words, list swap_rows,
                 st_seg, st_below, tok_a, tok_b, tok_bonus, tok_penalty,
                 double max_bonus, double max_penalty, factor_pow, double blend):
        self.keep = [a, b, tot_a, tot_b, pop_a, pop_b, pres_a, pres_b, nested, seg_lo,
                     seg_hi, seg_mask, counted, sw_s, sw_t, sw_words, swap_rows, st_seg,
                     st_below, tok_a, tok_b, tok_bonus, tok_penalty, factor_pow]
        cdef int64_t nswap = len(sw_s), ntok = len(tok_bonus), k
        if tok_a.shape[1] != ntok or tok_b.shape[1] != ntok:
            raise ValueError("token matrices: expected [rows, columns, 16] on both sides")
        self.ptrs = <const uint64_t **>calloc(4 * nswap + 1, sizeof(uint64_t *))
        if self.ptrs == NULL:
            raise MemoryError()
        for k in range(4 * nswap):
            self.ptrs[k] = <const uint64_t *>cnp.PyArray_DATA(swap_rows[k])
        c = &self.c
        c.W = a.shape[1]
        c.A = <const uint64_t *>cnp.PyArray_DATA(a)
        c.B = <const uint64_t *>cnp.PyArray_DATA(b)
        c.tot_a = <const int64_t *>cnp.PyArray_DATA(tot_a)
        c.tot_b = <const int64_t *>cnp.PyArray_DATA(tot_b)
        c.nseg = len(seg_lo)
        c.pop_a = <const uint16_t *>cnp.PyArray_DATA(pop_a)
        c.pop_b = <const uint16_t *>cnp.PyArray_DATA(pop_b)
        c.pres_a = <const uint8_t *>cnp.PyArray_DATA(pres_a)
        c.pres_b = <const uint8_t *>cnp.PyArray_DATA(pres_b)
        c.nested = <const uint8_t *>cnp.PyArray_DATA(nested)
        c.seg_lo = <const int64_t *>cnp.PyArray_DATA(seg_lo)
        c.seg_hi = <const int64_t *>cnp.PyArray_DATA(seg_hi)
        c.seg_mask = <const uint64_t *>cnp.PyArray_DATA(seg_mask)
        c.counted = <const uint8_t *>cnp.PyArray_DATA(counted)
        c.nswap = nswap
        c.sw_s = <const int64_t *>cnp.PyArray_DATA(sw_s)
        c.sw_t = <const int64_t *>cnp.PyArray_DATA(sw_t)
        c.sw_words = <const int64_t *>cnp.PyArray_DATA(sw_words)
        c.sw_as = self.ptrs
        c.sw_at = self.ptrs + nswap
        c.sw_bs = self.ptrs + 2 * nswap
        c.sw_bt = self.ptrs + 3 * nswap
        c.nstable = len(st_seg)
        c.st_seg = <const int64_t *>cnp.PyArray_DATA(st_seg)
        c.st_below = <const float *>cnp.PyArray_DATA(st_below)
        c.ntok = ntok
        c.tok_a = <const uint8_t *>cnp.PyArray_DATA(tok_a)
        c.tok_b = <const uint8_t *>cnp.PyArray_DATA(tok_b)
        c.tok_bonus = <const double *>cnp.PyArray_DATA(tok_bonus)
        c.tok_penalty = <const double *>cnp.PyArray_DATA(tok_penalty)
        c.max_bonus = max_bonus
        c.max_penalty = max_penalty
        c.factor_pow = <const double *>cnp.PyArray_DATA(factor_pow)
        c.blend = blend


def combined_scores(CombinedPlan plan, const int64_t[::1] ii, const int64_t[::1] jj,
                    int threads):
    """Combined Dice scores of the listed pairs (indices already validated)."""
    cdef int64_t n = ii.shape[0], c, p0, p1
    cdef int64_t nchunks = (n + _PAIR_STEP - 1) // _PAIR_STEP
    out = np.empty(n, dtype=np.float32)
    cdef float[::1] o = out
    if n == 0:
        return out
    cdef const hm_combined *cp = &plan.c
    if threads > nchunks:
        threads = <int>nchunks
    with nogil:
        for c in prange(nchunks, num_threads=threads, schedule="static"):
            p0 = c * _PAIR_STEP
            p1 = p0 + _PAIR_STEP
            if p1 > n:
                p1 = n
            hm_combined_scores(cp, &ii[0], &jj[0], p0, p1, &o[0])
    return out


def minhash(const uint64_t[:, ::1] clks, const int64_t[::1] pos, const int64_t[::1] off,
            int threads):
    """MinHash values int64[orders, rows]: per order (positions ``pos[off[h]:off[h+1]]``,
    already checked to lie inside the rows), the rank of each row's first set bit."""
    cdef int64_t n = clks.shape[0], W = clks.shape[1], norders = off.shape[0] - 1
    cdef int64_t step = 2048, nunits = (n + step - 1) // step, u, r0, r1
    out = np.zeros((norders, n), dtype=np.int64)
    cdef int64_t[:, ::1] o = out
    if n == 0 or norders == 0 or W == 0:
        return out
    with nogil:
        for u in prange(nunits, num_threads=threads, schedule="static"):
            r0 = u * step
            r1 = r0 + step
            if r1 > n:
                r1 = n
            hm_minhash_rows(&clks[0, 0], W, n, r0, r1, norders, &pos[0], &off[0], &o[0, 0])
    return out


def band_keys(const uint16_t[:, ::1] pool, const int64_t[::1] cols, const int64_t[::1] off,
              const int64_t[::1] empty, int threads):
    """LSH band keys uint64[bands, rows] and validity bool[bands, rows] from a uint16
    MinHash pool (band b mixes pool rows ``cols[off[b]:off[b+1]]``, already checked)."""
    cdef int64_t n = pool.shape[1], nbands = off.shape[0] - 1
    cdef int64_t step = 8192, nunits = (n + step - 1) // step, u, r0, r1
    keys = np.empty((nbands, n), dtype=np.uint64)
    valid = np.empty((nbands, n), dtype=np.bool_)
    if n == 0 or nbands == 0:
        return keys, valid
    cdef uint64_t *pk = <uint64_t *>cnp.PyArray_DATA(keys)
    cdef uint8_t *pv = <uint8_t *>cnp.PyArray_DATA(valid)
    with nogil:
        for u in prange(nunits, num_threads=threads, schedule="static"):
            r0 = u * step
            r1 = r0 + step
            if r1 > n:
                r1 = n
            hm_band_keys(&pool[0, 0], n, r0, r1, nbands, &cols[0], &off[0], &empty[0], pk, pv)
    return keys, valid
