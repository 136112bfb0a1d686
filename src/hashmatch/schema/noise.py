"""Size the BLIP noise ``schema new`` proposes from the proposer's own values.

Noise is what stops a frequency attack on values many people share (a common first
name, a birth year): ``hashmatch audit`` fails a segment whose rows fall in groups of
>= 10 identical or near-identical patterns. How much noise that takes depends on the
data: on how concentrated a field's values are, and on how many rows the file holds
(a first name held by 0.5% of the rows is a group of 10 in 2,000 rows and of 5,000 in a
million). Noise also costs linkage quality (docs/guides/hardening.md), so the proposal
puts only as much as the audit needs, only on the fields that need it.

:func:`noise_plan` encodes the proposer's sampled rows once, in memory, under the
proposed fields with ``"recommended"`` hardening (a throwaway key: nothing leaves this
module but shares and the choice), adds noise of each flip probability it tries (the
encoder's distribution, from a fixed seed), and estimates with the audit's own measure
(:func:`hashmatch.audit.privacy.segment_repeats`) the share of the file's rows that
would sit in frequent groups. A date field is judged on its birth *years* as well:
another party may hold only the year (the synth catalogue does), and a year-only date
is the most repetitive form of it. The smallest flip of :data:`FLIP_LADDER` that keeps
every field below :data:`REPEAT_TARGET` is proposed, on the fields above it without
noise; no noise when none is.

The estimate is for a file of ``rows`` rows (the proposer's): a party whose file is
larger or more repetitive audits its own file and raises ``flip`` if it fails.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from hashmatch.audit.privacy import LIMITS, segment_repeats
from hashmatch.schema import defaults as d

__all__ = [
    "FLIP_LADDER",
    "NOISY_TYPES",
    "REPEAT_TARGET",
    "NoisePlan",
    "count_rows",
    "noise_plan",
]

#: Field types whose values many people share: the only ones noise is considered for.
NOISY_TYPES = ("name", "date")
#: Flip probabilities tried, smallest first. The top is the largest one measured to cost
#: little F1 on names and dates (docs/guides/hardening.md); a file that needs more gets
#: it and a note (the audit tells).
FLIP_LADDER = (0.01, 0.015, 0.02, 0.025, 0.03, 0.035, 0.04, 0.045)
#: Largest predicted repeat load accepted: the share of rows in frequent groups as a
#: fraction of what the audit fails at (0.25 for identical patterns, 0.5 for
#: near-identical ones), the larger of the two. Below 1 by a margin for the estimate's
#: sampling error and a party whose file is somewhat larger than the proposer's.
REPEAT_TARGET = 0.75
#: Throwaway secret and row key for the in-memory trial encodings (never written).
_TRIAL_KEY = bytes(range(32))
#: Seed of the simulated noise (fixed: the proposal is the same for the same input).
_NOISE_SEED = 20261207


@dataclass(frozen=True)
class NoisePlan:
    """The proposed noise: ``flip`` on ``fields`` (0 and () when no field needs any), and
    the predicted repeat load (share of rows in frequent groups / the audit's fail
    limit) per candidate field, without noise and with the chosen flip (``(field,
    before, after)``), for a file of ``rows`` rows."""

    flip: float
    fields: tuple[str, ...]
    predicted: tuple[tuple[str, float, float], ...]
    rows: int
    enough: bool  # False: even the top of the ladder leaves a field above the target


def noise_plan(
    schema_fields: Sequence[Mapping[str, Any]],
    mapping_fields: Mapping[str, Any],
    header: Sequence[str],
    sample: Sequence[Sequence[str]],
    rows: int,
) -> NoisePlan:
    """Choose the flip for the Bloom-encoded name and date fields of ``schema_fields``.

    ``mapping_fields`` maps each field to its source (the proposal's mapping entries),
    ``sample`` are the proposer's sampled rows under ``header``, ``rows`` the number of
    rows in its file. Deterministic for given inputs.
    """
    candidates = [f["name"] for f in schema_fields
                  if f.get("type") in NOISY_TYPES and "bloom" in f]
    width = len(header)
    records = [dict(zip(header, r, strict=True)) for r in sample if len(r) == width]
    if not candidates or len(records) < 2:
        return NoisePlan(0.0, (), (), rows, True)
    trials = [_segments(schema_fields, candidates, records, dict(mapping_fields))]
    dates = [f["name"] for f in schema_fields
             if f.get("type") == "date" and f["name"] in candidates]
    if dates:
        trials.append(_segments(schema_fields, candidates,
                                *_years(records, mapping_fields, dates)))
    before = _loads(trials, candidates, 0.0, rows)
    noisy = tuple(f for f in candidates if before[f] >= REPEAT_TARGET)
    if not noisy:
        return NoisePlan(0.0, (), _predicted(candidates, before, before), rows, True)
    flip = max(_least_flip(trials, f, rows) for f in noisy)
    after = _loads(trials, noisy, flip, rows)
    enough = max(after.values()) < REPEAT_TARGET
    return NoisePlan(flip, noisy, _predicted(candidates, before, after), rows, enough)


def _least_flip(trials: Sequence[Mapping[str, Bits]], field: str, rows: int) -> float:
    """The smallest flip of the ladder that brings ``field`` below the target (the top
    one when none does), by bisection: more noise never makes patterns more alike."""
    lo, hi = 0, len(FLIP_LADDER) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if _loads(trials, [field], FLIP_LADDER[mid], rows)[field] < REPEAT_TARGET:
            hi = mid
        else:
            lo = mid + 1
    return FLIP_LADDER[lo]


def _predicted(
    candidates: Sequence[str], before: Mapping[str, float], after: Mapping[str, float]
) -> tuple[tuple[str, float, float], ...]:
    return tuple((f, before[f], after.get(f, before[f])) for f in candidates)


Bits = npt.NDArray[np.uint8]


def _segments(
    schema_fields: Sequence[Mapping[str, Any]],
    candidates: Sequence[str],
    records: list[dict[str, str]],
    mapping_fields: dict[str, Any],
) -> dict[str, Bits]:
    """The candidates' segments (0/1, the rows holding a value) of ``records`` encoded
    under the proposed fields with ``"recommended"`` hardening (permute + even fill, no
    noise), with a throwaway key."""
    from hashmatch.encode import LinkageSecret
    from hashmatch.encode.keys import RowKey
    from hashmatch.encode.pipeline import encode_records
    from hashmatch.schema.validate import build_schema

    schema = build_schema({"version": 1, "hardening": "recommended",
                           "clk": {"bits": d.DEFAULT_CLK_BITS},
                           "fields": [_bare(f) for f in schema_fields]})
    mapped = {f: mapping_fields[f] for f in candidates}  # the others: not read at all
    batch = encode_records(
        records, schema=schema, secret=LinkageSecret(_TRIAL_KEY), party="trial",
        mapping={"fields": mapped}, row_key=RowKey(_TRIAL_KEY), workers=1,
    )
    bits = np.unpackbits(np.ascontiguousarray(batch.clks, dtype="<u8").view(np.uint8),
                         axis=1, bitorder="little")
    out = {}
    for seg in schema.segments:
        if seg.field in candidates:
            segment = bits[:, seg.start : seg.start + seg.bits]
            out[seg.field] = segment[segment.any(axis=1)]
    return out


def _loads(
    trials: Sequence[Mapping[str, Bits]], fields: Sequence[str], flip: float, rows: int
) -> dict[str, float]:
    """Per field, the worst repeat load over the trials with noise ``flip`` added.

    The noise is drawn here from a fixed seed, not from the encoder's keyed PRF: the
    same distribution (each bit flipped independently with probability ``flip``), and
    one encoding serves every flip tried."""
    rng = np.random.default_rng(_NOISE_SEED)
    out = dict.fromkeys(fields, 0.0)
    for segments in trials:
        for f in fields:
            bits = segments[f]
            if flip > 0:
                bits = bits ^ (rng.random(bits.shape) < flip).astype(np.uint8)
            exact, near = segment_repeats(bits, rows)
            load = max(exact / LIMITS["frequent_share"][1], near / LIMITS["near_share"][1])
            out[f] = max(out[f], load)
    return out


def _bare(field: Mapping[str, Any]) -> dict[str, Any]:
    """A schema field without what does not change its bits (a swap pair needs its
    partner; stable changes nothing in the encoding)."""
    return {k: v for k, v in field.items() if k not in ("swaps_with", "stable")}


def _years(
    records: list[dict[str, str]], mapping_fields: Mapping[str, Any], dates: Sequence[str]
) -> tuple[list[dict[str, str]], dict[str, Any]]:
    """The records with each date field reduced to its year (as a party holding only
    the birth year encodes it), and the mapping that reads them."""
    from hashmatch.normalize._base import ColumnSource, InvalidValue, MissingValue
    from hashmatch.normalize.dates import make_date_normalizer

    fields = dict(mapping_fields)
    out = [dict(r) for r in records]
    for name in dates:
        source = mapping_fields[name]
        column = source["column"] if isinstance(source, Mapping) else source
        formats = source.get("date_formats", ()) if isinstance(source, Mapping) else ()
        # the date normaliser itself (its default formats when the mapping gives none)
        canonical = make_date_normalizer({}, ColumnSource((column,), date_formats=tuple(formats)))
        year_column = f"__year_of_{name}"
        for r in out:
            try:
                r[year_column] = canonical(r.get(column, "").strip())[:4]
            except (InvalidValue, MissingValue):
                r[year_column] = ""
        fields[name] = {"column": year_column, "date_formats": ["%Y"]}
    return out, fields


def count_rows(path: str | os.PathLike[str]) -> int | None:
    """Data rows of a CSV (plain or gzip) or Parquet file, None for standard input or a
    pipe (read once). Counts line ends, so a quoted line break counts a row more: the
    estimate errs towards more noise."""
    import stat

    from hashmatch.encode.sources.files import STDIN, InputFile

    if str(path) == STDIN or not stat.S_ISREG(os.stat(path).st_mode):
        return None
    file = InputFile(path)
    if file.kind == "parquet":
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(file.path).metadata.num_rows)
    lines, last = 0, b"\n"
    with file.reading(), file.open() as stream:
        while block := stream.read(1 << 20):
            lines += block.count(b"\n")
            last = block[-1:]
    return max(lines + (last != b"\n") - 1, 0)
