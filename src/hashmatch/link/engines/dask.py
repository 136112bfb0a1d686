"""The Dask engine: a link's comparisons and solving as tasks of a Dask cluster.

``hashmatch link ... --engine dask [--scheduler tcp://HOST:8786]`` (``hm.link(...,
engine="dask")``) runs the pipeline of :mod:`hashmatch.link.pipeline` on Dask's scheduler,
with its spilling and dashboard; without an address it starts a ``LocalCluster`` (one
single-threaded worker per core). The results are those of the local engine, pair for
pair and entity for entity, because every step runs the local engine's own code on the
same pieces in the same order:

1. **Data.** Each worker opens the ``.hme`` files itself when it sees them at the same path
   (checked against the coordinator's digest); otherwise, and for in-memory batches, the
   arrays are sent once to every worker (``scatter(broadcast=True)``). Each worker holds
   each party once per run, however many tasks use it.
2. **Blocking, one task per party pair.** It builds the pair's key tables
   (:func:`hashmatch.link.blocking.candidate_pairs`); the table stays on the cluster
   as a Dask result and the coordinator reads only its chunk layout: the left-row ranges
   the local engine scores one by one.
3. **Scoring, one task per run of consecutive chunks.** It expands its ranges into
   candidate pairs from the key tables (Dask moves the table to the worker if needed) and
   scores them with the local engine's chunk loop, keeping the pairs above the floor. A
   pair is produced once: chunks cover disjoint left rows and each chunk de-duplicates its
   pairs across key columns, as locally.
4. **Threshold.** Each task keeps its chunks' scores on its worker and reports their
   counts; the coordinator derives the stride its score pool would have reached
   (:func:`hashmatch.link.pipeline.pool_stride`), gathers ``scores[::stride]`` of every
   chunk in the local order and chooses the threshold from the identical pool. With
   ``--scoring fs`` the tasks count comparison patterns instead, the coordinator fits each
   party pair's model from the merged counts, and the scoring tasks use it.
5. **Solving, one task per party pair** (:func:`hashmatch.link.pipeline.solve_job`: the
   one-to-one solver works on the connected components of a party pair's pairs and
   depends only on their set). The coordinator then merges the solved pairs of all party
   pairs into entities: that step needs every party's row tokens and compares rows of
   conflicting clusters, so it stays with the coordinator, on pairs already cut to the
   likely matches.

Limits: a party pair's key tables are built by one task, so one worker must hold them
(about 100 bytes per row and key column); blocking by key ranges across workers would lift
that. Linking without blocking runs only on the local engine.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from hashmatch._progress import ProgressHook
from hashmatch._types import Indices, Scores, TokenKind
from hashmatch._version import __version__
from hashmatch.encfile import EncodingFile
from hashmatch.errors import HashmatchError
from hashmatch.link.blocking import BlockingConfig, CandidatePairs
from hashmatch.link.fellegi_sunter import PairModel, models_from_report
from hashmatch.link.fs_scorer import PatternCounts, ProbabilisticScorer
from hashmatch.link.inputs import Encoding, as_encoding
from hashmatch.link.lookalikes import LookalikeFilter, joined_pairs, lookalikes_among
from hashmatch.link.memory import MemoryBudget
from hashmatch.link.pipeline import (
    SCORE_BINS,
    SCORE_POOL_CAP,
    LinkResult,
    PartyInfo,
    SolvedJob,
    _candidates,
    _Meter,
    _probability_threshold,
    _score_chunks,
    _Scored,
    _threshold,
    describe_model,
    job_cuts,
    keep_floor,
    merge_solved,
    pool_stride,
    probability_conflict_margin,
    solve_job,
)
from hashmatch.link.relationships import Relationships
from hashmatch.link.scorer import PairScorer
from hashmatch.link.scoring import ScoringConfig
from hashmatch.link.solve import TieKeys, tie_keys

__all__ = ["CONNECT_TIMEOUT", "DaskEngine", "DaskEngineError", "dask_client"]

log = logging.getLogger(__name__)

#: Seconds to wait for a scheduler (and for its first worker) before giving up.
CONNECT_TIMEOUT = 10.0
#: Candidate chunks (the budget's chunk_pairs each, blocking.candidate_pairs) per task.
CHUNKS_PER_TASK = 4
INSTALL_HINT = "pip install 'hashmatch[dask]'"


class DaskEngineError(HashmatchError):
    """The Dask engine cannot run: Dask missing, scheduler unreachable, workers unfit."""


def _distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:
        msg = "the dask engine needs Dask's distributed scheduler, which is not installed"
        raise DaskEngineError(msg, hint=INSTALL_HINT) from exc
    return distributed


@contextmanager
def dask_client(
    scheduler: Any = None, *, timeout: float = CONNECT_TIMEOUT, workers: int | None = None
) -> Iterator[Any]:
    """A ``distributed.Client``: ``scheduler`` itself if it is one, connected to the address
    ``scheduler`` (``tcp://HOST:8786``), or of a new ``LocalCluster`` of ``workers``
    single-threaded workers (default: one per core) when None, closed on exit.

    Raises :class:`DaskEngineError` when the scheduler does not answer, or has no worker,
    within ``timeout`` seconds.
    """
    distributed = _distributed()
    if isinstance(scheduler, distributed.Client):
        yield scheduler
        return
    with ExitStack() as stack:
        if scheduler is None:
            cluster = stack.enter_context(
                distributed.LocalCluster(
                    n_workers=workers or os.cpu_count() or 1,
                    threads_per_worker=1,
                    dashboard_address=":0",
                )
            )
            client = stack.enter_context(distributed.Client(cluster))
        else:
            try:
                client = stack.enter_context(distributed.Client(str(scheduler), timeout=timeout))
            except (OSError, TimeoutError) as exc:
                msg = f"no Dask scheduler answered at {scheduler} within {timeout:g} s"
                raise DaskEngineError(
                    msg, hint="start one with `dask scheduler` (and workers with "
                    "`dask worker ADDRESS`), or leave out --scheduler for a local cluster"
                ) from exc
        try:
            client.wait_for_workers(1, timeout=timeout)
        except (OSError, TimeoutError) as exc:
            msg = f"the Dask scheduler at {client.scheduler.address} has no worker"
            raise DaskEngineError(msg, hint="start workers with `dask worker ADDRESS`") from exc
        yield client


# -- the coordinator's side ---------------------------------------------------------------


@dataclass(frozen=True)
class _Run:
    """What every task needs to know of the run (small: sent with each task)."""

    id: str
    paths: tuple[str | None, ...]  # per party: the file workers open, None when shipped
    digests: tuple[str, ...]
    token_kinds: Mapping[str, TokenKind]
    names: tuple[str, ...]
    config: BlockingConfig
    chunk_pairs: int  # of the run's MemoryBudget: chunk bounds (and the pool) as locally


class DaskEngine:
    """The :class:`~hashmatch.link.pipeline.Engine` running on a Dask cluster:
    ``scheduler`` is an address, a ``distributed.Client``, or None for a ``LocalCluster``
    started (and closed) by each link."""

    def __init__(self, scheduler: Any = None) -> None:
        self.scheduler = scheduler

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
    ) -> LinkResult:
        """The link of :func:`hashmatch.link.pipeline.link_encodings` (inputs checked,
        ``jobs`` the party pairs to compare, ``budget`` checked) with comparisons and
        solving on Dask, in chunks of the budget's size."""
        return _link_on_dask(self.scheduler, encodings, parties, infos, jobs, config,
                             (threshold, dedup, conflict_margin, scoring, model), progress,
                             budget)


def _link_on_dask(
    scheduler: Any,
    encodings: Sequence[Any],
    parties: Sequence[Encoding],
    infos: Sequence[PartyInfo],
    jobs: Sequence[tuple[int, int]],
    config: BlockingConfig,
    options: tuple[float | None, bool, float | None, str, Mapping[str, Any] | None],
    progress: ProgressHook | None,
    budget: MemoryBudget,
) -> LinkResult:
    with dask_client(scheduler) as client:
        log.info("Dask dashboard: %s", client.dashboard_link)
        run, shipped = _share(client, encodings, infos, config, budget.chunk_pairs)
        try:
            return _Link(client, run, shipped, parties, infos, jobs, progress).link(*options)
        finally:
            with suppress(OSError, TimeoutError):  # a lost cluster: keep the first error
                client.run(_forget, run.id)


def _share(client: Any, encodings: Sequence[Any], infos: Sequence[PartyInfo],
           config: BlockingConfig, chunk_pairs: int) -> tuple[_Run, list[Any]]:
    """Tell the workers where each party's encodings are: a path every worker can open,
    or arrays sent to all of them once."""
    paths = [_shareable_path(e) for e in encodings]
    wanted = {p: info.digest for p, info in zip(paths, infos, strict=True) if p is not None}
    seen = client.run(_sees, wanted)
    for worker, (version, _) in seen.items():
        if version != __version__:
            msg = (f"Dask worker {worker} runs hashmatch {version}, this coordinator "
                   f"{__version__}")
            raise DaskEngineError(msg, hint="install the same hashmatch on every worker")
    shipped: list[Any] = []
    for k, e in enumerate(encodings):
        if paths[k] is not None and all(paths[k] in ok for _, ok in seen.values()):
            shipped.append(None)
        else:
            paths[k] = None
            shipped.append(client.scatter(_Shipped.of(e), broadcast=True, hash=False))
    run = _Run(
        id=uuid.uuid4().hex,
        paths=tuple(paths),
        digests=tuple(info.digest for info in infos),
        token_kinds=dict(infos[0].token_kinds),
        names=tuple(info.party for info in infos),
        config=config,
        chunk_pairs=chunk_pairs,
    )
    return run, shipped


class _Link:
    """One link on a cluster: the tasks of each stage and what the coordinator gathers."""

    def __init__(self, client: Any, run: _Run, shipped: list[Any],
                 parties: Sequence[Encoding], infos: Sequence[PartyInfo],
                 jobs: Sequence[tuple[int, int]], progress: ProgressHook | None) -> None:
        self.client, self.run, self.shipped = client, run, shipped
        self.parties, self.infos, self.jobs = parties, infos, list(jobs)
        self.meter = _Meter(progress, [infos[a].rows for a, _ in jobs])
        self.progress = progress
        self.timings: dict[str, float] = {}

    def submit(self, fn: Any, *args: Any) -> Any:
        return self.client.submit(fn, *args, pure=False)

    def link(self, threshold: float | None, dedup: bool, conflict_margin: float | None,
             scoring: str, model: Mapping[str, Any] | None) -> LinkResult:
        import time

        t0 = time.perf_counter()
        tables = [self.submit(_key_tables, self.run, self.shipped, a, b) for a, b in self.jobs]
        layouts = self.client.gather([self.submit(_layout, t) for t in tables])
        groups = [_groups(bounds) for bounds, _ in layouts]
        cross = len(self.parties) > 1
        models: dict[tuple[int, int], PairModel] | None = None
        scorer: Any
        if scoring == "fs":
            scorer = ProbabilisticScorer(self.parties, self.run.token_kinds, self.run.names)
            if model is not None:
                scorer.models.update(models_from_report(model, scorer.spec, self.run.names))
            counted = [[self.submit(_count_ranges, self.run, self.shipped, t, a, b, g)
                        for g in gs] for (a, b), t, gs in zip(self.jobs, tables, groups,
                                                              strict=True)]
            for (a, b), parts in zip(self.jobs, counted, strict=True):
                scorer.fit_patterns(a, b, PatternCounts.combine(self.client.gather(parts)))
            self.timings["fit"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            models = dict(scorer.models)
            choice = _probability_threshold(threshold)
            floor = choice.value
            pooled = [True] * len(self.jobs)
        else:
            scorer = PairScorer(self.parties, ScoringConfig.for_tokens(self.run.token_kinds))
            floor = keep_floor(threshold)
            pooled = [a != b or not cross for a, b in self.jobs]
        results, summaries = self._score(tables, groups, floor, models, pooled)
        self.timings["compare"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        scores = self._pool(results, summaries, pooled)
        if scoring == "fs":
            cuts = [choice.value] * len(self.jobs)
            if conflict_margin is None:
                conflict_margin = probability_conflict_margin(choice)
        else:
            choice = _threshold(threshold, scores, within_party=not cross)
            cuts = job_cuts(choice, self.jobs, _job_counts(summaries), threshold is None)
            if min(cuts) < floor:  # as locally: a valley lies below what was kept
                floor = min(cuts)
                results, summaries = self._score(tables, groups, floor, None,
                                                 [False] * len(self.jobs))
        self.timings["threshold"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        keys = [self.client.scatter(tie_keys(p.row_tokens)) for p in self.parties]
        solved: list[SolvedJob] = self.client.gather([
            self.submit(_solve, rs, cut, a == b, keys[a], keys[b])
            for (a, b), rs, cut in zip(self.jobs, results, cuts, strict=True)
        ])
        scored = self._scored(tables, summaries)
        self.timings["solve"] = time.perf_counter() - t0
        result = merge_solved(
            self.parties, self.infos, self.jobs, scored, solved, cuts, choice, scorer, dedup,
            conflict_margin, self.meter, scores, self.timings,
        )
        self._lookalikes(result, results)
        return describe_model(result, scorer, choice) if scoring == "fs" else result

    def _lookalikes(self, result: LinkResult, results: list[list[Any]]) -> None:
        """As :func:`~hashmatch.link.pipeline.with_lookalikes`, the kept pairs filtered
        where they lie (the filter and the entities sent to every worker once): only the
        few pairs that could be look-alikes come back."""
        t0 = time.perf_counter()
        scorer = ProbabilisticScorer(self.parties, self.run.token_kinds)
        pick = LookalikeFilter.of(scorer)
        if pick is None:
            result.relationships = Relationships.none(scorer.spec.names)
        else:
            shipped = self.client.scatter((pick, list(result.entities)), broadcast=True,
                                          hash=False)
            selected = [
                joined_pairs(self.client.gather(
                    [self.submit(_select_lookalikes, r, shipped, a, b) for r in rs]))
                for (a, b), rs in zip(self.jobs, results, strict=True)
            ]
            result.relationships = lookalikes_among(scorer, pick, self.jobs, selected,
                                                    result.entities)
        self.timings["relationships"] = time.perf_counter() - t0

    def _score(self, tables: list[Any], groups: list[list[list[tuple[int, int]]]],
               floor: float, models: Mapping[tuple[int, int], PairModel] | None,
               pooled: list[bool]) -> tuple[list[list[Any]], list[list[_Summary]]]:
        """Score every party pair's chunk runs; per party pair, the task results (left on
        the workers) and their summaries (gathered), in chunk order."""
        distributed = _distributed()
        results = [
            [self.submit(_score_ranges, self.run, self.shipped, t, a, b, g, floor, models,
                         keep) for g in gs]
            for (a, b), t, gs, keep in zip(self.jobs, tables, groups, pooled, strict=True)
        ]
        futures = [[self.submit(_summary, r) for r in rs] for rs in results]
        if self.progress is not None:
            where = {f.key: (k, g) for k, fs in enumerate(futures) for f, g in
                     zip(fs, groups[k], strict=True)}
            done = 0
            total = self.meter.offsets[-1]
            for future in distributed.as_completed([f for fs in futures for f in fs]):
                _, ranges = where[future.key]
                done += ranges[-1][1] - ranges[0][0]
                self.progress(done, total)
        summaries = [self.client.gather(fs) for fs in futures]
        return results, summaries

    def _pool(self, results: list[list[Any]], summaries: list[list[_Summary]],
              pooled: list[bool]) -> Scores:
        """The local engine's score pool: the same stride over the same chunk scores."""
        lengths = [n for k, ss in enumerate(summaries) if pooled[k]
                   for s in ss for n in s.chunk_lengths]
        stride = pool_stride(lengths, SCORE_POOL_CAP)
        parts = self.client.gather([self.submit(_sample, r, stride)
                                    for k, rs in enumerate(results) if pooled[k] for r in rs])
        return np.concatenate(parts) if parts else np.zeros(0, np.float32)

    def _scored(self, tables: list[Any], summaries: list[list[_Summary]]) -> list[_Scored]:
        """Per party pair, what the report needs of its comparisons (the pairs themselves
        were solved on the cluster)."""
        out = []
        for t, ss, counts in zip(tables, summaries, _job_counts(summaries), strict=True):
            n = sum(s.candidates for s in ss)
            found: dict[str, int] = {}
            for s in ss:
                for method, k in s.per_method.items():
                    found[method] = found.get(method, 0) + k
            stats = self.client.gather(self.submit(_blocking_stats, t, n, found))
            empty = np.zeros(0, np.int64)
            out.append(_Scored(empty, empty, np.zeros(0, np.float32), n, stats, counts))
        return out


def _job_counts(summaries: list[list[_Summary]]) -> list[npt.NDArray[np.int64]]:
    """Per party pair, the histogram of all its candidate scores (its tasks' summed)."""
    return [np.sum([s.counts for s in ss], axis=0).astype(np.int64) if ss
            else np.zeros(SCORE_BINS, np.int64) for ss in summaries]


def _groups(bounds: Sequence[tuple[int, int]]) -> list[list[tuple[int, int]]]:
    """Consecutive chunk ranges, CHUNKS_PER_TASK to a task (one task for an empty party)."""
    ranges = list(bounds)
    return [ranges[k:k + CHUNKS_PER_TASK] for k in range(0, len(ranges), CHUNKS_PER_TASK)]


# -- the workers' side --------------------------------------------------------------------


@dataclass(frozen=True)
class _ShippedHeader:
    """The header fields the pipeline reads (a file's header holds read-only mappings,
    which do not pickle)."""

    party: str
    segments: tuple[Any, ...]
    field_names: tuple[str, ...]
    token_names: tuple[str, ...]
    extra: dict[str, Any]


@dataclass(frozen=True)
class _Shipped:
    """One party's arrays, sent to workers that cannot open its file (or for a batch)."""

    clks: npt.NDArray[np.uint64]
    tokens: dict[str, npt.NDArray[np.uint8]]
    row_tokens: npt.NDArray[np.uint8]
    present: npt.NDArray[np.bool_]
    header: _ShippedHeader

    @classmethod
    def of(cls, encoding: Any) -> _Shipped:
        from hashmatch.link.inputs import _thaw

        h = encoding.header
        return cls(
            np.asarray(encoding.clks),
            {name: np.asarray(t) for name, t in encoding.tokens.items()},
            np.asarray(encoding.row_tokens),
            np.asarray(encoding.present),
            _ShippedHeader(str(getattr(h, "party", "")), tuple(h.segments),
                           tuple(h.field_names), tuple(h.token_names), _thaw(dict(h.extra))),
        )


#: Per run id, on each worker: the parties as the pipeline reads them, and the open files.
_HELD: dict[str, tuple[list[Encoding], ExitStack]] = {}
_HELD_LOCK = threading.Lock()


def _shareable_path(encoding: Any) -> str | None:
    """The absolute path of an input's file, if other processes could open it by that
    name (not a decrypted input's ``/proc/self/fd/N``, which names this process's file)."""
    path = getattr(encoding, "path", None)
    if path is None or not getattr(encoding, "digest", ""):
        return None
    full = os.path.abspath(path)
    return None if full.startswith(("/proc/self/", "/dev/fd/")) else full


def _sees(digests: Mapping[str, str]) -> tuple[str, list[str]]:
    """This worker's hashmatch version and which of the files (path: digest) it sees with
    the coordinator's digest (read from the file's trailer; opening checks it in full)."""
    found = []
    for path, digest in digests.items():
        try:
            with EncodingFile.open(path, verify=False) as f:
                if f.digest == digest:
                    found.append(path)
        except (OSError, HashmatchError):
            continue
    return __version__, found


def _parties(run: _Run, shipped: Sequence[Any]) -> list[Encoding]:
    """The run's parties on this worker, opened (files checked) on first use."""
    with _HELD_LOCK:
        held = _HELD.get(run.id)
        if held is None:
            stack = ExitStack()
            parties = []
            for path, digest, data in zip(run.paths, run.digests, shipped, strict=True):
                if path is None:
                    parties.append(as_encoding(data))
                    continue
                f = stack.enter_context(EncodingFile.open(path))
                if digest and f.digest != digest:
                    stack.close()
                    msg = f"{path}: a worker reads another file than the coordinator's"
                    raise DaskEngineError(msg, hint="give workers the same files")
                parties.append(as_encoding(f))
            held = _HELD[run.id] = (parties, stack)
        return held[0]


def _forget(run_id: str) -> None:
    """Close this worker's files of a finished run."""
    with _HELD_LOCK:
        held = _HELD.pop(run_id, None)
    if held is not None:
        held[1].close()


def _key_tables(run: _Run, shipped: Sequence[Any], a: int, b: int) -> CandidatePairs:
    parties = _parties(run, shipped)
    stream, _ = _candidates(parties[a], None if a == b else parties[b], run.config,
                            chunk_pairs=run.chunk_pairs)
    return stream


def _layout(table: CandidatePairs) -> tuple[list[tuple[int, int]], tuple[str, ...]]:
    return table.bounds, table.methods


def _blocking_stats(table: CandidatePairs, candidates: int, found: Mapping[str, int]) -> Any:
    per_method = {m: found.get(m, 0) for m in table.methods}
    return table.stats_for(candidates, per_method)


def _chunks(table: CandidatePairs, ranges: Sequence[tuple[int, int]],
            found: dict[str, int]) -> Iterator[tuple[Indices, Indices]]:
    """The non-empty candidate chunks of ``ranges``, as the local stream yields them."""
    for start, stop in ranges:
        i, j, per_method = table.pairs_in(start, stop)
        for method, n in per_method.items():
            found[method] = found.get(method, 0) + n
        if len(i):
            yield i, j


@dataclass(frozen=True)
class _Summary:
    """What the coordinator gathers of a scoring task."""

    candidates: int
    counts: npt.NDArray[np.int64]
    per_method: dict[str, int]
    chunk_lengths: list[int]


@dataclass
class _Ranges:
    """A scoring task's result, kept on its worker: the pairs above the floor, and each
    chunk's scores for the threshold's pool (when the party pair is pooled)."""

    i: Indices
    j: Indices
    score: Scores
    summary: _Summary
    chunk_scores: list[Scores]


class _Collect:
    """Stands in for the pool of the local engine: keeps each chunk's scores whole."""

    def __init__(self) -> None:
        self.parts: list[Scores] = []

    def add(self, scores: Scores) -> None:
        self.parts.append(scores)


def _scorer(run: _Run, parties: Sequence[Encoding],
            models: Mapping[tuple[int, int], PairModel] | None) -> Any:
    if models is None:
        return PairScorer(parties, ScoringConfig.for_tokens(run.token_kinds))
    return ProbabilisticScorer(parties, run.token_kinds, run.names, models)


def _score_ranges(run: _Run, shipped: Sequence[Any], table: CandidatePairs, a: int, b: int,
                  ranges: Sequence[tuple[int, int]], floor: float,
                  models: Mapping[tuple[int, int], PairModel] | None, pooled: bool) -> _Ranges:
    parties = _parties(run, shipped)
    found: dict[str, int] = {}
    collect = _Collect()
    i, j, s, n, counts = _score_chunks(
        _scorer(run, parties, models), a, b, _chunks(table, ranges, found), floor,
        collect if pooled else None, None,  # type: ignore[arg-type]
    )
    summary = _Summary(n, counts, found, [len(p) for p in collect.parts])
    return _Ranges(i, j, s, summary, collect.parts)


def _count_ranges(run: _Run, shipped: Sequence[Any], table: CandidatePairs, a: int, b: int,
                  ranges: Sequence[tuple[int, int]]) -> PatternCounts:
    parties = _parties(run, shipped)
    scorer = ProbabilisticScorer(parties, run.token_kinds, run.names)
    return scorer.count_patterns(a, b, _chunks(table, ranges, {}))


def _summary(result: _Ranges) -> _Summary:
    return result.summary


def _sample(result: _Ranges, stride: int) -> Scores:
    parts = [p[::stride] for p in result.chunk_scores]
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def _select_lookalikes(result: _Ranges, shipped: tuple[LookalikeFilter, list[Any]],
                       a: int, b: int) -> tuple[Indices, Indices]:
    pick, entities = shipped
    return pick.select(a, result.i, b, result.j, entities)


def _solve(results: Sequence[_Ranges], cut: float, same_party: bool,
           key_a: TieKeys, key_b: TieKeys) -> SolvedJob:
    """One party pair's pairs (in chunk order, as locally) solved at its cut (``key_a``,
    ``key_b``: the two parties' tie keys)."""
    if len(results) == 1:  # (no copy)
        i, j, s = results[0].i, results[0].j, results[0].score
    else:
        i = np.concatenate([np.zeros(0, np.int64), *(r.i for r in results)])
        j = np.concatenate([np.zeros(0, np.int64), *(r.j for r in results)])
        s = np.concatenate([np.zeros(0, np.float32), *(r.score for r in results)])
    return solve_job(i, j, s, cut, same_party, (key_a, key_b))
