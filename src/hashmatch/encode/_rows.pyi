"""Stub of the encoder's compiled row loops (``_rows.pyx``)."""

import numpy as np
import numpy.typing as npt

def factorize(
    values: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.intp]]: ...
def or_fields(
    out: npt.NDArray[np.uint64],
    first_words: list[int],
    tables: list[npt.NDArray[np.uint64]],
    codes: npt.NDArray[np.intp],
) -> None: ...
def or_segments(
    out: npt.NDArray[np.uint64],
    table: npt.NDArray[np.uint64],
    codes: npt.NDArray[np.intp],
    starts: npt.NDArray[np.intp],
) -> None: ...
def set_bits(rows: npt.NDArray[np.uint64], positions: npt.NDArray[np.int64]) -> None: ...
def lookup_lines(tokens: npt.NDArray[np.uint8], ids: list[str]) -> bytes | None: ...
def qgram_codes(
    values: list[str], q: int, pad: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.intp]]: ...
