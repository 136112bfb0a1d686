"""Build the compiled kernel and the encoder's row loops.

Only the extension list lives here; metadata is in pyproject.toml. `_rows` (the
encoder's row loops) and `hashmatch.normalize._shapes` (the normalisers' batch fast
paths) are plain portable C. The shipped kernel build is
portable (no -march=native): `_core` is compiled for the baseline ISA, and on x86-64
`_core_avx2` (AVX2 + POPCNT) and `_core_avx512` (AVX-512F + VPOPCNTDQ) are the same
source compiled with those instruction sets enabled. `hashmatch.kernel` picks the
variant at import time from CPUID (override with HASHMATCH_KERNEL); a variant's module is
never imported on a CPU that lacks its instructions.
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

IS_X86 = platform.machine().lower() in {"x86_64", "amd64", "i686", "x86"}
IS_MSVC = sys.platform == "win32"


def _openmp_flags() -> tuple[list[str], list[str]]:
    if os.environ.get("HASHMATCH_NO_OPENMP"):
        return [], []
    if IS_MSVC:
        return ["/openmp"], []
    if sys.platform == "darwin":  # Apple clang has no bundled OpenMP
        return [], []
    return ["-fopenmp"], ["-fopenmp"]


omp_compile, omp_link = _openmp_flags()
base_compile = ["/O2"] if IS_MSVC else ["-O3", "-fno-strict-aliasing"]


def _ext(package: str, name: str, extra: list[str], *, kernel: bool = True) -> Extension:
    folder = f"src/hashmatch/{package}"
    headers = sorted(str(p) for p in Path(folder).glob("_hm*.*")) if package == "kernel" else []
    return Extension(
        f"hashmatch.{package}.{name}",
        sources=[f"{folder}/{name}.pyx"],
        include_dirs=[np.get_include(), folder],
        depends=headers,  # the kernel's C headers and their .pxd: rebuild when they change
        extra_compile_args=base_compile + (omp_compile if kernel else []) + extra,
        extra_link_args=omp_link if kernel else [],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    )


extensions = [_ext("kernel", "_core", []), _ext("encode", "_rows", [], kernel=False),
              # keyed tokens in batches, over the SHA-256 of Python's own OpenSSL
              _ext("encode", "_hmac", [], kernel=False),
              # the normalisers' batch fast paths (portable, one thread)
              _ext("normalize", "_shapes", [], kernel=False),
              # one query record against the lookup service's index (portable, one thread)
              _ext("kernel", "_one_record", [] if IS_MSVC else ["-Wno-unused-function"],
                   kernel=False),
              # a field's Dice binned into comparison levels (the fs scorer; portable)
              _ext("kernel", "_levels", [], kernel=False)]
if IS_X86 and not IS_MSVC:
    extensions.append(_ext("kernel", "_core_avx2", ["-mavx2", "-mpopcnt"]))
    extensions.append(
        _ext("kernel", "_core_avx512", ["-mavx2", "-mpopcnt", "-mavx512f", "-mavx512vpopcntdq"])
    )

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives={"language_level": "3", "boundscheck": False, "wraparound": False},
    )
)
