/* One query record against the lookup service's in-memory index, in one C call.
 *
 * The loops of hashmatch.service.index's numpy route, for a single record:
 *   hm_or_prepare    the record as the scorer's left party (service.index._QueryParty):
 *                    popcount per segment and of the whole CLK, presence per segment,
 *                    the swap pairs' segments moved to bit 0 (segments.aligned_segment);
 *   hm_or_keys       its blocking keys (service.query_keys.QueryKeys.keys): MinHash pool
 *                    from the rank table, band keys (FNV), token keys, salted and mixed;
 *   hm_or_spans      per key and index part, the block of rows holding it (binary search
 *                    in the part's sorted keys); the caller keeps the blocks of at most
 *                    max_block live rows, dedupes and scores them with hm_combined_one
 *                    (_hm_combined.h: the link's own score, to the bit);
 *   hm_or_field_dice the per-field Dice of the explanation (segments.field_dice).
 * Integer work is exact; the two float results repeat the reference's precision steps. */
#ifndef HASHMATCH_HM_ONE_RECORD_H
#define HASHMATCH_HM_ONE_RECORD_H

#include <math.h>
#include <stdint.h>
#include <string.h>
#include "_hm_combined.h"

#define HM_OR_FNV_OFFSET 0xCBF29CE484222325ULL
#define HM_OR_FNV_PRIME 0x00000100000001B3ULL
#define HM_OR_MIX 0xBF58476D1CE4E5B9ULL

/* Segment popcounts, presence and aligned swap segments of one CLK row `clk`.
 * present_field[f]: the record holds layout field f; seg_field[s]: field of segment s.
 * aligned[k] (k < 2 * nswap: the s then the t segment of each pair) gets sw_words[k % nswap]
 * words; seg_start/seg_bits: each segment's bit range. */
static void hm_or_prepare(const hm_combined *c, const uint64_t *clk, const uint8_t *present_field,
                          const int64_t *seg_field, const int64_t *seg_start,
                          const int64_t *seg_bits, int64_t *tot, uint16_t *pop, uint8_t *pres,
                          uint64_t *const *aligned)
{
    const int64_t W = c->W;
    uint64_t all = 0;
    for (int64_t w = 0; w < W; w++) all += hm_pop64(clk[w]);
    *tot = (int64_t)all;
    for (int64_t s = 0; s < c->nseg; s++) {
        const uint64_t *m = c->seg_mask + s * W;
        uint64_t acc = 0;
        for (int64_t w = c->seg_lo[s]; w < c->seg_hi[s]; w++) acc += hm_pop64(clk[w] & m[w]);
        pop[s] = (uint16_t)acc;
        pres[s] = (uint8_t)(present_field[seg_field[s]] || acc > 0);
    }
    for (int64_t k = 0; k < 2 * c->nswap; k++) {
        const int64_t seg = k < c->nswap ? c->sw_s[k] : c->sw_t[k - c->nswap];
        const int64_t words = c->sw_words[k % c->nswap];
        const int64_t start = seg_start[seg], bits = seg_bits[seg];
        uint64_t *out = aligned[k];
        for (int64_t q = 0; q < words; q++) {
            const int64_t at = start + 64 * q, w = at >> 6, sh = at & 63;
            uint64_t v = w < W ? clk[w] >> sh : 0;
            if (sh && w + 1 < W) v |= clk[w + 1] << (64 - sh);
            const int64_t left = bits - 64 * q;  /* bits of the segment from this word on */
            if (left < 64) v &= left > 0 ? ((1ULL << left) - 1) : 0;
            out[q] = v;
        }
    }
}

typedef struct {
    int64_t bits, hashes;            /* CLK bits; MinHash pool size */
    const int32_t *rank_t;           /* [bits, hashes]: rank of each bit in each order */
    const int64_t *empty;            /* [hashes]: the pool's value of an empty segment */
    const int64_t *pool_field;       /* [hashes]: layout field whose absence empties it */
    int64_t bands, width;            /* bands; positions per band (padded) */
    const int64_t *band_cols;        /* [bands, width] pool positions */
    const uint8_t *band_used;        /* [bands, width] */
    const uint64_t *band_offset;     /* [bands, width] position shift added to the value */
    int64_t ntokens;                 /* token columns (keyed before the bands) */
    const uint64_t *salts;           /* [ntokens + bands] */
} hm_or_keyplan;

/* The record's valid keys into out (capacity ntokens + bands); returns how many.
 * pool: scratch of `hashes` int64. tokens[k]: the 16 bytes of token column k. */
static int64_t hm_or_keys(const hm_or_keyplan *p, const uint64_t *clk, const uint8_t *present_field,
                          const uint8_t *const *tokens, int64_t *pool, int64_t *out)
{
    int64_t n = 0;
    for (int64_t k = 0; k < p->ntokens; k++) {
        uint64_t first;
        memcpy(&first, tokens[k], 8);
        if (!hm_token_any(tokens[k])) continue;
        out[n++] = (int64_t)((first ^ p->salts[k]) * HM_OR_MIX);
    }
    const int64_t H = p->hashes;
    for (int64_t h = 0; h < H; h++) pool[h] = p->empty[h];
    const int64_t words = (p->bits + 63) >> 6;
    for (int64_t w = 0; w < words; w++) {
        uint64_t x = clk[w];
        while (x) {
            const int64_t bit = 64 * w + __builtin_ctzll(x);
            x &= x - 1;
            if (bit >= p->bits) break;
            const int32_t *r = p->rank_t + bit * H;
            for (int64_t h = 0; h < H; h++) if (r[h] < pool[h]) pool[h] = r[h];
        }
    }
    for (int64_t h = 0; h < H; h++) if (!present_field[p->pool_field[h]]) pool[h] = p->empty[h];
    for (int64_t b = 0; b < p->bands; b++) {
        uint64_t key = HM_OR_FNV_OFFSET;
        int valid = 1;
        for (int64_t j = 0; j < p->width; j++) {
            if (!p->band_used[b * p->width + j]) continue;
            const int64_t col = p->band_cols[b * p->width + j];
            valid &= pool[col] != p->empty[col];
            key = (key ^ ((uint64_t)pool[col] + p->band_offset[b * p->width + j])) * HM_OR_FNV_PRIME;
        }
        if (valid) out[n++] = (int64_t)((key ^ p->salts[p->ntokens + b]) * HM_OR_MIX);
    }
    return n;
}

/* [lo, hi) of key `k` in the sorted keys[0:n] (numpy searchsorted left and right). */
static void hm_or_span(const int64_t *keys, int64_t n, int64_t k, int64_t *lo, int64_t *hi)
{
    int64_t a = 0, b = n;
    while (a < b) { const int64_t m = a + (b - a) / 2; if (keys[m] < k) a = m + 1; else b = m; }
    *lo = a;
    b = n;
    while (a < b) { const int64_t m = a + (b - a) / 2; if (keys[m] <= k) a = m + 1; else b = m; }
    *hi = a;
}

/* Field Dice of segment s for one pair, float32, NaN when either side lacks the field
 * (segments.field_dice): the intersection within the segment over the mean (or, for a
 * nested field, the smaller) popcount. */
static float hm_or_field_dice(const hm_combined *c, int64_t i, int64_t j, int64_t s)
{
    const int64_t W = c->W, nseg = c->nseg;
    const uint64_t *a = c->A + i * W, *b = c->B + j * W, *m = c->seg_mask + s * W;
    uint64_t acc = 0;
    for (int64_t w = c->seg_lo[s]; w < c->seg_hi[s]; w++) acc += hm_pop64(a[w] & b[w] & m[w]);
    const double x = (double)c->pop_a[i * nseg + s], y = (double)c->pop_b[j * nseg + s];
    const double half = (c->nested && c->nested[s]) ? (x < y ? x : y) : (x + y) / 2;
    if (!(c->pres_a[i * nseg + s] && c->pres_b[j * nseg + s] && half > 0)) return NAN;
    const double r = (double)acc / half;
    return (float)(r < 1.0 ? r : 1.0);
}

#endif
