/* Popcount kernels for hashmatch's similarity core (see docs/explanation/kernel.md).
 *
 * This header is compiled into every variant of the core (_core, _core_avx2, _core_avx512);
 * the instruction set of each build is chosen by its compile flags, and the preprocessor
 * below picks the matching inner loop:
 *   __AVX512VPOPCNTDQ__ : 8 B rows at a time, VPOPCNTQ on 512-bit lanes, transpose-reduce;
 *   __AVX2__            : 4 B rows at a time, nibble-table popcount (VPSHUFB) + VPSADBW;
 *   __POPCNT__          : hardware POPCNT per 64-bit word;
 *   otherwise           : portable SWAR popcount (the baseline x86-64 / any-CPU build).
 * Nothing here is chosen at run time: the Python wrapper picks the module from CPUID.
 *
 * The grid driver works on a chunk of A rows against B sorted by popcount, in two passes
 * run in parallel over chunks (see _core.pyx): hm_chunk_find visits, for each tile of B
 * and every A row of the chunk, only the feasible popcount range of that row, counts
 * |a & b| for the tile into a small buffer and keeps the hits (threshold per popcount run
 * from a table `cmin`); hm_chunk_emit then puts each row's hits back into original B
 * order and writes them with their float32 scores at the chunk's place in the output.
 * For b=None the hm_chunk_count_owners / hm_chunk_scatter / hm_rows_finish passes hand
 * each pair, found once, to its row min(i, j).
 */
#ifndef HASHMATCH_POPCOUNT_H
#define HASHMATCH_POPCOUNT_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

#define HM_INLINE static inline __attribute__((always_inline))

/* ------------------------------------------------------------------ CPU detection */

static int hm_cpu_has(int which)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    switch (which) {
    case 0: return __builtin_cpu_supports("popcnt") ? 1 : 0;
    case 1: return __builtin_cpu_supports("avx2") ? 1 : 0;
    case 2: return __builtin_cpu_supports("avx512f") ? 1 : 0;
    case 3: return __builtin_cpu_supports("avx512vpopcntdq") ? 1 : 0;
    default: return 0;
    }
#else
    (void)which;
    return 0;
#endif
}

static const char *hm_isa_name(void)
{
#if defined(__AVX512VPOPCNTDQ__) && defined(__AVX512F__)
    return "avx512";
#elif defined(__AVX2__)
    return "avx2";
#elif defined(__POPCNT__)
    return "popcnt";
#else
    return "scalar";
#endif
}

/* ------------------------------------------------------------------ scalar popcount */

HM_INLINE uint64_t hm_pop64(uint64_t x)
{
#if defined(__POPCNT__) || !(defined(__x86_64__) || defined(__i386__))
    return (uint64_t)__builtin_popcountll(x);
#else
    /* Without -mpopcnt gcc calls a libgcc routine; the SWAR form inlines. */
    x = x - ((x >> 1) & 0x5555555555555555ULL);
    x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
    x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0FULL;
    return (x * 0x0101010101010101ULL) >> 56;
#endif
}

HM_INLINE uint32_t hm_and_pop(const uint64_t *a, const uint64_t *b, int64_t words)
{
    uint64_t acc = 0;
    for (int64_t w = 0; w < words; w++) acc += hm_pop64(a[w] & b[w]);
    return (uint32_t)acc;
}

static void hm_popcount_rows(const uint64_t *a, int64_t n, int64_t words, int32_t *out)
{
    for (int64_t i = 0; i < n; i++) {
        uint64_t acc = 0;
        const uint64_t *r = a + i * words;
        for (int64_t w = 0; w < words; w++) acc += hm_pop64(r[w]);
        out[i] = (int32_t)acc;
    }
}

/* ------------------------------------------------------------------ tile counts
 * hm_counts(a, B, k0, k1, W, out): out[k - k0] = popcount(a & B[k]) for k in [k0, k1).
 * Specialised copies for the common CLK lengths (W = 8, 16, 32 words) let the compiler
 * unroll fully and keep the A row in registers.
 */

#if defined(__AVX512VPOPCNTDQ__) && defined(__AVX512F__)

/* Eight vectors of 8 partial counts -> one vector holding the 8 totals, in order. */
HM_INLINE __m512i hm_reduce8(__m512i v0, __m512i v1, __m512i v2, __m512i v3,
                             __m512i v4, __m512i v5, __m512i v6, __m512i v7)
{
    __m512i s01 = _mm512_add_epi64(_mm512_unpacklo_epi64(v0, v1), _mm512_unpackhi_epi64(v0, v1));
    __m512i s23 = _mm512_add_epi64(_mm512_unpacklo_epi64(v2, v3), _mm512_unpackhi_epi64(v2, v3));
    __m512i s45 = _mm512_add_epi64(_mm512_unpacklo_epi64(v4, v5), _mm512_unpackhi_epi64(v4, v5));
    __m512i s67 = _mm512_add_epi64(_mm512_unpacklo_epi64(v6, v7), _mm512_unpackhi_epi64(v6, v7));
    /* each 128-bit block of sXY now holds [vX part, vY part] */
    __m512i x03 = _mm512_add_epi64(_mm512_shuffle_i64x2(s01, s23, _MM_SHUFFLE(2, 0, 2, 0)),
                                   _mm512_shuffle_i64x2(s01, s23, _MM_SHUFFLE(3, 1, 3, 1)));
    __m512i x47 = _mm512_add_epi64(_mm512_shuffle_i64x2(s45, s67, _MM_SHUFFLE(2, 0, 2, 0)),
                                   _mm512_shuffle_i64x2(s45, s67, _MM_SHUFFLE(3, 1, 3, 1)));
    /* x03 blocks: [01 half], [01 half], [23 half], [23 half] */
    return _mm512_add_epi64(_mm512_shuffle_i64x2(x03, x47, _MM_SHUFFLE(2, 0, 2, 0)),
                            _mm512_shuffle_i64x2(x03, x47, _MM_SHUFFLE(3, 1, 3, 1)));
}

HM_INLINE __m512i hm_row512(const __m512i *av, const uint64_t *b, int64_t nv,
                            __m512i atail, __mmask8 tm)
{
    __m512i s = _mm512_popcnt_epi64(_mm512_and_si512(av[0], _mm512_loadu_si512(b)));
    for (int64_t v = 1; v < nv; v++)
        s = _mm512_add_epi64(s, _mm512_popcnt_epi64(
                                    _mm512_and_si512(av[v], _mm512_loadu_si512(b + 8 * v))));
    if (tm)
        s = _mm512_add_epi64(s, _mm512_popcnt_epi64(
                                    _mm512_and_si512(atail, _mm512_maskz_loadu_epi64(tm, b + 8 * nv))));
    return s;
}

/* W >= 8 here; up to 4 full vectors of A are kept in registers, longer rows reload. */
HM_INLINE void hm_counts_w(const uint64_t *a, const uint64_t *B, int64_t k0, int64_t k1,
                           int64_t W, uint32_t *out)
{
    const int64_t nv = W / 8;
    const __mmask8 tm = (__mmask8)((1u << (W % 8)) - 1u);
    __m512i av[64];
    for (int64_t v = 0; v < nv && v < 64; v++) av[v] = _mm512_loadu_si512(a + 8 * v);
    const __m512i atail = tm ? _mm512_maskz_loadu_epi64(tm, a + 8 * nv) : _mm512_setzero_si512();
    int64_t k = k0;
    for (; k + 8 <= k1; k += 8) {
        const uint64_t *b = B + k * W;
        __m512i r = hm_reduce8(hm_row512(av, b, nv, atail, tm),
                               hm_row512(av, b + W, nv, atail, tm),
                               hm_row512(av, b + 2 * W, nv, atail, tm),
                               hm_row512(av, b + 3 * W, nv, atail, tm),
                               hm_row512(av, b + 4 * W, nv, atail, tm),
                               hm_row512(av, b + 5 * W, nv, atail, tm),
                               hm_row512(av, b + 6 * W, nv, atail, tm),
                               hm_row512(av, b + 7 * W, nv, atail, tm));
        _mm256_storeu_si256((__m256i *)(out + (k - k0)), _mm512_cvtepi64_epi32(r));
    }
    for (; k < k1; k++)
        out[k - k0] = (uint32_t)_mm512_reduce_add_epi64(hm_row512(av, B + k * W, nv, atail, tm));
}

static void hm_counts(const uint64_t *a, const uint64_t *B, int64_t k0, int64_t k1,
                      int64_t W, uint32_t *out)
{
    switch (W) {
    case 8: hm_counts_w(a, B, k0, k1, 8, out); return;
    case 16: hm_counts_w(a, B, k0, k1, 16, out); return;
    case 32: hm_counts_w(a, B, k0, k1, 32, out); return;
    default:
        if (W >= 8 && W <= 512) { hm_counts_w(a, B, k0, k1, W, out); return; }
        for (int64_t k = k0; k < k1; k++) out[k - k0] = hm_and_pop(a, B + k * W, W);
    }
}

#elif defined(__AVX2__)

/* Nibble-table popcount of one 256-bit vector, as per-byte counts (0..8). */
HM_INLINE __m256i hm_pop_bytes(__m256i x)
{
    const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
                                         0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
    const __m256i low = _mm256_set1_epi8(0x0f);
    __m256i lo = _mm256_shuffle_epi8(lut, _mm256_and_si256(x, low));
    __m256i hi = _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(x, 4), low));
    return _mm256_add_epi8(lo, hi);
}

/* Per-64-bit-lane partial counts of popcount(a & b) over nv vectors (byte sums flushed
 * through VPSADBW every 31 vectors, before a byte could overflow). */
HM_INLINE __m256i hm_row256(const __m256i *av, const uint64_t *a, const uint64_t *b, int64_t nv)
{
    __m256i total = _mm256_setzero_si256();
    int64_t v = 0;
    while (v < nv) {
        int64_t end = v + 31 < nv ? v + 31 : nv;
        __m256i bytes = _mm256_setzero_si256();
        for (; v < end; v++) {
            __m256i x = v < 8 ? av[v] : _mm256_loadu_si256((const __m256i *)(a + 4 * v));
            bytes = _mm256_add_epi8(bytes, hm_pop_bytes(_mm256_and_si256(
                                               x, _mm256_loadu_si256((const __m256i *)(b + 4 * v)))));
        }
        total = _mm256_add_epi64(total, _mm256_sad_epu8(bytes, _mm256_setzero_si256()));
    }
    return total;
}

HM_INLINE __m256i hm_reduce4(__m256i v0, __m256i v1, __m256i v2, __m256i v3)
{
    __m256i s01 = _mm256_add_epi64(_mm256_unpacklo_epi64(v0, v1), _mm256_unpackhi_epi64(v0, v1));
    __m256i s23 = _mm256_add_epi64(_mm256_unpacklo_epi64(v2, v3), _mm256_unpackhi_epi64(v2, v3));
    return _mm256_add_epi64(_mm256_permute2x128_si256(s01, s23, 0x20),
                            _mm256_permute2x128_si256(s01, s23, 0x31));
}

HM_INLINE void hm_counts_w(const uint64_t *a, const uint64_t *B, int64_t k0, int64_t k1,
                           int64_t W, uint32_t *out)
{
    const int64_t nv = W / 4, tail = W % 4;
    __m256i av[8];
    for (int64_t v = 0; v < nv && v < 8; v++) av[v] = _mm256_loadu_si256((const __m256i *)(a + 4 * v));
    int64_t k = k0;
    for (; k + 4 <= k1; k += 4) {
        const uint64_t *b = B + k * W;
        __m256i r = hm_reduce4(hm_row256(av, a, b, nv), hm_row256(av, a, b + W, nv),
                               hm_row256(av, a, b + 2 * W, nv), hm_row256(av, a, b + 3 * W, nv));
        /* narrow the 4 x 64-bit totals to 32-bit */
        __m256i idx = _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6);
        __m128i c = _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(r, idx));
        if (tail) {
            uint32_t t[4];
            for (int u = 0; u < 4; u++) t[u] = hm_and_pop(a + 4 * nv, b + u * W + 4 * nv, tail);
            c = _mm_add_epi32(c, _mm_loadu_si128((const __m128i *)t));
        }
        _mm_storeu_si128((__m128i *)(out + (k - k0)), c);
    }
    for (; k < k1; k++) out[k - k0] = hm_and_pop(a, B + k * W, W);
}

static void hm_counts(const uint64_t *a, const uint64_t *B, int64_t k0, int64_t k1,
                      int64_t W, uint32_t *out)
{
    switch (W) {
    case 8: hm_counts_w(a, B, k0, k1, 8, out); return;
    case 16: hm_counts_w(a, B, k0, k1, 16, out); return;
    case 32: hm_counts_w(a, B, k0, k1, 32, out); return;
    default:
        if (W >= 4) { hm_counts_w(a, B, k0, k1, W, out); return; }
        for (int64_t k = k0; k < k1; k++) out[k - k0] = hm_and_pop(a, B + k * W, W);
    }
}

#else

HM_INLINE void hm_counts_w(const uint64_t *a, const uint64_t *B, int64_t k0, int64_t k1,
                           int64_t W, uint32_t *out)
{
    for (int64_t k = k0; k < k1; k++) out[k - k0] = hm_and_pop(a, B + k * W, W);
}

static void hm_counts(const uint64_t *a, const uint64_t *B, int64_t k0, int64_t k1,
                      int64_t W, uint32_t *out)
{
    switch (W) {
    case 16: hm_counts_w(a, B, k0, k1, 16, out); return;
    default: hm_counts_w(a, B, k0, k1, W, out);
    }
}

#endif

/* ------------------------------------------------------------------ scores */

enum { HM_DICE = 0, HM_JACCARD = 1, HM_HAMMING = 2 };

/* Must match kernel/reference.py bit for bit: the same float64 operations in the same order. */
HM_INLINE double hm_score(int metric, uint32_t c, int64_t s, double nbits)
{
    if (metric == HM_DICE) return 2.0 * (double)c / (double)s;
    if (metric == HM_JACCARD) return (double)c / (double)(s - (int64_t)c);
    return 1.0 - (double)(s - 2 * (int64_t)c) / nbits;
}

/* ------------------------------------------------------------------ per-row hit lists */

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

/* ------------------------------------------------------------------ grid driver */

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

/* ------------------------------------------------------------------ self-comparison
 * With b=None (B is A sorted), A row i at sorted position p_i walks only positions q > p_i,
 * so every unordered pair is compared once instead of twice. A hit {i, j} belongs to output
 * row min(i, j), which may be another chunk's row: the passes below count hits per owner
 * row, move each hit into its owner's segment of the output (a prefix sum gives the
 * segments), then sort each segment by j. Chunks are dealt to a fixed number of lanes,
 * each with private counts and cursors (no atomics, no shared cache lines); placement
 * inside a segment depends on the lanes, the sorted result does not. */

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

#endif
