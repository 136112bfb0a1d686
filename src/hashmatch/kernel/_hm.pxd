# cython: language_level=3
"""C declarations of the similarity kernel's headers, for the _core*.pyx builds.

One block per header, each header one job: CPU facts (_hm_cpu.h), set-bit counts
(_hm_count.h), the grid driver (_hm_grid.h) and its self-comparison passes
(_hm_triangle.h), listed pairs (_hm_listed.h), and link's candidate path: blocked pairs
expanded (_hm_blocked.h), the MinHash pool (_hm_minhash.h) and the combined Dice score
(_hm_combined.h). The score formula (_hm_score.h) and the hit lists (_hm_hits.h) are used
by the C side only.
"""

from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint64_t


cdef extern from "_hm_cpu.h" nogil:
    int hm_cpu_has(int which)
    const char *hm_isa_name()


cdef extern from "_hm_count.h" nogil:
    void hm_popcount_rows(const uint64_t *a, int64_t n, int64_t words, int32_t *out)


cdef extern from "_hm_grid.h" nogil:
    ctypedef struct hm_row:
        pass
    ctypedef struct hm_chunk:
        hm_row *rows
        int64_t nout
        int64_t most
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
    int hm_chunk_find(const hm_grid *g, int64_t r0, int64_t r1, hm_chunk *ch)
    int hm_chunk_emit(const hm_grid *g, int64_t r0, int64_t r1, hm_chunk *ch,
                      int64_t *oi, int64_t *oj, float *os)
    void hm_chunk_free(hm_chunk *ch, int64_t nr)


cdef extern from "_hm_triangle.h" nogil:
    void hm_chunk_count_owners(const hm_grid *g, int64_t r0, int64_t r1, const hm_chunk *ch,
                               int64_t *count)
    void hm_chunk_scatter(const hm_grid *g, int64_t r0, int64_t r1, hm_chunk *ch,
                          int64_t *cursor, int64_t *oj, float *os)
    int hm_rows_finish(const hm_grid *g, int64_t x0, int64_t x1, const int64_t *seg,
                       int64_t *oi, int64_t *oj, float *os, const int64_t *toff,
                       int64_t *ti, int64_t *tj, float *ts)


cdef extern from "_hm_listed.h" nogil:
    void hm_pair_scores(const uint64_t *A, const int32_t *pa, const uint64_t *B,
                        const int32_t *pb, int64_t W, const int64_t *ii, const int64_t *jj,
                        int64_t p0, int64_t p1, int metric, double nbits, float *out)
    void hm_pair_counts(const uint64_t *A, const uint64_t *B, int64_t W,
                        const int64_t *ii, const int64_t *jj, int64_t p0, int64_t p1,
                        int64_t nseg, const int64_t *seg_lo, const int64_t *seg_hi,
                        const uint64_t *seg_mask, int32_t *out)


cdef extern from "_hm_blocked.h" nogil:
    ctypedef struct hm_table:
        int64_t width
        const int64_t *left_group
        const int64_t *group_start
        const int64_t *group_size
        const int64_t *right_order
        const int64_t *rank
    int64_t hm_expand_rows(const hm_table *tables, int64_t ntables, int dedup, int64_t r0,
                           int64_t r1, int64_t *oi, int64_t *oj, int64_t *per_table)
    void hm_raw_partners(const hm_table *tables, int64_t ntables, int dedup, int64_t r0,
                         int64_t r1, int64_t *out)
    int hm_key_table(const uint64_t *lkeys, const uint8_t *lvalid, int64_t nl,
                     const uint64_t *rkeys, const uint8_t *rvalid, int64_t nr, int dedup,
                     int64_t max_block_pairs, int64_t *order, int64_t *group_start,
                     int64_t *group_size, int64_t *left_group, int64_t *rank,
                     int64_t *stats, int64_t *counts, int threads)


cdef extern from "_hm_combined.h" nogil:
    ctypedef struct hm_combined:
        int64_t W
        const uint64_t *A
        const uint64_t *B
        const int64_t *tot_a
        const int64_t *tot_b
        int64_t nseg
        const uint16_t *pop_a
        const uint16_t *pop_b
        const uint8_t *pres_a
        const uint8_t *pres_b
        const uint8_t *nested
        const int64_t *seg_lo
        const int64_t *seg_hi
        const uint64_t *seg_mask
        const uint8_t *counted
        int64_t nswap
        const int64_t *sw_s
        const int64_t *sw_t
        const int64_t *sw_words
        const uint64_t **sw_as
        const uint64_t **sw_at
        const uint64_t **sw_bs
        const uint64_t **sw_bt
        int64_t nstable
        const int64_t *st_seg
        const float *st_below
        int64_t ntok
        const uint8_t *tok_a
        const uint8_t *tok_b
        const double *tok_bonus
        const double *tok_penalty
        double max_bonus
        double max_penalty
        const double *factor_pow
        double blend
    int HM_MAX_SEGMENTS
    void hm_combined_scores(const hm_combined *c, const int64_t *ii, const int64_t *jj,
                            int64_t p0, int64_t p1, float *out)


cdef extern from "_hm_minhash.h" nogil:
    void hm_band_keys(const uint16_t *pool, int64_t n, int64_t r0, int64_t r1,
                      int64_t nbands, const int64_t *cols, const int64_t *off,
                      const int64_t *empty, uint64_t *keys, uint8_t *valid)
    void hm_minhash_rows(const uint64_t *clks, int64_t W, int64_t n, int64_t r0, int64_t r1,
                         int64_t norders, const int64_t *pos, const int64_t *off,
                         int64_t *out)
