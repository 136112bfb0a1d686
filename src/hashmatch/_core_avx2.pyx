# cython: language_level=3, boundscheck=False, wraparound=False
# The same kernel source, compiled with -mavx2 -mpopcnt (see setup.py).
include "_core.pyx"
