"""``hm.link``: link parties given as in-memory batches, ``.hme`` files, or a mix.

This is the notebook's entry to the coordinator pipeline
(:func:`hashmatch.link.link_encodings`). It opens and verifies the files, hands the
pipeline only what a coordinator may see of each batch (encodings and row tokens, never
record ids), and afterwards attaches to the result, as
:class:`~hashmatch.link.result.HeldRecords`, what the caller already holds: the record ids,
input row numbers and rejected rows of the batches it passed. The coordinator's own path
(``hashmatch link``, :func:`hashmatch.link.link_files`) never has them.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from typing import Any

import numpy as np
import numpy.typing as npt

from hashmatch._progress import ProgressHook
from hashmatch.encfile import EncodingFile
from hashmatch.errors import HashmatchError
from hashmatch.link.blocking import BlockingConfig
from hashmatch.link.engines import engine_named
from hashmatch.link.inputs import file_info, info_of
from hashmatch.link.pipeline import DEFAULT_SCORING, link_encodings
from hashmatch.link.result import HeldRecords, LinkResult

__all__ = ["link"]

PathLike = str | os.PathLike[str]


def link(
    inputs: Sequence[Any],
    *,
    dedup: bool = False,
    threshold: float | None = None,
    blocking: bool | BlockingConfig = True,
    conflict_margin: float | None = None,
    progress: ProgressHook | None = None,
    allow_costly: bool = False,
    memory: str | int | None = None,
    engine: str = "local",
    scheduler: Any = None,
    scoring: str = DEFAULT_SCORING,
    model: Mapping[str, Any] | None = None,
) -> LinkResult:
    """Link two or more parties' encodings into entities (``hm.link``).

    Parameters
    ----------
    inputs
        One item per party: an ``EncodedBatch`` from ``hm.encode``, the path of a
        ``.hme`` file (checked against its checksum) or an open ``EncodingFile``, in any
        mix. A single input needs ``dedup=True``.
    dedup
        Also link rows within each party (an entity may then hold several of its rows).
    threshold
        Score at or above which a pair matches; default: chosen from the score
        distribution (``res.threshold.explanation`` says how).
    blocking
        True (default configuration), a ``BlockingConfig``, or False to compare every
        pair (small inputs only).
    conflict_margin, progress, allow_costly
        As for :func:`hashmatch.link.link_encodings` (``allow_costly``: compare without
        blocking even beyond its pair limit).
    memory
        A memory budget such as ``"4GB"`` (bytes if an int): candidate chunks are sized
        to it, and a party pair whose blocking would not fit is refused with
        ``CostLimitError`` before any work (see :mod:`hashmatch.link.memory`).
    engine, scheduler
        ``"local"`` (default) or ``"dask"``: compare and solve as tasks of a Dask cluster,
        ``scheduler`` its address (``"tcp://host:8786"``) or a ``distributed.Client``
        (None: a ``LocalCluster`` of one worker per core). The results are the same;
        needs ``pip install 'hashmatch[dask]'``.
    scoring, model
        ``"dice"`` (default: CLK Dice plus token evidence, threshold at the score
        histogram's valley) or ``"fs"`` (match probabilities of field-level
        Fellegi-Sunter models fitted per party pair without labels; ``res.threshold`` is
        then a probability). ``model``: with ``"fs"``, reuse the ``"model"`` of an earlier
        run's ``report.json`` instead of fitting again.

    Returns
    -------
    LinkResult
        ``res.to_pandas()`` is one row per input row with its entity id (and, for the
        batches passed, its record id, input row number and the rejected rows);
        ``res.write(folder)`` writes the coordinator's results folder.

    Raises
    ------
    EncodingFileError, TamperedFileError
        A file cannot be read or fails its checksum.
    IncompatibleEncodingsError, SecretMismatchError
        Inputs encoded with different schemas or secrets (the message names both).
    """
    if isinstance(inputs, str | os.PathLike) or not isinstance(inputs, Sequence):
        msg = f"inputs must be a list of EncodedBatch objects or .hme paths, got {_kind(inputs)}"
        raise TypeError(msg)
    with ExitStack() as stack:
        encodings: list[Any] = []
        held: list[HeldRecords | None] = []
        for item in inputs:
            if isinstance(item, str | os.PathLike):
                item = stack.enter_context(EncodingFile.open(item))
            if isinstance(item, EncodingFile):
                encodings.append(item)
                held.append(None)
            elif _is_batch(item):
                encodings.append(_CoordinatorView(item))
                held.append(_held_records(item))
            else:
                msg = f"cannot link a {_kind(item)}: pass EncodedBatch objects or .hme paths"
                raise HashmatchError(msg, hint="make batches with hm.encode(...)")
        infos = [
            file_info(e, str(e.path)) if isinstance(e, EncodingFile) else info_of(e)
            for e in encodings
        ]
        result = link_encodings(
            encodings,
            infos=infos,
            threshold=threshold,
            dedup=dedup,
            blocking=blocking,
            conflict_margin=conflict_margin,
            progress=progress,
            allow_costly=allow_costly,
            memory=memory,
            engine=engine_named(engine, scheduler),
            scoring=scoring,
            model=model,
        )
    return dataclasses.replace(result, held=tuple(held))


class _CoordinatorView:
    """What the pipeline may read of a batch: its encodings, row tokens and the facts its
    file header would hold (party, schema, secret commitment), never its record ids or
    rejected rows. Anything else raises AttributeError."""

    def __init__(self, batch: Any) -> None:
        self._batch = batch

    @property
    def clks(self) -> npt.NDArray[np.uint64]:
        return self._batch.clks

    @property
    def tokens(self) -> Mapping[str, npt.NDArray[np.uint8]]:
        return self._batch.tokens

    @property
    def present(self) -> npt.NDArray[np.bool_]:
        return self._batch.present

    @property
    def row_tokens(self) -> npt.NDArray[np.uint8]:
        return self._batch.row_tokens

    @property
    def header(self) -> Any:
        return self._batch.header

    @property
    def party(self) -> str:
        return self._batch.party

    @property
    def schema(self) -> Any:
        return self._batch.schema

    @property
    def secret_commitment(self) -> str:
        return self._batch.secret_commitment


def _is_batch(item: Any) -> bool:
    """An ``EncodedBatch`` (checked by shape, so the coordinator side need not import the
    encoder to recognise one)."""
    return all(hasattr(item, name) for name in ("clks", "row_tokens", "record_ids", "rejects"))


def _held_records(batch: Any) -> HeldRecords:
    return HeldRecords(
        record_ids=tuple(batch.record_ids),
        row_numbers=batch.row_numbers,
        rejected_rows=batch.rejected_rows,
        reject_reasons=tuple(batch.reject_reasons()),
    )


def _kind(obj: Any) -> str:
    return type(obj).__name__
