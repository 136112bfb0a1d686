"""Apply a party's resolved mapping and the normalisers to a chunk of rows.

Each schema field present in the file becomes, per row, a canonical value or an outcome
with a reason code: *missing* (``empty``, ``placeholder`` + the placeholder pattern's
name) or *invalid* (a dotted code such as ``date.impossible``). Work is done once per
distinct raw value of a field: a chunk is factorised into (distinct values, per-row
codes), and outcomes are remembered across chunks (bounded), since names, dates and
postcodes repeat. A required field that is not valid sends its row to the rejects.

Nothing here keeps or reports a raw value: outcomes hold reason codes only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import compress, repeat
from operator import is_, is_not, itemgetter
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from hashmatch.encode.columns import Factor, factorise, join_factors
from hashmatch.normalize import InvalidValue, MissingValue, make_normalizer
from hashmatch.normalize._base import batch_path
from hashmatch.schema.model import Field, ResolvedField

_CACHE_LIMIT = 1 << 16  # entries per memo (bounded memory; a memo is emptied when full)
#: Values per call of a batch fast path: what the normaliser learns from the values a
#: slice leaves to it (e.g. a phone prefix's validity) serves the next slices.
_BATCH_SLICE = 2048
_new_tuple = tuple.__new__
_VALID, _NONE = repeat("valid"), repeat(None)


class Outcome(NamedTuple):
    """The result of normalising one raw value: canonical text, or why there is none.

    A named tuple: one is made per distinct raw value, and a frozen dataclass costs
    several times more to build.
    """

    canonical: str | None  # set when valid
    kind: str = "valid"  # valid | missing | invalid
    reason: str | None = None  # "empty", "placeholder", "date.format", ...
    pattern: str | None = None  # name of the placeholder rule that matched

    @property
    def label(self) -> str:
        """Reason code for reports: ``placeholder:na`` keeps the rule name, never the value."""
        if self.pattern:
            return f"{self.reason}:{self.pattern}"
        return self.reason or self.kind


@dataclass
class FieldStats:
    """Counts for one field over the rows seen: never any value."""

    rows: int = 0
    valid: int = 0
    missing: Counter[str] = field(default_factory=Counter)  # "empty", "placeholder:na", ...
    invalid: Counter[str] = field(default_factory=Counter)  # reason code -> rows
    absent: bool = False  # the party's file has no column for this field

    @property
    def filled(self) -> int:
        """Rows with a non-empty cell (valid, placeholder or invalid)."""
        return self.rows - self.missing.get("empty", 0) - self.missing.get("absent", 0)

    @classmethod
    def for_absent(cls, rows: int) -> FieldStats:
        """Stats of a field the party's file has no column for: missing in every row."""
        return cls(rows=rows, missing=Counter({"absent": rows} if rows else {}), absent=True)

    def add(self, other: FieldStats) -> None:
        self.rows += other.rows
        self.valid += other.valid
        self.missing.update(other.missing)
        self.invalid.update(other.invalid)
        self.absent = self.absent or other.absent


@dataclass(frozen=True)
class FieldColumn:
    """One field over one chunk, factorised: ``outcomes[codes[r]]`` is row ``r``'s outcome."""

    name: str
    codes: npt.NDArray[np.intp]  # per row
    outcomes: Sequence[Outcome]  # per distinct raw value of the chunk
    canonicals: list[str | None]  # per distinct raw value: None unless valid
    valid_values: npt.NDArray[np.bool_]  # per distinct raw value
    valid: npt.NDArray[np.bool_]  # per row

    @classmethod
    def of(cls, name: str, codes: npt.NDArray[np.intp], outcomes: list[Outcome]) -> FieldColumn:
        """The column of per-row ``codes`` into per-distinct-value ``outcomes``."""
        # C-level maps: no Python code per value (an outcome is valid iff it has a canonical)
        canonicals: list[str | None] = list(map(itemgetter(0), outcomes))
        valid_values = np.fromiter(
            map(is_not, canonicals, repeat(None)), dtype=np.bool_, count=len(canonicals)
        )
        return cls(name, codes, outcomes, canonicals, valid_values, valid_values[codes])

    def stats(self, rows: npt.NDArray[np.bool_] | None = None) -> FieldStats:
        """Counts over the chunk's rows (or only those where ``rows`` is True)."""
        codes = self.codes if rows is None else self.codes[rows]
        counts = np.bincount(codes, minlength=len(self.outcomes))
        out = FieldStats(rows=len(codes), valid=int(counts[self.valid_values].sum()))
        for i in np.flatnonzero(counts * ~self.valid_values).tolist():  # the few others
            outcome, count = self.outcomes[i], int(counts[i])
            if outcome.kind == "missing":
                out.missing[outcome.label] += count
            else:
                out.invalid[outcome.label] += count
        return out


class FieldReader:
    """Reads one field of a party's rows: joins its columns, normalises, remembers outcomes."""

    def __init__(self, spec: Field, resolved: ResolvedField) -> None:
        self.spec = spec
        self.name = spec.name
        self.indices = resolved.indices
        self.columns = "+".join(resolved.source.columns)  # for reject reports (names only)
        # memo=False: the outcome memo below already sees every value once only
        self._normalize = make_normalizer(spec.type, spec.normalize, resolved.source, memo=False)
        self._batch = batch_path(self._normalize)
        self._cache: dict[str, Outcome] = {}

    def read(self, columns: Sequence[Sequence[str]]) -> FieldColumn:
        """Factorise and normalise the field over a chunk (given as columns)."""
        return self.read_factors([factorise(columns[i]) for i in self.indices])

    def read_factors(self, factors: Sequence[Factor]) -> FieldColumn:
        """Normalise the field over a chunk given as its factorised source columns.

        Work is per distinct value (or per distinct combination of joined cells); rows
        only get numpy gathers.
        """
        joined = join_factors(factors)
        distinct, codes = joined.values, joined.codes
        # When every value is remembered (the usual case after the first chunks), the
        # outcomes come out of the memo in one C pass, with no Python call per value.
        try:
            outcomes = list(map(self._cache.__getitem__, distinct))
        except KeyError:  # some values not seen yet (or forgotten)
            outcomes = (
                self._outcomes(distinct) if self._batch is None else self._batched(distinct)
            )
        return FieldColumn.of(self.name, codes, outcomes)

    def _batched(self, distinct: Sequence[str]) -> list[Outcome]:
        """:meth:`_outcomes` with the normaliser's batch fast path: the values it settles
        (compiled, see :mod:`hashmatch.normalize._shapes`) are valid with its canonical
        form; the others, and nothing else, go through the normaliser."""
        assert self._batch is not None
        values = distinct if isinstance(distinct, list) else list(distinct)
        out: list[Outcome] = []
        for start in range(0, len(values), _BATCH_SLICE):
            part = values[start : start + _BATCH_SLICE]
            out += self._outcomes(part, self._batch(part))
        return out

    def _outcomes(
        self, distinct: Sequence[str], settled: Sequence[str | None] | None = None
    ) -> list[Outcome]:
        """The outcomes of ``distinct``, normalising and remembering (bounded) new ones;
        ``settled[i]``, when given and not None, is value ``i``'s canonical form.

        The remembered and settled outcomes are gathered in C (maps over the lists);
        Python runs only for the values left: for files whose values do not repeat and
        whose type has no batch path, that is every value of the field.
        """
        cache = self._cache
        if len(cache) + len(distinct) > _CACHE_LIMIT:
            cache.clear()
        known: Iterable[object]
        if settled is None:
            found: list[Outcome | None] = list(map(cache.get, distinct))
            known = found
        else:
            fields = zip(settled, _VALID, _NONE, _NONE, strict=False)  # (repeat() is endless)
            found = list(map(_new_tuple, repeat(Outcome), fields))
            known = settled
        get, normalize = cache.get, self._normalize
        for i in list(compress(range(len(found)), map(is_, known, repeat(None)))):
            raw = distinct[i]
            outcome = get(raw) if settled is not None else None
            if outcome is None:
                try:
                    # tuple.__new__: the named tuple's own __new__ is a Python function
                    outcome = _new_tuple(Outcome, (normalize(raw), "valid", None, None))
                except MissingValue as exc:
                    outcome = Outcome(None, "missing", exc.reason, exc.pattern)
                except InvalidValue as exc:
                    outcome = Outcome(None, "invalid", exc.reason)
                if settled is None:
                    cache[raw] = outcome
            found[i] = outcome
        if settled is not None and len(distinct) <= _CACHE_LIMIT:
            cache.update(zip(distinct, found, strict=True))  # type: ignore[arg-type]
        return found  # type: ignore[return-value]  # (no None left)


@dataclass(frozen=True)
class Reject:
    """One reason a row was not encoded: data row number, column NAME, reason code."""

    row: int
    column: str
    reason: str


def required_rejects(
    readers: Sequence[FieldReader],
    columns: Sequence[FieldColumn],
    row_numbers: Sequence[int],
) -> tuple[npt.NDArray[np.bool_], list[Reject]]:
    """Rows to keep (every required field valid) and one Reject per failing required field."""
    n = len(row_numbers)
    keep = np.ones(n, dtype=np.bool_)
    found: list[tuple[int, int, Reject]] = []
    for order, (reader, col) in enumerate(zip(readers, columns, strict=True)):
        if not reader.spec.required:
            continue
        bad = np.flatnonzero(~col.valid)
        keep[bad] = False
        for r in bad.tolist():
            outcome = col.outcomes[col.codes[r]]
            reason = f"required.{outcome.label}"
            found.append((r, order, Reject(row_numbers[r], reader.columns, reason)))
    found.sort(key=lambda item: (item[0], item[1]))
    return keep, [rej for _, _, rej in found]
