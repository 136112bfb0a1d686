"""The party-side encoding run: records in, encoding file + lookup + rejects report out.

:func:`encode_file` streams a CSV file chunk by chunk (memory bounded by one chunk,
whatever the file's size; parsed by pyarrow where that gives exactly the rows of the
Python reader, see :mod:`hashmatch.encode.sources.columnar`) through the
:class:`~hashmatch.encode.encoder.ChunkEncoder` into an
:class:`~hashmatch.encfile.EncodingWriter`, and writes beside it

* the *lookup* file (CSV ``row_token,record_id``; mode 0600): the only link between the
  opaque row tokens in the encoding file and the party's own ids. It never leaves the
  party. Row tokens are the record ids under the party's *row key*
  (:class:`~hashmatch.encode.keys.RowKey`, ``LOOKUP.rowkey`` unless given; created on
  first use, reused after), so a record keeps its token from one run to the next;
* the *rejects* report (CSV ``row,column,reason``): data row number, column name and reason
  code of every row that was not encoded, never a value.

The three are committed as one unit (:class:`hashmatch.output_set.OutputSet`): written into
a sibling stage, then renamed into place, so they appear only if the whole run succeeds and a
crash leaves the old set or the new one, never an old lookup beside a new ``.hme``. Existing
outputs are replaced only with ``force``; the run's own inputs never
(:mod:`hashmatch.output_policy`). With ``seal_for``, the ``.hme`` is sealed for the
coordinator (:mod:`hashmatch.seal.envelope`) and the plain encodings live only in an
anonymous file (:mod:`hashmatch.anonymous_file`), never under a name on disk. The returned
:class:`EncodeSummary` accounts for every data row: ``read == encoded + rejected``.
:func:`encode_records` (``hm.encode``) does the same in memory for a DataFrame, an
iterable of dicts or a CSV/Parquet file, into an :class:`EncodedBatch` that keeps the
rejected rows' numbers and reasons beside the encodings.
"""

from __future__ import annotations

import csv
import functools
import os
import shutil
import time
from collections import Counter
from collections.abc import Generator, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from hashmatch._api.display import html_card
from hashmatch._progress import ProgressHook
from hashmatch.anonymous_file import anonymous_file
from hashmatch.atomic import atomic_write
from hashmatch.collector import collector_paused
from hashmatch.collector import step as collector_step
from hashmatch.csv_cells import safe_cell
from hashmatch.encfile import EncodingWriter, Header, new_header
from hashmatch.encode._rows import lookup_lines
from hashmatch.encode.columns import ArrowChunk
from hashmatch.encode.encoder import ChunkEncoder, EncodedChunk
from hashmatch.encode.keys import LinkageSecret, RowKey
from hashmatch.encode.parallel import (
    EncoderSetup,
    check_workers,
    encode_chunks,
    pooled_chunk_rows,
)
from hashmatch.encode.records import FieldStats, Reject
from hashmatch.encode.sources.rows import (
    ROW_REASONS,
    Chunk,
    RowSource,
    no_data_rows,
    open_source,
)
from hashmatch.encode.tokens import TOKEN_BYTES
from hashmatch.errors import InputDataError
from hashmatch.lookup import LOOKUP_HEADER
from hashmatch.output_set import OutputSet
from hashmatch.party_names import check_party_name
from hashmatch.schema import load_mapping, load_schema, resolve_columns
from hashmatch.schema.hardening import header_extra
from hashmatch.schema.model import PartyMapping, ResolvedMapping, Schema

if TYPE_CHECKING:
    from hashmatch.seal.keyfiles import CoordinatorPublicKey, PartySigningKey

PathLike = str | os.PathLike[str]
#: Suffix dropped from a sealed output's name to name its lookup and rejects files.
SEALED_SUFFIX = ".sealed"
#: Reason codes of rejects produced here (normaliser codes appear as ``required.<code>``).
REJECT_REASONS: dict[str, str] = {
    **ROW_REASONS,
    "record_id.empty": "the record-id column is empty, so the row could never be rejoined",
    "record_id.duplicate": "an earlier row has the same record id (it keeps it)",
    "required.*": "a required field is missing or invalid (the normaliser's reason follows)",
}
#: The fix to suggest when no row was encoded, by the most frequent reject reason.
_NOTHING_ENCODED_HINTS = {
    "row.undecodable": "pass the file's encoding with --input-encoding, e.g. latin-1 or cp1252",
    "row.column_count": "check the delimiter (--delimiter) and the quoting of the file",
    "": "see why with hashmatch profile, or encode with --fail-fast to stop at the first "
    "rejected row",
}


@dataclass
class EncodeSummary:
    """What an encoding run did. Counts and reason codes only, never a value."""

    party: str
    schema_fingerprint: str
    read: int = 0  # data rows read
    encoded: int = 0
    rejected: int = 0
    reject_reasons: Counter[str] = field(default_factory=Counter)  # a row may have several
    fields: dict[str, FieldStats] = field(default_factory=dict)  # schema order; encoded rows
    absent_fields: tuple[str, ...] = ()
    output: Path | None = None
    lookup: Path | None = None
    rejects: Path | None = None
    row_key: Path | None = None  # the row key file used (encode_file)
    row_key_created: bool = False  # True when this run made it
    seconds: float = 0.0

    def add(self, chunk: Chunk | ArrowChunk, encoded: EncodedChunk) -> None:
        self.read += chunk.read
        self.encoded += encoded.rows
        self.rejected += len(chunk.bad_rows) + len({r.row for r in encoded.rejects})
        self.reject_reasons.update(r.reason for r in chunk.bad_rows)
        self.reject_reasons.update(r.reason for r in encoded.rejects)
        for name, stats in encoded.stats.items():
            self.fields.setdefault(name, FieldStats()).add(stats)

    def finish(self, order: list[str], absent: tuple[str, ...], started: float) -> None:
        self.absent_fields = absent
        for name in absent:
            self.fields[name] = FieldStats.for_absent(self.encoded)
        self.fields = {name: self.fields.get(name, FieldStats()) for name in order}
        self.seconds = time.perf_counter() - started
        if self.read != self.encoded + self.rejected:  # pragma: no cover - an invariant
            msg = f"row accounting broken: read {self.read} != {self.encoded} + {self.rejected}"
            raise AssertionError(msg)


@dataclass
class EncodedBatch:
    """Encodings held in memory (notebooks, tests); :meth:`write` makes the .hme file."""

    schema: Schema
    party: str
    secret_commitment: str
    clks: npt.NDArray[np.uint64]
    tokens: dict[str, npt.NDArray[np.uint8]]
    present: npt.NDArray[np.bool_]
    row_tokens: npt.NDArray[np.uint8]
    record_ids: list[str]
    rejects: list[Reject]
    summary: EncodeSummary
    row_key: RowKey | None = None  # the key the row tokens were made with (keep it to reuse)

    @property
    def rows(self) -> int:
        """Rows encoded (rejected rows are not counted; see :attr:`rejected_rows`)."""
        return len(self.record_ids)

    @property
    def rejected_rows(self) -> npt.NDArray[np.int64]:
        """Data row numbers (1-based, header not counted) of the rows not encoded."""
        return np.unique(np.array([r.row for r in self.rejects], dtype=np.int64))

    @property
    def row_numbers(self) -> npt.NDArray[np.int64]:
        """Data row number of each encoded row, in encoding order (row k of a DataFrame
        is ``df.iloc[k - 1]``): every row read, less the rejected ones."""
        numbers = np.setdiff1d(
            np.arange(1, self.summary.read + 1, dtype=np.int64), self.rejected_rows
        )
        if len(numbers) != self.rows:  # pragma: no cover - the summary's row accounting
            msg = f"row accounting broken: {len(numbers)} numbers for {self.rows} rows"
            raise AssertionError(msg)
        return numbers

    def reject_reasons(self) -> list[str]:
        """Per rejected row (in :attr:`rejected_rows` order), its reasons as text:
        ``"required.empty (surname)"``, several joined by ``"; "``. Codes and column
        names only, never a value (see :data:`REJECT_REASONS`)."""
        by_row: dict[int, list[str]] = {}
        for r in self.rejects:
            by_row.setdefault(r.row, []).append(
                f"{r.reason} ({r.column})" if r.column else r.reason
            )
        return ["; ".join(by_row[row]) for row in sorted(by_row)]

    def __repr__(self) -> str:
        rejected = self.summary.rejected
        reasons = ", ".join(
            f"{code}: {n}" for code, n in self.summary.reject_reasons.most_common(3)
        )
        return (
            f"EncodedBatch(party={self.party!r}, rows={self.rows}, rejected={rejected}"
            + (f" ({reasons})" if reasons else "")
            + f", clk_bits={self.schema.clk_bits}, tokens={len(self.tokens)}"
            + f", schema={self.schema.name or '<unnamed>'!r} {self.schema.fingerprint[:19]})"
        )

    def _repr_html_(self) -> str:
        return _batch_html(self)

    def write(self, path: PathLike, *, lookup: PathLike | None = None, force: bool = False) -> Path:
        """Write the encoding file (and, if given, the party's lookup file) as one unit.

        Existing files are replaced only with ``force`` (see :mod:`hashmatch.output_policy`).
        """
        out = Path(path)
        targets = [out] if lookup is None else [out, Path(lookup)]
        with OutputSet(targets, force=force) as stage:
            with _writer(stage.path(out), self.schema, self.party, self.secret_commitment) as w:
                w.append(self.clks, self.tokens, self.present, self.row_tokens)
            if lookup is not None:
                with _lookup_writer(stage.path(lookup)) as lookup_csv:
                    lookup_csv.write(self.row_tokens, self.record_ids)
        return out

    @functools.cached_property
    def header(self) -> Header:
        """What the .hme file of these encodings would say about itself (no sections yet):
        the coordinator reads a batch and a file through the same header."""
        fields = _header_fields(self.schema, self.party, self.secret_commitment)
        return new_header(rows=len(self.row_tokens), **fields)


@collector_paused()  # as encode_file
def encode_records(
    records: Iterable[Mapping[str, Any]] | PathLike | Any,
    *,
    schema: Schema | PathLike | Mapping[str, Any],
    secret: LinkageSecret | PathLike,
    party: str,
    mapping: PartyMapping | PathLike | Mapping[str, Any] | None = None,
    chunk_rows: int = 50_000,
    row_key: RowKey | PathLike | None = None,
    workers: int | None = None,
) -> EncodedBatch:
    """Encode a party's records into an in-memory :class:`EncodedBatch` (``hm.encode``).

    Parameters
    ----------
    records
        A pandas DataFrame, an iterable of dicts, or the path of a CSV file (streamed,
        as by :func:`encode_file`; gzip-compressed or not) or a Parquet file (told by
        its magic bytes). Cells are
        read as text (``None``/NaN are empty, numbers their ``str``): read a DataFrame
        with ``dtype=str`` so that ids, postcodes and dates keep their exact text.
    schema, secret, party
        The shared schema (object, file or dict), the linkage secret (object or file)
        and this party's name.
    mapping
        The party's column mapping (object, file or dict such as
        ``{"record_id": "customer_id", "fields": {"surname": {"column": "last"}}}``);
        None maps fields to columns of the same name.
    row_key
        The party's row key (object or file, see :func:`encode_file`): it keeps row
        tokens stable across runs. Without it a fresh key is used (``batch.row_key``;
        ``batch.row_key.write(path)`` keeps it).
    workers
        Processes encoding chunks of ``chunk_rows`` rows at once (default: every CPU this
        process may use); the encodings are the same for any number.

    Returns
    -------
    EncodedBatch
        The encodings of the accepted rows. Rows failing a required field or without a
        record id are not encoded and nothing is raised for them: they are listed in
        ``batch.rejects`` (row number, column, reason code; never a value), counted in
        ``repr(batch)``, and appear as ``status="rejected"`` rows in
        ``hm.link(...).to_pandas()``.

    Example
    -------
    >>> from hashmatch.encode import LinkageSecret
    >>> batch = encode_records(
    ...     [{"surname": "Smith"}, {"surname": ""}],
    ...     schema={"version": 1, "clk": {"bits": 128},
    ...             "fields": [{"name": "surname", "type": "name", "bloom": True}]},
    ...     secret=LinkageSecret(bytes(32)), party="demo")
    >>> batch.clks.shape, batch.present[:, 0].tolist(), batch.summary.encoded
    ((2, 2), [True, False], 2)
    """
    check_party_name(party, where="party")
    workers = check_workers(workers)
    schema, secret = _schema(schema), _secret(secret)
    key = _row_key(row_key)[0] if row_key is not None else RowKey.generate()
    run = _Run(open_source(records), schema, secret, party, mapping, key, workers)
    with closing(run.chunks(chunk_rows)) as chunks:
        parts = list(chunks)
    summary = run.finish()
    words = schema.clk_bits // 64

    def cat(arrays: list[Any], shape: tuple[int, ...], dtype: Any) -> Any:
        return np.concatenate(arrays) if arrays else np.zeros(shape, dtype=dtype)

    rejects = [Reject(b.row, b.column, b.reason) for c, _ in parts for b in c.bad_rows]
    rejects += [r for _, e in parts for r in e.rejects]
    rejects.sort(key=lambda r: r.row)
    return EncodedBatch(
        schema=schema,
        party=party,
        secret_commitment=secret.commitment(),
        clks=cat([e.clks for _, e in parts], (0, words), np.uint64),
        tokens={
            name: cat([e.tokens[name] for _, e in parts], (0, 16), np.uint8)
            for name in schema.exact_token_names
        },
        present=cat([e.present for _, e in parts], (0, len(schema.fields)), np.bool_),
        row_tokens=cat([e.row_tokens for _, e in parts], (0, 16), np.uint8),
        record_ids=[rid for _, e in parts for rid in e.record_ids],
        rejects=rejects,
        summary=summary,
        row_key=key,
    )


# The cyclic collector would walk the encoder's memos again and again and find no
# cycles (hashmatch.collector); forked workers inherit the pause.
@collector_paused()
def encode_file(
    path: PathLike,
    *,
    schema: Schema | PathLike | Mapping[str, Any],
    secret: LinkageSecret | PathLike,
    party: str,
    out: PathLike,
    lookup: PathLike | None = None,
    rejects: PathLike | None = None,
    mapping: PartyMapping | PathLike | Mapping[str, Any] | None = None,
    chunk_rows: int = 50_000,
    input_encoding: str | None = None,
    delimiter: str | None = None,
    fail_fast: bool = False,
    max_rejects: int | None = None,
    progress: ProgressHook | None = None,
    row_key: RowKey | PathLike | None = None,
    force: bool = False,
    seal_for: CoordinatorPublicKey | None = None,
    sign: PartySigningKey | None = None,
    keep_plain: PathLike | None = None,
    protected: Sequence[PathLike | None] = (),
    workers: int | None = None,
) -> EncodeSummary:
    """Encode a party's CSV file into an encoding file, a lookup file and a rejects report.

    Parameters
    ----------
    path
        The party's CSV file (header row first; delimiter sniffed unless ``delimiter``;
        gzip-compressed or not; ``-`` reads standard input) or Parquet file.
    schema, secret, party
        The shared schema, the linkage secret (object or file) and this party's name.
    out
        The ``.hme`` file to write (the sealed file with ``seal_for``). ``lookup``
        defaults to ``out`` with suffix ``.lookup``, ``rejects`` to ``out`` with suffix
        ``.rejects.csv`` (after dropping ``.sealed``: crm.hme.sealed -> crm.lookup).
    mapping
        The party's column mapping (object, file or dict); None maps fields to columns
        of the same name.
    chunk_rows
        Rows per chunk: memory is proportional to it, not to the file.
    fail_fast, max_rejects
        Stop with an error at the first reject, or once more than ``max_rejects`` rows
        are rejected; by default every bad row is reported and the run continues.
    progress
        ``hook(bytes_done, bytes_total)`` called after each chunk.
    row_key
        The party's row key, or its file (read if it exists, else created there); default
        ``lookup`` with suffix ``.rowkey``. The same key gives the same record id the
        same row token on every run, which an entity registry needs to recognise records.
        A new key file joins the run's outputs (it appears only if the run succeeds).
    force
        Replace existing outputs (never the files this run reads, the row key included).
    seal_for, sign
        Seal ``out`` for this coordinator key, signed with this party key (whose party
        must be ``party``). The plain encodings stay in an anonymous file.
    keep_plain
        With ``seal_for``: also write the unsealed ``.hme`` here.
    protected
        More files this run reads (the schema or mapping file when objects are passed),
        never written over.
    workers
        Processes encoding chunks at once (default: every CPU this process may use). The
        outputs are byte for byte the same for any number (see
        :mod:`hashmatch.encode.parallel`); several workers read pieces of a chunk
        (:func:`~hashmatch.encode.parallel.pooled_chunk_rows`) and cut the last ones
        smaller, so that they finish together.

    Returns
    -------
    EncodeSummary
        Counts per outcome; ``read == encoded + rejected``.

    Raises
    ------
    InputDataError
        Missing/empty/header-only/binary file, a first row that looks like data, an
        encoding that contradicts the bytes, no row encoded, ``fail_fast`` reject.
    MappingError, SchemaError, SecretError
        From the mapping, the schema or the secret file.
    PartyNameError
        ``party`` is not a valid party name (see :mod:`hashmatch.party_names`).
    OutputError
        An output exists (without ``force``), is one of the inputs, or cannot be written;
        checked before the run.
    """
    if chunk_rows < 1:
        msg = f"chunk_rows must be at least 1, got {chunk_rows}"
        raise ValueError(msg)
    if seal_for is None and (sign is not None or keep_plain is not None):
        msg = "sign and keep_plain only apply with seal_for"
        raise ValueError(msg)
    check_party_name(party)
    workers = check_workers(workers)
    if sign is not None and sign.party != party:
        from hashmatch.errors import KeyFileError

        raise KeyFileError(
            f"the signing key belongs to another party than {party!r}",
            hint="sign with the key made by `hashmatch keygen --party` for this party",
        )
    out = Path(out)
    lookup, rejects = _companions(out, lookup, rejects, sealed=seal_for is not None)
    key_file = (
        None if isinstance(row_key, RowKey) else Path(row_key or lookup.with_suffix(".rowkey"))
    )
    key, created = _row_key(row_key if isinstance(row_key, RowKey) else key_file)
    reads: list[PathLike | None] = [path, *protected, None if created else key_file]
    reads += [p for p in (schema, secret, mapping) if isinstance(p, (str, os.PathLike))]
    targets = [out, lookup, rejects, *([Path(keep_plain)] if keep_plain is not None else [])]
    if created and key_file is not None:  # a new key is an output: it appears with the rest
        targets.append(key_file)
    stage = OutputSet(targets, force=force, reads=reads)  # the output policy, before work
    schema, secret = _schema(schema), _secret(secret)
    source = open_source(path, encoding=input_encoding, delimiter=delimiter)
    run = _Run(source, schema, secret, party, mapping, key, workers)
    with ExitStack() as stack:
        stack.enter_context(stage)
        # sealed: the plain .hme never gets a name (an anonymous file, closed with the stack)
        plain: IO[bytes] | None = (
            stack.enter_context(anonymous_file("hashmatch-encode")) if seal_for else None
        )
        hme_sink = plain if plain is not None else stage.path(out)
        writer = stack.enter_context(_writer(hme_sink, schema, party, secret.commitment()))
        lookup_csv = stack.enter_context(_lookup_writer(stage.path(lookup)))
        rejects_csv = csv.writer(
            stack.enter_context(
                atomic_write(stage.path(rejects), "w", newline="", encoding="utf-8")
            )
        )
        rejects_csv.writerow(("row", "column", "reason"))
        for chunk, encoded in stack.enter_context(closing(run.chunks(chunk_rows))):
            chunk_rejects = sorted(
                [Reject(b.row, b.column, b.reason) for b in chunk.bad_rows] + encoded.rejects,
                key=lambda r: r.row,
            )
            if chunk_rejects and fail_fast:
                first = chunk_rejects[0]
                raise InputDataError(
                    f"row rejected ({first.reason}); stopping because of --fail-fast",
                    file=source.name,
                    row=first.row,
                    column=first.column or None,
                    hint="drop --fail-fast to report bad rows in the rejects file and go on",
                )
            rejects_csv.writerows(
                (r.row, safe_cell(r.column), r.reason) for r in chunk_rejects
            )
            writer.append(encoded.clks, encoded.tokens, encoded.present, encoded.row_tokens)
            lookup_csv.write(encoded.row_tokens, encoded.record_ids)
            if max_rejects is not None and run.summary.rejected > max_rejects:
                raise InputDataError(
                    f"more than {max_rejects} rows rejected; stopping (nothing was written)",
                    file=source.name,
                    hint="check the input encoding, delimiter and mapping with hashmatch profile",
                )
            if progress is not None:
                progress(*source.progress())
        summary = run.finish()
        writer.close()
        if plain is not None:
            _seal(plain, stage, out, keep_plain, party, seal_for, sign)
        if created and key_file is not None:
            key.write(stage.path(key_file))
    summary.output, summary.lookup, summary.rejects = out, lookup, rejects
    summary.row_key, summary.row_key_created = key_file, created
    return summary


def _companions(
    out: Path, lookup: PathLike | None, rejects: PathLike | None, *, sealed: bool
) -> tuple[Path, Path]:
    """The lookup and rejects paths: as given, else named after ``out``."""
    stem = out.with_name(out.name.removesuffix(SEALED_SUFFIX) or out.name) if sealed else out
    return (
        Path(lookup) if lookup is not None else stem.with_suffix(".lookup"),
        Path(rejects) if rejects is not None else stem.with_suffix(".rejects.csv"),
    )


def _seal(
    plain: IO[bytes],
    stage: OutputSet,
    out: Path,
    keep_plain: PathLike | None,
    party: str,
    recipient: CoordinatorPublicKey | None,
    signer: PartySigningKey | None,
) -> None:
    """Seal the plain encodings into the staged ``out`` (and copy them to ``keep_plain``)."""
    from hashmatch.seal.envelope import seal_file

    assert recipient is not None
    seal_file(plain, stage.path(out), party=party, recipient=recipient, signer=signer)
    if keep_plain is not None:
        plain.seek(0)
        with atomic_write(stage.path(keep_plain), "wb", permissions=0o600) as fh:
            shutil.copyfileobj(plain, fh)



class _Run:
    """One pass over a source: binds the mapping to its header, encodes its chunks."""

    def __init__(
        self,
        source: RowSource,
        schema: Schema,
        secret: LinkageSecret,
        party: str,
        mapping: PartyMapping | PathLike | Mapping[str, Any] | None,
        row_key: RowKey,
        workers: int = 1,
    ) -> None:
        self.source = source
        self._secret, self._row_key, self._workers = secret, row_key, workers
        party_mapping = (
            mapping if isinstance(mapping, PartyMapping) else load_mapping(mapping, schema)
        )
        self.resolved: ResolvedMapping = resolve_columns(
            party_mapping, schema, source.header, source.name
        )
        self.encoder = ChunkEncoder(schema, secret, self.resolved, source.header, row_key)
        self.summary = EncodeSummary(party=party, schema_fingerprint=schema.fingerprint)
        self._started = time.perf_counter()

    def chunks(self, chunk_rows: int) -> Generator[tuple[Chunk | ArrowChunk, EncodedChunk]]:
        """Each chunk read with its encodings, in reading order (on ``workers`` processes)."""
        setup = EncoderSetup.of(
            self.encoder.schema, self.resolved, self.source.header, self._secret, self._row_key
        )
        encoded_chunks = encode_chunks(
            self.source.chunks(pooled_chunk_rows(chunk_rows, self._workers)),
            self.encoder,
            setup,
            self._workers,
            progress=self.source.progress,
        )
        with closing(encoded_chunks):
            for chunk, encoded in encoded_chunks:
                self.summary.add(chunk, encoded)
                yield chunk, encoded
                collector_step()  # the run pauses the collector (see encode_file)

    def finish(self) -> EncodeSummary:
        if self.summary.read == 0:
            raise no_data_rows(self.source.name)
        if self.summary.encoded == 0:  # an empty encoding would link as if all were fine
            reasons = self.summary.reject_reasons.most_common(4)
            raise InputDataError(
                f"no row was encoded: all {self.summary.read:,} rows were rejected ("
                + ", ".join(f"{reason} {n:,}" for reason, n in reasons)
                + "); nothing was written",
                file=self.source.name,
                hint=_NOTHING_ENCODED_HINTS.get(reasons[0][0], _NOTHING_ENCODED_HINTS[""]),
            )
        order = [f.name for f in self.encoder.schema.fields]
        self.summary.finish(order, self.resolved.absent_fields, self._started)
        return self.summary


def _schema(schema: Schema | PathLike | Mapping[str, Any]) -> Schema:
    return schema if isinstance(schema, Schema) else load_schema(schema)


def _secret(secret: LinkageSecret | PathLike) -> LinkageSecret:
    return secret if isinstance(secret, LinkageSecret) else LinkageSecret.load(secret)


def _row_key(row_key: RowKey | PathLike | None) -> tuple[RowKey, bool]:
    """The key, and True when its file does not exist yet (a new key, for the caller to
    write once the run has succeeded)."""
    if isinstance(row_key, RowKey):
        return row_key, False
    assert row_key is not None
    if Path(row_key).exists():
        return RowKey.load(row_key), False
    return RowKey.generate(), True


def _writer(
    out: Path | IO[bytes], schema: Schema, party: str, commitment: str
) -> EncodingWriter:
    return EncodingWriter(out, **_header_fields(schema, party, commitment))


def _header_fields(schema: Schema, party: str, commitment: str) -> dict[str, Any]:
    return {
        "party": party,
        "schema_fingerprint": schema.fingerprint,
        "clk_bits": schema.clk_bits,
        "segments": schema.segments,
        "token_names": schema.exact_token_names,
        "field_names": [f.name for f in schema.fields],
        "secret_commitment": commitment,
        "extra": _header_extra(schema),
    }


def _header_extra(schema: Schema) -> dict[str, Any]:
    """What the coordinator may know beyond the layout: each token column's purpose
    (a field's exact token is an identifier; match keys say match or block), so it
    scores evidence without guessing from names; each field's type (a date is compared
    by containment, see hashmatch.link.segments); the stable fields (hashmatch.link.scoring); the
    swap pairs (fields sharing a Bloom key); and the hardening profile. All of it is in
    the shared schema, which is no secret."""
    kinds = {f.name: "identifier" for f in schema.fields if f.exact}
    kinds.update({key.name: key.purpose for key in schema.match_keys})
    types = {f.name: f.type for f in schema.fields}
    stable = [f.name for f in schema.fields if f.stable]
    return {
        "token_kinds": kinds,
        "field_types": types,
        "stable_fields": stable,
        "swap_pairs": [list(pair) for pair in schema.swap_pairs],
        **header_extra(schema.hardening),
    }


class _LookupWriter:
    """Writes the lookup CSV (``row_token,record_id``, format in :mod:`hashmatch.lookup`):
    ASCII ids needing no quoting or escaping (the usual case) as one compiled pass per
    chunk, others through the csv module and :func:`~hashmatch.csv_cells.safe_cell`."""

    def __init__(self, fh: Any) -> None:
        self._fh = fh
        self._csv = csv.writer(fh)
        self._csv.writerow(LOOKUP_HEADER)

    def write(self, row_tokens: npt.NDArray[np.uint8], record_ids: list[str]) -> None:
        if not record_ids:
            return
        lines = lookup_lines(row_tokens, record_ids)
        if lines is None:
            tokens = row_tokens.tobytes().hex(",", -TOKEN_BYTES).split(",")  # one split, in C
            self._csv.writerows(zip(tokens, map(safe_cell, record_ids), strict=True))
            return
        self._fh.flush()  # the text layer's pending rows first, then the bytes
        self._fh.buffer.write(lines)


@contextmanager
def _lookup_writer(path: Path) -> Iterator[_LookupWriter]:
    """The lookup file links row tokens to the party's ids: owner-only, like the secret."""
    with atomic_write(path, "w", newline="", encoding="utf-8", permissions=0o600) as fh:
        yield _LookupWriter(fh)


def _batch_html(batch: EncodedBatch) -> str:
    """The notebook card of a batch: counts, then per field how many rows hold a value."""
    summary = batch.summary
    facts = [
        ("party", batch.party),
        ("rows encoded", batch.rows),
        ("rejected", summary.rejected),
        ("clk bits", batch.schema.clk_bits),
        ("schema", f"{batch.schema.name or '<unnamed>'} {batch.schema.fingerprint[:19]}"),
    ]
    fields = [
        (
            name,
            stats.valid,
            sum(stats.missing.values()),
            sum(stats.invalid.values()),
            ", ".join(f"{code}: {n}" for code, n in stats.invalid.most_common(2)),
        )
        for name, stats in summary.fields.items()
    ]
    rejects = [(code, n) for code, n in summary.reject_reasons.most_common()]
    html = html_card(
        "EncodedBatch",
        facts,
        (("field", "valid", "missing", "invalid", "top invalid reasons"), fields),
    )
    if rejects:
        html += html_card("rejected rows by reason", [], (("reason", "rows"), rejects))
    return html
