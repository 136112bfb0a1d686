"""Stub of the compiled kernel modules (_core, _core_avx2, _core_avx512 export the same)."""

import numpy as np
import numpy.typing as npt

ISA: str

def cpu_features() -> dict[str, bool]: ...
def popcount_rows(a: npt.NDArray[np.uint64]) -> npt.NDArray[np.int32]: ...
def grid_pairs(
    a: npt.NDArray[np.uint64],
    pa: npt.NDArray[np.int32],
    kstart: npt.NDArray[np.int64],
    kend: npt.NDArray[np.int64],
    i_offset: int,
    b_sorted: npt.NDArray[np.uint64],
    pb_sorted: npt.NDArray[np.int32],
    b_order: npt.NDArray[np.int64],
    run_end: npt.NDArray[np.int64],
    cmin: npt.NDArray[np.int32],
    metric: int,
    nbits: float,
    self_mode: bool,
    topk: int,
    threads: int,
    chunk_rows: int,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float32]]: ...
def pair_scores(
    a: npt.NDArray[np.uint64],
    pa: npt.NDArray[np.int32],
    b: npt.NDArray[np.uint64],
    pb: npt.NDArray[np.int32],
    ii: npt.NDArray[np.int64],
    jj: npt.NDArray[np.int64],
    metric: int,
    nbits: float,
    threads: int,
) -> npt.NDArray[np.float32]: ...
def pair_counts(
    a: npt.NDArray[np.uint64],
    b: npt.NDArray[np.uint64],
    ii: npt.NDArray[np.int64],
    jj: npt.NDArray[np.int64],
    seg_lo: npt.NDArray[np.int64],
    seg_hi: npt.NDArray[np.int64],
    seg_mask: npt.NDArray[np.uint64],
    threads: int,
) -> npt.NDArray[np.int32]: ...
def triangle_pairs(
    a: npt.NDArray[np.uint64],
    pa: npt.NDArray[np.int32],
    kstart: npt.NDArray[np.int64],
    kend: npt.NDArray[np.int64],
    a_sorted: npt.NDArray[np.uint64],
    pa_sorted: npt.NDArray[np.int32],
    order: npt.NDArray[np.int64],
    run_end: npt.NDArray[np.int64],
    cmin: npt.NDArray[np.int32],
    metric: int,
    nbits: float,
    topk: int,
    threads: int,
    chunk_rows: int,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float32]]: ...
def expand_candidates(
    tables: list[tuple[int, npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64],
                       npt.NDArray[np.int64], npt.NDArray[np.int64] | None]],
    dedup: bool,
    bounds: npt.NDArray[np.int64],
    raw_offset: npt.NDArray[np.int64],
    threads: int,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]: ...
def minhash(
    clks: npt.NDArray[np.uint64],
    pos: npt.NDArray[np.int64],
    off: npt.NDArray[np.int64],
    threads: int,
) -> npt.NDArray[np.int64]: ...

class CombinedPlan:
    def __init__(self, **arrays: object) -> None: ...

def combined_scores(
    plan: CombinedPlan,
    ii: npt.NDArray[np.int64],
    jj: npt.NDArray[np.int64],
    threads: int,
) -> npt.NDArray[np.float32]: ...
