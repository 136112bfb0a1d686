/* MinHash values of CLK rows: for each bit order, the rank of the row's first set bit.
 *
 * Order h lists bit positions pos[off[h]] .. pos[off[h + 1] - 1] (a seeded permutation of
 * one field segment's bits, see hashmatch.link.blocking); its MinHash value is the rank of
 * the first listed position whose bit is set, or the order's length when none is. */
#ifndef HASHMATCH_HM_MINHASH_H
#define HASHMATCH_HM_MINHASH_H

#include <stdint.h>

/* out[h * n + r] for rows r0 .. r1 - 1 of n (row-major CLKs of W words). */
static void hm_minhash_rows(const uint64_t *clks, int64_t W, int64_t n, int64_t r0, int64_t r1,
                            int64_t norders, const int64_t *pos, const int64_t *off,
                            int64_t *out)
{
    for (int64_t r = r0; r < r1; r++) {
        const uint64_t *row = clks + r * W;
        for (int64_t h = 0; h < norders; h++) {
            const int64_t *p = pos + off[h];
            const int64_t len = off[h + 1] - off[h];
            int64_t k = 0;
            while (k < len && !((row[p[k] >> 6] >> (p[k] & 63)) & 1u)) k++;
            out[h * n + r] = k;
        }
    }
}

/* LSH band keys from a MinHash pool of uint16 values [pool rows, n]: band b mixes the
 * pool rows cols[off[b]] .. cols[off[b + 1] - 1] of each row r (value + pool row * 65536,
 * FNV-1a style) into keys[b * n + r], valid when none of them is its pool row's empty
 * value; blocking._band_keys is the numpy reference. Rows r0 .. r1 - 1. */
static void hm_band_keys(const uint16_t *pool, int64_t n, int64_t r0, int64_t r1,
                         int64_t nbands, const int64_t *cols, const int64_t *off,
                         const int64_t *empty, uint64_t *keys, uint8_t *valid)
{
    for (int64_t b = 0; b < nbands; b++) {
        for (int64_t r = r0; r < r1; r++) {
            uint64_t key = 0xCBF29CE484222325ULL;
            uint8_t ok = 1;
            for (int64_t k = off[b]; k < off[b + 1]; k++) {
                const int64_t v = (int64_t)pool[cols[k] * n + r];
                ok &= v != empty[cols[k]];
                key ^= (uint64_t)(v + cols[k] * 65536);
                key *= 0x00000100000001B3ULL;
            }
            keys[b * n + r] = key;
            valid[b * n + r] = ok;
        }
    }
}

#endif
