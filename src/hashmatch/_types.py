"""Type aliases for the plain arrays that flow between stages, and the CLK layout.

Stages (normalise -> encode -> file -> kernel -> block -> score -> solve -> entities)
talk through these, so each stage can run on a chunk, a memory map, or a Dask partition.
Both sides import this module: it holds no behaviour, only the shapes they share.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

import numpy as np
import numpy.typing as npt

#: What an exact-token column is to the coordinator: a field's own token
#: (``identifier``), scoring evidence (``match``) or a blocking key only (``block``).
TokenKind: TypeAlias = Literal["identifier", "match", "block"]


@dataclass(frozen=True)
class Segment:
    """Where one field's Bloom filter sits inside the record-level CLK.

    Bits ``[start, start + bits)``. The schema computes the layout, the encoder fills it,
    the file header records it and the coordinator scores field by field with it.
    """

    field: str
    start: int
    bits: int


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

#: Scored pairs: (i, j, score), int64 row of the left side, int64 row of the right side,
#: float32 score; one element per pair.
Pairs: TypeAlias = tuple[Indices, Indices, Scores]
