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
* at most ``2 * workers`` pieces are in flight, and ``workers`` more held back to be
  cut small at the end of the source (:func:`_tail_cut`): a fast reader waits for the
  encoders instead of loading the file. Where the source tells how much of it is left,
  pieces are held only near its end, so the first worker starts on the first piece.

On Linux the workers are *forked* from the caller once its encoder is built: they start
with every module imported and inherit the encoder (keys, tables, memos) copy-on-write,
so nothing about the keys is pickled and no worker imports anything. The caller's objects
are frozen out of the garbage collector while the pool lives (``gc.freeze``): a child's
collections would otherwise write to the headers of every inherited object and copy the
pages that hold them (measured: about 8% of a 2-worker run's CPU). pyarrow, which may
hold threads in the caller, reinitialises its thread pools in a forked child (its at-fork
handlers), and the pool forks before starting threads of its own. Elsewhere workers
start from a ``forkserver`` (``spawn`` where there is none) that has imported the encoder,
and the keys reach them only through the pool's initializer, pickled over the pipe to
each new process (never on a command line, in the environment or in a file). Keys are
never logged. Workers ignore Ctrl-C: a run that ends early drops the chunks not started,
lets the running ones finish and stops the pool, and a worker whose parent was killed
exits on its own, so nothing is left behind; the run's outputs were staged
(:mod:`hashmatch.output_set`) and never appear.

Workers need nothing of the caller's ``__main__`` (they run this module's functions on
plain data), so a started (not forked) worker does not import it: a script calling
``hm.encode`` needs no ``if __name__ == "__main__"`` guard, which multiprocessing would
otherwise ask of it (the child re-running the script). One worker, or a source of a
single chunk, encodes in the calling process: no pool.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import chain
from types import ModuleType

import numpy as np
import numpy.typing as npt

from hashmatch.collector import step as collector_step
from hashmatch.encode.columns import ArrowChunk
from hashmatch.encode.encoder import ChunkEncoder, EncodedChunk
from hashmatch.encode.keys import LinkageSecret, RowKey, key_bytes
from hashmatch.encode.sources.chunk import Chunk
from hashmatch.schema.model import ResolvedMapping, Schema

AnyChunk = Chunk | ArrowChunk
#: A source's progress: units read so far and units in all (None when unknown).
Progress = Callable[[], tuple[int, int | None]]
_IN_FLIGHT_PER_WORKER = 2  # chunks queued per worker: one encoding, one waiting
#: Pooled runs hand out pieces of ``chunk_rows / workers`` rows (memory: about 3 chunks,
#: with the pieces held for the tail), at least this many. Every piece costs the encoder
#: some work per distinct value, so pieces are no smaller than that until the end (pieces
#: of a quarter chunk on 2 workers cost 4.5% more CPU than whole chunks)...
_MIN_POOLED_ROWS = 5_000
#: ... where the last piece of each worker is cut in this many: with whole pieces to the
#: end, one worker would still be encoding the last while the others wait.
_TAIL_CUTS = 4
_PARENT_POLL_SECONDS = 0.5


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
        keys = key_bytes(secret), key_bytes(row_key)
        return cls(schema, resolved, tuple(header), *keys)

    def encoder(self) -> ChunkEncoder:
        return ChunkEncoder(
            self.schema,
            LinkageSecret(self.secret),
            self.resolved,
            list(self.header),
            RowKey(self.row_key),
        )


def pooled_chunk_rows(chunk_rows: int, workers: int) -> int:
    """The rows per chunk to read for ``workers`` processes, given the caller's
    ``chunk_rows`` (one worker: ``chunk_rows`` itself). The outputs do not depend on it."""
    if workers <= 1:
        return chunk_rows
    return min(chunk_rows, max(_MIN_POOLED_ROWS, chunk_rows // workers))


def encode_chunks(
    chunks: Iterator[AnyChunk],
    encoder: ChunkEncoder,
    setup: EncoderSetup,
    workers: int,
    progress: Progress | None = None,
) -> Generator[tuple[AnyChunk, EncodedChunk]]:
    """Each chunk with its encodings, in the order of ``chunks``.

    ``encoder`` (the caller's) encodes in this process when one worker is asked for or
    there is only one chunk; it also keeps the record ids seen, for the workers' chunks.
    ``progress`` (the source's: units read, units in all or None) lets the pool tell the
    end of the source coming (:func:`_tail_cut`).
    """
    first = next(chunks, None)
    if first is None:
        return
    second = next(chunks, None)
    if workers <= 1 or second is None:
        for chunk in chain([first], [] if second is None else [second], chunks):
            yield chunk, encoder.encode(chunk)
        return
    pieces = _tail_cut(chain([first, second], chunks), workers, progress)
    yield from _pooled(pieces, encoder, setup, workers)


def _tail_cut(
    chunks: Iterator[AnyChunk], workers: int, progress: Progress | None = None
) -> Iterator[AnyChunk]:
    """``chunks`` in order, the last ``workers`` of them each cut in ``_TAIL_CUTS``: the
    workers then take small pieces at the end and finish together.

    Finding the last ones means holding ``workers`` chunks back, which at the start
    keeps the workers waiting while the caller reads them. With ``progress``, a chunk
    goes on at once while more than ``workers + 1`` chunks' worth of the source is left
    (:func:`_far_from_end`): only the end is held. A wrong guess (rows of uneven length)
    only cuts fewer pieces small; the outputs never depend on the cuts.
    """
    held: deque[AnyChunk] = deque()
    for seen, chunk in enumerate(chunks, start=1):
        if not held and progress is not None and _far_from_end(progress, seen, workers):
            yield chunk
            continue
        held.append(chunk)
        if len(held) > workers:
            yield held.popleft()
    for chunk in held:
        yield from chunk.cut(_TAIL_CUTS)


def _far_from_end(progress: Progress, chunks_seen: int, workers: int) -> bool:
    """Whether more than ``workers + 1`` chunks' worth of the source is left, at the size
    of the chunks seen so far (False when the source does not know its size). The units
    done run ahead of the chunks seen (readers read ahead; :func:`encode_chunks` reads
    two chunks before the first is seen here), which only makes a chunk look larger."""
    done, total = progress()
    if total is None or done <= 0:
        return False
    return total - done > (workers + 1) * done / chunks_seen


def _pooled(
    chunks: Iterator[AnyChunk], encoder: ChunkEncoder, setup: EncoderSetup, workers: int
) -> Iterator[tuple[AnyChunk, EncodedChunk]]:
    context = _context()
    # A forked worker inherits the caller's encoder, keys included: nothing is pickled.
    inherited = context.get_start_method() == "fork"
    if inherited:  # before the pool forks: see the module doc
        gc.freeze()
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=_start_worker,
        initargs=(encoder if inherited else setup, os.getpid()),
    )
    pending: deque[tuple[AnyChunk, Future[EncodedChunk]]] = deque()
    limit = _IN_FLIGHT_PER_WORKER * workers
    try:
        for chunk in chunks:
            repeated = encoder.repeated_ids(chunk)
            with _main_hidden():  # submit() starts the workers it needs
                pending.append((chunk, pool.submit(_encode, chunk, repeated)))
            if len(pending) >= limit:
                done, future = pending.popleft()
                yield done, future.result()
        while pending:
            done, future = pending.popleft()
            yield done, future.result()
    finally:
        # An early end (an error, Ctrl-C, the consumer stopped): chunks not started are
        # dropped and the running ones finish (a chunk takes seconds). Terminating a
        # worker instead could cut a result in half on the pipe the pool's own thread
        # is reading, which would then wait for the rest forever.
        pending.clear()
        pool.shutdown(wait=True, cancel_futures=True)
        if inherited:
            gc.unfreeze()  # the caller's objects are collectable again


@contextmanager
def _main_hidden() -> Iterator[None]:
    """Let processes started here skip importing the caller's ``__main__``: multiprocessing
    re-imports it in each child (``spawn``/``forkserver``) from what it finds in
    ``sys.modules["__main__"]``, which here is an empty module for a moment."""
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = ModuleType("__main__")
    try:
        yield
    finally:
        if main is not None:
            sys.modules["__main__"] = main


def _context() -> multiprocessing.context.BaseContext:
    """``fork`` on Linux: workers start as copies of this process, with the encoder built
    and its imports done (see the module doc); elsewhere a ``forkserver`` that has imported
    the encoder (so workers start in milliseconds), else ``spawn``."""
    methods = multiprocessing.get_all_start_methods()
    if sys.platform.startswith("linux") and "fork" in methods:
        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
        return context
    return multiprocessing.get_context("spawn")


_worker_encoder: ChunkEncoder | None = None


def _start_worker(source: ChunkEncoder | EncoderSetup, parent: int) -> None:
    """Pool initializer: take this process's encoder (a forked worker's copy of the
    caller's, else built from ``source``); leave Ctrl-C to the parent; end when the parent
    does (a killed parent cannot stop its pool)."""
    global _worker_encoder
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    gc.disable()  # as in the caller's run (hashmatch.collector): a forked worker inherits it
    _worker_encoder = source if isinstance(source, ChunkEncoder) else source.encoder()
    threading.Thread(target=_end_with, args=(parent,), daemon=True).start()


def _end_with(parent: int) -> None:
    """Exit this worker once ``parent`` is gone (polled: a forkserver's workers are not
    its children, and a forked one is not told of its parent's death)."""
    while True:
        time.sleep(_PARENT_POLL_SECONDS)
        try:
            os.kill(parent, 0)
        except ProcessLookupError:
            os._exit(1)
        except PermissionError:  # pragma: no cover - the pid was reused by another user
            os._exit(1)


def _encode(chunk: AnyChunk, repeated: npt.NDArray[np.bool_] | None) -> EncodedChunk:
    assert _worker_encoder is not None, "the pool initializer builds the encoder"
    encoded = _worker_encoder.encode(chunk, repeated=repeated)
    collector_step()
    return encoded
