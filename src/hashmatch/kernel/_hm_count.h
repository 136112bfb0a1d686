/* Set-bit counts: of one row, and of a & b for an A row against a tile of B rows.
 *
 * The preprocessor picks the tile loop from the compile flags of each build:
 *   __AVX512VPOPCNTDQ__ : 8 B rows at a time, VPOPCNTQ on 512-bit lanes, transpose-reduce;
 *   __AVX2__            : 4 B rows at a time, nibble-table popcount (VPSHUFB) + VPSADBW;
 *   __POPCNT__          : hardware POPCNT per 64-bit word;
 *   otherwise           : portable SWAR popcount (the baseline x86-64 / any-CPU build). */
#ifndef HASHMATCH_HM_COUNT_H
#define HASHMATCH_HM_COUNT_H

#include <stdint.h>
#include "_hm_cpu.h"

#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

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

/* 8 <= W <= 512 here: the W / 8 full vectors of the A row are loaded once into av (at
 * most 64, kept in registers as far as they go) and reused for every B row of the tile;
 * the W % 8 tail words go through one masked load. */
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

#endif
