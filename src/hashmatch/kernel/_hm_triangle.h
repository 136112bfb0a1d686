/* Self-comparison (b=None): each unordered pair compared once, handed to row min(i, j).
 *
 * A row i at sorted position p_i walks only positions q > p_i, so every unordered pair is
 * compared once instead of twice. A hit {i, j} belongs to output row min(i, j), which may be
 * another chunk's row: the passes below count hits per owner row, move each hit into its
 * owner's segment of the output (a prefix sum gives the segments), then sort each segment by
 * j. Chunks are dealt to a fixed number of lanes, each with private counts and cursors (no
 * atomics, no shared cache lines); placement inside a segment depends on the lanes, the
 * sorted result does not. */
#ifndef HASHMATCH_HM_TRIANGLE_H
#define HASHMATCH_HM_TRIANGLE_H

#include <stdint.h>
#include <stdlib.h>
#include "_hm_grid.h"

static void hm_chunk_count_owners(const hm_grid *g, int64_t r0, int64_t r1, const hm_chunk *ch,
                                  int64_t *count)
{
    for (int64_t r = r0; r < r1; r++) {
        const hm_row *row = &ch->rows[r - r0];
        int64_t own = 0;
        for (int64_t h = 0; h < row->n; h++) {
            const int64_t j = g->border[row->k[h]];
            if (j > r) own++;
            else count[j]++;
        }
        count[r] += own;
    }
}

/* Move chunk ch's hits (rows [r0, r1)) to their owners' segments (cursor: the lane's next
 * slot per owner) as (other index, score); frees the chunk's lists. */
static void hm_chunk_scatter(const hm_grid *g, int64_t r0, int64_t r1, hm_chunk *ch,
                             int64_t *cursor, int64_t *oj, float *os)
{
    for (int64_t r = r0; r < r1; r++) {
        hm_row *row = &ch->rows[r - r0];
        const int64_t pa = g->pa[r];
        for (int64_t h = 0; h < row->n; h++) {
            const int64_t k = row->k[h];
            const int64_t j = g->border[k];
            const int64_t slot = cursor[j > r ? r : j]++;
            oj[slot] = j > r ? j : r;
            os[slot] = (float)hm_score(g->metric, row->c[h], pa + g->pb[k], g->nbits);
        }
        hm_row_free(row);
    }
    hm_chunk_free(ch, r1 - r0);
}

/* Finish owner rows [x0, x1): segment x is oj/os[seg[x]:seg[x + 1]]. Without top-k, sort
 * each segment by j in place and fill oi; with top-k, write its k best to ti/tj/ts from
 * toff[x] on. Returns 0, or -1 on OOM. */
static int hm_rows_finish(const hm_grid *g, int64_t x0, int64_t x1, const int64_t *seg,
                          int64_t *oi, int64_t *oj, float *os, const int64_t *toff,
                          int64_t *ti, int64_t *tj, float *ts)
{
    int64_t most = 1;
    for (int64_t x = x0; x < x1; x++)
        if (seg[x + 1] - seg[x] > most) most = seg[x + 1] - seg[x];
    hm_hit *tmp = (hm_hit *)malloc((size_t)most * sizeof(hm_hit));
    hm_scatter sc = {NULL, NULL, 0, 0};
    int status = tmp ? 0 : -1;
    for (int64_t x = x0; x < x1 && !status; x++) {
        const int64_t s0 = seg[x], n = seg[x + 1] - s0;
        int64_t *sj = oj + s0;
        float *ss = os + s0;
        if (!n) continue;
        if (g->topk > 0) {
            int64_t kept = 0;
            for (int64_t h = 0; h < n; h++) {
                hm_hit hit = {sj[h], ss[h]};
                hm_heap_offer(tmp, &kept, g->topk, hit);
            }
            qsort(tmp, (size_t)kept, sizeof(hm_hit), hm_cmp_best);
            hm_write_hits(tmp, kept, x, ti + toff[x], tj + toff[x], ts + toff[x]);
            continue;
        }
        for (int64_t h = 0; h < n; h++) oi[s0 + h] = x;
        if (n * 256 > g->m) { /* dense */
            if (hm_scatter_init(&sc, g->m)) { status = -1; break; }
            for (int64_t h = 0; h < n; h++) hm_scatter_add(&sc, sj[h], ss[h]);
            hm_scatter_drain(&sc, -1, NULL, sj, ss);
            continue;
        }
        for (int64_t h = 0; h < n; h++) {
            tmp[h].j = sj[h];
            tmp[h].score = ss[h];
        }
        qsort(tmp, (size_t)n, sizeof(hm_hit), hm_cmp_j);
        hm_write_hits(tmp, n, x, NULL, sj, ss);
    }
    free(tmp);
    hm_scatter_free(&sc);
    return status;
}

#endif
