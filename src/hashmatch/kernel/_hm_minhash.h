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

#endif
