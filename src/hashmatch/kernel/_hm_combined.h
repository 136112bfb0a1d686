/* The combined Dice score of listed pairs, everything from one read of the two rows.
 *
 * The formula is hashmatch.link.scorer.PairScorer's (whole-CLK Dice, names read crosswise
 * where a swap pair agrees better, blended with field-aware Dice, exact-token bonuses and
 * penalties, a factor per clearly disagreeing stable field; see link/scoring.py and
 * link/segments.py). Each step repeats the numpy reference's operations in its precision
 * and order (float64 where numpy computes in float64, float32 where it rounds to float32),
 * so the float32 scores are the reference's to the bit; tests/unit/kernel checks it. */
#ifndef HASHMATCH_HM_COMBINED_H
#define HASHMATCH_HM_COMBINED_H

#include <math.h>
#include <stdint.h>
#include <string.h>
#include "_hm_count.h"

#define HM_MAX_SEGMENTS 64

typedef struct {
    int64_t W;                       /* CLK words */
    const uint64_t *A, *B;           /* CLKs [rows, W] of the two parties */
    const int64_t *tot_a, *tot_b;    /* popcount of each row */
    int64_t nseg;                    /* field segments (<= HM_MAX_SEGMENTS) */
    const uint16_t *pop_a, *pop_b;   /* [rows, nseg] popcounts per segment */
    const uint8_t *pres_a, *pres_b;  /* [rows, nseg] field present */
    const uint8_t *nested;           /* [nseg]: compared by containment */
    const int64_t *seg_lo, *seg_hi;  /* [nseg] word range of each segment */
    const uint64_t *seg_mask;        /* [nseg, W] bits of each segment */
    const uint8_t *counted;          /* [nseg]: segments whose own count is needed */
    /* swap pairs: segment indices and the four aligned segments (rows of `sw_words`) */
    int64_t nswap;
    const int64_t *sw_s, *sw_t, *sw_words;
    const uint64_t *const *sw_as, *const *sw_at, *const *sw_bs, *const *sw_bt;
    /* stable fields: segment, float32 cut below which the field disagrees */
    int64_t nstable;
    const int64_t *st_seg;
    const float *st_below;
    /* token columns with evidence, [rows, ntok, 16] per side (a row's tokens side by
     * side: one or two cache lines, not one per column); bonus and penalty per column */
    int64_t ntok;
    const uint8_t *tok_a, *tok_b;
    const double *tok_bonus, *tok_penalty;
    double max_bonus, max_penalty;
    const double *factor_pow;        /* [nstable + 1]: disagreement_factor ** k */
    double blend;                    /* weight of field-aware Dice */
} hm_combined;

HM_INLINE int hm_token_any(const uint8_t *x)
{
    uint64_t w0, w1;
    memcpy(&w0, x, 8);
    memcpy(&w1, x + 8, 8);
    return (w0 | w1) != 0;
}

static float hm_combined_one(const hm_combined *c, int64_t i, int64_t j)
{
    const int64_t W = c->W, nseg = c->nseg;
    const uint64_t *a = c->A + i * W, *b = c->B + j * W;
    const uint16_t *pa = c->pop_a + i * nseg, *pb = c->pop_b + j * nseg;
    const uint8_t *qa = c->pres_a + i * nseg, *qb = c->pres_b + j * nseg;
    int32_t seg_count[HM_MAX_SEGMENTS];
    uint8_t swapped[HM_MAX_SEGMENTS];
    int64_t inter = (int64_t)hm_and_pop(a, b, W);
    for (int64_t s = 0; s < nseg; s++) {
        swapped[s] = 0;
        if (!c->counted[s]) continue;
        const uint64_t *m = c->seg_mask + s * W;
        uint64_t acc = 0;
        for (int64_t w = c->seg_lo[s]; w < c->seg_hi[s]; w++) acc += hm_pop64(a[w] & b[w] & m[w]);
        seg_count[s] = (int32_t)acc;
    }
    for (int64_t k = 0; k < c->nswap; k++) {  /* segments.swapped_names */
        const int64_t s = c->sw_s[k], t = c->sw_t[k], words = c->sw_words[k];
        const int32_t ab = (int32_t)hm_and_pop(c->sw_as[k] + i * words, c->sw_bt[k] + j * words, words);
        const int32_t ba = (int32_t)hm_and_pop(c->sw_at[k] + i * words, c->sw_bs[k] + j * words, words);
        const int present = qa[s] && qa[t] && qb[s] && qb[t];
        const double dice_ab = 2.0 * (double)ab / ((double)pa[s] + (double)pb[t]);
        const double dice_ba = 2.0 * (double)ba / ((double)pa[t] + (double)pb[s]);
        const int32_t gain = ab + ba - (seg_count[s] + seg_count[t]);
        const int sw = present && dice_ab >= 0.5 && dice_ba >= 0.5 && gain > 0;
        if (sw) inter += gain;
        swapped[s] = swapped[t] = (uint8_t)sw;
    }
    /* segments.clk_dice */
    const int64_t total = c->tot_a[i] + c->tot_b[j];
    float dice = 0.0f;
    if (total > 0) {
        double d = 2.0 * (double)inter / (double)total;
        dice = (float)(d < 1.0 ? d : 1.0);
    }
    /* segments.field_aware_dice and blended_dice */
    int64_t denom = 0;
    for (int64_t s = 0; s < nseg; s++) {
        if (!(qa[s] && qb[s])) continue;
        const int32_t x = pa[s], y = pb[s];
        denom += (c->nested && c->nested[s]) ? 2 * (x < y ? x : y) : x + y;
    }
    float aware = 0.0f;
    if (denom > 0) {
        double d = 2.0 * (double)inter / (double)denom;
        aware = (float)(d < 1.0 ? d : 1.0);
    }
    const float blended = (float)(1.0 - c->blend) * dice + (float)c->blend * aware;
    /* scoring.token_agreement and combine_scores */
    double bonus = 0.0, penalty = 0.0;
    for (int64_t k = 0; k < c->ntok; k++) {
        const uint8_t *x = c->tok_a + (i * c->ntok + k) * 16;
        const uint8_t *y = c->tok_b + (j * c->ntok + k) * 16;
        if (!(hm_token_any(x) && hm_token_any(y))) continue;
        if (memcmp(x, y, 16) == 0) bonus += c->tok_bonus[k];
        else penalty += c->tok_penalty[k];
    }
    double score = (double)blended + (bonus < c->max_bonus ? bonus : c->max_bonus)
                   - (penalty < c->max_penalty ? penalty : c->max_penalty);
    score = score < 0.0 ? 0.0 : (score > 1.0 ? 1.0 : score);
    if (c->nstable) {  /* segments.field_dice below the field's cut, unless read swapped */
        int64_t disagree = 0;
        for (int64_t k = 0; k < c->nstable; k++) {
            const int64_t s = c->st_seg[k];
            const double x = (double)pa[s], y = (double)pb[s];
            const double half = (c->nested && c->nested[s]) ? (x < y ? x : y) : (x + y) / 2;
            if (!(qa[s] && qb[s] && half > 0) || swapped[s]) continue;
            const double r = (double)seg_count[s] / half;
            const float d = (float)(r < 1.0 ? r : 1.0);
            disagree += d < c->st_below[k];
        }
        score *= c->factor_pow[disagree];
    }
    return (float)score;
}

/* Pairs ahead whose rows are prefetched: a pair reads ~8 cache lines of its right row
 * (CLK, swap-aligned segments, tokens, popcounts) at random places, so without prefetching
 * the loop waits on memory for each of them in turn. */
#define HM_PREFETCH_AHEAD 8

HM_INLINE void hm_prefetch_lines(const void *p, int64_t bytes)
{
    const char *x = (const char *)p;
    if (bytes <= 0) return;
    for (int64_t k = 0; k < bytes; k += 64) __builtin_prefetch(x + k, 0, 3);
    __builtin_prefetch(x + bytes - 1, 0, 3);
}

/* Every line hm_combined_one reads of row r of one side (B when right, else A). */
HM_INLINE void hm_combined_prefetch(const hm_combined *c, int64_t r, int right)
{
    const int64_t W = c->W, nseg = c->nseg;
    hm_prefetch_lines((right ? c->B : c->A) + r * W, W * 8);
    hm_prefetch_lines((right ? c->pop_b : c->pop_a) + r * nseg, nseg * 2);
    hm_prefetch_lines((right ? c->pres_b : c->pres_a) + r * nseg, nseg);
    __builtin_prefetch((right ? c->tot_b : c->tot_a) + r, 0, 3);
    for (int64_t k = 0; k < c->nswap; k++) {
        const int64_t words = c->sw_words[k];
        hm_prefetch_lines((right ? c->sw_bs[k] : c->sw_as[k]) + r * words, words * 8);
        hm_prefetch_lines((right ? c->sw_bt[k] : c->sw_at[k]) + r * words, words * 8);
    }
    hm_prefetch_lines((right ? c->tok_b : c->tok_a) + r * c->ntok * 16, c->ntok * 16);
}

/* Scores of pairs p0 .. p1 - 1. The rows of pair p + HM_PREFETCH_AHEAD are prefetched
 * while pair p is scored (a left row only when it changes: pairs come sorted by it);
 * prefetching changes no result. */
static void hm_combined_scores(const hm_combined *c, const int64_t *ii, const int64_t *jj,
                               int64_t p0, int64_t p1, float *out)
{
    int64_t last_i = -1;
    for (int64_t p = p0; p < p1 && p < p0 + HM_PREFETCH_AHEAD; p++) {
        if (ii[p] != last_i) hm_combined_prefetch(c, last_i = ii[p], 0);
        hm_combined_prefetch(c, jj[p], 1);
    }
    for (int64_t p = p0; p < p1; p++) {
        const int64_t q = p + HM_PREFETCH_AHEAD;
        if (q < p1) {
            if (ii[q] != last_i) hm_combined_prefetch(c, last_i = ii[q], 0);
            hm_combined_prefetch(c, jj[q], 1);
        }
        out[p] = hm_combined_one(c, ii[p], jj[p]);
    }
}

#endif
