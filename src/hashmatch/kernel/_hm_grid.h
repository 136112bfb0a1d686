/* The grid driver: every A row against B sorted by popcount, at a threshold.
 *
 * Two passes run in parallel over chunks of A rows (see _core.pyx): hm_chunk_find visits,
 * for each tile of B and every A row of the chunk, only the feasible popcount range of that
 * row, counts |a & b| for the tile into a small buffer and keeps the hits (threshold per
 * popcount run from a table `cmin`); hm_chunk_emit then puts each row's hits back into
 * original B order and writes them with their float32 scores at the chunk's place in the
 * output. For b=None, _hm_triangle.h hands each pair, found once, to its row min(i, j). */
#ifndef HASHMATCH_HM_GRID_H
#define HASHMATCH_HM_GRID_H

#include <stdint.h>
#include <stdlib.h>
#include "_hm_count.h"
#include "_hm_score.h"
#include "_hm_hits.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif


typedef struct {
    const uint64_t *A;     /* A rows (this call's slice), n x W */
    const int32_t *pa;     /* popcount of each A row */
    const int64_t *kstart; /* feasible range [kstart, kend) in sorted B, per A row */
    const int64_t *kend;
    int64_t i_offset;      /* original index of A row 0 (streaming slices) */
    const uint64_t *B;     /* B sorted by popcount, m x W */
    const int32_t *pb;     /* sorted popcounts */
    const int64_t *border; /* original index of each sorted B row */
    const int64_t *run_end;/* first position after k's run of equal popcount */
    int64_t m, W;
    const int32_t *cmin;   /* hit iff c >= cmin[pa + pb]; size 2*64*W + 1 */
    int metric;
    double nbits;          /* bit length used by the Hamming normalisation */
    int self_mode;         /* keep only original j > i */
    int64_t topk;          /* 0: all hits; else best `topk` per row */
} hm_grid;

/* A chunk of A rows between the two passes: hit lists found, output not yet written. */
typedef struct {
    hm_row *rows;  /* one list per A row of the chunk */
    int64_t nout;  /* hits the chunk will write (after the i < j and top-k cuts) */
    int64_t most;  /* longest list: scratch size for the emit pass */
} hm_chunk;

static void hm_chunk_free(hm_chunk *ch, int64_t nr)
{
    if (ch->rows)
        for (int64_t r = 0; r < nr; r++) hm_row_free(&ch->rows[r]);
    free(ch->rows);
    ch->rows = NULL;
}

#define HM_TILE_BYTES (32 * 1024)
#define HM_COUNT_BLOCK 512

/* Write the positions k in [b0, b1) whose count reaches the threshold of their popcount
 * run (cm = cmin shifted by |a|) to hk/hc; returns how many. hk/hc hold b1 - b0 entries. */
#if defined(__AVX512F__)
static int64_t hm_select(const uint32_t *cnt, int64_t b0, int64_t b1, const int32_t *pb,
                         const int64_t *run_end, const int32_t *cm, uint32_t *hk, uint32_t *hc)
{
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    int64_t nh = 0, k = b0;
    for (; k + 16 <= b1; k += 16) {
        __m512i thr;
        if (run_end[k] >= k + 16) /* one popcount run: one threshold */
            thr = _mm512_set1_epi32(cm[pb[k]]);
        else
            thr = _mm512_i32gather_epi32(_mm512_loadu_si512(pb + k), cm, 4);
        const __m512i cv = _mm512_loadu_si512(cnt + (k - b0));
        const __mmask16 hit = _mm512_cmpge_epu32_mask(cv, thr);
        if (hit) { /* pack the hits; the full-width stores stay inside hk/hc (nh <= k - b0) */
            const __m512i kv = _mm512_add_epi32(_mm512_set1_epi32((int32_t)k), iota);
            _mm512_storeu_si512(hk + nh, _mm512_maskz_compress_epi32(hit, kv));
            _mm512_storeu_si512(hc + nh, _mm512_maskz_compress_epi32(hit, cv));
            nh += __builtin_popcount(hit);
        }
    }
    for (; k < b1; k++) { /* branch-free append */
        const uint32_t c = cnt[k - b0];
        hk[nh] = (uint32_t)k;
        hc[nh] = c;
        nh += c >= (uint32_t)cm[pb[k]];
    }
    return nh;
}
#else
static int64_t hm_select(const uint32_t *cnt, int64_t b0, int64_t b1, const int32_t *pb,
                         const int64_t *run_end, const int32_t *cm, uint32_t *hk, uint32_t *hc)
{
    int64_t nh = 0;
    for (int64_t k = b0; k < b1;) {
        const int64_t e = run_end[k] < b1 ? run_end[k] : b1;
        const uint32_t thr = (uint32_t)cm[pb[k]];
        for (; k < e; k++) { /* branch-free append */
            const uint32_t c = cnt[k - b0];
            hk[nh] = (uint32_t)k;
            hc[nh] = c;
            nh += c >= thr;
        }
    }
    return nh;
}
#endif

/* Pass 1: rows [r0, r1) of A against B; fills ch (hit lists and the output size).
 * Returns 0, or -1 on OOM. */
static int hm_chunk_find(const hm_grid *g, int64_t r0, int64_t r1, hm_chunk *ch)
{
    const int64_t W = g->W, nr = r1 - r0;
    /* B tile sized for L1: every A row of the chunk re-reads it from there. */
    int64_t tile = HM_TILE_BYTES / (W * 8);
    if (tile > HM_COUNT_BLOCK) tile = HM_COUNT_BLOCK;
    tile -= tile % 16;
    if (tile < 16) tile = 16;
    int status = 0;
    uint32_t cnt[HM_COUNT_BLOCK], hk[HM_COUNT_BLOCK], hc[HM_COUNT_BLOCK];
    ch->nout = ch->most = 0;
    ch->rows = (hm_row *)calloc((size_t)nr, sizeof(hm_row));
    if (!ch->rows) return -1;

    /* the union of the chunk's ranges bounds the tiles we need to visit */
    int64_t lo = g->m, hi = 0;
    for (int64_t r = r0; r < r1; r++) {
        if (g->kstart[r] < g->kend[r]) {
            if (g->kstart[r] < lo) lo = g->kstart[r];
            if (g->kend[r] > hi) hi = g->kend[r];
        }
    }
    for (int64_t t0 = lo; t0 < hi && !status; t0 += tile) {
        int64_t t1 = t0 + tile < hi ? t0 + tile : hi;
        for (int64_t r = r0; r < r1 && !status; r++) {
            int64_t k0 = g->kstart[r] > t0 ? g->kstart[r] : t0;
            int64_t k1 = g->kend[r] < t1 ? g->kend[r] : t1;
            if (k0 >= k1) continue;
            hm_row *row = &ch->rows[r - r0];
            const uint64_t *a = g->A + r * W;
            const int32_t *cm = g->cmin + g->pa[r];
            for (int64_t b0 = k0; b0 < k1; b0 += HM_COUNT_BLOCK) {
                int64_t b1 = b0 + HM_COUNT_BLOCK < k1 ? b0 + HM_COUNT_BLOCK : k1;
                hm_counts(a, g->B, b0, b1, W, cnt);
                int64_t nh = hm_select(cnt, b0, b1, g->pb, g->run_end, cm, hk, hc);
                if (!nh) continue;
                /* hit rate so far, extrapolated to the row's whole range, plus 1/8 */
                const int64_t seen = b1 - g->kstart[r], span = g->kend[r] - g->kstart[r];
                const int64_t expect = (row->n + nh) * span / seen * 9 / 8;
                if (hm_row_append(row, hk, hc, nh, expect)) { status = -1; break; }
            }
        }
    }
    for (int64_t r = 0; r < nr && !status; r++) {
        hm_row *row = &ch->rows[r];
        if (g->self_mode) { /* keep original j > i only */
            const int64_t i = g->i_offset + r0 + r;
            int64_t n = 0;
            for (int64_t h = 0; h < row->n; h++) {
                row->k[n] = row->k[h];
                row->c[n] = row->c[h];
                n += g->border[row->k[h]] > i;
            }
            row->n = n;
        }
        if (row->n == 0) { hm_row_free(row); continue; }
        ch->nout += g->topk > 0 && row->n > g->topk ? g->topk : row->n;
        if (row->n > ch->most) ch->most = row->n;
    }
    return status;
}

/* Hit h of A row r's list: its original B index and its score, rounded as output. */
HM_INLINE hm_hit hm_row_hit(const hm_grid *g, int64_t r, const hm_row *row, int64_t h)
{
    const int64_t k = row->k[h];
    const hm_hit hit = {g->border[k],
                        (float)hm_score(g->metric, row->c[h], g->pa[r] + g->pb[k], g->nbits)};
    return hit;
}

/* Write one row's hits in original B order (best-first for top-k) to oi/oj/os; returns
 * how many, or -1 on OOM. Sparse rows are sorted; dense rows (many hits for the width of
 * B) go through the bitmap. */
static int64_t hm_emit_row(const hm_grid *g, int64_t r, const hm_row *row, hm_hit *tmp,
                           hm_scatter *sc, int64_t *oi, int64_t *oj, float *os)
{
    const int64_t i = g->i_offset + r, n = row->n;
    if (g->topk > 0) {
        int64_t kept = 0;
        for (int64_t h = 0; h < n; h++)
            hm_heap_offer(tmp, &kept, g->topk, hm_row_hit(g, r, row, h));
        qsort(tmp, (size_t)kept, sizeof(hm_hit), hm_cmp_best);
        hm_write_hits(tmp, kept, i, oi, oj, os);
        return kept;
    }
    if (n * 256 > g->m) { /* dense */
        if (hm_scatter_init(sc, g->m)) return -1;
        for (int64_t h = 0; h < n; h++) {
            const hm_hit hit = hm_row_hit(g, r, row, h);
            hm_scatter_add(sc, hit.j, hit.score);
        }
        hm_scatter_drain(sc, i, oi, oj, os);
        return n;
    }
    /* B is sorted by popcount, so hits come out of order: sort by original j. */
    for (int64_t h = 0; h < n; h++) tmp[h] = hm_row_hit(g, r, row, h);
    qsort(tmp, (size_t)n, sizeof(hm_hit), hm_cmp_j);
    hm_write_hits(tmp, n, i, oi, oj, os);
    return n;
}

/* Pass 2: write chunk ch's hits (rows [r0, r1), ch->nout of them) to oi/oj/os and free its
 * lists as it goes. Returns 0, or -1 on OOM. */
static int hm_chunk_emit(const hm_grid *g, int64_t r0, int64_t r1, hm_chunk *ch,
                         int64_t *oi, int64_t *oj, float *os)
{
    const int64_t nr = r1 - r0;
    int status = 0;
    int64_t pos = 0;
    hm_scatter sc = {NULL, NULL, 0, 0};
    hm_hit *tmp = (hm_hit *)malloc((size_t)(ch->most ? ch->most : 1) * sizeof(hm_hit));
    if (!tmp) status = -1;
    for (int64_t r = 0; r < nr && !status; r++) {
        hm_row *row = &ch->rows[r];
        if (!row->n) continue;
        const int64_t w = hm_emit_row(g, r0 + r, row, tmp, &sc, oi + pos, oj + pos, os + pos);
        if (w < 0) status = -1;
        else pos += w;
        hm_row_free(row);
    }
    free(tmp);
    hm_scatter_free(&sc);
    hm_chunk_free(ch, nr);
    return status;
}

#endif
