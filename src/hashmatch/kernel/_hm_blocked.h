/* Blocked candidates: the (i, j) pairs of left rows r0..r1 from sorted key tables.
 *
 * A key table (built by hashmatch.link.blocking) holds, per left entry (row, key column),
 * the group of right entries sharing its key, as a range of `right_order` (right entries
 * sorted by key). A left row's partners in one table are the rows of those ranges; within
 * one party (dedup) only the entries after the left entry's own position (`rank`), so each
 * pair comes once, with j > i. Per row the partners of each table are sorted and
 * de-duplicated (their number is that table's count), then merged over the tables, so the
 * output is sorted by (i, j) with no pair twice: the same pairs, in the same order, as the
 * numpy reference in blocking.py. */
#ifndef HASHMATCH_HM_BLOCKED_H
#define HASHMATCH_HM_BLOCKED_H

#include <stdint.h>
#include <stdlib.h>
#include "_hm_cpu.h"

typedef struct {
    int64_t width;               /* key columns: entry e is row e / width */
    const int64_t *left_group;   /* [left rows * width]: group of each left entry, -1: none */
    const int64_t *group_start;  /* first position of each group in right_order */
    const int64_t *group_size;
    const int64_t *right_order;  /* right entries sorted by key */
    const int64_t *rank;         /* dedup: position of each entry in right_order; else NULL */
} hm_table;

static int hm_cmp_i64(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return (a > b) - (a < b);
}

HM_INLINE void hm_sort_i64(int64_t *x, int64_t n)
{
    if (n > 32) { qsort(x, (size_t)n, sizeof(int64_t), hm_cmp_i64); return; }
    for (int64_t k = 1; k < n; k++) {
        int64_t v = x[k], m = k - 1;
        while (m >= 0 && x[m] > v) { x[m + 1] = x[m]; m--; }
        x[m + 1] = v;
    }
}

/* Sort x[0..n) and drop repeats; returns the distinct count. */
HM_INLINE int64_t hm_sort_unique(int64_t *x, int64_t n)
{
    if (n < 2) return n;
    hm_sort_i64(x, n);
    int64_t d = 1;
    for (int64_t k = 1; k < n; k++)
        if (x[k] != x[d - 1]) x[d++] = x[k];
    return d;
}

/* Distinct pairs of left rows r0..r1 into oi/oj (from position 0), sorted by (i, j);
 * returns their number. The caller reserves at least the rows' raw partner count (every
 * table's group sizes summed): partners are written there before being de-duplicated.
 * per_table[t] gains the distinct pairs table t alone gives. */
static int64_t hm_expand_rows(const hm_table *tables, int64_t ntables, int dedup,
                              int64_t r0, int64_t r1, int64_t *oi, int64_t *oj,
                              int64_t *per_table)
{
    int64_t out = 0;
    for (int64_t i = r0; i < r1; i++) {
        const int64_t row_start = out;
        for (int64_t t = 0; t < ntables; t++) {
            const hm_table *T = tables + t;
            const int64_t from = out;
            for (int64_t c = 0; c < T->width; c++) {
                const int64_t e = i * T->width + c;
                const int64_t g = T->left_group[e];
                if (g < 0) continue;
                int64_t k = T->group_start[g];
                const int64_t stop = k + T->group_size[g];
                if (dedup) k = T->rank[e] + 1;  /* the entries after this one */
                for (; k < stop; k++) {
                    const int64_t j = T->right_order[k] / T->width;
                    if (dedup && j <= i) continue;  /* a key collision across columns */
                    oj[out++] = j;
                }
            }
            const int64_t n = hm_sort_unique(oj + from, out - from);
            per_table[t] += n;
            out = from + n;
        }
        if (ntables > 1) out = row_start + hm_sort_unique(oj + row_start, out - row_start);
        for (int64_t k = row_start; k < out; k++) oi[k] = i;
    }
    return out;
}

#endif
