"""The coordinator pipeline: encodings of N parties in, multi-party entities out.

For every pair of parties (and, with ``dedup``, every party with itself):

    blocking.candidate_pairs  -> chunks of candidate (i, j), never the n*m grid
    kernel.dice_candidates    -> CLK Dice per candidate
    scoring.combine_scores    -> one score per pair (CLK + exact-token agreement)

then, over all party pairs: a threshold (explicit, or chosen from the pooled candidate
scores by threshold.choose_threshold), one-to-one solving per party pair (solve.py),
merging into entities with the conflict rules of entities.py, and ids that reveal nothing
(entities.number_entities). Only pairs scoring at or above a floor are kept between
chunks, so memory follows the number of likely matches, not of candidates.

:func:`link_files` opens and checks ``.hme`` files and writes ``RESULTS/`` (outputs.py);
:func:`link_encodings` does the same work in memory on open files or encoded batches.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from hashmatch._progress import ProgressHook
from hashmatch._types import Clks, Indices, RowTokens, Scores, Tokens
from hashmatch.link.blocking import BlockingConfig, BlockingStats, candidate_pairs
from hashmatch.encfile import EncodingFile
from hashmatch.link.entities import EntityStats, entity_id_key, merge_entities, number_entities
from hashmatch.errors import IncompatibleEncodingsError, SecretMismatchError
from hashmatch.kernel import dice_candidates
from hashmatch.link.scoring import ScoringConfig, TokenKind, combine_scores, token_agreement
from hashmatch.link.segments import (
    DISAGREE_BELOW,
    DISAGREE_BELOW_DEFAULT,
    NESTED_FIELD_TYPES,
    SegmentView,
    aligned_segment,
    blended_dice,
    clk_intersections,
    field_dice,
    swapped_names,
)
from hashmatch.link.solve import SolveStats, solve_one_to_one
from hashmatch.link.threshold import ThresholdChoice, choose_threshold

__all__ = [
    "LinkResult",
    "PairLinkStats",
    "PartyInfo",
    "link_encodings",
    "link_files",
    "score_pairs",
    "within_party_threshold",
]

PathLike = str | os.PathLike[str]

#: With an automatic threshold, pairs scoring below this are not kept between chunks (it
#: lies below the non-match mode of CLK scores, so this drops the bulk of unrelated
#: candidates); if the chosen threshold falls below it, the candidates are scored again.
AUTO_KEEP_FLOOR = 0.25
#: Candidate scores pooled for choosing the threshold; beyond, a deterministic subsample.
SCORE_POOL_CAP = 4_000_000
#: Score requests up to this many pairs gather their rows before calling the kernel.
_GATHER_MAX = 4096
#: A cross pair of two clusters scoring this far below the threshold vetoes their merge
#: (see docs/guides/linking.md for the measurements behind both values). With dedup,
#: within-party pairs have no one-to-one guard, so the veto is stricter.
DEFAULT_CONFLICT_MARGIN = 0.3
DEDUP_CONFLICT_MARGIN = 0.15
#: With an automatic threshold and dedup, a within-party pair must score this much above
#: the threshold (capped at 0.95, or the threshold itself if higher): within one file the
#: close non-matches are household members, twins and namesakes, and no one-to-one
#: solving guards those pairs. On the `hashmatch demo` data (3,000 people, 4 parties,
#: seeds 7 and 3) dedup without a margin gives pairwise F1 0.877; margins 0.25 / 0.30 /
#: 0.33 give 0.919 / 0.917 / 0.909 (seed 7) and 0.912 / 0.919 / 0.908 (seed 3), with
#: 26 / 29 / 31 of 39 twin pairs kept apart (seed 7). 0.30 keeps more twins apart at
#: the same F1.
WITHIN_PARTY_MARGIN = 0.3


class _Encoding(Protocol):
    """What the pipeline needs from one party's encodings (see :class:`_Party`)."""

    @property
    def clks(self) -> Clks: ...

    @property
    def row_tokens(self) -> RowTokens: ...

    @property
    def tokens(self) -> Mapping[str, Tokens]: ...

    @property
    def segments(self) -> list[tuple[int, int]]: ...

    @property
    def present(self) -> npt.NDArray[np.bool_]: ...

    @property
    def view(self) -> SegmentView: ...

    @property
    def disagree_below(self) -> Mapping[int, float]: ...

    @property
    def swap_segments(self) -> list[tuple[int, int]]: ...

    @property
    def aligned(self) -> Mapping[int, npt.NDArray[np.uint64]]: ...


@dataclass(frozen=True)
class PartyInfo:
    """One input, as recorded in the report (no row-level data)."""

    party: str
    source: str  # file path, or "<memory>"
    rows: int
    digest: str  # SHA-256 of the file content ("" in memory)
    schema_fingerprint: str
    encoder_version: int
    clk_bits: int
    secret_commitment: str
    token_kinds: Mapping[str, TokenKind] = field(default_factory=dict)  # see token_kinds()
    envelope: Mapping[str, Any] | None = None  # a sealed input's envelope (intake.Input)


@dataclass(frozen=True)
class PairLinkStats:
    """Per party pair: candidates scored, pairs at/above threshold, pairs kept by solving."""

    party_a: str
    party_b: str
    candidates: int
    accepted: int
    kept: int
    blocking: BlockingStats | None
    solve: SolveStats | None  # None for a within-party (dedup) comparison
    threshold: float = float("nan")  # the cut applied to this pair's scores


@dataclass
class LinkResult:
    """Everything a link produced; :mod:`hashmatch.link.outputs` turns it into files."""

    parties: tuple[PartyInfo, ...]
    row_tokens: tuple[RowTokens, ...]
    entities: tuple[npt.NDArray[np.int64], ...]  # per party: entity number of each row
    n_entities: int
    threshold: ThresholdChoice
    pair_stats: tuple[PairLinkStats, ...]
    entity_stats: EntityStats
    dedup: bool
    # The pairs that were merged into entities: party index, row, party index, row, score.
    pairs: tuple[Indices, Indices, Indices, Indices, Scores]
    score_sample: Scores  # the pooled candidate scores the threshold was chosen from
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def party_names(self) -> tuple[str, ...]:
        return tuple(p.party for p in self.parties)


def link_files(
    paths: Sequence[PathLike],
    out_dir: PathLike,
    *,
    threshold: float | None = None,
    dedup: bool = False,
    blocking: bool | BlockingConfig = True,
    write_pairs: bool = False,
    reveal_parties: bool = False,
    progress: ProgressHook | None = None,
    sources: Sequence[str] | None = None,
) -> LinkResult:
    """Link the parties' ``.hme`` files (paths or :class:`hashmatch.seal.intake.Input` objects,
    whose seal envelopes go into report.json) and write the results folder.

    Parameters
    ----------
    paths:
        Two or more encoding files, one per party (a single file with ``dedup`` works too).
    out_dir:
        Results folder (created if missing): entities.csv, <party>.csv, report.json,
        the score histogram, and pairs.csv with ``write_pairs``.
    threshold:
        Score at or above which a pair matches; default: chosen from the data.
    dedup:
        Also find duplicates within each party; an entity may then hold several rows of
        one party. With an automatic threshold, chosen from the cross-party scores,
        within-party pairs must reach :func:`within_party_threshold` of it.
    blocking:
        True (default configuration), a :class:`BlockingConfig`, or False to compare all
        pairs (small inputs only).
    write_pairs:
        Also write pairs.csv (scores of the linked pairs; leaks more, so opt-in).
    reveal_parties:
        In each party's file, name the other parties sharing each entity.
    progress:
        ``hook(done, total)`` over the comparison stage.
    sources:
        Names to show for the inputs in messages and report.json (default: ``paths``);
        the CLI passes the sealed files' names when ``paths`` are decrypted temporary copies.

    Raises
    ------
    EncodingFileError, TamperedFileError
        A file cannot be read or fails its checksum.
    IncompatibleEncodingsError, SecretMismatchError
        Files that cannot be linked together (the message names both files).
    """
    from hashmatch.link.outputs import write_results

    started = time.perf_counter()
    with ExitStack() as stack:
        files = [stack.enter_context(EncodingFile.open(p)) for p in paths]
        infos = [
            dataclasses.replace(_file_info(f, source), envelope=getattr(p, "envelope", None))
            for f, p, source in zip(
                files, paths, sources or [str(p) for p in paths], strict=True
            )
        ]
        opened = time.perf_counter() - started
        result = link_encodings(
            files,
            infos=infos,
            threshold=threshold,
            dedup=dedup,
            blocking=blocking,
            progress=progress,
        )
        result.timings = {"open_and_verify": opened, **result.timings}
        write_results(
            result,
            out_dir,
            write_pairs=write_pairs,
            share_party_names=reveal_parties,
            started=started,
        )
    return result


def link_encodings(
    encodings: Sequence[Any],
    *,
    infos: Sequence[PartyInfo] | None = None,
    threshold: float | None = None,
    dedup: bool = False,
    blocking: bool | BlockingConfig = True,
    conflict_margin: float | None = None,
    progress: ProgressHook | None = None,
) -> LinkResult:
    """Link in memory: open :class:`EncodingFile` objects or ``EncodedBatch`` objects.

    Same pipeline and parameters as :func:`link_files`, without writing anything; pass
    the result to :func:`hashmatch.link.outputs.write_results` to write it. ``infos``
    describes the inputs (derived from them when None); ``conflict_margin`` overrides
    the veto margin of the entity conflict rule (default :data:`DEFAULT_CONFLICT_MARGIN`,
    :data:`DEDUP_CONFLICT_MARGIN` with ``dedup``).

    In a notebook (``df_a``, ``df_b`` DataFrames; ``schema``, ``secret`` loaded)::

        batches = [encode_records(df_a, schema=schema, secret=secret, party="a"),
                   encode_records(df_b, schema=schema, secret=secret, party="b")]
        result = link_encodings(batches)
        result.entities[0]    # entity number of each row of party "a"
    """
    timings: dict[str, float] = {}
    if infos is None:
        infos = [_info(e) for e in encodings]
    if len(encodings) < 2 and not dedup:
        msg = "linking needs at least two encoding files (or one with dedup)"
        raise IncompatibleEncodingsError(msg)
    check_compatible(infos)
    parties = [_as_encoding(e) for e in encodings]
    config = _blocking_config(blocking)
    scorer = _Scorer(parties, ScoringConfig.for_tokens(infos[0].token_kinds))
    jobs = list(itertools.combinations(range(len(parties)), 2))
    if dedup:
        jobs += [(p, p) for p in range(len(parties))]

    t0 = time.perf_counter()
    pool = _ScorePool(SCORE_POOL_CAP)
    floor = AUTO_KEEP_FLOOR if threshold is None else float(threshold)
    meter = _Meter(progress, [infos[a].rows for a, _ in jobs])
    # The threshold is chosen from cross-party scores when there are any: within-party
    # candidates of one file have another non-match population (households, namesakes)
    # and get their own, stricter cut (within_party_threshold).
    cross = len(parties) > 1
    scored = [
        _score_job(scorer, a, b, config, floor, pool if a != b or not cross else None,
                   meter.job(k))
        for k, (a, b) in enumerate(jobs)
    ]
    timings["compare"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    scores = pool.scores()
    choice = _threshold(threshold, scores)
    if choice.value < floor:  # rare: the valley lies below what was kept; score again
        floor = choice.value
        scored = [_score_job(scorer, a, b, config, floor, None, None) for a, b in jobs]
    timings["threshold"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    columns: list[list[npt.NDArray[Any]]] = [[], [], [], [], []]
    pair_stats: list[PairLinkStats] = []
    for (a, b), job in zip(jobs, scored, strict=True):
        cut = choice.value
        if a == b and cross and threshold is None:
            cut = within_party_threshold(choice.value)
        accept = job.score >= cut
        i, j, s = job.i[accept], job.j[accept], job.score[accept]
        solve_stats = None
        if a != b:
            keep, solve_stats = solve_one_to_one(i, j, s, threshold=cut)
            i, j, s = i[keep], j[keep], s[keep]
        pair_stats.append(
            PairLinkStats(
                infos[a].party,
                infos[b].party,
                job.candidates,
                int(accept.sum()),
                len(s),
                job.blocking,
                solve_stats,
                threshold=cut,
            )
        )
        for col, values in zip(
            columns, (np.full(len(i), a), i, np.full(len(i), b), j, s), strict=True
        ):
            col.append(np.asarray(values))
    pa, ra, pb, rb = (
        np.concatenate(c).astype(np.int64) if c else np.zeros(0, np.int64) for c in columns[:4]
    )
    ps = np.concatenate(columns[4]).astype(np.float32) if columns[4] else np.zeros(0, np.float32)
    timings["solve"] = time.perf_counter() - t0

    t0 = time.perf_counter()

    labels, entity_stats = merge_entities(
        [info.rows for info in infos],
        pa,
        ra,
        pb,
        rb,
        ps,
        dedup=dedup,
        compare=scorer,
        reject_below=choice.value - _margin(conflict_margin, dedup),
    )
    row_tokens = tuple(np.asarray(p.row_tokens) for p in parties)
    key = entity_id_key(
        [
            (info.party, info.digest or _tokens_digest(t))
            for info, t in zip(infos, row_tokens, strict=True)
        ]
    )
    numbered = number_entities(labels, row_tokens, [info.party for info in infos], key)
    timings["entities"] = time.perf_counter() - t0
    return LinkResult(
        parties=tuple(infos),
        row_tokens=row_tokens,
        entities=tuple(numbered),
        n_entities=entity_stats.entities,
        threshold=choice,
        pair_stats=tuple(pair_stats),
        entity_stats=entity_stats,
        dedup=dedup,
        pairs=(pa, ra, pb, rb, ps),
        score_sample=scores,
        timings=timings,
    )


def score_pairs(left: Any, right: Any, i: Indices, j: Indices) -> Scores:
    """The combined score ``link`` gives the row pairs ``(left[i[k]], right[j[k]])``.

    ``left`` and ``right`` are open :class:`EncodingFile` objects or ``EncodedBatch``
    objects of one schema (the same one twice scores within a party). For asking why
    two records did or did not link; the score is what the threshold is applied to.
    """
    infos = [_info(left), _info(right)]
    check_compatible(infos if infos[0].party != infos[1].party else infos[:1])
    parties = [_as_encoding(left), _as_encoding(right)]
    scorer = _Scorer(parties, ScoringConfig.for_tokens(infos[0].token_kinds))
    i, j = np.asarray(i, dtype=np.int64), np.asarray(j, dtype=np.int64)
    return scorer(0, i, 1, j)


def check_compatible(infos: Sequence[PartyInfo]) -> None:
    """Refuse inputs that cannot be linked together, naming both files.

    Raises
    ------
    SecretMismatchError
        Both files carry a secret commitment and they differ.
    IncompatibleEncodingsError
        Different schema fingerprint, encoder version or CLK length, or a party name used
        twice.
    """
    first = infos[0]
    seen: dict[str, PartyInfo] = {}
    for info in infos:
        other = seen.get(info.party)
        if other is not None:
            msg = f"{other.source} and {info.source} both claim to be party {info.party!r}"
            raise IncompatibleEncodingsError(msg, hint="each party encodes once, with its own name")
        seen[info.party] = info
        pair = f"{first.source} and {info.source}"
        if info.schema_fingerprint != first.schema_fingerprint:
            raise IncompatibleEncodingsError(
                f"{pair} were encoded with different linkage schemas",
                hint="all parties must encode with the same schema file (compare with "
                "`hashmatch inspect`)",
            )
        if info.encoder_version != first.encoder_version:
            raise IncompatibleEncodingsError(
                f"{pair} were written by different encoder versions "
                f"({first.encoder_version} and {info.encoder_version})",
                hint="all parties must encode with the same hashmatch encoder version",
            )
        if info.clk_bits != first.clk_bits:
            raise IncompatibleEncodingsError(
                f"{pair} have different CLK lengths ({first.clk_bits} and {info.clk_bits} bits)"
            )
        if (
            info.secret_commitment
            and first.secret_commitment
            and info.secret_commitment != first.secret_commitment
        ):
            raise SecretMismatchError(
                f"{pair} were encoded with different linkage secrets",
                hint="all parties must use the same linkage secret",
            )


# -- comparison ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Scored:
    i: Indices
    j: Indices
    score: Scores
    candidates: int
    blocking: BlockingStats | None


def _score_job(
    scorer: _Scorer,
    a: int,
    b: int,
    config: BlockingConfig | None,
    floor: float,
    pool: _ScorePool | None,
    progress: Callable[[int], None] | None,
) -> _Scored:
    """Score the candidates of parties a and b; keep the pairs at or above ``floor``."""
    left, right = scorer.parties[a], scorer.parties[b]
    kept_i: list[Indices] = []
    kept_j: list[Indices] = []
    kept_s: list[Scores] = []
    chunks, stats = _candidates(left, None if a == b else right, config)
    n = 0
    for i, j in chunks:
        s = scorer(a, i, b, j)
        n += len(s)
        if pool is not None:
            pool.add(s)
        keep = s >= floor
        kept_i.append(i[keep])
        kept_j.append(j[keep])
        kept_s.append(s[keep])
        if progress is not None and len(i):
            progress(int(i[-1]) + 1)  # chunks come in ascending i: left rows done
    return _Scored(
        np.concatenate(kept_i) if kept_i else np.zeros(0, np.int64),
        np.concatenate(kept_j) if kept_j else np.zeros(0, np.int64),
        np.concatenate(kept_s) if kept_s else np.zeros(0, np.float32),
        n,
        stats(),
    )


def _candidates(
    left: _Encoding, right: _Encoding | None, config: BlockingConfig | None
) -> tuple[Iterator[tuple[Indices, Indices]], Callable[[], BlockingStats | None]]:
    """Candidate chunks of (left, right), or of left with itself (i < j) when right is None,
    and a function giving the blocking statistics once the chunks are exhausted."""
    if config is None:
        m = None if right is None else len(right.row_tokens)
        return _all_pairs(len(left.row_tokens), m), lambda: None
    stream = candidate_pairs(
        left.clks,
        left.tokens,
        None if right is None else right.clks,
        None if right is None else right.tokens,
        config,
        segments=left.segments,
        left_present=left.present,
        right_present=None if right is None else right.present,
    )
    return stream, lambda: stream.stats


def _all_pairs(n: int, m: int | None, chunk: int = 1 << 20) -> Iterator[tuple[Indices, Indices]]:
    """Every pair in row-major order, in chunks (``m`` None: i < j within one party)."""
    cols = n if m is None else m
    rows_per_chunk = max(1, chunk // max(cols, 1))
    for start in range(0, n, rows_per_chunk):
        rows = np.arange(start, min(start + rows_per_chunk, n), dtype=np.int64)
        i = np.repeat(rows, cols)
        j = np.tile(np.arange(cols, dtype=np.int64), len(rows))
        if m is None:
            upper = j > i
            i, j = i[upper], j[upper]
        yield i, j


class _Scorer:
    """Combined score of row pairs of two parties: field-aware CLK Dice (on the fields
    both rows hold, see :mod:`hashmatch.link.segments`) adjusted by token evidence."""

    def __init__(self, parties: Sequence[_Encoding], config: ScoringConfig) -> None:
        self.parties = parties
        self.config = config

    def __call__(self, a: int, i: Indices, b: int, j: Indices) -> Scores:
        left, right = self.parties[a], self.parties[b]
        if len(i) <= _GATHER_MAX:
            # The kernel prepares whole matrices per call (popcounts) and starts its
            # threads; for the handful of pairs of a conflict check, one thread on the
            # gathered rows is ~100x cheaper.
            rows = np.arange(len(i), dtype=np.int64)
            dice = dice_candidates(left.clks[i], right.clks[j], rows, rows, threads=1)
        else:
            dice = dice_candidates(left.clks, right.clks, i, j)
        swapped: dict[int, npt.NDArray[np.bool_]] = {}
        if left.swap_segments:
            dice, swapped = self._read_swaps(dice, a, i, b, j)
        dice = blended_dice(dice, left.view, right.view, i, j)
        agree, both = token_agreement(left.tokens, right.tokens, i, j)
        disagree = self._disagreements(a, i, b, j, swapped)
        return combine_scores(dice, agree, both, self.config, disagree)

    def _read_swaps(
        self, dice: Scores, a: int, i: Indices, b: int, j: Indices
    ) -> tuple[Scores, dict[int, npt.NDArray[np.bool_]]]:
        """Rescore the pairs whose swap-pair fields agree crosswise (first and last name
        the wrong way round in one record) as if the record had them the right way: the
        whole-CLK intersection gains what the crosswise reading adds. Returns the new
        Dice and, per segment of a swap pair, which pairs were read swapped."""
        left, right = self.parties[a], self.parties[b]
        inter, total = clk_intersections(dice, left.view, right.view, i, j)
        swapped: dict[int, npt.NDArray[np.bool_]] = {}
        for s, t in left.swap_segments:
            found = swapped_names(
                (left.aligned[s], left.aligned[t]),
                (right.aligned[s], right.aligned[t]),
                left.view,
                right.view,
                (s, t),
                i,
                j,
            )
            inter += found.gain
            swapped[s] = swapped[t] = found.swapped
        with np.errstate(invalid="ignore", divide="ignore"):
            new = np.where(total > 0, np.minimum(2.0 * inter / total, 1.0), 0.0)
        return new.astype(np.float32), swapped

    def _disagreements(
        self,
        a: int,
        i: Indices,
        b: int,
        j: Indices,
        swapped: Mapping[int, npt.NDArray[np.bool_]],
    ) -> list[npt.NDArray[np.bool_]]:
        """Per stable field: do the two rows hold clearly different values? (A field read
        swapped agreed crosswise, so it does not disagree.)"""
        left, right = self.parties[a], self.parties[b]
        out = []
        for s, below in left.disagree_below.items():
            d = field_dice(left.clks, right.clks, left.view, right.view, i, j, s, left.segments[s])
            disagree = d < below  # NaN (a side lacks the field) compares False
            if s in swapped:
                disagree &= ~swapped[s]
            out.append(disagree)
        return out


def token_kinds(
    token_names: Sequence[str], field_names: Sequence[str], extra: Mapping[str, Any]
) -> dict[str, TokenKind]:
    """What each exact-token column of a file is, for scoring.

    The file header records token names, not their purpose, so: a token named like a
    schema field is that field's exact token (``identifier``); a match key whose name
    starts with ``blk`` is a blocking key (``block``, no score); any other match key is
    scoring evidence (``match``). ``extra["token_kinds"]`` in the header, when an encoder
    writes it, takes precedence.
    """
    declared = dict(extra.get("token_kinds", {}))
    kinds: dict[str, TokenKind] = {}
    for name in token_names:
        if name in declared:
            kinds[name] = declared[name]
        elif name in field_names:
            kinds[name] = "identifier"
        else:
            kinds[name] = "block" if name.startswith("blk") else "match"
    return kinds


class _Meter:
    """Progress over all comparison jobs, in left-party rows done (chunks are ordered by i)."""

    def __init__(self, hook: ProgressHook | None, rows_per_job: Sequence[int]) -> None:
        self.hook = hook
        self.offsets = list(itertools.accumulate(rows_per_job, initial=0))

    def job(self, k: int) -> Callable[[int], None] | None:
        hook = self.hook
        if hook is None:
            return None
        offset, total = self.offsets[k], self.offsets[-1]
        hook(offset, total)
        return lambda rows_done: hook(offset + rows_done, total)


class _ScorePool:
    """Candidate scores for the threshold choice, capped by deterministic subsampling."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.stride = 1
        self.parts: list[Scores] = []
        self.size = 0

    def add(self, scores: Scores) -> None:
        part = scores[:: self.stride].copy()
        self.parts.append(part)
        self.size += len(part)
        while self.size > self.cap:  # halve what is held and what is taken from now on
            self.stride *= 2
            self.parts = [np.ascontiguousarray(p[::2]) for p in self.parts]
            self.size = sum(len(p) for p in self.parts)

    def scores(self) -> Scores:
        return np.concatenate(self.parts) if self.parts else np.zeros(0, np.float32)


def _threshold(explicit: float | None, scores: Scores) -> ThresholdChoice:
    if explicit is not None:
        return ThresholdChoice.explicit(float(explicit), scores)
    return choose_threshold(scores)


def within_party_threshold(threshold: float) -> float:
    """The cut for within-party (dedup) pairs given the automatic cross-party threshold:
    ``threshold + WITHIN_PARTY_MARGIN``, capped at 0.95 unless the threshold is higher."""
    return min(threshold + WITHIN_PARTY_MARGIN, max(threshold, 0.95))


def _margin(margin: float | None, dedup: bool) -> float:
    if margin is not None:
        return margin
    return DEDUP_CONFLICT_MARGIN if dedup else DEFAULT_CONFLICT_MARGIN


def _blocking_config(blocking: bool | BlockingConfig) -> BlockingConfig | None:
    if blocking is False:
        return None
    if blocking is True:
        return BlockingConfig()
    return blocking


# -- inputs ----------------------------------------------------------------------------


def _file_info(f: EncodingFile, source: str | None = None) -> PartyInfo:
    h = f.header
    return PartyInfo(
        party=h.party,
        source=source or str(f.path),
        rows=h.rows,
        digest=f.digest,
        schema_fingerprint=h.schema_fingerprint,
        encoder_version=h.encoder_version,
        clk_bits=h.clk_bits,
        secret_commitment=h.secret_commitment,
        token_kinds=token_kinds(h.token_names, h.field_names, h.extra),
    )


def _info(encoding: Any) -> PartyInfo:
    if isinstance(encoding, EncodingFile):
        return _file_info(encoding)
    from hashmatch._version import ENCODER_VERSION

    return PartyInfo(
        party=encoding.party,
        source=f"<memory: {encoding.party}>",
        rows=len(encoding.row_tokens),
        digest="",
        schema_fingerprint=encoding.schema.fingerprint,
        encoder_version=ENCODER_VERSION,
        clk_bits=encoding.schema.clk_bits,
        secret_commitment=encoding.secret_commitment,
        token_kinds={
            **{name: "identifier" for name in encoding.tokens},
            **{key.name: key.purpose for key in encoding.schema.match_keys},
        },
    )


class _Party:
    """One party's encodings (an open EncodingFile or an in-memory EncodedBatch) as the
    pipeline sees them: CLKs, tokens, row tokens, the segment layout and, per row, which
    fields (segments) hold a value."""

    def __init__(self, encoding: Any) -> None:
        self.clks: Clks = encoding.clks
        self.row_tokens: RowTokens = encoding.row_tokens
        self.tokens: Mapping[str, Tokens] = encoding.tokens
        if isinstance(encoding, EncodingFile):
            fields = list(encoding.header.field_names)
            layout = encoding.header.segments
            # Files written before field types were recorded compare every field by Dice.
            types = dict(encoding.header.extra.get("field_types", {}))
            stable = set(encoding.header.extra.get("stable_fields", ()))
            swaps = [tuple(p) for p in encoding.header.extra.get("swap_pairs", ())]
        else:
            fields = [f.name for f in encoding.schema.fields]
            layout = encoding.schema.segments
            types = {f.name: f.type for f in encoding.schema.fields}
            stable = {f.name for f in encoding.schema.fields if f.stable}
            swaps = list(encoding.schema.swap_pairs)
        self.segments = [(seg.start, seg.bits) for seg in layout]
        where = {seg.field: s for s, seg in enumerate(layout)}
        self.swap_segments = [(where[a], where[b]) for a, b in swaps if a in where and b in where]
        self.nested = [types.get(seg.field) in NESTED_FIELD_TYPES for seg in layout]
        # segment -> field Dice below which a stable field's two values clearly disagree
        self.disagree_below = {
            s: DISAGREE_BELOW.get(types.get(seg.field, ""), DISAGREE_BELOW_DEFAULT)
            for s, seg in enumerate(layout)
            if seg.field in stable
        }
        self._field_columns = [fields.index(seg.field) for seg in layout]
        self._encoding = encoding

    @functools.cached_property
    def present(self) -> npt.NDArray[np.bool_]:
        return np.asarray(self._encoding.present)[:, self._field_columns]

    @functools.cached_property
    def aligned(self) -> dict[int, npt.NDArray[np.uint64]]:
        """Each swap-pair segment of every row at bit 0, for crosswise comparisons."""
        return {
            s: aligned_segment(self.clks, self.segments[s])
            for pair in self.swap_segments
            for s in pair
        }

    @functools.cached_property
    def view(self) -> SegmentView:
        return SegmentView.from_clks(self.clks, self.segments, self.present, nested=self.nested)


def _as_encoding(encoding: Any) -> _Encoding:
    return _Party(encoding)


def _tokens_digest(tokens: RowTokens) -> str:
    import hashlib

    return hashlib.sha256(np.ascontiguousarray(tokens).tobytes()).hexdigest()
