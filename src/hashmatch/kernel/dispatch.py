"""Which compiled variant of the similarity kernel runs (the only module importing ``_core*``).

========  =============================================  ===============================
variant   module                                         chosen when
========  =============================================  ===============================
avx512    ``_core_avx512`` (-mavx512f -mavx512vpopcntdq)  CPUID has AVX-512F + VPOPCNTDQ
avx2      ``_core_avx2`` (-mavx2 -mpopcnt)                CPUID has AVX2 + POPCNT
scalar    ``_core`` (baseline ISA, portable)              always built
numpy     :mod:`hashmatch.kernel.reference`               no compiled module (warns)
========  =============================================  ===============================

CPUID is asked (through the portable ``_core``) before a variant's module is imported, so
a module is never loaded on a CPU that lacks its instructions. ``HASHMATCH_KERNEL=auto|
avx512|avx2|scalar|numpy`` forces a variant at import time and :func:`set_kernel` at run
time; an unavailable variant is an error, never a silent fallback.
"""

from __future__ import annotations

import os
import warnings
from importlib import import_module
from types import ModuleType

__all__ = ["active_kernel", "available_kernels", "implementation", "set_kernel"]

_VARIANTS = ("avx512", "avx2", "scalar", "numpy")
_MODULES = {"avx512": "_core_avx512", "avx2": "_core_avx2", "scalar": "_core"}
_NEEDS = {"avx512": ("avx512f", "avx512vpopcntdq"), "avx2": ("avx2", "popcnt"), "scalar": ()}


def _cpu_features() -> dict[str, bool]:
    try:
        base = import_module("hashmatch.kernel._core")
    except ImportError:
        return {}
    features: dict[str, bool] = base.cpu_features()
    return features


def available_kernels() -> list[str]:
    """Variants usable on this machine and build, fastest first ("numpy" is always there)."""
    features = _cpu_features()
    usable = []
    for name, module in _MODULES.items():
        if not features or not all(features.get(f, False) for f in _NEEDS[name]):
            continue
        try:
            import_module(f"hashmatch.kernel.{module}")
        except ImportError:
            continue
        usable.append(name)
    return [*usable, "numpy"]


def _load(name: str) -> ModuleType | None:
    if name not in _VARIANTS:
        msg = f"HASHMATCH_KERNEL must be one of auto, {', '.join(_VARIANTS)}; got {name!r}"
        raise ValueError(msg)
    if name == "numpy":
        return None
    if name not in available_kernels():
        msg = f"kernel variant {name!r} is not available on this CPU or build"
        raise RuntimeError(msg)
    return import_module(f"hashmatch.kernel.{_MODULES[name]}")


def _auto() -> tuple[str, ModuleType | None]:
    usable = available_kernels()
    if usable[0] == "numpy":
        warnings.warn(
            "hashmatch's compiled kernel is missing; using the slow numpy fallback",
            RuntimeWarning,
            stacklevel=3,
        )
    return usable[0], _load(usable[0])


def set_kernel(name: str) -> str:
    """Switch the variant for this process ("auto" or a name); returns the previous name.

    Meant for tests and benchmarks; the environment variable HASHMATCH_KERNEL does the
    same at import time.
    """
    global _ACTIVE, _IMPL
    previous = _ACTIVE
    _ACTIVE, _IMPL = _auto() if name == "auto" else (name, _load(name))
    return previous


def active_kernel() -> str:
    """Name of the variant in use: "avx512", "avx2", "scalar" or "numpy"."""
    return _ACTIVE


def implementation() -> ModuleType | None:
    """The compiled module of the variant in use, or None for the numpy reference."""
    return _IMPL


_ACTIVE: str = "numpy"
_IMPL: ModuleType | None = None
set_kernel(os.environ.get("HASHMATCH_KERNEL", "auto").strip().lower() or "auto")
