# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""One query record against the lookup service's index, in one compiled call.

:class:`OneRecord` holds pointers into the index's arrays (kept alive by a reference) and
a query's scratch; :meth:`OneRecord.match` prepares the record, computes its blocking
keys, gathers the live rows of the blocks holding them (at most ``max_block`` live rows a
block), dedupes them and scores each with the link's combined score (``_hm_combined.h``).
Built and documented by :mod:`hashmatch.service.compiled`, which also keeps the numpy
route it must equal. The loops live in ``_hm_one_record.h``.
"""

import numpy as np
cimport numpy as cnp
from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint64_t
from libc.stdlib cimport calloc, free, qsort
from libc.string cimport memcpy

from hashmatch.kernel._hm cimport hm_combined

cnp.import_array()


cdef extern from "_hm_one_record.h" nogil:
    ctypedef struct hm_or_keyplan:
        int64_t bits
        int64_t hashes
        const int32_t *rank_t
        const int64_t *empty
        const int64_t *pool_field
        int64_t bands
        int64_t width
        const int64_t *band_cols
        const uint8_t *band_used
        const uint64_t *band_offset
        int64_t ntokens
        const uint64_t *salts
    float hm_combined_one(const hm_combined *c, int64_t i, int64_t j)
    void hm_or_prepare(const hm_combined *c, const uint64_t *clk, const uint8_t *present_field,
                       const int64_t *seg_field, const int64_t *seg_start,
                       const int64_t *seg_bits, int64_t *tot, uint16_t *pop, uint8_t *pres,
                       uint64_t **aligned)
    int64_t hm_or_keys(const hm_or_keyplan *p, const uint64_t *clk,
                       const uint8_t *present_field, const uint8_t **tokens, int64_t *pool,
                       int64_t *out)
    void hm_or_span(const int64_t *keys, int64_t n, int64_t k, int64_t *lo, int64_t *hi)
    float hm_or_field_dice(const hm_combined *c, int64_t i, int64_t j, int64_t s)


DEF MAX_PARTS = 2

ctypedef struct _ridrow:
    int64_t rid
    int64_t row


cdef int _cmp_i64(const void *x, const void *y) noexcept nogil:
    cdef int64_t a = (<const int64_t *>x)[0], b = (<const int64_t *>y)[0]
    return (a > b) - (a < b)


cdef int _cmp_ridrow(const void *x, const void *y) noexcept nogil:
    cdef const _ridrow *a = <const _ridrow *>x
    cdef const _ridrow *b = <const _ridrow *>y
    if a.rid != b.rid:
        return (a.rid > b.rid) - (a.rid < b.rid)
    return (a.row > b.row) - (a.row < b.row)


cdef inline const void *_ptr(object a):
    return <const void *>cnp.PyArray_DATA(a)


cdef class OneRecord:
    """The compiled matcher over one state of the index (rebuilt when the index changes).

    ``plans``: per index part (at most two), the keyword arrays of ``hm_combined`` for the
    B side (the part's rows) plus ``first``, ``keys``, ``key_rows`` and ``tokens`` (the
    part's token columns in layout order); ``shared``: the A-side facts of the layout
    (segments, swap pairs, stable fields, evidence); ``keyplan``: the arrays of
    ``hm_or_keyplan``; ``live``, ``rid_of``, ``party_of``: index-wide row arrays.
    One query at a time: :meth:`explain` reads the scratch :meth:`match` left (the
    service calls both from its event loop's thread)."""

    cdef hm_combined c[MAX_PARTS]
    cdef hm_or_keyplan kp
    cdef int nparts, whole
    cdef int64_t first[MAX_PARTS]
    cdef int64_t size[MAX_PARTS]
    cdef int64_t nkeys[MAX_PARTS]
    cdef const int64_t *keys[MAX_PARTS]
    cdef const int64_t *key_rows[MAX_PARTS]
    cdef const uint8_t *live
    cdef const int64_t *rid_of
    cdef const int64_t *party_of
    cdef const int64_t *seg_field
    cdef const int64_t *seg_start
    cdef const int64_t *seg_bits
    cdef int64_t max_block, nfields, ntoknames, nev, max_keys
    cdef list keep
    # the query's scratch (the A side of every part's hm_combined)
    cdef uint64_t *q_clk
    cdef int64_t q_tot
    cdef uint16_t *q_pop
    cdef uint8_t *q_pres
    cdef uint8_t *q_present
    cdef uint8_t *q_tok
    cdef uint64_t **q_aligned
    cdef const uint8_t **q_tokp      # layout token columns of the query (key order)
    cdef uint8_t *q_ev               # evidence columns of the query, [nev, 16]
    cdef int64_t *ev_cols            # their columns among the layout's tokens
    cdef const uint64_t **sw_ptrs    # [parts][4 * nswap]
    cdef const uint8_t **ptok_ptrs   # [parts][ntoknames]: the parts' token columns
    cdef int64_t *pool
    cdef int64_t *qkeys
    cdef int64_t *found
    cdef _ridrow *ordered

    def __cinit__(self):
        self.q_clk = NULL
        self.q_pop = NULL
        self.q_pres = NULL
        self.q_present = NULL
        self.q_tok = NULL
        self.q_aligned = NULL
        self.q_tokp = NULL
        self.q_ev = NULL
        self.ev_cols = NULL
        self.sw_ptrs = NULL
        self.ptok_ptrs = NULL
        self.pool = NULL
        self.qkeys = NULL
        self.found = NULL
        self.ordered = NULL

    def __dealloc__(self):
        cdef int64_t k
        if self.q_aligned != NULL:
            for k in range(2 * self.c[0].nswap):
                free(self.q_aligned[k])
        free(self.q_clk)
        free(self.q_pop)
        free(self.q_pres)
        free(self.q_present)
        free(self.q_tok)
        free(self.q_aligned)
        free(self.q_tokp)
        free(self.q_ev)
        free(self.ev_cols)
        free(self.sw_ptrs)
        free(self.ptok_ptrs)
        free(self.pool)
        free(self.qkeys)
        free(self.found)
        free(self.ordered)

    def __init__(self, dict shared, list plans, dict keyplan, live, rid_of, party_of,
                 int whole, int64_t max_block):
        cdef int64_t W = shared["seg_mask"].shape[1], nseg = len(shared["seg_lo"])
        cdef int64_t nswap = len(shared["sw_s"]), k, p
        self.keep = [shared, plans, keyplan, live, rid_of, party_of]
        self.nparts = len(plans)
        if not 1 <= self.nparts <= MAX_PARTS:
            raise ValueError(f"expected 1 to {MAX_PARTS} index parts, got {self.nparts}")
        self.whole = whole
        self.max_block = max_block
        self.live = <const uint8_t *>_ptr(live)
        self.rid_of = <const int64_t *>_ptr(rid_of)
        self.party_of = <const int64_t *>_ptr(party_of)
        self.seg_field = <const int64_t *>_ptr(shared["seg_field"])
        self.seg_start = <const int64_t *>_ptr(shared["seg_start"])
        self.seg_bits = <const int64_t *>_ptr(shared["seg_bits"])
        self.nfields = shared["nfields"]
        self.ntoknames = keyplan["ntokens"]
        self.nev = len(shared["ev_cols"])
        # the query's scratch
        self.q_clk = <uint64_t *>calloc(W + 1, sizeof(uint64_t))
        self.q_pop = <uint16_t *>calloc(nseg + 1, sizeof(uint16_t))
        self.q_pres = <uint8_t *>calloc(nseg + 1, 1)
        self.q_present = <uint8_t *>calloc(self.nfields + 1, 1)
        self.q_tok = <uint8_t *>calloc(16 * self.ntoknames + 1, 1)
        self.q_aligned = <uint64_t **>calloc(2 * nswap + 1, sizeof(uint64_t *))
        self.q_tokp = <const uint8_t **>calloc(self.ntoknames + 1, sizeof(uint8_t *))
        self.q_ev = <uint8_t *>calloc(16 * self.nev + 1, 1)
        self.ev_cols = <int64_t *>calloc(self.nev + 1, sizeof(int64_t))
        self.sw_ptrs = <const uint64_t **>calloc(MAX_PARTS * (4 * nswap + 1), sizeof(uint64_t *))
        self.ptok_ptrs = <const uint8_t **>calloc(MAX_PARTS * (self.ntoknames + 1),
                                                  sizeof(uint8_t *))
        self.pool = <int64_t *>calloc(keyplan["hashes"] + 1, sizeof(int64_t))
        self.max_keys = self.ntoknames + keyplan["bands"]
        self.qkeys = <int64_t *>calloc(self.max_keys + 1, sizeof(int64_t))
        self.found = <int64_t *>calloc(self.max_keys * max_block + 2, sizeof(int64_t))
        self.ordered = <_ridrow *>calloc(self.max_keys * max_block + 2, sizeof(_ridrow))
        if (self.q_clk == NULL or self.q_pop == NULL or self.q_pres == NULL
                or self.q_present == NULL or self.q_tok == NULL or self.q_aligned == NULL
                or self.q_tokp == NULL or self.q_ev == NULL or self.sw_ptrs == NULL
                or self.ev_cols == NULL or self.ptok_ptrs == NULL or self.pool == NULL
                or self.qkeys == NULL or self.found == NULL or self.ordered == NULL):
            raise MemoryError()
        for k in range(2 * nswap):
            self.q_aligned[k] = <uint64_t *>calloc(shared["sw_words"][k % nswap] + 1,
                                                   sizeof(uint64_t))
            if self.q_aligned[k] == NULL:
                raise MemoryError()
        for k in range(self.ntoknames):
            self.q_tokp[k] = self.q_tok + 16 * k
        for k in range(self.nev):
            self.ev_cols[k] = shared["ev_cols"][k]
        # the key plan
        self.kp.bits = keyplan["bits"]
        self.kp.hashes = keyplan["hashes"]
        self.kp.rank_t = <const int32_t *>_ptr(keyplan["rank_t"])
        self.kp.empty = <const int64_t *>_ptr(keyplan["empty"])
        self.kp.pool_field = <const int64_t *>_ptr(keyplan["pool_field"])
        self.kp.bands = keyplan["bands"]
        self.kp.width = keyplan["width"]
        self.kp.band_cols = <const int64_t *>_ptr(keyplan["band_cols"])
        self.kp.band_used = <const uint8_t *>_ptr(keyplan["band_used"])
        self.kp.band_offset = <const uint64_t *>_ptr(keyplan["band_offset"])
        self.kp.ntokens = keyplan["ntokens"]
        self.kp.salts = <const uint64_t *>_ptr(keyplan["salts"])
        # one hm_combined per part: A = the query's scratch, B = the part's rows
        cdef hm_combined *c
        cdef const uint64_t **sw
        for p in range(self.nparts):
            part = plans[p]
            self.first[p] = part["first"]
            self.size[p] = part["b"].shape[0]
            self.nkeys[p] = part["keys"].shape[0]
            self.keys[p] = <const int64_t *>_ptr(part["keys"])
            self.key_rows[p] = <const int64_t *>_ptr(part["key_rows"])
            sw = self.sw_ptrs + p * (4 * nswap + 1)
            for k in range(nswap):
                sw[k] = self.q_aligned[k]
                sw[nswap + k] = self.q_aligned[nswap + k]
                sw[2 * nswap + k] = <const uint64_t *>_ptr(part["swap_rows"][k])
                sw[3 * nswap + k] = <const uint64_t *>_ptr(part["swap_rows"][nswap + k])
            for k in range(self.ntoknames):
                self.ptok_ptrs[p * (self.ntoknames + 1) + k] = \
                    <const uint8_t *>_ptr(part["tokens"][k])
            c = &self.c[p]
            c.W = W
            c.A = self.q_clk
            c.B = <const uint64_t *>_ptr(part["b"])
            c.tot_a = &self.q_tot
            c.tot_b = <const int64_t *>_ptr(part["tot_b"])
            c.nseg = nseg
            c.pop_a = self.q_pop
            c.pop_b = <const uint16_t *>_ptr(part["pop_b"])
            c.pres_a = self.q_pres
            c.pres_b = <const uint8_t *>_ptr(part["pres_b"])
            c.nested = <const uint8_t *>_ptr(part["nested"])
            c.seg_lo = <const int64_t *>_ptr(shared["seg_lo"])
            c.seg_hi = <const int64_t *>_ptr(shared["seg_hi"])
            c.seg_mask = <const uint64_t *>_ptr(shared["seg_mask"])
            c.counted = <const uint8_t *>_ptr(shared["counted"])
            c.nswap = nswap
            c.sw_s = <const int64_t *>_ptr(shared["sw_s"])
            c.sw_t = <const int64_t *>_ptr(shared["sw_t"])
            c.sw_words = <const int64_t *>_ptr(shared["sw_words"])
            c.sw_as = sw
            c.sw_at = sw + nswap
            c.sw_bs = sw + 2 * nswap
            c.sw_bt = sw + 3 * nswap
            c.nstable = len(shared["st_seg"])
            c.st_seg = <const int64_t *>_ptr(shared["st_seg"])
            c.st_below = <const float *>_ptr(shared["st_below"])
            c.ntok = self.nev
            c.tok_a = self.q_ev  # one row, [1, nev, 16]
            c.tok_b = <const uint8_t *>_ptr(part["tok_b"])  # [rows, nev, 16]
            c.tok_bonus = <const double *>_ptr(shared["tok_bonus"])
            c.tok_penalty = <const double *>_ptr(shared["tok_penalty"])
            c.max_bonus = shared["max_bonus"]
            c.max_penalty = shared["max_penalty"]
            c.factor_pow = <const double *>_ptr(shared["factor_pow"])
            c.blend = shared["blend"]

    cdef inline int _part(self, int64_t row) noexcept nogil:
        return 1 if self.nparts > 1 and row >= self.first[1] else 0

    def match(self, const uint64_t[::1] clk, const uint8_t[::1] present,
              const uint8_t[:, ::1] tokens, const double[::1] cuts, int64_t stored):
        """The record's candidates and scores: ``(rows, scores, passing, top)`` with
        ``rows`` the index rows sharing a key (record-number order, ``stored`` among them
        when >= 0), ``scores`` their combined scores (float32), ``passing`` the positions
        at or above their cut (``cuts[k]`` against the rows of party ``k``) and
        ``top`` the first position of the highest score (-1 without candidates)."""
        cdef int64_t W = self.c[0].W, q, p, x, lo, hi, total, n = 0, m = 0, row, top = -1
        cdef int64_t nq, e
        cdef int64_t part_lo[MAX_PARTS]
        cdef int64_t part_hi[MAX_PARTS]
        cdef float best = 0
        if clk.shape[0] != W or present.shape[0] != self.nfields or \
                tokens.shape[0] != self.ntoknames or (self.ntoknames and tokens.shape[1] != 16):
            raise ValueError("query record: shapes differ from the registry's layout")
        memcpy(self.q_clk, &clk[0], W * sizeof(uint64_t))
        if self.nfields:
            memcpy(self.q_present, &present[0], self.nfields)
        if self.ntoknames:
            memcpy(self.q_tok, &tokens[0, 0], 16 * self.ntoknames)
        for e in range(self.nev):  # the evidence columns side by side, as the C score reads
            memcpy(self.q_ev + 16 * e, self.q_tok + 16 * self.ev_cols[e], 16)
        with nogil:
            hm_or_prepare(&self.c[0], self.q_clk, self.q_present, self.seg_field,
                          self.seg_start, self.seg_bits, &self.q_tot, self.q_pop, self.q_pres,
                          self.q_aligned)
            nq = hm_or_keys(&self.kp, self.q_clk, self.q_present, self.q_tokp, self.pool,
                            self.qkeys)
            for q in range(nq):
                total = 0
                for p in range(self.nparts):
                    hm_or_span(self.keys[p], self.nkeys[p], self.qkeys[q], &lo, &hi)
                    part_lo[p] = lo
                    part_hi[p] = hi
                    if self.whole:
                        total += hi - lo
                    else:
                        for x in range(lo, hi):
                            total += self.live[self.first[p] + self.key_rows[p][x]]
                if total == 0 or total > self.max_block:
                    continue
                for p in range(self.nparts):
                    for x in range(part_lo[p], part_hi[p]):
                        row = self.first[p] + self.key_rows[p][x]
                        if self.whole or self.live[row]:
                            self.found[n] = row
                            n += 1
            if stored >= 0:
                self.found[n] = stored
                n += 1
            if n:
                qsort(self.found, n, sizeof(int64_t), _cmp_i64)
                m = 1
                for x in range(1, n):
                    if self.found[x] != self.found[m - 1]:
                        self.found[m] = self.found[x]
                        m += 1
                n = m
            if n and not self.whole:
                for x in range(n):
                    self.ordered[x].rid = self.rid_of[self.found[x]]
                    self.ordered[x].row = self.found[x]
                qsort(self.ordered, n, sizeof(_ridrow), _cmp_ridrow)
                for x in range(n):
                    self.found[x] = self.ordered[x].row
        rows = np.empty(n, np.int64)
        scores = np.empty(n, np.float32)
        cdef int64_t[::1] r = rows
        cdef float[::1] s = scores
        passing = []
        cdef float v
        for x in range(n):
            row = self.found[x]
            r[x] = row
            p = self._part(row)
            v = hm_combined_one(&self.c[p], 0, row - self.first[p])
            s[x] = v
            if top < 0 or v > best:
                top, best = x, v
            if self.party_of[row] >= cuts.shape[0]:
                raise ValueError("query record: no cut for a stored party")
            if <double>v >= cuts[self.party_of[row]]:
                passing.append(x)
        return rows, scores, passing, top

    def explain(self, int64_t row):
        """Per segment, the field Dice of the last query and index row ``row`` (NaN where
        either lacks the field); per layout token column, 0 missing, 1 agree, 2 disagree."""
        cdef int p = self._part(row)
        cdef int64_t local = row - self.first[p], s, k
        cdef const uint8_t *a
        cdef const uint8_t *b
        fields = [hm_or_field_dice(&self.c[p], 0, local, s) for s in range(self.c[p].nseg)]
        tokens = []
        for k in range(self.ntoknames):
            a = self.q_tokp[k]
            b = self.ptok_ptrs[p * (self.ntoknames + 1) + k] + 16 * local
            if not (_any16(a) and _any16(b)):
                tokens.append(0)
            else:
                tokens.append(1 if _eq16(a, b) else 2)
        return fields, tokens


cdef inline bint _any16(const uint8_t *x) noexcept nogil:
    cdef int k
    for k in range(16):
        if x[k]:
            return True
    return False


cdef inline bint _eq16(const uint8_t *x, const uint8_t *y) noexcept nogil:
    cdef int k
    for k in range(16):
        if x[k] != y[k]:
            return False
    return True
