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
 * The grid driver (hm_grid_rows) works on a chunk of A rows against B sorted by popcount:
 * for each tile of B it visits, for every A row of the chunk, only the feasible popcount
 * range of that row, counts |a & b| for the tile into a small buffer, then appends the
 * hits branch-free (threshold per popcount run from a table `cmin`). Each row's hits are
 * finally put back into original B order and written with their float32 scores.
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

/* Must match kernel_numpy bit for bit: the same float64 operations in the same order. */
HM_INLINE double hm_score(int metric, uint32_t c, int64_t s, double nbits)
{
    if (metric == HM_DICE) return 2.0 * (double)c / (double)s;
    if (metric == HM_JACCARD) return (double)c / (double)(s - (int64_t)c);
    return 1.0 - (double)(s - 2 * (int64_t)c) / nbits;
}

/* ------------------------------------------------------------------ hit buffers */

typedef struct {
    int64_t *i, *j;
    float *s;
    int64_t n, cap;
} hm_buf;

static int hm_buf_reserve(hm_buf *b, int64_t extra)
{
    if (b->n + extra <= b->cap) return 0;
    int64_t cap = b->cap ? 2 * b->cap : 256;
    while (cap < b->n + extra) cap *= 2;
    int64_t *ni = (int64_t *)realloc(b->i, (size_t)cap * sizeof(int64_t));
    if (ni) b->i = ni;
    int64_t *nj = (int64_t *)realloc(b->j, (size_t)cap * sizeof(int64_t));
    if (nj) b->j = nj;
    float *ns = (float *)realloc(b->s, (size_t)cap * sizeof(float));
    if (ns) b->s = ns;
    if (!ni || !nj || !ns) return -1;
    b->cap = cap;
    return 0;
}

static void hm_buf_free(hm_buf *b)
{
    free(b->i); free(b->j); free(b->s);
    b->i = b->j = NULL; b->s = NULL; b->n = b->cap = 0;
}

/* Per-row hit list: positions in sorted B and their intersection counts. */
typedef struct {
    int64_t *k;
    uint32_t *c;
    int64_t n, cap;
} hm_row;

static int hm_row_reserve(hm_row *r, int64_t extra)
{
    if (r->n + extra <= r->cap) return 0;
    int64_t cap = r->cap ? 2 * r->cap : 64;
    while (cap < r->n + extra) cap *= 2;
    int64_t *nk = (int64_t *)realloc(r->k, (size_t)cap * sizeof(int64_t));
    if (nk) r->k = nk;
    uint32_t *nc = (uint32_t *)realloc(r->c, (size_t)cap * sizeof(uint32_t));
    if (nc) r->c = nc;
    if (!nk || !nc) return -1;
    r->cap = cap;
    return 0;
}

/* A hit in original B order, used for sorting and top-k selection. */
typedef struct {
    int64_t j;
    uint32_t c;
    float score; /* rounded as output, so top-k ties agree with the float32 scores */
} hm_hit;

static int hm_cmp_j(const void *x, const void *y)
{
    int64_t a = ((const hm_hit *)x)->j, b = ((const hm_hit *)y)->j;
    return (a > b) - (a < b);
}

static int hm_cmp_best(const void *x, const void *y)
{
    const hm_hit *a = (const hm_hit *)x, *b = (const hm_hit *)y;
    if (a->score != b->score) return a->score < b->score ? 1 : -1;
    return (a->j > b->j) - (a->j < b->j);
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

#define HM_TILE_BYTES (32 * 1024)
#define HM_COUNT_BLOCK 512

/* Scratch for putting dense rows back in original B order without sorting. */
typedef struct {
    uint64_t *bits; /* one bit per B row; kept all-zero between rows */
    float *score;   /* score per original B row, valid where the bit is set */
} hm_scatter;

/* Put one row's hits back into original B order (or best-first for top-k) and append.
 * Sparse rows are sorted; dense rows (many hits for the width of B) are scattered into a
 * bitmap over original indices and read back in order, which costs O(hits + m / 64). */
static int hm_emit_row(const hm_grid *g, int64_t r, hm_row *row, hm_hit *tmp,
                       hm_scatter *sc, hm_buf *out)
{
    const int64_t i = g->i_offset + r;
    const int64_t pa = g->pa[r];
    const int dense = g->topk == 0 && row->n * 256 > g->m;
    if (dense && !sc->bits) {
        sc->bits = (uint64_t *)calloc((size_t)(g->m / 64 + 1), sizeof(uint64_t));
        sc->score = (float *)malloc((size_t)g->m * sizeof(float));
        if (!sc->bits || !sc->score) return -1;
    }
    int64_t n = 0, jmin = g->m, jmax = -1;
    for (int64_t h = 0; h < row->n; h++) {
        const int64_t k = row->k[h];
        const int64_t j = g->border[k];
        if (g->self_mode && j <= i) continue;
        const float score = (float)hm_score(g->metric, row->c[h], pa + g->pb[k], g->nbits);
        if (dense) {
            sc->bits[j >> 6] |= 1ULL << (j & 63);
            sc->score[j] = score;
            if (j < jmin) jmin = j;
            if (j > jmax) jmax = j;
        } else {
            tmp[n].j = j;
            tmp[n].c = row->c[h];
            tmp[n].score = score;
        }
        n++;
    }
    if (n == 0) return 0;
    if (g->topk > 0) {
        qsort(tmp, (size_t)n, sizeof(hm_hit), hm_cmp_best);
        if (n > g->topk) n = g->topk;
    } else if (!dense) {
        /* B is sorted by popcount, so hits come out of order: sort by original j. */
        qsort(tmp, (size_t)n, sizeof(hm_hit), hm_cmp_j);
    }
    if (hm_buf_reserve(out, n)) return -1;
    int64_t *oi = out->i + out->n, *oj = out->j + out->n;
    float *os = out->s + out->n;
    if (dense) {
        int64_t h = 0;
        for (int64_t w = jmin >> 6; w <= (jmax >> 6); w++) {
            uint64_t word = sc->bits[w];
            sc->bits[w] = 0;
            while (word) {
                const int64_t j = (w << 6) + __builtin_ctzll(word);
                oi[h] = i;
                oj[h] = j;
                os[h] = sc->score[j];
                h++;
                word &= word - 1;
            }
        }
    } else {
        for (int64_t h = 0; h < n; h++) {
            oi[h] = i;
            oj[h] = tmp[h].j;
            os[h] = tmp[h].score;
        }
    }
    out->n += n;
    return 0;
}

/* Append the positions k in [b0, b1) whose count reaches the threshold of their popcount
 * run (cm = cmin shifted by |a|); returns the new hit count. */
#if defined(__AVX512F__)
static int64_t hm_select(const uint32_t *cnt, int64_t b0, int64_t b1, const int32_t *pb,
                         const int64_t *run_end, const int32_t *cm, int64_t *hk, uint32_t *hc,
                         int64_t nh)
{
    int64_t k = b0;
    for (; k + 16 <= b1; k += 16) {
        __m512i thr;
        if (run_end[k] >= k + 16) /* one popcount run: one threshold */
            thr = _mm512_set1_epi32(cm[pb[k]]);
        else
            thr = _mm512_i32gather_epi32(_mm512_loadu_si512(pb + k), cm, 4);
        __mmask16 hit = _mm512_cmpge_epu32_mask(_mm512_loadu_si512(cnt + (k - b0)), thr);
        while (hit) {
            int t = __builtin_ctz(hit);
            hk[nh] = k + t;
            hc[nh] = cnt[k - b0 + t];
            nh++;
            hit &= (__mmask16)(hit - 1);
        }
    }
    for (; k < b1; k++) {
        uint32_t c = cnt[k - b0];
        hk[nh] = k;
        hc[nh] = c;
        nh += c >= (uint32_t)cm[pb[k]];
    }
    return nh;
}
#else
static int64_t hm_select(const uint32_t *cnt, int64_t b0, int64_t b1, const int32_t *pb,
                         const int64_t *run_end, const int32_t *cm, int64_t *hk, uint32_t *hc,
                         int64_t nh)
{
    for (int64_t k = b0; k < b1;) {
        const int64_t e = run_end[k] < b1 ? run_end[k] : b1;
        const uint32_t thr = (uint32_t)cm[pb[k]];
        for (; k < e; k++) { /* branch-free append */
            const uint32_t c = cnt[k - b0];
            hk[nh] = k;
            hc[nh] = c;
            nh += c >= thr;
        }
    }
    return nh;
}
#endif

/* Rows [r0, r1) of A against all of B; appends to `out`. Returns 0, or -1 on OOM. */
static int hm_grid_rows(const hm_grid *g, int64_t r0, int64_t r1, hm_buf *out)
{
    const int64_t W = g->W, nr = r1 - r0;
    /* B tile sized for L1: every A row of the chunk re-reads it from there. */
    int64_t tile = HM_TILE_BYTES / (W * 8);
    if (tile > HM_COUNT_BLOCK) tile = HM_COUNT_BLOCK;
    tile -= tile % 16;
    if (tile < 16) tile = 16;
    int status = 0;
    uint32_t cnt[HM_COUNT_BLOCK];
    hm_row *rows = (hm_row *)calloc((size_t)nr, sizeof(hm_row));
    if (!rows) return -1;

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
            hm_row *row = &rows[r - r0];
            const uint64_t *a = g->A + r * W;
            const int32_t *cm = g->cmin + g->pa[r];
            for (int64_t b0 = k0; b0 < k1; b0 += HM_COUNT_BLOCK) {
                int64_t b1 = b0 + HM_COUNT_BLOCK < k1 ? b0 + HM_COUNT_BLOCK : k1;
                hm_counts(a, g->B, b0, b1, W, cnt);
                if (hm_row_reserve(row, b1 - b0)) { status = -1; break; }
                row->n = hm_select(cnt, b0, b1, g->pb, g->run_end, cm, row->k, row->c, row->n);
            }
        }
    }
    if (!status) {
        int64_t most = 0;
        for (int64_t r = 0; r < nr; r++) if (rows[r].n > most) most = rows[r].n;
        hm_hit *tmp = (hm_hit *)malloc((size_t)(most ? most : 1) * sizeof(hm_hit));
        hm_scatter sc = {NULL, NULL};
        if (!tmp) status = -1;
        for (int64_t r = r0; r < r1 && !status; r++)
            if (rows[r - r0].n) status = hm_emit_row(g, r, &rows[r - r0], tmp, &sc, out);
        free(tmp);
        free(sc.bits);
        free(sc.score);
    }
    for (int64_t r = 0; r < nr; r++) { free(rows[r].k); free(rows[r].c); }
    free(rows);
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
