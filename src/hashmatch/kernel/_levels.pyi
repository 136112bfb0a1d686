"""Stub of the compiled comparison levels (``_levels.pyx``)."""

import numpy as np
import numpy.typing as npt

def dice_levels(
    counts: npt.NDArray[np.int32],
    column: int,
    left_popcounts: npt.NDArray[np.uint16],
    right_popcounts: npt.NDArray[np.uint16],
    left_present: npt.NDArray[np.uint8],
    right_present: npt.NDArray[np.uint8],
    i: npt.NDArray[np.int64],
    j: npt.NDArray[np.int64],
    segment: int,
    nested: bool,
    edges: npt.NDArray[np.float32],
    level: npt.NDArray[np.int8],
    missing: npt.NDArray[np.uint8],
) -> None: ...
def token_agreement(
    left: npt.NDArray[np.uint64],
    right: npt.NDArray[np.uint64],
    i: npt.NDArray[np.int64],
    j: npt.NDArray[np.int64],
    agree: npt.NDArray[np.uint8],
    both: npt.NDArray[np.uint8],
) -> None: ...
