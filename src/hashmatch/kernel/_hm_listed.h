/* Listed pairs (blocked candidates): scores, and intersection counts per pair. */
#ifndef HASHMATCH_HM_LISTED_H
#define HASHMATCH_HM_LISTED_H

#include <stdint.h>
#include "_hm_count.h"
#include "_hm_score.h"

/* Scores of listed pairs (blocked comparisons). Empty filters score 0. */
static void hm_pair_scores(const uint64_t *A, const int32_t *pa, const uint64_t *B,
                           const int32_t *pb, int64_t W, const int64_t *ii, const int64_t *jj,
                           int64_t p0, int64_t p1, int metric, double nbits, float *out)
{
    for (int64_t p = p0; p < p1; p++) {
        int64_t i = ii[p], j = jj[p];
        if (pa[i] == 0 || pb[j] == 0) { out[p] = 0.0f; continue; }
        uint32_t c = hm_and_pop(A + i * W, B + j * W, W);
        out[p] = (float)hm_score(metric, c, (int64_t)pa[i] + pb[j], nbits);
    }
}

/* Intersection counts of listed pairs, one row of 1 + nseg int32 per pair p (row-major):
 * column 0 is |a & b| over the whole rows, column 1 + s the count within segment s only
 * (words seg_lo[s] .. seg_hi[s] - 1 of a & b, masked by row s of seg_mask, nseg x W). The
 * caller turns counts into whatever score it needs, with popcounts it already holds. */
static void hm_pair_counts(const uint64_t *A, const uint64_t *B, int64_t W,
                           const int64_t *ii, const int64_t *jj, int64_t p0, int64_t p1,
                           int64_t nseg, const int64_t *seg_lo, const int64_t *seg_hi,
                           const uint64_t *seg_mask, int32_t *out)
{
    const int64_t width = 1 + nseg;
    for (int64_t p = p0; p < p1; p++) {
        const uint64_t *a = A + ii[p] * W, *b = B + jj[p] * W;
        int32_t *o = out + p * width;
        o[0] = (int32_t)hm_and_pop(a, b, W);
        for (int64_t s = 0; s < nseg; s++) {
            const uint64_t *m = seg_mask + s * W;
            uint64_t acc = 0;
            for (int64_t w = seg_lo[s]; w < seg_hi[s]; w++) acc += hm_pop64(a[w] & b[w] & m[w]);
            o[1 + s] = (int32_t)acc;
        }
    }
}

#endif
