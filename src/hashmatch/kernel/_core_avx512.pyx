# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
# The same kernel source, compiled with -mavx512f -mavx512vpopcntdq (see setup.py).
# Import only after CPUID says the CPU has AVX-512 VPOPCNTDQ (hashmatch.kernel does).
include "_core.pyx"
