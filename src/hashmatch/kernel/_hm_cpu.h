/* CPU and build facts for hashmatch's similarity core.
 *
 * hm_cpu_has asks CPUID (through gcc's cpu model) whether this CPU can run a variant;
 * hm_isa_name says which instruction set this build was compiled for. Nothing else in the
 * C kernel is chosen at run time: hashmatch.kernel.dispatch picks the module from CPUID
 * before importing it, and each module's inner loops are fixed by its compile flags. */
#ifndef HASHMATCH_HM_CPU_H
#define HASHMATCH_HM_CPU_H

#include <stdint.h>

#define HM_INLINE static inline __attribute__((always_inline))

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

#endif
