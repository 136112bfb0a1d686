"""Related entities a link kept apart: the pairs and how they are told apart.

:mod:`hashmatch.link.lookalikes` finds them (twins, couples, parents and children);
``relationships.csv`` lists them (:mod:`hashmatch.link.outputs`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["LOOKALIKE", "Relationships"]

#: The relation written for a look-alike pair (relationships.csv, report.json).
LOOKALIKE = "look-alike"


@dataclass(frozen=True)
class Relationships:
    """Pairs of related entities (entity numbers, ``entity_a < entity_b``), each once, with
    the fields their records agreed on and clearly disagreed on (bit ``c`` of ``shared``
    and ``differ`` is field ``fields[c]``, over every record pair of the two entities)."""

    entity_a: npt.NDArray[np.int64]
    entity_b: npt.NDArray[np.int64]
    shared: npt.NDArray[np.int64]
    differ: npt.NDArray[np.int64]
    fields: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.entity_a)

    def field_names(self, mask: int) -> list[str]:
        """The fields of a ``shared`` or ``differ`` mask, in schema order."""
        return [name for c, name in enumerate(self.fields) if mask >> c & 1]

    @staticmethod
    def none(fields: Sequence[str] = ()) -> Relationships:
        empty = np.zeros(0, np.int64)
        return Relationships(empty, empty, empty, empty, tuple(fields))


