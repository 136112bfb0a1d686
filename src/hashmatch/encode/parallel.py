"""Encoding a source's chunks on several processes, handed back in the order they were read.

The parent reads the chunks (the readers are streams: memory stays bounded by the chunks
in flight), worker processes encode them with their own
:class:`~hashmatch.encode.encoder.ChunkEncoder`, and the parent takes the encodings back
in reading order and writes them, so the outputs are byte for byte those of one process:

* everything a chunk's encodings depend on is in the chunk or fixed for the run (schema,
  keys, mapping); the encoders' memos only save work. The one exception is a record id
  met in an *earlier* chunk (``record_id.duplicate``): the parent keeps the ids seen
  (:class:`~hashmatch.encode.record_ids.SeenIds`) and sends each chunk its ``repeated``
  mask, exactly what a single encoder would compute;
* at most ``2 * workers`` chunks are in flight: a fast reader waits for the encoders
  instead of loading the file.

Keys reach the workers only through the pool's initializer, pickled over the pipe to
each new process (never on a command line, in the environment or in a file), and are
never logged. Workers start from a ``forkserver`` (``spawn`` where there is none) that
has imported the encoder once, ignore Ctrl-C (the parent stops them) and are terminated
when the run ends early, so an interrupted run leaves no process behind; its outputs
were staged (:mod:`hashmatch.output_set`) and never appear.

One worker, or a source of a single chunk, encodes in the calling process: no pool.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from itertools import chain

import numpy as np
import numpy.typing as npt

from hashmatch.encode.columns import ArrowChunk
from hashmatch.encode.encoder import ChunkEncoder, EncodedChunk
from hashmatch.encode.keys import LinkageSecret, RowKey, key_bytes
from hashmatch.encode.sources.chunk import Chunk
from hashmatch.schema.model import ResolvedMapping, Schema

AnyChunk = Chunk | ArrowChunk
_IN_FLIGHT_PER_WORKER = 2  # chunks queued per worker: one encoding, one waiting


def default_workers() -> int:
    """The CPUs this process may run on (``os.process_cpu_count`` where Python has it)."""
    count = getattr(os, "process_cpu_count", None)
    if count is not None:
        return max(1, count() or 1)
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def check_workers(workers: int | None) -> int:
    """``workers`` (None: :func:`default_workers`); ValueError below 1."""
    if workers is None:
        return default_workers()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        msg = f"workers must be a whole number of at least 1, got {workers!r}"
        raise ValueError(msg)
    return workers


@dataclass(frozen=True)
class EncoderSetup:
    """What a worker needs to build the run's :class:`ChunkEncoder`.

    The keys travel as bytes inside this object, only as the pool initializer's argument.
    ``repr`` never shows them.
    """

    schema: Schema
    resolved: ResolvedMapping
    header: tuple[str, ...]
    secret: bytes
    row_key: bytes

    def __repr__(self) -> str:
        return f"EncoderSetup(schema={self.schema.fingerprint[:19]}, keys=<hidden>)"

    @classmethod
    def of(
        cls,
        schema: Schema,
        resolved: ResolvedMapping,
        header: Sequence[str],
        secret: LinkageSecret,
        row_key: RowKey,
    ) -> EncoderSetup:
        return cls(schema, resolved, tuple(header), key_bytes(secret), key_bytes(row_key))

    def encoder(self) -> ChunkEncoder:
        return ChunkEncoder(
            self.schema,
            LinkageSecret(self.secret),
            self.resolved,
            list(self.header),
            RowKey(self.row_key),
        )


def encode_chunks(
    chunks: Iterator[AnyChunk],
    encoder: ChunkEncoder,
    setup: EncoderSetup,
    workers: int,
) -> Iterator[tuple[AnyChunk, EncodedChunk]]:
    """Each chunk with its encodings, in the order of ``chunks``.

    ``encoder`` (the caller's) encodes in this process when one worker is asked for or
    there is only one chunk; it also keeps the record ids seen, for the workers' chunks.
    """
    first = next(chunks, None)
    if first is None:
        return
    second = next(chunks, None)
    if workers <= 1 or second is None:
        for chunk in chain([first], [] if second is None else [second], chunks):
            yield chunk, encoder.encode(chunk)
        return
    yield from _pooled(chain([first, second], chunks), encoder, setup, workers)


def _pooled(
    chunks: Iterator[AnyChunk], encoder: ChunkEncoder, setup: EncoderSetup, workers: int
) -> Iterator[tuple[AnyChunk, EncodedChunk]]:
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=_context(),
        initializer=_start_worker,
        initargs=(setup,),
    )
    pending: deque[tuple[AnyChunk, Future[EncodedChunk]]] = deque()
    limit = _IN_FLIGHT_PER_WORKER * workers
    try:
        for chunk in chunks:
            repeated = encoder.repeated_ids(chunk)
            pending.append((chunk, pool.submit(_encode, chunk, repeated)))
            if len(pending) >= limit:
                done, future = pending.popleft()
                yield done, future.result()
        while pending:
            done, future = pending.popleft()
            yield done, future.result()
    except BaseException:
        _stop(pool)
        raise
    finally:
        pending.clear()
        pool.shutdown(wait=True, cancel_futures=True)


def _stop(pool: ProcessPoolExecutor) -> None:
    """Stop the workers now: the run is over (an error, Ctrl-C, a generator closed)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:  # shutdown() lets a running chunk finish: do not wait
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(timeout=5)


def _context() -> multiprocessing.context.BaseContext:
    """A ``forkserver`` that has imported the encoder (so workers start in milliseconds),
    else ``spawn``; never a bare ``fork`` of a process that may hold pyarrow's threads."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
        return context
    return multiprocessing.get_context("spawn")


_worker_encoder: ChunkEncoder | None = None


def _start_worker(setup: EncoderSetup) -> None:
    """Pool initializer: build this process's encoder; leave Ctrl-C to the parent."""
    global _worker_encoder
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _worker_encoder = setup.encoder()


def _encode(chunk: AnyChunk, repeated: npt.NDArray[np.bool_] | None) -> EncodedChunk:
    assert _worker_encoder is not None, "the pool initializer builds the encoder"
    return _worker_encoder.encode(chunk, repeated=repeated)
