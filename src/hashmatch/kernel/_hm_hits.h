/* Hits between the passes of a comparison, and putting them in output order.
 *
 * hm_row: one A row's hits as positions in sorted B with their counts (pass 1 appends);
 * hm_hit: a hit in original B order with its float32 score, ordered by j (qsort, or the
 * hm_scatter bitmap for dense rows) or best-first (the top-k heap). */
#ifndef HASHMATCH_HM_HITS_H
#define HASHMATCH_HM_HITS_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "_hm_cpu.h"

/* One A row's hits: positions in sorted B and their intersection counts. Positions are
 * 32-bit (the wrapper refuses B with 2^32 rows or more), so the AVX-512 select packs 16
 * of them per compress. */
typedef struct {
    uint32_t *k;
    uint32_t *c;
    int64_t n, cap;
} hm_row;

/* Append n hits; `expect` estimates the row's final count (sized once, so a dense row
 * does not pay a string of reallocations). */
static int hm_row_append(hm_row *r, const uint32_t *k, const uint32_t *c, int64_t n,
                         int64_t expect)
{
    if (r->n + n > r->cap) {
        int64_t cap = r->cap ? 2 * r->cap : (expect > 16 ? expect : 16);
        while (cap < r->n + n) cap *= 2;
        uint32_t *nk = (uint32_t *)realloc(r->k, (size_t)cap * sizeof(uint32_t));
        if (nk) r->k = nk;
        uint32_t *nc = (uint32_t *)realloc(r->c, (size_t)cap * sizeof(uint32_t));
        if (nc) r->c = nc;
        if (!nk || !nc) return -1;
        r->cap = cap;
    }
    memcpy(r->k + r->n, k, (size_t)n * sizeof(uint32_t));
    memcpy(r->c + r->n, c, (size_t)n * sizeof(uint32_t));
    r->n += n;
    return 0;
}

static void hm_row_free(hm_row *r)
{
    free(r->k); free(r->c);
    r->k = r->c = NULL; r->n = r->cap = 0;
}

/* A hit in original B order, used for sorting and top-k selection. */
typedef struct {
    int64_t j;
    float score; /* rounded as output, so top-k ties agree with the float32 scores */
} hm_hit;

static int hm_cmp_j(const void *x, const void *y)
{
    int64_t a = ((const hm_hit *)x)->j, b = ((const hm_hit *)y)->j;
    return (a > b) - (a < b);
}

/* Top-k order: score descending, then j ascending (a total order, so the k best are unique). */
HM_INLINE int hm_better(const hm_hit *a, const hm_hit *b)
{
    return a->score > b->score || (a->score == b->score && a->j < b->j);
}

static int hm_cmp_best(const void *x, const void *y)
{
    const hm_hit *a = (const hm_hit *)x, *b = (const hm_hit *)y;
    return hm_better(a, b) ? -1 : hm_better(b, a);
}

/* Offer a hit to a min-heap holding the k best so far (root: the worst of them). */
static void hm_heap_offer(hm_hit *heap, int64_t *size, int64_t k, hm_hit h)
{
    int64_t p;
    if (*size < k) { /* sift up */
        p = (*size)++;
        while (p > 0 && hm_better(&heap[(p - 1) / 2], &h)) {
            heap[p] = heap[(p - 1) / 2];
            p = (p - 1) / 2;
        }
        heap[p] = h;
        return;
    }
    if (!hm_better(&h, &heap[0])) return;
    p = 0; /* replace the root, sift down */
    for (;;) {
        int64_t ch = 2 * p + 1;
        if (ch >= k) break;
        if (ch + 1 < k && hm_better(&heap[ch], &heap[ch + 1])) ch++;
        if (!hm_better(&h, &heap[ch])) break;
        heap[p] = heap[ch];
        p = ch;
    }
    heap[p] = h;
}

/* Write n hits to oj/os in order, and the row index i to oi unless oi is NULL. */
HM_INLINE void hm_write_hits(const hm_hit *hits, int64_t n, int64_t i, int64_t *oi,
                             int64_t *oj, float *os)
{
    for (int64_t h = 0; h < n; h++) {
        if (oi) oi[h] = i;
        oj[h] = hits[h].j;
        os[h] = hits[h].score;
    }
}

/* Scratch for putting dense rows back in original B order without sorting: hits are
 * scattered into a bitmap over original indices and read back in order, which costs
 * O(hits + m / 64) instead of a sort. */
typedef struct {
    uint64_t *bits; /* one bit per B row; all-zero between rows */
    float *score;   /* score per original B row, valid where the bit is set */
    int64_t jmin, jmax;
} hm_scatter;

static int hm_scatter_init(hm_scatter *sc, int64_t m)
{
    if (!sc->bits) {
        sc->bits = (uint64_t *)calloc((size_t)(m / 64 + 1), sizeof(uint64_t));
        sc->score = (float *)malloc((size_t)(m ? m : 1) * sizeof(float));
        if (!sc->bits || !sc->score) return -1;
    }
    sc->jmin = m;
    sc->jmax = -1;
    return 0;
}

HM_INLINE void hm_scatter_add(hm_scatter *sc, int64_t j, float score)
{
    sc->bits[j >> 6] |= 1ULL << (j & 63);
    sc->score[j] = score;
    if (j < sc->jmin) sc->jmin = j;
    if (j > sc->jmax) sc->jmax = j;
}

/* Read the scattered hits back in j order (clearing the bitmap); i >= 0 also fills oi. */
static void hm_scatter_drain(hm_scatter *sc, int64_t i, int64_t *oi, int64_t *oj, float *os)
{
    int64_t h = 0;
    for (int64_t w = sc->jmin >> 6; w <= (sc->jmax >> 6); w++) {
        uint64_t word = sc->bits[w];
        sc->bits[w] = 0;
        while (word) {
            const int64_t j = (w << 6) + __builtin_ctzll(word);
            if (i >= 0) oi[h] = i;
            oj[h] = j;
            os[h] = sc->score[j];
            h++;
            word &= word - 1;
        }
    }
}

static void hm_scatter_free(hm_scatter *sc)
{
    free(sc->bits);
    free(sc->score);
    sc->bits = NULL;
    sc->score = NULL;
}

#endif
