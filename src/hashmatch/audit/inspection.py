"""Aggregate statistics of an encoding file, for ``hashmatch inspect``.

A party (or the coordinator) checks a ``.hme`` file before using it: is it intact, how
complete is each field, are the Bloom-filter segments sensibly filled (nearly empty means
too few hash positions, saturated means too many: both ruin similarity scores), how many
rows have identical CLKs. Everything reported is an aggregate over rows; no token, row
token or CLK bit ever leaves this module. Arrays are read in chunks, so memory stays
bounded for any file size (the duplicate count keeps one 8-byte fingerprint per row).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from hashmatch.encfile import EncodingFile, Header, Segment, unpack_present
from hashmatch.kernel import popcount, segment_mask

#: Mean fill (over rows where the field is present) below which a segment is "nearly
#: empty" and above which it is "saturated"; a well-sized filter sits near 30-50%.
NEARLY_EMPTY_FILL = 0.05
SATURATED_FILL = 0.75
#: Share of rows with a CLK identical to an earlier row's above which inspect warns.
DUPLICATE_WARN_RATE = 0.05
#: Most bins in the popcount histogram.
HISTOGRAM_BINS = 12

# Odd 64-bit constant (from splitmix64) for the per-row CLK fingerprint used to count
# duplicates without holding the CLKs themselves in memory.
_MIX = np.uint64(0xBF58476D1CE4E5B9)


@dataclass(frozen=True)
class FieldStats:
    name: str
    missing_rate: float | None  # None when the file has no rows


@dataclass(frozen=True)
class TokenStats:
    name: str
    missing_rate: float | None  # share of all-zero tokens


@dataclass(frozen=True)
class SegmentStats:
    field: str
    start: int
    bits: int
    mean_fill: float | None  # mean share of the segment's bits set, rows with the field
    status: str  # "ok" | "nearly empty" | "saturated" | "no data"


@dataclass(frozen=True)
class HistogramBin:
    low: int  # popcount range, inclusive
    high: int
    rows: int


@dataclass(frozen=True)
class PopcountStats:
    min: int
    p05: int
    median: int
    p95: int
    max: int
    mean: float
    histogram: tuple[HistogramBin, ...]


@dataclass(frozen=True)
class InspectReport:
    """What ``hashmatch inspect`` shows: header facts and aggregates, nothing per row."""

    path: str
    file_bytes: int
    sha256: str  # content digest from the (verified) trailer
    header: Header
    fields: tuple[FieldStats, ...]
    tokens: tuple[TokenStats, ...]
    segments: tuple[SegmentStats, ...]
    popcount: PopcountStats | None  # over non-empty CLKs; None if there are none
    empty_clk_rows: int  # rows with no CLK bit set
    duplicate_clk_rows: int  # non-empty CLKs identical to an earlier row's
    warnings: tuple[str, ...]

    @property
    def rows(self) -> int:
        return self.header.rows

    @property
    def hardening(self) -> str:
        """The hardening recorded in the header ``extra`` (``"none"`` when absent).

        E.g. ``"recommended: even, permute"`` (options in header order). A profile name
        whose options are not what the name means today (a file made before
        ``"recommended"`` changed) says so: ``"recommended (an earlier definition,
        today's recommended-v1): ..."``.
        """
        record = self.header.extra.get("hardening")
        if not isinstance(record, Mapping):
            return "none"
        options = record.get("options")
        on = []
        if isinstance(options, Mapping):
            for key, value in options.items():
                if value is True:
                    on.append(key)
                elif isinstance(value, Mapping):
                    on.append(key + " " + ", ".join(f"{k}={v}" for k, v in value.items()))
                elif isinstance(value, str):
                    on.append(f"{key}={value}")
        name = str(record.get("profile", "custom"))
        return f"{_profile_label(name, options)}: {', '.join(on) or 'no options'}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the ``--json`` output)."""
        header = self.header.to_dict()
        del header["sections"]  # layout detail, not a fact about the data
        return {
            "path": self.path,
            "file_bytes": self.file_bytes,
            "sha256": self.sha256,
            "header": header,
            "rows": self.rows,
            "hardening": self.hardening,
            "fields": [asdict(f) for f in self.fields],
            "tokens": [asdict(t) for t in self.tokens],
            "segments": [asdict(s) for s in self.segments],
            "popcount": None if self.popcount is None else asdict(self.popcount),
            "empty_clk_rows": self.empty_clk_rows,
            "duplicate_clk_rows": self.duplicate_clk_rows,
            "warnings": list(self.warnings),
        }


def inspect_file(path: str | os.PathLike[str], *, chunk_rows: int = 65_536) -> InspectReport:
    """Verify ``path`` and compute its :class:`InspectReport`.

    Raises :class:`~hashmatch.errors.EncodingFileError` /
    :class:`~hashmatch.errors.TamperedFileError` for a file that is not intact.

    Example
    -------
    >>> import numpy as np, tempfile, pathlib
    >>> from hashmatch.encfile import EncodingWriter
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "a.hme"
    >>> with EncodingWriter(out, party="a", schema_fingerprint="sha256:00", clk_bits=64,
    ...                     segments=[("name", 0, 64)], token_names=[],
    ...                     field_names=["name"]) as w:
    ...     w.append(np.array([[0xFF], [0xFF]], np.uint64), {}, np.ones((2, 1), bool),
    ...              np.zeros((2, 16), np.uint8))
    >>> report = inspect_file(out)
    >>> report.segments[0].mean_fill, report.duplicate_clk_rows
    (0.125, 1)
    """
    with EncodingFile.open(path, verify=True) as f:
        h = f.header
        acc = _Accumulator(h)
        for start, stop in f.iter_chunks(chunk_rows):
            acc.add(
                f.clks[start:stop],
                unpack_present(f.present_packed[start:stop], len(h.field_names)),
                {name: f.token(name)[start:stop] for name in h.token_names},
            )
        return acc.report(str(path), f.digest)


class _Accumulator:
    """Running sums over chunks; turned into a report at the end."""

    def __init__(self, header: Header) -> None:
        self.h = header
        self.missing = np.zeros(len(header.field_names), np.int64)
        self.token_missing = dict.fromkeys(header.token_names, 0)
        self.popcounts = np.zeros(header.clk_bits + 1, np.int64)
        self.fill_bits = np.zeros(len(header.segments), np.int64)
        self.fill_rows = np.zeros(len(header.segments), np.int64)
        self.masks = [_segment_mask(s.start, s.bits) for s in header.segments]
        self.field_index = {name: i for i, name in enumerate(header.field_names)}
        self.fingerprints: list[npt.NDArray[np.uint64]] = []

    def add(
        self,
        clks: npt.NDArray[np.uint64],
        present: npt.NDArray[np.bool_],
        tokens: dict[str, npt.NDArray[np.uint8]],
    ) -> None:
        clks = np.ascontiguousarray(clks, dtype=np.uint64)  # native order for arithmetic
        self.missing += (~present).sum(axis=0)
        for name, tok in tokens.items():
            self.token_missing[name] += int((tok == 0).all(axis=1).sum())
        counts = popcount(clks).astype(np.int64)
        self.popcounts += np.bincount(counts, minlength=self.popcounts.size)
        for i, (seg, (w0, mask)) in enumerate(zip(self.h.segments, self.masks, strict=True)):
            rows = present[:, self.field_index[seg.field]]
            sub = clks[rows, w0 : w0 + mask.size] & mask
            self.fill_bits[i] += int(popcount(sub).sum(dtype=np.int64))
            self.fill_rows[i] += int(rows.sum())
        self.fingerprints.append(_fingerprint(clks[counts > 0]))

    def report(self, path: str, digest: str) -> InspectReport:
        h = self.h
        fields = tuple(
            FieldStats(name, _rate(int(m), h.rows))
            for name, m in zip(h.field_names, self.missing, strict=True)
        )
        tokens = tuple(TokenStats(n, _rate(m, h.rows)) for n, m in self.token_missing.items())
        segments = tuple(
            _segment_stats(seg, int(b), int(r))
            for seg, b, r in zip(h.segments, self.fill_bits, self.fill_rows, strict=True)
        )
        fingerprints = np.concatenate([np.empty(0, np.uint64), *self.fingerprints])
        fingerprints.sort()  # in place: equal CLKs end up adjacent
        duplicates = int(np.count_nonzero(fingerprints[1:] == fingerprints[:-1]))
        empty = int(self.popcounts[0])
        report = InspectReport(
            path=path,
            file_bytes=h.file_length,
            sha256=digest,
            header=h,
            fields=fields,
            tokens=tokens,
            segments=segments,
            popcount=_popcount_stats(self.popcounts) if self.popcounts[1:].any() else None,
            empty_clk_rows=empty,
            duplicate_clk_rows=duplicates,
            warnings=(),
        )
        return _with_warnings(report)


def _rate(count: int, rows: int) -> float | None:
    return count / rows if rows else None


def _segment_mask(start: int, bits: int) -> tuple[int, npt.NDArray[np.uint64]]:
    """(first word, per-word masks) selecting CLK bits [start, start + bits)."""
    w0, w1 = start // 64, (start + bits - 1) // 64 + 1
    return w0, segment_mask(start, bits, w1)[w0:]


def _fingerprint(clks: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """A 64-bit mix of each row: equal CLKs give equal values, others collide ~2^-64."""
    h = np.zeros(clks.shape[0], np.uint64)
    for w in range(clks.shape[1]):
        h = (h ^ clks[:, w]) * _MIX
        h ^= h >> np.uint64(31)
    return h


def _segment_stats(seg: Segment, bits_set: int, rows: int) -> SegmentStats:
    if rows == 0:
        return SegmentStats(seg.field, seg.start, seg.bits, None, "no data")
    fill = bits_set / (rows * seg.bits)
    status = (
        "nearly empty"
        if fill < NEARLY_EMPTY_FILL
        else "saturated"
        if fill > SATURATED_FILL
        else "ok"
    )
    return SegmentStats(seg.field, seg.start, seg.bits, fill, status)


def _popcount_stats(counts: npt.NDArray[np.int64]) -> PopcountStats:
    """Distribution of popcounts >= 1: empty CLKs are counted apart, as they would squash
    the histogram of the rows that matter into a few bins."""
    counts = counts.copy()
    counts[0] = 0
    nonzero = np.flatnonzero(counts)
    lo, hi = int(nonzero[0]), int(nonzero[-1])
    cum = np.cumsum(counts)
    total = int(cum[-1])

    def quantile(q: float) -> int:
        return int(np.searchsorted(cum, q * total, side="left"))

    width = max(1, -(-(hi - lo + 1) // HISTOGRAM_BINS))
    bins = tuple(
        HistogramBin(b, min(b + width - 1, hi), int(counts[b : b + width].sum()))
        for b in range(lo, hi + 1, width)
    )
    mean = float((np.arange(counts.size) * counts).sum() / total)
    return PopcountStats(lo, quantile(0.05), quantile(0.5), quantile(0.95), hi, mean, bins)


def _with_warnings(report: InspectReport) -> InspectReport:
    warnings: list[str] = []
    rows = report.rows
    for seg in report.segments:
        if seg.status == "nearly empty":
            warnings.append(
                f"segment {seg.field!r} is nearly empty ({seg.mean_fill:.1%} of {seg.bits} "
                "bits set where present): raise its k or give it fewer bits"
            )
        elif seg.status == "saturated":
            warnings.append(
                f"segment {seg.field!r} is saturated ({seg.mean_fill:.1%} of {seg.bits} "
                "bits set where present): lower its k or give it more bits"
            )
    for f in report.fields:
        if rows and f.missing_rate == 1.0:
            warnings.append(f"field {f.name!r} is missing in every row: check the mapping")
    if rows and report.empty_clk_rows:
        warnings.append(
            f"{report.empty_clk_rows} row(s) have an empty CLK: they can match on exact tokens only"
        )
    if rows and report.duplicate_clk_rows / rows > DUPLICATE_WARN_RATE:
        warnings.append(
            f"{report.duplicate_clk_rows / rows:.1%} of rows repeat an earlier row's CLK: "
            "duplicates in the source, or too few fields to tell records apart"
        )
    return InspectReport(**{**report.__dict__, "warnings": tuple(warnings)})


def iter_histogram_lines(popcount: PopcountStats, width: int = 40) -> Iterator[str]:
    """Text histogram lines ``"lo-hi  ████  rows"`` (for terminals and logs)."""
    peak = max(b.rows for b in popcount.histogram) or 1
    label_w = len(f"{popcount.max}-{popcount.max}")
    for b in popcount.histogram:
        label = f"{b.low}-{b.high}" if b.high != b.low else f"{b.low}"
        bar = "█" * round(width * b.rows / peak)
        yield f"{label:>{label_w}} {bar:<{width}} {b.rows}"


__all__ = [
    "FieldStats",
    "HistogramBin",
    "InspectReport",
    "PopcountStats",
    "SegmentStats",
    "TokenStats",
    "inspect_file",
    "iter_histogram_lines",
]


def _profile_label(name: str, options: Any) -> str:
    """The header's profile name, marked when its options are not what it means today."""
    from hashmatch.errors import SchemaError
    from hashmatch.schema.hardening import PROFILES, Hardening, profile_name

    profile = PROFILES.get(name)
    if profile is None or not isinstance(options, Mapping):
        return name
    try:
        recorded = Hardening.from_dict(dict(options))
    except SchemaError:
        return f"{name} (options not understood by this version)"
    if recorded == profile:
        return name
    today = profile_name(recorded)
    return f"{name} (an earlier definition" + (f", today's {today})" if today != "custom" else ")")
