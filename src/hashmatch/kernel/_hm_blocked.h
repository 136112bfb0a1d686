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
#include <string.h>
#include "_hm_cpu.h"

typedef struct {
    int64_t width;               /* key columns: entry e is row e / width */
    const int64_t *left_group;   /* [left rows * width]: group of each left entry, -1: none */
    const int64_t *group_start;  /* first position of each group in right_order */
    const int64_t *group_size;
    const int64_t *right_order;  /* right entries sorted by key */
    const int64_t *rank;         /* dedup: position of each entry in right_order; else NULL */
} hm_table;

HM_INLINE void hm_insertion_sort_i64(int64_t *x, int64_t n)
{
    for (int64_t k = 1; k < n; k++) {
        int64_t v = x[k], m = k - 1;
        while (m >= 0 && x[m] > v) { x[m + 1] = x[m]; m--; }
        x[m + 1] = v;
    }
}

/* Ascending sort of a row's partners: quicksort (median of three, the smaller side
 * first, so the stack stays logarithmic) down to short runs, then insertion sort; inline
 * comparisons instead of qsort's call per comparison. */
static void hm_sort_i64(int64_t *x, int64_t n)
{
    while (n > 24) {
        const int64_t a = x[0], b = x[n / 2], c = x[n - 1];
        const int64_t pivot = a < b ? (b < c ? b : (a < c ? c : a))
                                    : (a < c ? a : (b < c ? c : b));
        int64_t lo = 0, hi = n - 1;
        while (lo <= hi) {
            while (x[lo] < pivot) lo++;
            while (x[hi] > pivot) hi--;
            if (lo <= hi) { const int64_t t = x[lo]; x[lo] = x[hi]; x[hi] = t; lo++; hi--; }
        }
        /* x[0..hi] <= pivot <= x[lo..n) */
        if (hi + 1 < n - lo) { hm_sort_i64(x, hi + 1); x += lo; n -= lo; }
        else { hm_sort_i64(x + lo, n - lo); n = hi + 1; }
    }
    hm_insertion_sort_i64(x, n);
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

/* Raw partner counts (before de-duplication, summed over the tables) of left rows
 * r0..r1 into out[0 .. r1 - r0): what hm_expand_rows writes before sorting. */
static void hm_raw_partners(const hm_table *tables, int64_t ntables, int dedup, int64_t r0,
                            int64_t r1, int64_t *out)
{
    for (int64_t i = r0; i < r1; i++) {
        int64_t n = 0;
        for (int64_t t = 0; t < ntables; t++) {
            const hm_table *T = tables + t;
            for (int64_t c = 0; c < T->width; c++) {
                const int64_t e = i * T->width + c;
                const int64_t g = T->left_group[e];
                if (g < 0) continue;
                n += dedup ? T->group_start[g] + T->group_size[g] - (T->rank[e] + 1)
                           : T->group_size[g];
            }
        }
        out[i - r0] = n;
    }
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

/* -- key tables -------------------------------------------------------------------------
 *
 * The table of one blocking method from its mixed keys, as blocking._build_table's numpy
 * reference gives it: the valid right entries sorted by key (stable: ascending entry
 * within a key), their groups of equal keys, each group's pair count (within a party
 * g * (g - 1) / 2, across parties g times the left entries sharing the key), the groups
 * over max_block_pairs dropped (counted in stats), and each left entry's kept group. The
 * sorts are radix sorts of (key, entry) pairs: one pass distributes them by the key's top
 * 11 bits, then each of those buckets (a few thousand pairs: it stays in cache) is sorted
 * on the remaining bits by LSD passes, 11 bits a pass, skipping the passes where every
 * key has the same digit; the buckets are sorted on all threads. */

enum { HM_RADIX_BITS = 11, HM_RADIX_BUCKETS = 1 << HM_RADIX_BITS,
       HM_RADIX_TOP = 64 - HM_RADIX_BITS };

/* Stable sort by key of the n pairs (sk, sv), the result in (dk, dv); both hold n and
 * either may be overwritten. The keys share their top HM_RADIX_BITS bits. */
static void hm_radix_sort_low(uint64_t *sk, int64_t *sv, uint64_t *dk, int64_t *dv, int64_t n)
{
    uint64_t *const out_k = dk;
    int64_t *const out_v = dv;
    if (n < 48) {  /* insertion sort (stable) of a copy */
        for (int64_t k = 0; k < n; k++) {
            const uint64_t key = sk[k];
            const int64_t val = sv[k];
            int64_t m = k - 1;
            while (m >= 0 && dk[m] > key) { dk[m + 1] = dk[m]; dv[m + 1] = dv[m]; m--; }
            dk[m + 1] = key;
            dv[m + 1] = val;
        }
        return;
    }
    int64_t count[HM_RADIX_BUCKETS];
    for (int shift = 0; shift < HM_RADIX_TOP; shift += HM_RADIX_BITS) {
        memset(count, 0, sizeof(count));
        for (int64_t k = 0; k < n; k++) count[(sk[k] >> shift) & (HM_RADIX_BUCKETS - 1)]++;
        if (count[(sk[0] >> shift) & (HM_RADIX_BUCKETS - 1)] == n) continue;  /* no-op */
        int64_t at = 0;
        for (int b = 0; b < HM_RADIX_BUCKETS; b++) {
            const int64_t c = count[b];
            count[b] = at;
            at += c;
        }
        for (int64_t k = 0; k < n; k++) {
            const int64_t d = count[(sk[k] >> shift) & (HM_RADIX_BUCKETS - 1)]++;
            dk[d] = sk[k];
            dv[d] = sv[k];
        }
        uint64_t *xk = sk; sk = dk; dk = xk;
        int64_t *xv = sv; sv = dv; dv = xv;
    }
    if (sk != out_k) {
        memcpy(out_k, sk, (size_t)n * sizeof(uint64_t));
        memcpy(out_v, sv, (size_t)n * sizeof(int64_t));
    }
}

/* Stable sort of (keys, vals) by keys; tk/tv are scratch of n each. The result is left
 * in keys/vals. Returns 0, or -1 when memory runs out. */
static int hm_radix_sort_kv(uint64_t *keys, int64_t *vals, int64_t n, uint64_t *tk,
                            int64_t *tv, int threads)
{
    int64_t *start = (int64_t *)calloc(HM_RADIX_BUCKETS + 1, sizeof(int64_t));
    int64_t *at = (int64_t *)malloc(HM_RADIX_BUCKETS * sizeof(int64_t));
    if (!start || !at) { free(start); free(at); return -1; }
    for (int64_t k = 0; k < n; k++) start[(keys[k] >> HM_RADIX_TOP) + 1]++;
    for (int b = 0; b < HM_RADIX_BUCKETS; b++) start[b + 1] += start[b];
    memcpy(at, start, HM_RADIX_BUCKETS * sizeof(int64_t));
    for (int64_t k = 0; k < n; k++) {  /* stable: a bucket keeps the input's order */
        const int64_t d = at[keys[k] >> HM_RADIX_TOP]++;
        tk[d] = keys[k];
        tv[d] = vals[k];
    }
    free(at);
    int b;
    (void)threads;
    #pragma omp parallel for num_threads(threads) schedule(dynamic, 32)
    for (b = 0; b < HM_RADIX_BUCKETS; b++) {
        const int64_t lo = start[b];
        hm_radix_sort_low(tk + lo, tv + lo, keys + lo, vals + lo, start[b + 1] - lo);
    }
    free(start);
    return 0;
}

/* The valid entries of keys[0..n) as (key, entry) pairs sorted by key: the entries into
 * `entries` (room for n), the keys into a new array; returns their number, or -1 when
 * memory runs out (then nothing is allocated). Fresh pages cost a fault and a clear each,
 * so the scratch is kept to two arrays. */
static int64_t hm_sorted_entries(const uint64_t *keys, const uint8_t *valid, int64_t n,
                                 uint64_t **out_keys, int64_t *entries, int threads)
{
    int64_t m = 0;
    for (int64_t e = 0; e < n; e++) m += valid[e] != 0;
    const size_t cap = (size_t)(m ? m : 1);
    uint64_t *k = (uint64_t *)malloc(cap * sizeof(uint64_t));
    uint64_t *tk = (uint64_t *)malloc(cap * sizeof(uint64_t));
    int64_t *tv = (int64_t *)malloc(cap * sizeof(int64_t));
    if (!k || !tk || !tv) { free(k); free(tk); free(tv); return -1; }
    m = 0;
    for (int64_t e = 0; e < n; e++)
        if (valid[e]) { k[m] = keys[e]; entries[m] = e; m++; }
    const int failed = hm_radix_sort_kv(k, entries, m, tk, tv, threads);
    free(tk);
    free(tv);
    if (failed) { free(k); return -1; }
    *out_keys = k;
    return m;
}

/* Build one key table (right = left when dedup: pass the same arrays). Outputs: order
 * [valid right entries; room for nr], group_start/group_size [kept groups], left_group
 * [nl], rank [nr] (dedup only, else NULL), stats = (largest kept block, blocks skipped,
 * pairs skipped), counts = (valid right entries, kept groups); sorts on `threads` threads.
 * Returns 0, or -1 when memory runs out. */
static int hm_key_table(const uint64_t *lkeys, const uint8_t *lvalid, int64_t nl,
                        const uint64_t *rkeys, const uint8_t *rvalid, int64_t nr,
                        int dedup, int64_t max_block_pairs,
                        int64_t *order, int64_t *group_start, int64_t *group_size,
                        int64_t *left_group, int64_t *rank, int64_t *stats, int64_t *counts,
                        int threads)
{
    uint64_t *sk = NULL, *lk = NULL;
    int64_t *se = order, *le = NULL, *lcount = NULL, *renumber = NULL, *gof = NULL;
    int64_t ln = 0;
    int rc = -1;
    const int64_t m = hm_sorted_entries(rkeys, rvalid, nr, &sk, se, threads);
    if (m < 0) return -1;
    int64_t ngroups = 0;
    for (int64_t k = 0; k < m; k++) ngroups += (k == 0 || sk[k] != sk[k - 1]);
    lcount = (int64_t *)calloc((size_t)(ngroups ? ngroups : 1), sizeof(int64_t));
    renumber = (int64_t *)malloc((size_t)(ngroups ? ngroups : 1) * sizeof(int64_t));
    if (!lcount || !renumber) goto done;
    if (!dedup) {  /* left entries per group, and each valid left entry's group */
        le = (int64_t *)malloc((size_t)(nl ? nl : 1) * sizeof(int64_t));
        if (!le) goto done;
        ln = hm_sorted_entries(lkeys, lvalid, nl, &lk, le, threads);
        if (ln < 0) goto done;
        gof = (int64_t *)malloc((size_t)(ln ? ln : 1) * sizeof(int64_t));
        if (!gof) goto done;
        int64_t g = -1, k = 0;  /* g: group of right position k - 1 */
        for (int64_t x = 0; x < ln; x++) {
            while (k < m && sk[k] <= lk[x]) {
                if (k == 0 || sk[k] != sk[k - 1]) g++;
                k++;
            }
            const int hit = k > 0 && sk[k - 1] == lk[x];
            gof[x] = hit ? g : -1;
            if (hit) lcount[g]++;
        }
    }
    int64_t kept = 0, largest = 0, skipped = 0, skipped_pairs = 0;
    for (int64_t k = 0, g = 0; k < m; g++) {
        int64_t end = k + 1;
        while (end < m && sk[end] == sk[k]) end++;
        const int64_t size = end - k;
        const int64_t pairs = dedup ? size * (size - 1) / 2 : size * lcount[g];
        if (pairs > max_block_pairs) {
            renumber[g] = -1;
            skipped++;
            skipped_pairs += pairs;
        } else {
            renumber[g] = kept;
            group_start[kept] = k;
            group_size[kept] = size;
            kept++;
            if (pairs > largest) largest = pairs;
        }
        k = end;
    }
    for (int64_t e = 0; e < nl; e++) left_group[e] = -1;
    if (dedup) {
        for (int64_t e = 0; e < nr; e++) rank[e] = -1;
        for (int64_t k = 0, g = -1; k < m; k++) {
            if (k == 0 || sk[k] != sk[k - 1]) g++;
            rank[se[k]] = k;
            left_group[se[k]] = renumber[g];
        }
    } else {
        for (int64_t x = 0; x < ln; x++)
            if (gof[x] >= 0) left_group[le[x]] = renumber[gof[x]];
    }
    stats[0] = largest;
    stats[1] = skipped;
    stats[2] = skipped_pairs;
    counts[0] = m;
    counts[1] = kept;
    rc = 0;
done:
    free(sk); free(lk); free(le); free(lcount); free(renumber); free(gof);
    return rc;
}

#endif
