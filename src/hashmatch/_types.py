"""Type aliases for the plain arrays that flow between stages.

Stages (normalise -> encode -> file -> kernel -> block -> score -> solve -> entities)
talk through these, so each stage can run on a chunk, a memory map, or a Dask partition.
"""

from __future__ import annotations

from typing import TypeAlias

import numpy as np
import numpy.typing as npt

#: Packed CLK bit matrix: uint64[rows, words], little-endian words, bit b of a row is
#: bit (b % 64) of word (b // 64).
Clks: TypeAlias = npt.NDArray[np.uint64]

#: Keyed exact tokens: uint8[rows, 16]; an all-zero row means "missing".
Tokens: TypeAlias = npt.NDArray[np.uint8]

#: Opaque row tokens: uint8[rows, 16] random bytes standing in for internal record ids.
RowTokens: TypeAlias = npt.NDArray[np.uint8]

#: Row indices (into one party's file).
Indices: TypeAlias = npt.NDArray[np.int64]

#: Similarity scores.
Scores: TypeAlias = npt.NDArray[np.float32]
