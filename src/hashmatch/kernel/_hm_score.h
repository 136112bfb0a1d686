/* The similarity formula: a score from the intersection count c and s = |a| + |b|. */
#ifndef HASHMATCH_HM_SCORE_H
#define HASHMATCH_HM_SCORE_H

#include <stdint.h>
#include "_hm_cpu.h"

enum { HM_DICE = 0, HM_JACCARD = 1, HM_HAMMING = 2 };

/* Must match kernel/reference.py bit for bit: the same float64 operations in the same order. */
HM_INLINE double hm_score(int metric, uint32_t c, int64_t s, double nbits)
{
    if (metric == HM_DICE) return 2.0 * (double)c / (double)s;
    if (metric == HM_JACCARD) return (double)c / (double)(s - (int64_t)c);
    return 1.0 - (double)(s - 2 * (int64_t)c) / nbits;
}

#endif
