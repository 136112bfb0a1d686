# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
# The same kernel source, compiled with -mavx2 -mpopcnt (see setup.py).
# Import only after CPUID says the CPU has AVX2 (hashmatch.kernel does).
include "_core.pyx"
