"""The coordinator pipeline: encodings of N parties in, multi-party entities out.

For every pair of parties (and, with ``dedup``, every party with itself):

    blocking.candidate_pairs  -> chunks of candidate (i, j), never the n*m grid
                                 (without blocking: exhaustive.likely_pairs, the grid
                                 kernel at a bound no pair that can match falls below)
    scorer.PairScorer         -> one score per pair from one kernel pass over its CLKs
                                 (CLK + field evidence + exact-token agreement, scoring.py)

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
import itertools
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from hashmatch._progress import ProgressHook
from hashmatch._types import Indices, Scores
from hashmatch.encfile import EncodingFile
from hashmatch.errors import IncompatibleEncodingsError
from hashmatch.link.below_floor import BelowFloor
from hashmatch.link.blocking import (
    BlockingConfig,
    BlockingStats,
    CandidatePairs,
    MinHashCache,
    candidate_pairs,
    token_column_names,
)
from hashmatch.link.comparison import decode_patterns
from hashmatch.link.compat import check_compatible, check_row_tokens
from hashmatch.link.entities import entity_id_key, merge_entities, number_entities
from hashmatch.link.exhaustive import (
    check_cost,
    grid_size,
    likely_pairs,
    sample_pairs,
    sample_stride,
)
from hashmatch.link.explain import explain_pairs
from hashmatch.link.fellegi_sunter import models_from_report
from hashmatch.link.fs_scorer import ProbabilisticScorer
from hashmatch.link.inputs import Encoding, as_encoding, file_info, info_of, tokens_digest
from hashmatch.link.lookalikes import find_lookalikes
from hashmatch.link.memory import DEFAULT_CHUNK_PAIRS, MemoryBudget
from hashmatch.link.quality import estimate_quality, linked_pairs
from hashmatch.link.result import LinkResult, PairLinkStats, PartyInfo
from hashmatch.link.scorer import PairScorer
from hashmatch.link.scoring import ScoringConfig
from hashmatch.link.solve import SolveStats, TieKeys, solve_party_pair, tie_keys
from hashmatch.link.threshold import ThresholdChoice, choose_threshold, pair_threshold

__all__ = [
    "Engine",
    "LinkResult",
    "PairLinkStats",
    "PartyInfo",
    "check_compatible",
    "link_encodings",
    "link_files",
    "score_candidates",
    "score_histogram",
    "score_pairs",
    "conflict_bars",
    "job_cuts",
    "within_party_threshold",
]

PathLike = str | os.PathLike[str]

#: With an automatic threshold, pairs scoring below this are not kept between chunks: no
#: pair below the threshold is used after scoring (entity conflict checks score their
#: pairs afresh), so this bounds memory by the likely matches rather than the candidates
#: (at 0.25, below the non-match mode of CLK scores, most candidates were kept: gigabytes
#: at a million rows). If the chosen threshold falls below it, the pairs in between come
#: from the bounded reserve of the best pairs below it (BelowFloor), or when that dropped
#: some of them, from scoring the candidates again: the floor changes cost, never results.
AUTO_KEEP_FLOOR = 0.5
#: Pairs below AUTO_KEEP_FLOOR held in case a cut lands below it (hashmatch.link.
#: below_floor): 12 bytes each, ~150 MB; at most three chunks' worth under a memory budget.
BELOW_FLOOR_PAIRS = 12_000_000
#: Candidate scores pooled for choosing the threshold; beyond, a deterministic subsample.
SCORE_POOL_CAP = 4_000_000
#: Bins of each party pair's score histogram over [0, 1] (the report draws them).
SCORE_BINS = 100
#: A cross pair of two clusters scoring this far below the threshold vetoes their merge
#: (measurements behind both values: benchmarks/README.md). With dedup,
#: within-party pairs have no one-to-one guard, so the veto is stricter.
DEFAULT_CONFLICT_MARGIN = 0.3
DEDUP_CONFLICT_MARGIN = 0.15
#: With an automatic threshold and dedup, a within-party pair must score this much above
#: the threshold (capped at 0.95, or the threshold itself if higher): within one file the
#: close non-matches are household members, twins and namesakes, and no one-to-one
#: solving guards those pairs. 0.30 keeps the most twins apart at the best F1 measured
#: (benchmarks/README.md, "Linking: conflict margins and the within-party cut").
WITHIN_PARTY_MARGIN = 0.3
#: The scoring a link uses unless told: "fs" (match probabilities) or "dice".
DEFAULT_SCORING = "dice"
#: The automatic threshold of probabilistic scoring: link when a match is more likely
#: than not under the party pair's model (the same meaning for every party pair).
PROBABILITY_THRESHOLD = 0.5
#: With probabilistic scoring, a cross pair of two clusters vetoes their merge when its
#: match probability is below this: a clear non-match. Between it and the threshold a
#: pair lacks evidence rather than contradicts (a catalogue with a birth year only
#: against a partner without an address). Measured with benchmarks/scoring.py (demo /
#: synth 10,000, --dedup): threshold - 0.15 (the Dice margin) -> F1 0.950 / 0.944,
#: 0.05 -> 0.959 / 0.947.
PROBABILITY_CONFLICT_BELOW = 0.05


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
    force: bool = False,
    allow_costly: bool = False,
    scoring: str = DEFAULT_SCORING,
    model: Mapping[str, Any] | None = None,
    report_extra: dict[str, Any] | None = None,
    memory: str | int | None = None,
    engine: Engine | None = None,
) -> LinkResult:
    """Link the parties' ``.hme`` files (paths or :class:`hashmatch.seal.intake.Input` objects,
    whose seal envelopes go into report.json) and write the results folder.

    Parameters
    ----------
    paths:
        Two or more encoding files, one per party (a single file with ``dedup`` works too).
    out_dir:
        Results folder (created if missing): entities.csv, <party>.csv, report.json,
        the score histogram, and pairs.csv with ``write_pairs``. Written as one unit; a
        folder that is not empty is refused before any work, or replaced whole with
        ``force`` (see :func:`hashmatch.link.outputs.write_results`).
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
    allow_costly:
        Run even what is refused by default as too costly: linking without blocking
        beyond :data:`hashmatch.link.exhaustive.NO_BLOCKING_MAX_PAIRS` pairs.
    report_extra:
        Keys added to report.json and report.html (``data_quality``: per party, a
        ``hashmatch profile --json`` document).
    memory:
        A memory budget such as ``"4GB"`` (see :mod:`hashmatch.link.memory`): candidate
        chunks are sized to it, and a party pair whose blocking tables would not fit is
        refused (CostLimitError) before any work. None: default chunks, no check.
    engine:
        Where the comparisons and solving run: None, this process; an engine of
        :mod:`hashmatch.link.engines` (``engine_named("dask", scheduler)``: tasks of a
        Dask cluster). Same results either way, the same ``memory`` budget applying.

    Raises
    ------
    EncodingFileError, TamperedFileError
        A file cannot be read or fails its checksum.
    IncompatibleEncodingsError, SecretMismatchError
        Files that cannot be linked together (the message names both files).
    OutputError
        ``out_dir`` may not be written (checked before linking).
    CostLimitError
        Without blocking, more pairs than the limit and not ``allow_costly``; or blocking
        tables over the ``memory`` budget.
    """
    from hashmatch.link.outputs import check_results_folder, write_results

    reads = [getattr(p, "source", None) or p for p in paths]  # a sealed input: the sent file
    check_results_folder(out_dir, force=force, reads=reads)
    started = time.perf_counter()
    with ExitStack() as stack:
        files = [stack.enter_context(EncodingFile.open(p)) for p in paths]
        infos = [
            dataclasses.replace(file_info(f, source), envelope=getattr(p, "envelope", None))
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
            allow_costly=allow_costly,
            scoring=scoring,
            model=model,
            memory=memory,
            engine=engine,
        )
        result.timings = {"open_and_verify": opened, **result.timings}
        write_results(
            result,
            out_dir,
            write_pairs=write_pairs,
            share_party_names=reveal_parties,
            started=started,
            force=force,
            reads=reads,
            report_extra=report_extra,
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
    allow_costly: bool = False,
    scoring: str = DEFAULT_SCORING,
    model: Mapping[str, Any] | None = None,
    memory: str | int | None = None,
    engine: Engine | None = None,
) -> LinkResult:
    """Link in memory: open :class:`EncodingFile` objects or ``EncodedBatch`` objects.

    Same pipeline and parameters as :func:`link_files`, without writing anything; pass
    the result to :func:`hashmatch.link.outputs.write_results` to write it. ``scoring``
    is ``"fs"`` (match probabilities of field-level Fellegi-Sunter models estimated per
    party pair, see :mod:`hashmatch.link.fellegi_sunter`; ``model`` reuses the ``"model"``
    section of an earlier report.json) or ``"dice"`` (the Dice-based score). ``infos``
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
        infos = [info_of(e) for e in encodings]
    if len(encodings) < 2 and not dedup:
        msg = "linking needs at least two encoding files (or one with dedup)"
        raise IncompatibleEncodingsError(msg)
    check_compatible(infos)
    parties = [as_encoding(e) for e in encodings]
    check_row_tokens(infos, [p.row_tokens for p in parties])
    config = _blocking_config(blocking)
    jobs = list(itertools.combinations(range(len(parties)), 2))
    if dedup:
        jobs += [(p, p) for p in range(len(parties))]
    if scoring not in ("fs", "dice"):
        msg = f"scoring: expected 'fs' or 'dice', got {scoring!r}"
        raise ValueError(msg)
    if scoring == "fs" and config is None:
        msg = "probabilistic scoring needs blocking (its model is fitted on candidates)"
        raise ValueError(msg)
    budget = MemoryBudget(memory)
    if config is not None:
        _check_budget(budget, parties, infos, jobs, config)
    if engine is not None:
        if config is None:
            msg = "linking without blocking runs on the local engine only"
            raise ValueError(msg)
        return engine.link(
            encodings, parties, infos, jobs, config, threshold=threshold, dedup=dedup,
            conflict_margin=conflict_margin, progress=progress, scoring=scoring, model=model,
            budget=budget,
        )
    if scoring == "fs" and config is not None:
        return _link_probabilistic(
            parties, infos, jobs, config, threshold, dedup, conflict_margin, progress, model,
            budget,
        )
    scorer = PairScorer(parties, ScoringConfig.for_tokens(infos[0].token_kinds))

    t0 = time.perf_counter()
    pool = _ScorePool(SCORE_POOL_CAP)
    meter = _Meter(progress, [infos[a].rows for a, _ in jobs])
    # The threshold is chosen from cross-party scores when there are any: within-party
    # candidates of one file have another non-match population (households, namesakes)
    # and get their own, stricter cut (within_party_threshold).
    cross = len(parties) > 1
    pooled = [a != b or not cross for a, b in jobs]
    if config is None:
        grids = [(f"{infos[a].party} ~ {infos[b].party}", infos[a].rows,
                  None if a == b else infos[b].rows) for a, b in jobs]
        check_cost(grids, allow_costly=allow_costly)
        scored, choice, cuts = _link_exhaustive(scorer, jobs, grids, pooled, threshold, pool,
                                                meter)
        timings["compare"] = time.perf_counter() - t0
        timings["threshold"] = 0.0
        scores = pool.scores()
    else:
        floor = keep_floor(threshold)
        minhash = MinHashCache()  # each party hashed once for all its jobs
        below = BelowFloor(min(BELOW_FLOOR_PAIRS, 3 * budget.chunk_pairs)) \
            if threshold is None else None
        scored = [
            _score_job(scorer, a, b, config, floor, pool if keep else None, meter.job(k),
                       budget, minhash, below, k)
            for k, ((a, b), keep) in enumerate(zip(jobs, pooled, strict=True))
        ]
        timings["compare"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        scores = pool.scores()
        choice = _threshold(threshold, scores, within_party=not cross)
        cuts = job_cuts(choice, jobs, [job.counts for job in scored], threshold is None)
        if min(cuts) < floor:  # a cut below what was kept: held below the floor, or score again
            held = None if below is None else below.pairs_at(cuts)
            if held is not None:
                scored = [job.with_pairs(h) for job, h in zip(scored, held, strict=True)]
            else:
                floor = min(cuts)
                scored = [_score_job(scorer, a, b, config, floor, None, None, budget,
                                     minhash) for a, b in jobs]
        timings["threshold"] = time.perf_counter() - t0

    solved = _solve_all(parties, jobs, scored, cuts, timings)
    result = merge_solved(
        parties, infos, jobs, scored, solved, cuts, choice, scorer, dedup, conflict_margin,
        meter, scores, timings,
    )
    return with_lookalikes(result, parties, infos, jobs, scored)


class Engine(Protocol):
    """Runs a checked link elsewhere than in this process (:mod:`hashmatch.link.engines`):
    the inputs, their infos, the party pairs to compare (``jobs``), the blocking
    configuration and the (checked) memory budget, whose chunk size it must use (chunk
    bounds decide the threshold's score pool), in; the :class:`LinkResult` the local
    pipeline would give out."""

    def link(
        self,
        encodings: Sequence[Any],
        parties: Sequence[Encoding],
        infos: Sequence[PartyInfo],
        jobs: Sequence[tuple[int, int]],
        config: BlockingConfig,
        *,
        threshold: float | None,
        dedup: bool,
        conflict_margin: float | None,
        progress: ProgressHook | None,
        scoring: str,
        model: Mapping[str, Any] | None,
        budget: MemoryBudget,
    ) -> LinkResult: ...


def _solve_all(
    parties: Sequence[Encoding],
    jobs: Sequence[tuple[int, int]],
    scored: Sequence[_Scored],
    cuts: Sequence[float],
    timings: dict[str, float],
) -> list[SolvedJob]:
    """One-to-one solving of every party pair at its cut."""
    t0 = time.perf_counter()
    keys = [tie_keys(p.row_tokens) for p in parties]
    solved = [
        solve_job(job.i, job.j, job.score, cut, a == b, (keys[a], keys[b]))
        for (a, b), job, cut in zip(jobs, scored, cuts, strict=True)
    ]
    timings["solve"] = time.perf_counter() - t0
    return solved


@dataclass(frozen=True)
class SolvedJob:
    """The linked pairs of one party pair (after one-to-one solving across parties)."""

    i: Indices
    j: Indices
    score: Scores
    accepted: int  # pairs at or above the cut, before solving
    solve_stats: SolveStats | None


def solve_job(i: Indices, j: Indices, score: Scores, cut: float, same_party: bool,
              keys: tuple[TieKeys, TieKeys]) -> SolvedJob:
    """The pairs of one party pair at or above ``cut``, cut to the mutual best of their
    rows and solved one-to-one unless within one party (``keys``: the two parties' tie
    keys, :func:`~hashmatch.link.solve.tie_keys`; the result depends only on the set of
    pairs and the rows' tokens, not on their order)."""
    accept = score >= cut
    i, j, s = i[accept], j[accept], score[accept]
    solve_stats = None
    if not same_party:
        keep, solve_stats = solve_party_pair(i, j, s, threshold=cut,
                                             key_i=keys[0][i], key_j=keys[1][j])
        i, j, s = i[keep], j[keep], s[keep]
    return SolvedJob(i, j, s, int(accept.sum()), solve_stats)


def merge_solved(
    parties: Sequence[Encoding],
    infos: Sequence[PartyInfo],
    jobs: Sequence[tuple[int, int]],
    scored: Sequence[_Scored],
    solved: Sequence[SolvedJob],
    cuts: Sequence[float],
    choice: ThresholdChoice,
    scorer: Callable[[int, Indices, int, Indices], Scores],
    dedup: bool,
    conflict_margin: float | None,
    meter: _Meter,
    scores: Scores,
    timings: dict[str, float],
) -> LinkResult:
    """Merge the solved pairs of every party pair into numbered entities (``scored``
    gives each party pair's candidate count, blocking statistics and histogram)."""
    columns: list[list[npt.NDArray[Any]]] = [[], [], [], [], []]
    pair_stats: list[PairLinkStats] = []
    for (a, b), job, done, cut in zip(jobs, scored, solved, cuts, strict=True):
        pair_stats.append(
            PairLinkStats(
                infos[a].party,
                infos[b].party,
                job.candidates,
                done.accepted,
                len(done.score),
                job.blocking,
                done.solve_stats,
                threshold=cut,
                score_counts=tuple(job.counts.tolist()),
            )
        )
        for col, values in zip(
            columns,
            (np.full(len(done.i), a), done.i, np.full(len(done.i), b), done.j, done.score),
            strict=True,
        ):
            col.append(np.asarray(values))
    pa, ra, pb, rb = (
        np.concatenate(c).astype(np.int64) if c else np.zeros(0, np.int64) for c in columns[:4]
    )
    ps = np.concatenate(columns[4]).astype(np.float32) if columns[4] else np.zeros(0, np.float32)

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
        reject_below=conflict_bars(len(infos), jobs, cuts, choice.value,
                                   _margin(conflict_margin, dedup)),
        progress=meter.after_comparisons(),
    )
    row_tokens = tuple(np.asarray(p.row_tokens) for p in parties)
    key = entity_id_key(
        [
            (info.party, info.digest or tokens_digest(t))
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


def with_lookalikes(
    result: LinkResult,
    parties: Sequence[Encoding],
    infos: Sequence[PartyInfo],
    jobs: Sequence[tuple[int, int]],
    scored: Sequence[_Scored],
) -> LinkResult:
    """``result`` with the look-alike entities among the kept candidates
    (:mod:`hashmatch.link.lookalikes`)."""
    t0 = time.perf_counter()
    result.relationships = find_lookalikes(
        parties, infos[0].token_kinds, jobs, [(job.i, job.j) for job in scored],
        result.entities,
    )
    result.timings["relationships"] = time.perf_counter() - t0
    return result


def conflict_bars(n_parties: int, jobs: Sequence[tuple[int, int]], cuts: Sequence[float],
                  threshold: float, margin: float) -> npt.NDArray[np.float64]:
    """The merge veto's bar per party pair (:func:`~hashmatch.link.entities.
    merge_entities`): ``margin`` below the pair's cut across parties, below the threshold
    within a party."""
    bars = np.full((n_parties, n_parties), threshold - margin)
    for (a, b), cut in zip(jobs, cuts, strict=True):
        if a != b:
            bars[a, b] = bars[b, a] = cut - margin
    return bars


def _link_probabilistic(
    parties: Sequence[Encoding],
    infos: Sequence[PartyInfo],
    jobs: Sequence[tuple[int, int]],
    config: BlockingConfig,
    threshold: float | None,
    dedup: bool,
    conflict_margin: float | None,
    progress: ProgressHook | None,
    model: Mapping[str, Any] | None,
    budget: MemoryBudget,
) -> LinkResult:
    """The pipeline with match probabilities as scores: for each party pair, fit its model
    on its candidates (one pass counting comparison patterns, which it keeps) and score
    them from those patterns; cut at the probability threshold, then solve and merge as
    with any score."""
    timings: dict[str, float] = {}
    names = [info.party for info in infos]
    scorer = ProbabilisticScorer(parties, infos[0].token_kinds, names)
    if model is not None:
        scorer.models.update(models_from_report(model, scorer.spec, names))
    minhash = MinHashCache()  # each party hashed once for all its jobs
    choice = _probability_threshold(threshold)
    pool = _ScorePool(SCORE_POOL_CAP)
    meter = _Meter(progress, [infos[a].rows for a, _ in jobs])
    timings["fit"] = timings["compare"] = 0.0
    scored = []
    for k, (a, b) in enumerate(jobs):  # a job's model needs only its own candidates
        t0 = time.perf_counter()
        right = None if a == b else parties[b]
        chunks, _ = _candidates(parties[a], right, config, chunk_pairs=budget.chunk_pairs,
                                minhash=minhash,
                                lsh_memory=_lsh_memory(budget, parties[a], right, config))
        scorer.fit(a, b, chunks, keep=True)  # the scoring pass reuses the patterns
        t1 = time.perf_counter()
        scored.append(
            _score_job(scorer, a, b, config, choice.value, pool, meter.job(k), budget, minhash)
        )
        scorer.release(a, b)
        timings["fit"] += t1 - t0
        timings["compare"] += time.perf_counter() - t1
    if conflict_margin is None:
        conflict_margin = probability_conflict_margin(choice)
    cuts = [choice.value] * len(jobs)
    result = merge_solved(
        parties, infos, jobs, scored, _solve_all(parties, jobs, scored, cuts, timings),
        cuts, choice,
        scorer, dedup, conflict_margin, meter, pool.scores(), timings,
    )
    return describe_model(with_lookalikes(result, parties, infos, jobs, scored), scorer, choice)


def probability_conflict_margin(choice: ThresholdChoice) -> float:
    """The conflict margin of a probabilistic link: a merge is vetoed only by a pair below
    :data:`PROBABILITY_CONFLICT_BELOW` (a clear non-match), not by missing evidence."""
    return max(choice.value - PROBABILITY_CONFLICT_BELOW, 0.0)


def describe_model(
    result: LinkResult, scorer: ProbabilisticScorer, choice: ThresholdChoice
) -> LinkResult:
    """Add the fitted models, the label-free quality estimate and the explanations of the
    linked pairs to a probabilistic link's result."""
    names = scorer.names
    result.model = {
        f"{names[a]}~{names[b]}": m.to_dict() for (a, b), m in sorted(scorer.models.items())
    }
    groups = []
    for key, patterns in scorer.patterns.items():
        vectors = decode_patterns(patterns.codes, scorer.spec.radix)
        groups.append((scorer.models[key].probability(vectors), patterns.counts))
    result.estimated = estimate_quality(groups, choice.value,
                                        _output_probabilities(result, scorer))
    result.explanations = explain_pairs(scorer, result.pairs)
    return result


def _output_probabilities(
    result: LinkResult, scorer: ProbabilisticScorer
) -> tuple[npt.NDArray[np.float32], int]:
    """The match probability of every pair of records the output puts in one entity (a
    sample of them past :data:`~hashmatch.link.quality.LINKED_PAIRS_CAP`), and how many
    pairs they stand for; pairs of parties without a model (one party, without dedup)
    are left out."""
    (a, i, b, j), total = linked_pairs(result.entities)
    parties = len(result.entities)
    job = a * parties + b
    found: list[npt.NDArray[np.float32]] = []
    for code in np.unique(job).tolist():
        x, y = divmod(code, parties)
        if (x, y) in scorer.models:
            sel = job == code
            found.append(np.asarray(scorer(x, i[sel], y, j[sel]), np.float32))
    probabilities = np.concatenate(found) if found else np.zeros(0, np.float32)
    counted = round(total * len(probabilities) / len(a)) if len(a) else 0
    return probabilities, counted


def _probability_threshold(explicit: float | None) -> ThresholdChoice:
    if explicit is not None:
        return ThresholdChoice.explicit(float(explicit))
    return ThresholdChoice(
        PROBABILITY_THRESHOLD,
        "probability",
        f"match probability {PROBABILITY_THRESHOLD:g} under each party pair's "
        "Fellegi-Sunter model (a pair is linked when a match is more likely than not)",
    )


def score_pairs(left: Any, right: Any, i: Indices, j: Indices) -> Scores:
    """The combined score ``link`` gives the row pairs ``(left[i[k]], right[j[k]])``.

    ``left`` and ``right`` are open :class:`EncodingFile` objects or ``EncodedBatch``
    objects of one schema (the same one twice scores within a party). For asking why
    two records did or did not link; the score is what the threshold is applied to.
    """
    infos = [info_of(left), info_of(right)]
    check_compatible(infos if infos[0].party != infos[1].party else infos[:1])
    parties = [as_encoding(left), as_encoding(right)]
    scorer = PairScorer(parties, ScoringConfig.for_tokens(infos[0].token_kinds))
    i, j = np.asarray(i, dtype=np.int64), np.asarray(j, dtype=np.int64)
    return scorer(0, i, 1, j)


# -- comparison ------------------------------------------------------------------------


@dataclass(frozen=True)
class CandidateStats:
    """What scoring a share of a job's candidates saw: how many were scored, the
    histogram of all their scores (SCORE_BINS on [0, 1]) and blocking's statistics."""

    candidates: int
    counts: npt.NDArray[np.int64]
    blocking: BlockingStats | None


def score_candidates(
    left: Any,
    right: Any | None,
    row_range: tuple[int, int] | None = None,
    config: BlockingConfig | None = None,
    floor: float = AUTO_KEEP_FLOOR,
) -> tuple[Indices, Indices, Scores, CandidateStats]:
    """Blocked candidates of left rows ``row_range`` against ``right`` (None: within
    ``left``, pairs ``i < j``), scored with the Dice score ``link`` uses; the pairs scoring
    at least ``floor`` are kept: ``(i, j, score, stats)``, sorted by ``(i, j)``.

    ``left`` and ``right`` are open :class:`EncodingFile` or ``EncodedBatch`` objects of
    one schema. The unit of work of one task of a distributed engine: tasks over
    consecutive row ranges of one party pair give, concatenated, the pairs and scores of
    the local engine (each task builds the key tables of the whole pair; blocking
    statistics describe its rows only).
    """
    infos = [info_of(left)] if right is None else [info_of(left), info_of(right)]
    check_compatible(infos)
    parties = [as_encoding(left)] if right is None else [as_encoding(left), as_encoding(right)]
    scorer = PairScorer(parties, ScoringConfig.for_tokens(infos[0].token_kinds))
    b = 0 if right is None else 1
    chunks, stats = _candidates(parties[0], None if right is None else parties[1],
                                config or BlockingConfig(), row_range)
    i, j, score, n, counts = _score_chunks(scorer, 0, b, chunks, floor, None, None)
    return i, j, score, CandidateStats(n, counts, stats())



@dataclass(frozen=True)
class _Scored:
    i: Indices
    j: Indices
    score: Scores
    candidates: int
    blocking: BlockingStats | None
    #: Histogram of every candidate score (SCORE_BINS on [0, 1]); of a sample without
    #: blocking (the report draws it).
    counts: npt.NDArray[np.int64]

    def with_pairs(self, more: tuple[Indices, Indices, Scores]) -> _Scored:
        """These kept pairs and ``more`` (pairs held below the floor), in (i, j) order as
        one scoring pass at the lower cut would have kept them."""
        i, j, score = (np.concatenate([x, y]) for x, y in zip((self.i, self.j, self.score),
                                                               more, strict=True))
        order = np.lexsort((j, i))
        return replace(self, i=i[order], j=j[order], score=score[order])


def _score_job(
    scorer: PairScorer | ProbabilisticScorer,
    a: int,
    b: int,
    config: BlockingConfig,
    floor: float,
    pool: _ScorePool | None,
    progress: Callable[[int], None] | None,
    budget: MemoryBudget,
    minhash: MinHashCache | None = None,
    below: BelowFloor | None = None,
    job: int = 0,
) -> _Scored:
    """Score the candidates of parties a and b; keep the pairs at or above ``floor`` (and
    hold the best below it in ``below``, as ``job``)."""
    left = scorer.parties[a]
    right = None if a == b else scorer.parties[b]
    chunks, stats = _candidates(left, right, config, chunk_pairs=budget.chunk_pairs,
                                minhash=minhash,
                                lsh_memory=_lsh_memory(budget, left, right, config))
    i, j, score, n, counts = _score_chunks(scorer, a, b, chunks, floor, pool, progress,
                                           below, job)
    return _Scored(i, j, score, n, stats(), counts)


def _score_chunks(
    scorer: PairScorer | ProbabilisticScorer,
    a: int,
    b: int,
    chunks: Iterator[tuple[Indices, Indices]],
    floor: float,
    pool: _ScorePool | None,
    progress: Callable[[int], None] | None,
    below: BelowFloor | None = None,
    job: int = 0,
) -> tuple[Indices, Indices, Scores, int, npt.NDArray[np.int64]]:
    """Score candidate chunks of parties a and b (ascending i); keep the pairs at or above
    ``floor`` (the best below it go to ``below``, as ``job``); returns them, how many were
    scored and the histogram of all their scores."""
    kept_i: list[Indices] = []
    kept_j: list[Indices] = []
    kept_s: list[Scores] = []
    n = 0
    counts = np.zeros(SCORE_BINS, np.int64)
    for i, j in chunks:
        s = scorer(a, i, b, j)
        n += len(s)
        counts += score_histogram(s)
        if pool is not None:
            pool.add(s)
        keep = s >= floor
        if below is not None:
            below.add(job, i[~keep], j[~keep], s[~keep])
        kept_i.append(i[keep])
        kept_j.append(j[keep])
        kept_s.append(s[keep])
        if progress is not None and len(i):
            progress(int(i[-1]) + 1)  # chunks come in ascending i: left rows done
    return (
        np.concatenate(kept_i) if kept_i else np.zeros(0, np.int64),
        np.concatenate(kept_j) if kept_j else np.zeros(0, np.int64),
        np.concatenate(kept_s) if kept_s else np.zeros(0, np.float32),
        n,
        counts,
    )


def _link_exhaustive(
    scorer: PairScorer,
    jobs: Sequence[tuple[int, int]],
    grids: Sequence[tuple[str, int, int | None]],
    pooled: Sequence[bool],
    threshold: float | None,
    pool: _ScorePool,
    meter: _Meter,
) -> tuple[list[_Scored], ThresholdChoice, list[float]]:
    """Every pair of every job, through the grid kernel (see :mod:`hashmatch.link.
    exhaustive`): the threshold from a row-major sample of all pairs' scores (all of them
    when they fit the pool), then per job its cut and the pairs at or above it."""
    sizes = [grid_size(n, m) for _, n, m in grids]
    stride = sample_stride(sum(g for g, p in zip(sizes, pooled, strict=True) if p), pool.cap)
    sampled = []  # per job, the histogram of its sampled scores (the report draws it)
    for (a, b), (_, n, m), keep in zip(jobs, grids, pooled, strict=True):
        counts = np.zeros(SCORE_BINS, np.int64)
        for i, j in sample_pairs(n, m, stride):
            s = scorer(a, i, b, j)
            counts += score_histogram(s)
            if keep:
                pool.add(s)
        sampled.append(counts)
    choice = _threshold(threshold, pool.scores(), within_party=all(a == b for a, b in jobs))
    cuts = job_cuts(choice, jobs, sampled, threshold is None)
    scored = []
    for k, ((a, b), size, cut) in enumerate(zip(jobs, sizes, cuts, strict=True)):
        right = None if a == b else scorer.parties[b]
        chunks = likely_pairs(scorer.parties[a], right, cut, scorer.config)
        i, j, score, _, _ = _score_chunks(scorer, a, b, chunks, cut, None, meter.job(k))
        scored.append(_Scored(i, j, score, size, None, sampled[k]))
    return scored, choice, cuts


def score_histogram(scores: Scores) -> npt.NDArray[np.int64]:
    """Counts of ``scores`` in SCORE_BINS equal bins over [0, 1]."""
    return np.bincount(
        np.minimum((scores * SCORE_BINS).astype(np.int64), SCORE_BINS - 1), minlength=SCORE_BINS
    )


def job_cuts(choice: ThresholdChoice, jobs: Sequence[tuple[int, int]],
             counts: Sequence[npt.NDArray[np.int64]], automatic: bool) -> list[float]:
    """The acceptance cut of each job (party pair), given the histogram of all its
    candidate scores: the threshold; under an automatic threshold with several parties,
    :func:`within_party_threshold` for within-party pairs, and for a cross-party pair
    whose matches the pooled threshold would cut off, the valley of its own scores
    (:func:`~hashmatch.link.threshold.own_valley`)."""
    cross = any(a != b for a, b in jobs)
    cuts = []
    for (a, b), hist in zip(jobs, counts, strict=True):
        if not automatic:
            cuts.append(choice.value)
        elif a == b:
            cuts.append(within_party_threshold(choice.value) if cross else choice.value)
        else:
            cuts.append(pair_threshold(choice, hist))
    return cuts


def _candidates(
    left: Encoding, right: Encoding | None, config: BlockingConfig,
    rows: tuple[int, int] | None = None,
    chunk_pairs: int = DEFAULT_CHUNK_PAIRS,
    minhash: MinHashCache | None = None,
    lsh_memory: int | None = None,
) -> tuple[CandidatePairs, Callable[[], BlockingStats | None]]:
    """Candidate chunks of (left, right), or of left with itself (i < j) when right is None,
    and a function giving the blocking statistics once the chunks are exhausted
    (``lsh_memory``: see :func:`~hashmatch.link.blocking.candidate_pairs`)."""
    stream = candidate_pairs(
        left.clks,
        left.tokens,
        None if right is None else right.clks,
        None if right is None else right.tokens,
        config,
        segments=left.segments,
        left_present=left.present,
        right_present=None if right is None else right.present,
        rows=rows,
        chunk_pairs=chunk_pairs,
        minhash=minhash,
        lsh_memory=lsh_memory,
    )
    return stream, lambda: stream.stats


def _token_column_count(config: BlockingConfig, left: Encoding, right: Encoding | None) -> int:
    """How many exact-token key columns blocking joins (left, right) on."""
    return len(token_column_names(config, left.tokens,
                                  left.tokens if right is None else right.tokens))


def _lsh_memory(budget: MemoryBudget, left: Encoding, right: Encoding | None,
                config: BlockingConfig) -> int | None:
    """The bytes of the budget an LSH key table of (left, right) may take (None: no
    budget, the default applies)."""
    return budget.lsh_memory(len(left.clks), None if right is None else len(right.clks),
                             _token_column_count(config, left, right))


def _check_budget(budget: MemoryBudget, parties: Sequence[Encoding],
                  infos: Sequence[PartyInfo], jobs: Sequence[tuple[int, int]],
                  config: BlockingConfig) -> None:
    """Refuse, before any work, a party pair whose blocking would not fit ``budget``."""
    for a, b in jobs:
        budget.check_tables(f"{infos[a].party} ~ {infos[b].party}", infos[a].rows,
                            None if a == b else infos[b].rows,
                            _token_column_count(config, parties[a], parties[b]),
                            "lsh" in config.methods)


class _Meter:
    """Progress over all comparison jobs, in left-party rows done (chunks are ordered by i),
    then over the pairs entity merging goes through."""

    def __init__(self, hook: ProgressHook | None, rows_per_job: Sequence[int]) -> None:
        self.hook = hook
        self.offsets = list(itertools.accumulate(rows_per_job, initial=0))

    def after_comparisons(self) -> ProgressHook | None:
        """A hook for the stage after the comparisons (entity merging), continuing the
        count: ``done`` and ``total`` of that stage are added to the comparison rows."""
        hook, offset = self.hook, self.offsets[-1]
        if hook is None:
            return None
        return lambda done, total: hook(offset + done, None if total is None else offset + total)

    def job(self, k: int) -> Callable[[int], None] | None:
        hook = self.hook
        if hook is None:
            return None
        offset, total = self.offsets[k], self.offsets[-1]
        hook(offset, total)
        return lambda rows_done: hook(offset + rows_done, total)


class _ScorePool:
    """Candidate scores for the threshold choice, capped by deterministic subsampling.

    Each added array keeps ``scores[::stride]``; when more than ``cap`` are held the
    stride doubles. Halving cannot take an array below its first score, so with more
    arrays than ``cap`` the pool ends with one score of each (above the cap, rather than
    halving for ever)."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.stride = 1
        self.parts: list[Scores] = []
        self.size = 0

    def add(self, scores: Scores) -> None:
        part = scores[:: self.stride].copy()
        self.parts.append(part)
        self.size += len(part)
        while self.size > self.cap and any(len(p) > 1 for p in self.parts):
            # halve what is held and what is taken from now on
            self.stride *= 2
            self.parts = [np.ascontiguousarray(p[::2]) for p in self.parts]
            self.size = sum(len(p) for p in self.parts)

    def scores(self) -> Scores:
        return np.concatenate(self.parts) if self.parts else np.zeros(0, np.float32)


def pool_stride(lengths: Iterable[int], cap: int) -> int:
    """The stride a :class:`_ScorePool` of ``cap`` ends with after adding score arrays of
    these lengths in this order: it then holds ``scores[::stride]`` of each array, so an
    engine that scored the arrays elsewhere rebuilds the same pool from their lengths."""
    stride, held = 1, []
    for n in lengths:
        held.append(-(-n // stride))
        while sum(held) > cap and any(h > 1 for h in held):  # as _ScorePool.add
            stride *= 2
            held = [-(-h // 2) for h in held]
    return stride


def keep_floor(threshold: float | None) -> float:
    """The lowest score of the candidates a Dice link keeps: :data:`AUTO_KEEP_FLOOR` with
    the automatic threshold, the threshold given otherwise."""
    return AUTO_KEEP_FLOOR if threshold is None else float(threshold)


def _threshold(explicit: float | None, scores: Scores, *, within_party: bool = False
               ) -> ThresholdChoice:
    """The threshold given (``explicit``) or chosen from ``scores``; ``within_party``: they
    are a single file's pairs with itself (see :func:`choose_threshold`)."""
    if explicit is not None:
        return ThresholdChoice.explicit(float(explicit), scores)
    return choose_threshold(scores, within_party=within_party)


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
