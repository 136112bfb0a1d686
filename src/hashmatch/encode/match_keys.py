"""Match-key tokens for a chunk: one HMAC per distinct combination of parts, ever.

A match key combines several *parts* (a field's canonical value through a transform:
``surname``, ``date_of_birth:year``, ``surname:soundex``...). Each part's values get
small integer ids that stay the same from chunk to chunk (:class:`PartValues`), so a
combination of parts is a tuple of ints: the chunk's distinct combinations are found
with numpy, looked up in the key's memo with C-level maps, and only combinations never
seen before are hashed (:class:`MatchKeyTokens`). Memory is bounded: a part's ids are
renumbered (and the memos built on them emptied) when it holds too many values.

The token is :func:`hashmatch.encode.tokens.match_key_token` of the parts, computed with
:class:`~hashmatch.encode.prf.HmacSha256` over the parts' framing (tested equal).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from itertools import repeat

import numpy as np
import numpy.typing as npt

from hashmatch.encode._rows import factorize
from hashmatch.encode.columns import pack_rows, unique_rows, unpack_rows
from hashmatch.encode.prf import HmacSha256
from hashmatch.encode.tokens import MISSING_TOKEN, TOKEN_BYTES, frame, transform

Ids = npt.NDArray[np.intp]
_LIMIT = 1 << 16  # values per part, combinations per key (bounded memory)


class PartValues:
    """The values of one part (a field through a transform) with ids stable across chunks."""

    def __init__(self, how: str | None, limit: int = _LIMIT) -> None:
        self.how = how
        self.limit = limit
        self.generation = 0  # bumped whenever ids are renumbered
        self.values: list[str] = []  # id -> transformed value
        self.framed: list[bytes] = []  # id -> the value as hashed in a match key
        self._index: dict[str | None, int] = {None: -1}  # transformed value -> id
        self._ids: dict[str | None, int] = {None: -1}  # canonical value -> id (-1: none)

    def ids(self, canonicals: Sequence[str | None]) -> Ids:
        """Per canonical value, the id of its part; -1 when missing or not derivable
        (the month of a year-only date, the soundex of a name without letters...)."""
        found = list(map(self._ids.get, canonicals))
        if None in found:
            known = self._ids
            new: list[str] = [c for c in dict.fromkeys(canonicals) if c not in known]  # type: ignore[misc]
            # Bounding the canonicals remembered bounds the values too (one each at most).
            if len(known) - 1 + len(new) > self.limit:
                self._renumber()
                known = self._ids
                new = [c for c in dict.fromkeys(canonicals) if c is not None]  # type: ignore[misc]
            parts = new if self.how is None else list(map(transform, new, repeat(self.how)))
            # None (no part) is in _index already: only new strings are numbered.
            fresh: list[str] = [v for v in dict.fromkeys(parts) if v not in self._index]  # type: ignore[misc]
            start = len(self.values)
            self._index.update(zip(fresh, range(start, start + len(fresh)), strict=True))
            self.values.extend(fresh)
            self.framed.extend(map(frame, fresh))
            known.update(zip(new, map(self._index.__getitem__, parts), strict=True))
            found = list(map(known.__getitem__, canonicals))
        return np.fromiter(found, np.intp, len(found))

    def _renumber(self) -> None:
        self.generation += 1
        self.values, self.framed = [], []
        self._index = {None: -1}
        self._ids = {None: -1}


class MatchKeyTokens:
    """The tokens of one match key, remembered per combination of part ids."""

    def __init__(self, key: bytes, parts: Sequence[PartValues], limit: int = _LIMIT) -> None:
        self._prf = HmacSha256(key)
        self.parts = list(parts)
        self.limit = limit
        self._memo: dict[Hashable, bytes] = {}
        self._generations = self._current()
        self._base = max(p.limit for p in self.parts) + 1  # above any id + 1

    def _current(self) -> tuple[int, ...]:
        return tuple(p.generation for p in self.parts)

    def tokens(self, ids: Ids) -> npt.NDArray[np.uint8]:
        """``uint8[n, 16]`` tokens for rows of part ids ``ids[n, parts]`` (all-zero where
        a part is missing, -1)."""
        if not len(ids):
            return np.zeros((0, TOKEN_BYTES), dtype=np.uint8)
        if self._current() != self._generations:  # a part renumbered: old keys are stale
            self._memo.clear()
            self._generations = self._current()
        # Ids + 1, so that a missing part is 0: every row has a combination (no masked
        # gathers or scatters), and a combination with a 0 gets the missing token.
        keys, combos, inverse = self._combinations(ids + 1)
        memo = self._memo
        found = list(map(memo.get, keys))
        if None in found:
            if len(memo) + len(keys) > self.limit:
                memo.clear()
            missing = [i for i, f in enumerate(found) if f is None]
            new = self._hash(combos(missing))
            memo.update(zip([keys[i] for i in missing], new, strict=True))
            for i, token in zip(missing, new, strict=True):
                found[i] = token
        table = np.frombuffer(b"".join(found), dtype=np.uint8)  # type: ignore[arg-type]
        # np.take: ten times faster than fancy indexing for rows this narrow
        return np.take(table.reshape(-1, TOKEN_BYTES), inverse, axis=0)

    def _combinations(self, ids: Ids) -> tuple[list[Hashable], Callable[[list[int]], Ids], Ids]:
        """The distinct rows of ``ids`` (part ids + 1) as memo keys, a function giving the
        rows of chosen keys, and each row's index among the keys.

        A key is the row packed into one int (fixed base, so the same combination has
        the same key in every chunk) when that fits, else the row as a tuple. (A chunk
        with more distinct values than a part's limit has ids beyond the base: tuples
        then. Both kinds of key are exact, so mixing them only costs a repeated hash.)
        """
        largest = int(ids.max(initial=0))
        packed = pack_rows(ids, self._base) if largest < self._base else None
        if packed is not None:
            distinct, inverse = factorize(packed)
            width = ids.shape[1]
            return (
                distinct.tolist(),
                lambda at: unpack_rows(distinct[at], self._base, width),
                inverse,
            )
        combos, inverse = unique_rows(ids, largest + 1)
        return list(map(tuple, combos.tolist())), combos.__getitem__, inverse

    def _hash(self, combos: Ids) -> list[bytes]:
        """The tokens of combinations of part ids + 1 (missing where an id is 0)."""
        tokens = [MISSING_TOKEN] * len(combos)
        complete = np.flatnonzero((combos > 0).all(axis=1))
        pieces = [  # per part, the framed values of the complete combinations
            list(map(part.framed.__getitem__, ids))
            for part, ids in zip(self.parts, (combos[complete] - 1).T.tolist(), strict=True)
        ]
        joined = self._prf.tokens(list(map(b"".join, zip(*pieces, strict=True))))
        for at, i in enumerate(complete.tolist()):
            tokens[i] = joined[at * TOKEN_BYTES : (at + 1) * TOKEN_BYTES]
        return tokens
