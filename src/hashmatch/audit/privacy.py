"""Privacy audit of one's own encoding file, run by a party before the file leaves the silo.

Bloom-filter encodings are keyed, but an attacker holding the file can still exploit
*structure*: positions set far more often than others (a frequency attack on bit
positions), segment patterns that repeat as often as common names do (a frequency
alignment of patterns to names), and popcounts that grow with value length. This module
measures each risk per field segment and gives a verdict (ok / warn / fail) with the
schema setting that fixes it. With the party's raw data it also simulates the simple
frequency attack: align the most frequent segment patterns to the most frequent values
and count how many it gets right.

Exact tokens (keyed hashes of emails, phones, ids, match keys) are audited for repeats:
an identifier token shared by many rows is the keyed image of one frequent value, often a
placeholder the normaliser does not know ("noemail@example.com", a switchboard number),
which a frequency attack singles out and which links unrelated people. Block keys repeat by
design and are not audited.

Only counts, rates and ranks are reported: never a value, a token or CLK bits. Ground-truth
labels (the canonical values) are used in memory to score the simulated attack and are
dropped. Files are read in chunks; memory is one 8-byte pattern hash and one popcount per
row and segment.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from hashmatch.encfile import EncodingFile, Segment
from hashmatch.lookup import check_lookup_covers, read_lookup

Verdict = Literal["ok", "warn", "fail"]
_ORDER: dict[str, int] = {"ok": 0, "warn": 1, "fail": 2}

#: A pattern shared by at least this many rows is "frequent" (a k-anonymity style floor:
#: a group this large is what a frequency attack can single out and align).
FREQUENT_GROUP = 10
#: Rows sampled (uniformly, whatever the file's order) per segment to look for groups of
#: near-identical patterns (pairwise, so quadratic).
NEAR_SAMPLE = 2000
#: Dice similarity at or above which two segment patterns are "near-identical".
NEAR_DICE = 0.9
#: Most frequent values / patterns the simulated attack tries to align.
ATTACK_TOP = 20

#: (warn at, fail at) for each metric; see docs/guides/hardening.md for the calibration.
LIMITS: Mapping[str, tuple[float, float]] = {
    "bit_rate_cv": (0.5, 1.0),  # std / mean of the per-position set rates
    "frequent_share": (0.05, 0.25),  # share of rows in a pattern shared by >= FREQUENT_GROUP
    "near_share": (0.25, 0.5),  # the same for groups of near-identical patterns (noise)
    "popcount_cv": (0.05, 0.15),  # std / mean of segment popcounts (no raw data)
    "length_corr": (0.2, 0.5),  # |Pearson r| of value length and popcount (raw data)
    "attack_share": (0.1, 0.3),  # share of the top values the attack aligns correctly
    "token_top_share": (0.01, 0.05),  # share of token-holding rows with the top token
}

_NOISE = (
    "hardening.blip = {{ flip = 0.045, fields = [{fields}] }} (noise on the fields "
    "whose values many people share; it costs little F1 there: see "
    "docs/guides/hardening.md), or hardening.salt; a field with few distinct values "
    "(state, gender, a city) leaks whatever the hardening: leave it out of the schema or "
    "make it an exact token"
)
_FIX = {
    "bit_frequency": _NOISE,
    "repeated_patterns": _NOISE,
    "length": 'hardening.even = true (or hardening = "recommended")',
    "frequency_attack": _NOISE,
    "repeated_tokens": (
        "look for a placeholder among the field's most common values (hashmatch profile) "
        "and add it to the mapping's placeholders, or drop exact = true for the field"
    ),
}

_MIX = np.uint64(0x9E3779B97F4A7C15)


@dataclass(frozen=True)
class SegmentAudit:
    """Statistics of one field segment over the rows where it is not empty."""

    field: str
    bits: int
    rows: int  # rows with a non-empty segment
    mean_fill: float
    bit_rate_cv: float  # std / mean of per-position min(rate, 1 - rate): attack surface
    bit_rate_max_ratio: float  # the most skewed position's min(rate, 1 - rate) / mean
    distinct_patterns: int
    top_pattern_share: float  # share of rows with the single most frequent pattern
    frequent_share: float  # share of rows whose pattern is shared by >= FREQUENT_GROUP rows
    near_share: float  # share of rows in a group of >= FREQUENT_GROUP near-identical
    # (Dice >= 0.9) patterns, estimated from a uniform sample of rows
    popcount_mean: float
    popcount_std: float
    popcount_min: int
    popcount_max: int
    length_corr: float | None = None  # with raw data: Pearson r(value length, popcount)
    length_mi_bits: float | None = None  # with raw data: mutual information estimate
    attack_aligned: float | None = None  # with raw data: top values aligned (expected)
    attack_top: int | None = None  # ... out of this many

    @property
    def popcount_cv(self) -> float:
        return self.popcount_std / self.popcount_mean if self.popcount_mean else 0.0


@dataclass(frozen=True)
class TokenAudit:
    """Repeats of one exact-token column over the rows that hold a token."""

    name: str
    kind: str  # identifier | match (block keys are not audited)
    rows: int  # rows holding the token
    distinct: int
    top_share: float  # share of those rows holding the most frequent token
    frequent_share: float  # share of rows whose token >= FREQUENT_GROUP rows share


@dataclass(frozen=True)
class Finding:
    """The verdict on one risk, over all segments, and the schema setting that fixes it."""

    risk: str  # bit_frequency | repeated_patterns | length | frequency_attack | repeated_tokens
    verdict: Verdict
    worst_field: str | None
    detail: str  # counts and rates only
    fix: str | None  # None when ok


@dataclass(frozen=True)
class AuditReport:
    path: str | None
    rows: int
    segments: tuple[SegmentAudit, ...]
    findings: tuple[Finding, ...]
    with_raw: bool = False
    tokens: tuple[TokenAudit, ...] = ()

    @property
    def verdict(self) -> Verdict:
        """The worst verdict over all risks."""
        return max((f.verdict for f in self.findings), key=_ORDER.__getitem__, default="ok")

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "rows": self.rows,
            "with_raw": self.with_raw,
            "verdict": self.verdict,
            "findings": [asdict(f) for f in self.findings],
            "segments": [asdict(s) for s in self.segments],
            "tokens": [asdict(t) for t in self.tokens],
        }


# -- entry points ---------------------------------------------------------------------------


def audit_file(
    path: str | os.PathLike[str],
    *,
    truth: Mapping[str, Sequence[str | None]] | None = None,
    chunk_rows: int = 262_144,
) -> AuditReport:
    """Audit an encoding file (checksum verified); ``truth`` adds the raw-data checks.

    ``truth`` maps a field name to each row's canonical value (None when missing), in
    file row order (see :func:`truth_from_raw`). Raises the ``EncodingFile.open`` errors.
    """
    with EncodingFile.open(path) as f:
        collector = _Collector(f.header.segments)
        for start, stop in f.iter_chunks(chunk_rows):
            collector.add(np.asarray(f.clks[start:stop]))
        report = collector.report(str(path), truth)
        tokens = tuple(_audit_tokens(f, chunk_rows))
    risk = _repeated_tokens(tokens)
    findings = report.findings + (() if risk is None else (risk,))
    return dataclasses.replace(report, findings=findings, tokens=tokens)


def _audit_tokens(f: EncodingFile, chunk_rows: int) -> Iterator[TokenAudit]:
    """Repeat statistics per identifier and match-key token column (block keys skipped)."""
    kinds = f.header.token_kinds
    for name in f.header.token_names:
        if kinds[name] == "block":
            continue
        column = f.token(name)
        parts = []
        for start, stop in f.iter_chunks(chunk_rows):
            block = np.ascontiguousarray(column[start:stop])
            held = block.any(axis=1)
            # HMAC output is uniform: its first 8 bytes identify a token well enough
            parts.append(block[held, :8].copy().view("<u8").ravel())
        held_tokens = np.concatenate(parts) if parts else np.zeros(0, np.uint64)
        _, counts = np.unique(held_tokens, return_counts=True)
        n = len(held_tokens)
        yield TokenAudit(
            name=name,
            kind=kinds[name],
            rows=n,
            distinct=len(counts),
            top_share=float(counts.max() / n) if n else 0.0,
            frequent_share=float(counts[counts >= FREQUENT_GROUP].sum() / n) if n else 0.0,
        )


def _repeated_tokens(tokens: Sequence[TokenAudit]) -> Finding | None:
    if not tokens:
        return None
    worst = max(tokens, key=lambda t: t.top_share)
    verdict = _grade(worst.top_share, "token_top_share")
    detail = (
        f"the most frequent token is held by {worst.top_share:.1%} of the rows with one; "
        f"{worst.frequent_share:.1%} of rows share their token with >= {FREQUENT_GROUP - 1} "
        "others"
    )
    fix = None if verdict == "ok" else _FIX["repeated_tokens"]
    return Finding("repeated_tokens", verdict, worst.name, detail, fix)


def audit_clks(
    clks: npt.NDArray[np.uint64],
    segments: Sequence[Segment],
    *,
    truth: Mapping[str, Sequence[str | None]] | None = None,
) -> AuditReport:
    """Audit CLKs in memory (same checks as :func:`audit_file`)."""
    collector = _Collector(tuple(segments))
    collector.add(np.ascontiguousarray(clks, dtype=np.uint64))
    return collector.report(None, truth)


def audit_with_raw(
    path: str | os.PathLike[str],
    raw: str | os.PathLike[str],
    schema: str | os.PathLike[str],
    mapping: str | os.PathLike[str] | None,
    lookup: str | os.PathLike[str],
) -> AuditReport:
    """Audit ``path`` with the ground truth from the party's raw file and lookup file.

    Raises
    ------
    ResultsError
        The lookup does not belong to ``path`` (a row token of the file is not in it): the
        checks would compare the encodings with the wrong values and could say "ok".
    """
    with EncodingFile.open(path) as f:
        row_tokens = np.array(f.row_tokens)
    return audit_file(path, truth=truth_from_raw(row_tokens, raw, schema, mapping, lookup,
                                                 source=str(path)))


def truth_from_raw(
    row_tokens: npt.NDArray[np.uint8],
    raw: str | os.PathLike[str],
    schema_path: str | os.PathLike[str],
    mapping_path: str | os.PathLike[str] | None,
    lookup: str | os.PathLike[str],
    *,
    source: str = "the encoding file",
) -> dict[str, list[str | None]]:
    """Canonical value of every Bloom field for every file row, aligned by the lookup.

    The lookup file (``row_token,record_id``, written by ``hashmatch encode``) links each
    file row to the party's record id; the record id is the mapping's ``record_id``
    column of the raw file, else its 1-based data row number (as the encoder does).
    Rows the raw file lacks get ``None`` (ignored by the checks). Every row token must be
    in the lookup (``source`` names the encoding file in the message).

    Raises
    ------
    InputDataError
        The raw file is unreadable or malformed (named, never quoted).
    ResultsError
        The lookup is unreadable or malformed, or lacks a row token: it belongs to another
        encoding run or party.
    """
    from hashmatch.encode.sources.rows import open_source, row_texts
    from hashmatch.normalize import InvalidValue, MissingValue, make_normalizer
    from hashmatch.schema import load_mapping, load_schema, resolve_columns

    schema = load_schema(schema_path)
    rows = open_source(raw)  # read as encode reads it
    mapping = load_mapping(mapping_path, schema)
    bound = resolve_columns(mapping, schema, rows.header, rows.name)
    tokens = [bytes(t).hex() for t in row_tokens]
    ids = read_lookup(lookup)
    check_lookup_covers(ids, tokens, lookup_path=lookup, what=source)
    by_id: dict[str, list[str]] = {}
    idx = bound.record_id_index
    for chunk in rows.chunks(50_000):
        for number, cells in zip(chunk.row_numbers, row_texts(chunk), strict=True):
            by_id[cells[idx].strip() if idx is not None else str(number)] = cells
    file_rows = [by_id.get(ids[t]) for t in tokens]
    truth: dict[str, list[str | None]] = {}
    for f in schema.fields:
        resolved = bound.fields.get(f.name)
        if f.bloom is None or resolved is None:
            continue
        norm = make_normalizer(f.type, f.normalize, resolved.source)
        column: list[str | None] = []
        for row in file_rows:
            value: str | None = None
            if row is not None:
                cell = " ".join(row[i] for i in resolved.indices if i < len(row))
                try:
                    value = norm(cell)
                except (MissingValue, InvalidValue):
                    value = None
            column.append(value)
        truth[f.name] = column
    return truth


# -- measurements usable on their own (the benchmark uses them) ------------------------------


def length_leakage(lengths: npt.ArrayLike, popcounts: npt.ArrayLike) -> tuple[float, float]:
    """Pearson r and a mutual-information estimate (bits) between value length and popcount.

    The MI is the plug-in estimate over lengths (capped at 30) x popcount deciles, minus
    the Miller-Madow bias correction, floored at 0. A balanced filter gives (0, 0).
    """
    x = np.asarray(lengths, dtype=np.float64)
    y = np.asarray(popcounts, dtype=np.float64)
    if len(x) < 3 or x.std() == 0 or y.std() == 0:
        return 0.0, 0.0
    r = float(np.corrcoef(x, y)[0, 1])
    xl = np.minimum(x, 30).astype(np.int64)
    edges = np.unique(np.quantile(y, np.linspace(0, 1, 11)[1:-1]))
    yl = np.searchsorted(edges, y, side="right")
    joint = np.zeros((31, len(edges) + 1))
    np.add.at(joint, (xl, yl), 1)
    p = joint / joint.sum()
    px, py = p.sum(axis=1, keepdims=True), p.sum(axis=0, keepdims=True)
    nz = p > 0
    mi = float((p[nz] * np.log2(p[nz] / (px @ py)[nz])).sum())
    bias = (nz.sum() - (px > 0).sum() - (py > 0).sum() + 1) / (2 * len(x) * math.log(2))
    return r, max(0.0, mi - bias)


def frequency_attack(
    pattern_hashes: npt.NDArray[np.uint64], labels: Sequence[str | None], top: int = ATTACK_TOP
) -> tuple[float, int]:
    """Align the ``top`` most frequent patterns to the ``top`` most frequent labels by rank.

    The attacker knows the value distribution (e.g. a census name list) but not which row
    has which value, and guesses that the pattern of frequency rank ``i`` is the value of
    rank ``i``. The guess is right when that value is the most common true label among the
    pattern's rows. Values tied in frequency cannot be told apart, so a guess into a tie
    group of ``g`` values counts ``1/g`` when the true value is in the group (the expected
    score of random tie-breaking). Rows without a label are ignored.

    Returns ``(expected correct, attempted)``, ``attempted = min(top, values, patterns)``.
    """
    keep = np.fromiter((v is not None for v in labels), dtype=bool, count=len(labels))
    values = np.asarray([v for v in labels if v is not None], dtype=object)
    if len(values) == 0:
        return 0.0, 0
    names, name_codes, name_counts = np.unique(values, return_inverse=True, return_counts=True)
    _, pat_codes, pat_counts = np.unique(
        pattern_hashes[keep], return_inverse=True, return_counts=True
    )
    name_rank = np.argsort(-name_counts, kind="stable")
    pat_rank = np.argsort(-pat_counts, kind="stable")[:top]
    attempted = min(top, len(name_rank), len(pat_rank))
    correct = 0.0
    for rank in range(attempted):
        rows = pat_codes == pat_rank[rank]
        majority = np.bincount(name_codes[rows], minlength=len(names)).argmax()
        group = name_counts == name_counts[name_rank[rank]]
        if group[majority]:
            correct += 1.0 / int(group.sum())
    return correct, attempted


# -- internals ------------------------------------------------------------------------------


@dataclass
class _SegmentState:
    segment: Segment
    set_counts: npt.NDArray[np.int64]
    hashes: list[npt.NDArray[np.uint64]] = field(default_factory=list)
    popcounts: list[npt.NDArray[np.int32]] = field(default_factory=list)
    #: a uniform sample of the rows where the segment is not empty: the NEAR_SAMPLE
    #: with the smallest hash of their row number (a bottom-k sample, one pass)
    sample: npt.NDArray[np.uint8] | None = None
    sample_keys: npt.NDArray[np.uint64] = field(
        default_factory=lambda: np.zeros(0, np.uint64))

    def add_sample(self, rows: npt.NDArray[np.uint8], keys: npt.NDArray[np.uint64]) -> None:
        """Keep the NEAR_SAMPLE rows with the smallest keys seen so far."""
        both = rows if self.sample is None else np.concatenate([self.sample, rows])
        keys = np.concatenate([self.sample_keys, keys])
        if len(keys) > NEAR_SAMPLE:
            kept = np.argpartition(keys, NEAR_SAMPLE - 1)[:NEAR_SAMPLE]
            both, keys = both[kept], keys[kept]
        self.sample, self.sample_keys = both, keys


def _row_key(rows: npt.NDArray[np.int64]) -> npt.NDArray[np.uint64]:
    """A fixed pseudo-random key per row number (so the sample is reproducible)."""
    with np.errstate(over="ignore"):
        h = (rows.astype(np.uint64) + np.uint64(1)) * _MIX
        return h ^ (h >> np.uint64(31))


class _Collector:
    """Accumulates per-segment statistics chunk by chunk."""

    def __init__(self, segments: Sequence[Segment]) -> None:
        self.rows = 0
        self.states = [_SegmentState(s, np.zeros(s.bits, dtype=np.int64)) for s in segments]

    def add(self, clks: npt.NDArray[np.uint64]) -> None:
        bits = np.unpackbits(
            np.ascontiguousarray(clks, dtype="<u8").view(np.uint8), axis=1, bitorder="little"
        )
        self.rows += len(bits)
        for st in self.states:
            s = st.segment
            seg = bits[:, s.start : s.start + s.bits]
            pop = seg.sum(axis=1, dtype=np.int32)
            st.set_counts += seg.sum(axis=0, dtype=np.int64)
            st.popcounts.append(pop)
            st.hashes.append(_pattern_hash(seg))
            live = np.flatnonzero(pop > 0)
            st.add_sample(seg[live], _row_key(self.rows - len(bits) + live))

    def report(
        self, path: str | None, truth: Mapping[str, Sequence[str | None]] | None
    ) -> AuditReport:
        segments = tuple(self._segment(st, truth) for st in self.states)
        return AuditReport(
            path,
            self.rows,
            segments,
            _findings(segments, truth is not None),
            with_raw=truth is not None,
        )

    def _segment(
        self, st: _SegmentState, truth: Mapping[str, Sequence[str | None]] | None
    ) -> SegmentAudit:
        s = st.segment
        pop_all = np.concatenate(st.popcounts) if st.popcounts else np.zeros(0, np.int32)
        hashes_all = np.concatenate(st.hashes) if st.hashes else np.zeros(0, np.uint64)
        present = pop_all > 0
        pop, hashes = pop_all[present], hashes_all[present]
        n = int(present.sum())
        # A position set in 80% of rows tells as much as one set in 20% (a balanced
        # filter's complement half), so skew is measured on min(rate, 1 - rate).
        rates = st.set_counts / max(n, 1)
        fill = float(rates.mean()) if s.bits else 0.0
        rates = np.minimum(rates, 1 - rates)
        mean_rate = float(rates.mean()) if s.bits else 0.0
        _, counts = np.unique(hashes, return_counts=True)
        frequent = counts[counts >= FREQUENT_GROUP].sum()
        extra: dict[str, Any] = {}
        labels = None if truth is None else truth.get(s.field)
        if labels is not None:
            if len(labels) != len(pop_all):
                msg = f"truth[{s.field!r}] has {len(labels)} rows, the file {len(pop_all)}"
                raise ValueError(msg)
            kept = [v for v, p in zip(labels, present, strict=True) if p]
            known = np.fromiter((v is not None for v in kept), dtype=bool, count=len(kept))
            lengths = np.fromiter((len(v) for v in kept if v is not None), dtype=np.int64)
            r, mi = length_leakage(lengths, pop[known])
            aligned, top = frequency_attack(hashes, kept)
            extra = {
                "length_corr": r,
                "length_mi_bits": mi,
                "attack_aligned": aligned,
                "attack_top": top,
            }
        return SegmentAudit(
            field=s.field,
            bits=s.bits,
            rows=n,
            mean_fill=fill,
            bit_rate_cv=float(rates.std() / mean_rate) if mean_rate else 0.0,
            bit_rate_max_ratio=float(rates.max() / mean_rate) if mean_rate else 0.0,
            distinct_patterns=len(counts),
            top_pattern_share=float(counts.max() / n) if n else 0.0,
            frequent_share=float(frequent / n) if n else 0.0,
            near_share=_near_share(st.sample, n),
            popcount_mean=float(pop.mean()) if n else 0.0,
            popcount_std=float(pop.std()) if n else 0.0,
            popcount_min=int(pop.min()) if n else 0,
            popcount_max=int(pop.max()) if n else 0,
            **extra,
        )


def _pattern_hash(seg: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint64]:
    """A 64-bit fingerprint per row of a 0/1 matrix (collisions ~2**-64 per pair)."""
    packed = np.packbits(seg, axis=1)
    pad = (-packed.shape[1]) % 8
    if pad:
        packed = np.pad(packed, ((0, 0), (0, pad)))
    words = np.ascontiguousarray(packed).view(np.uint64)
    h = np.full(len(words), 0x243F6A8885A308D3, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(words.shape[1]):
            h = (h ^ words[:, j]) * _MIX
            h ^= h >> np.uint64(29)
    return h


def _near_share(sample: npt.NDArray[np.uint8] | None, rows: int) -> float:
    """Share of the ``rows`` in a group of >= FREQUENT_GROUP near-identical patterns
    (Dice >= NEAR_DICE), estimated from a uniform ``sample`` of them.

    A row with ``t`` near twins among the ``m`` sampled rows has about
    ``1 + t (rows - 1) / (m - 1)`` in the file. The floor is the exact patterns' one: a
    value that 2-9 rows share (a household's phone, a street's postcode) is what every
    linkage field holds; a group of 10 or more is what a frequency attack aligns, and
    noise too weak to break a frequent value's group up leaves it near-identical.
    """
    if sample is None or len(sample) < 2:
        return 0.0
    m = sample.astype(np.float32)
    inter = m @ m.T
    pop = m.sum(axis=1)
    dice = 2 * inter / (pop[:, None] + pop[None, :])
    np.fill_diagonal(dice, 0)
    twins = (dice >= NEAR_DICE).sum(axis=1)
    group = 1 + twins * (max(rows, len(m)) - 1) / (len(m) - 1)
    return float((group >= FREQUENT_GROUP).mean())


def segment_repeats(sample: npt.NDArray[np.uint8], rows: int) -> tuple[float, float]:
    """``(frequent_share, near_share)`` of a segment estimated from a uniform ``sample``
    of its non-empty rows (0/1, one row per record) for a file of ``rows`` such rows:
    what :func:`audit_file` grades as repeated patterns, from a sample instead of the
    whole file (``schema new`` sizes its noise with it, :mod:`hashmatch.schema.noise`)."""
    m = len(sample)
    if m < 2:
        return 0.0, 0.0
    _, inverse, counts = np.unique(_pattern_hash(sample), return_inverse=True,
                                   return_counts=True)
    # as _near_share scales near twins: a row's c - 1 exact twins in the sample
    twins = counts[inverse.reshape(-1)] - 1
    in_file = 1 + twins * (max(rows, m) - 1) / (m - 1)
    return float((in_file >= FREQUENT_GROUP).mean()), _near_share(sample, rows)


def _grade(value: float, metric: str) -> Verdict:
    warn, fail = LIMITS[metric]
    return "fail" if value >= fail else "warn" if value >= warn else "ok"


#: One segment's score on one risk: (verdict, value used to rank, field, detail).
_Score = tuple[Verdict, float, str, str]


def _findings(segments: Sequence[SegmentAudit], with_raw: bool) -> tuple[Finding, ...]:
    """One finding per risk, reporting the worst segment."""
    live = [s for s in segments if s.rows]
    risks = {
        "bit_frequency": [_bit_frequency(s) for s in live],
        "repeated_patterns": [_repeats(s) for s in live],
        "length": [_length(s, with_raw) for s in live if not with_raw or s.length_corr is not None],
    }
    if with_raw:
        risks["frequency_attack"] = [_attack(s) for s in live if s.attack_top]
    return tuple(_worst(risk, scores) for risk, scores in risks.items())


def _worst(risk: str, scores: list[_Score]) -> Finding:
    if not scores:
        return Finding(risk, "ok", None, "no non-empty segment to measure", None)
    verdict, _, name, detail = max(scores, key=lambda t: (_ORDER[t[0]], t[1]))
    if verdict == "ok":
        return Finding(risk, verdict, name, detail, None)
    flagged = ", ".join(f'"{field}"' for v, _, field, _ in scores if v != "ok")
    return Finding(risk, verdict, name, detail, _FIX[risk].format(fields=flagged))


def _bit_frequency(s: SegmentAudit) -> _Score:
    detail = (
        f"per-position set rates vary by {s.bit_rate_cv:.2f} x their mean (std/mean); "
        f"the most skewed position is {s.bit_rate_max_ratio:.1f} x the mean"
    )
    return _grade(s.bit_rate_cv, "bit_rate_cv"), s.bit_rate_cv, s.field, detail


def _repeats(s: SegmentAudit) -> _Score:
    exact, near = _grade(s.frequent_share, "frequent_share"), _grade(s.near_share, "near_share")
    detail = (
        f"{s.frequent_share:.1%} of rows share their exact pattern with >= "
        f"{FREQUENT_GROUP - 1} others (top pattern: {s.top_pattern_share:.1%} of rows); "
        f"{s.near_share:.1%} of rows are in a group of >= {FREQUENT_GROUP} near-identical "
        f"patterns (estimated from a sample)"
    )
    verdict = max(exact, near, key=_ORDER.__getitem__)
    return verdict, max(s.frequent_share, s.near_share), s.field, detail


def _length(s: SegmentAudit, with_raw: bool) -> _Score:
    if with_raw:
        r, mi = s.length_corr or 0.0, s.length_mi_bits or 0.0
        detail = f"value length vs popcount: r = {r:.2f}, mutual information {mi:.2f} bits"
        return _grade(abs(r), "length_corr"), abs(r), s.field, detail
    detail = (
        f"popcount spread std/mean = {s.popcount_cv:.2f} (range {s.popcount_min}-{s.popcount_max})"
    )
    return _grade(s.popcount_cv, "popcount_cv"), s.popcount_cv, s.field, detail


def _attack(s: SegmentAudit) -> _Score:
    share = (s.attack_aligned or 0.0) / (s.attack_top or 1)
    detail = (
        f"the attack aligned {s.attack_aligned or 0.0:.1f} of the {s.attack_top} most "
        "frequent values to their patterns"
    )
    return _grade(share, "attack_share"), share, s.field, detail


__all__ = [
    "ATTACK_TOP",
    "FREQUENT_GROUP",
    "LIMITS",
    "AuditReport",
    "Finding",
    "TokenAudit",
    "SegmentAudit",
    "audit_clks",
    "audit_file",
    "audit_with_raw",
    "frequency_attack",
    "length_leakage",
    "segment_repeats",
    "truth_from_raw",
]
