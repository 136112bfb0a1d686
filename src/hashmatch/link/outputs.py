"""Write a link's results folder as one unit.

``RESULTS/`` after ``hashmatch link``:

* ``entities.csv`` - ``entity_id,party,row_token,run_id``, every row of every party (a row
  nobody matched is an entity of its own). For the coordinator only: it shows which
  parties hold each entity.
* ``<party>.csv`` - one per party, only that party's rows: ``row_token,entity_id``, plus
  ``other_parties`` (``;``-separated names of the other parties holding the same entity,
  never their rows) with ``share_party_names``, then ``run_id``.
* ``pairs.csv`` (opt-in) - ``party_a,row_token_a,party_b,row_token_b,score`` for the
  pairs merged into entities: similarity scores leak more than the entities themselves.
  With probabilistic scoring also the waterfall of each pair: ``prior_weight``, per field
  ``FIELD_level`` and ``FIELD_weight`` (bits), and ``total_weight`` (their sum, the log2
  odds whose probability is ``score``; :mod:`hashmatch.link.explain`); then ``run_id``.
* ``relationships.csv`` - ``entity_a,entity_b,relation,shared_fields,differing_fields``,
  then ``run_id``: pairs of entities kept apart whose records look alike (twins, couples,
  parents and children: :mod:`hashmatch.link.relationships`), each pair once, with the
  names of the fields their records agreed on exactly and clearly disagreed on. Never
  merged; for the coordinator only, like ``entities.csv``.
* ``score-histogram.png`` - candidate score distribution and the threshold (for terminals).
* ``report.html`` - the report to read in a browser (:mod:`hashmatch.report`): inputs,
  each party pair's score distribution with its cut, entity sizes, blocking, data quality.
* ``report.json`` - layout ``format_version`` :data:`REPORT_FORMAT_VERSION`: the
  ``run_id``, inputs (party, file, rows, digest, fingerprint, encoder version, CLK bits),
  counts, the threshold and how it was chosen, per party pair blocking and solving
  statistics (incl. reduction ratio), entity statistics, and timings per stage. Counts
  only: no row token, score or value.

The *run id* (:data:`RUN_ID_COLUMN`, 16 random hex digits, new for every folder written)
ties each file to the run that wrote it: ``reveal`` and ``evaluate`` refuse a file whose
run id differs from the ``report.json`` beside it. The folder is written into a sibling
stage and swapped in whole (:mod:`hashmatch.output_set`): after a crash it is the old
folder or the new one, and a folder that is not empty is replaced only with ``force``,
so no file of an earlier run survives beside a new one. Every CSV cell is
spreadsheet-safe (:mod:`hashmatch.csv_cells`).

Entity ids are ``E`` + a zero-padded number; the numbering is a keyed permutation (see
:func:`hashmatch.link.entities.number_entities`) and says nothing about rows or parties.
"""

from __future__ import annotations

import csv
import dataclasses
import itertools
import json
import os
import re
import secrets
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from hashmatch._version import __version__
from hashmatch.atomic import atomic_write, atomic_write_text
from hashmatch.csv_cells import csv_field, safe_cell
from hashmatch.errors import ResultsError
from hashmatch.link.explain import explanation_header
from hashmatch.link.relationships import LOOKALIKE
from hashmatch.output_policy import check_output_folder
from hashmatch.output_set import OutputSet, clean_stale
from hashmatch.party_names import check_party_name

if TYPE_CHECKING:
    from hashmatch.link.result import LinkResult

__all__ = [
    "ENTITIES_FILE",
    "HISTOGRAM_FILE",
    "HTML_FILE",
    "PAIRS_FILE",
    "RELATIONSHIPS_FILE",
    "RELATIONSHIPS_HEADER",
    "REPORT_FILE",
    "REPORT_FORMAT_VERSION",
    "RUN_ID_COLUMN",
    "ResultFiles",
    "build_report",
    "check_results_folder",
    "entity_id_strings",
    "is_results_file",
    "party_file_name",
    "row_token_strings",
    "write_results",
]

REPORT_FORMAT_VERSION = 1
ENTITIES_FILE = "entities.csv"
PAIRS_FILE = "pairs.csv"
RELATIONSHIPS_FILE = "relationships.csv"
RELATIONSHIPS_HEADER = ["entity_a", "entity_b", "relation", "shared_fields", "differing_fields"]
REPORT_FILE = "report.json"
HISTOGRAM_FILE = "score-histogram.png"
HTML_FILE = "report.html"
#: Last column of every CSV file of a results folder, and a key of report.json.
RUN_ID_COLUMN = "run_id"
_RESERVED = {
    Path(n).stem
    for n in (ENTITIES_FILE, PAIRS_FILE, RELATIONSHIPS_FILE, REPORT_FILE, HISTOGRAM_FILE,
              HTML_FILE)
}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


@dataclasses.dataclass(frozen=True)
class ResultFiles:
    """Paths written by :func:`write_results`."""

    entities: Path
    parties: dict[str, Path]
    report: Path
    histogram: Path | None
    pairs: Path | None
    run_id: str = ""
    html: Path | None = None
    relationships: Path | None = None


def is_results_file(name: str) -> bool:
    """True for a file name a results folder holds (what ``force`` may replace)."""
    return name in (REPORT_FILE, HISTOGRAM_FILE, HTML_FILE) or name.endswith(".csv")


def check_results_folder(
    out_dir: str | os.PathLike[str],
    *,
    force: bool = False,
    reads: Iterable[str | os.PathLike[str] | None] = (),
) -> Path:
    """Check before linking that ``out_dir`` may be written (see
    :func:`hashmatch.output_policy.check_output_folder`): empty or missing, or ``force``
    and holding only results files and none of ``reads``. A killed run's half-swapped
    folder is repaired first (:func:`hashmatch.output_set.clean_stale`)."""
    clean_stale(Path(os.path.abspath(out_dir)).parent)
    return check_output_folder(out_dir, force=force, reads=reads, replaceable=is_results_file)


def party_file_name(party: str) -> str:
    """``<party>.csv`` with characters unsafe in file names replaced by ``_``."""
    stem = _UNSAFE.sub("_", party).lstrip(".") or "_"
    return f"{stem}.csv"


def entity_id_strings(entities: npt.NDArray[np.int64], n_entities: int) -> list[str]:
    """``E000001``-style ids for entity numbers 0..n-1 (fixed width, at least 6 digits).

    Built as one fixed-width byte buffer (digits by vectorised division), which is much
    faster than formatting a million strings one by one.
    """
    width = max(6, len(str(n_entities)))
    number = np.asarray(entities, dtype=np.int64) + 1
    text = np.empty((len(number), width + 1), np.uint8)
    text[:, 0] = ord("E")
    for k in range(width, 0, -1):
        text[:, k] = ord("0") + number % 10
        number = number // 10
    flat = text.tobytes().decode("ascii")
    step = width + 1
    return [flat[k : k + step] for k in range(0, len(flat), step)]


def write_results(
    result: LinkResult,
    out_dir: str | os.PathLike[str],
    *,
    write_pairs: bool = False,
    share_party_names: bool = False,
    histogram: bool = True,
    started: float | None = None,
    force: bool = False,
    reads: Iterable[str | os.PathLike[str] | None] = (),
    report_extra: Mapping[str, Any] | None = None,
) -> ResultFiles:
    """Write the results folder for ``result`` (see the module docstring) as one unit.

    The time spent writing goes into ``result.timings["write_outputs"]`` and, when
    ``started`` (a :func:`time.perf_counter` value) is given, the time since then into
    ``result.timings["total"]``, both before report.json is written. ``report_extra``
    adds keys to report.json (and so to report.html), e.g. ``data_quality``.

    ``out_dir`` is created if missing. If it is not empty, it is replaced as a whole with
    ``force`` (only if it holds nothing but results files and none of ``reads``, the
    files the run read), and refused without.

    Raises
    ------
    ResultsError
        Two parties' names give the same file name, or one clashes with a results file.
    PartyNameError
        A party name is not valid (see :mod:`hashmatch.party_names`).
    OutputError
        ``out_dir`` may not be written (see above), or the system refused a write.
    """
    begin = time.perf_counter()
    names = result.party_names
    for name in names:
        check_party_name(name, where="results")
    file_names = [party_file_name(p) for p in names]
    clash = [n for n in file_names if Path(n).stem in _RESERVED]
    if clash or len(set(file_names)) != len(file_names):
        msg = (
            f"{out_dir}: party names give clashing result file names "
            f"({', '.join(sorted(file_names))})"
        )
        raise ResultsError(msg, hint="give each party a distinct name when encoding")
    final = Path(out_dir)
    run_id = secrets.token_hex(8)
    try:
        stage = OutputSet(
            [final], force=force, reads=reads, folder=True, replaceable=is_results_file
        )
        with stage:
            files = _write_folder(
                result, stage.path(final), final, file_names, run_id,
                write_pairs=write_pairs, share_party_names=share_party_names,
                histogram=histogram, begin=begin, started=started,
                report_extra=report_extra,
            )
    except OSError as exc:
        raise ResultsError(f"{final}: cannot write the results folder ({exc.strerror})") from None
    return files


def _write_folder(
    result: LinkResult,
    out: Path,
    final: Path,
    file_names: list[str],
    run_id: str,
    *,
    write_pairs: bool,
    share_party_names: bool,
    histogram: bool,
    begin: float,
    started: float | None,
    report_extra: Mapping[str, Any] | None = None,
) -> ResultFiles:
    """Write every file of the folder into ``out`` (the stage); paths returned under
    ``final``."""
    names = result.party_names
    party_paths: dict[str, Path] = {}
    others = _other_parties(result) if share_party_names else None
    header = ["row_token", "entity_id"] + (["other_parties"] if others else [])
    # Each block of a party's rows goes to its own file and to entities.csv: its strings
    # are made once.
    with atomic_write(out / ENTITIES_FILE, "w", newline="") as entities:
        entities.write(f"entity_id,party,row_token,{RUN_ID_COLUMN}\n")
        for p, (name, file_name) in enumerate(zip(names, file_names, strict=True)):
            party_paths[name] = final / file_name
            party = csv_field(name)
            with atomic_write(out / file_name, "w", newline="") as fh:
                fh.write(",".join([*header, RUN_ID_COLUMN]) + "\n")
                for start, tokens, ids in _row_strings(result, p):
                    extra = [others[p][start : start + len(ids)]] if others else []
                    _write_rows(fh, [tokens, ids, *extra], end=f",{run_id}")
                    _write_rows(entities, [ids, [party] * len(ids), tokens], end=f",{run_id}")

    if write_pairs:
        _write_pairs(out / PAIRS_FILE, result,
                     [row_token_strings(t) for t in result.row_tokens], run_id)
    if result.relationships is not None:
        _write_relationships(out / RELATIONSHIPS_FILE, result, run_id)
    if histogram:
        from hashmatch.link.threshold import write_histogram_png

        write_histogram_png(result.score_sample, result.threshold, out / HISTOGRAM_FILE)
    now = time.perf_counter()
    result.timings["write_outputs"] = now - begin
    if started is not None:
        result.timings["total"] = now - started
    report = {"run_id": run_id, **build_report(result), **(report_extra or {})}
    if result.model is not None:
        report["model"] = result.model
    if result.estimated is not None:
        report["estimated"] = result.estimated
    related = result.relationships
    if related is not None:
        report["relationships"] = {LOOKALIKE: len(related)}
    report["outputs"] = {
        "entities": ENTITIES_FILE,
        "relationships": RELATIONSHIPS_FILE if related is not None else None,
        "parties": {n: f for n, f in zip(names, file_names, strict=True)},
        "pairs": PAIRS_FILE if write_pairs else None,
        "histogram": HISTOGRAM_FILE if histogram else None,
        "other_parties_shared": share_party_names,
        "html": HTML_FILE,
    }
    from hashmatch.report import render_html

    atomic_write_text(out / HTML_FILE, render_html(report))
    atomic_write_text(out / REPORT_FILE, json.dumps(report, indent=2, sort_keys=True) + "\n")
    return ResultFiles(
        final / ENTITIES_FILE,
        party_paths,
        final / REPORT_FILE,
        final / HISTOGRAM_FILE if histogram else None,
        final / PAIRS_FILE if write_pairs else None,
        run_id,
        final / HTML_FILE,
        final / RELATIONSHIPS_FILE if related is not None else None,
    )


def build_report(result: LinkResult) -> dict[str, Any]:
    """The report.json content: inputs, counts, threshold, statistics, timings."""
    rows = sum(p.rows for p in result.parties)
    sizes = (
        np.bincount(np.concatenate(result.entities), minlength=result.n_entities)
        if rows
        else np.zeros(0)
    )
    parties_per_entity = np.zeros(result.n_entities, np.int64)
    for e in result.entities:
        parties_per_entity += np.bincount(e, minlength=result.n_entities) > 0
    return {
        "format_version": REPORT_FORMAT_VERSION,
        "hashmatch_version": __version__,
        "inputs": [dataclasses.asdict(p) for p in result.parties],
        "dedup": result.dedup,
        "threshold": _threshold(result.threshold),
        "counts": {
            "rows": rows,
            "entities": result.n_entities,
            "entities_by_size": _histogram(sizes),
            "entities_by_parties": _histogram(parties_per_entity),
            "linked_pairs": len(result.pairs[4]),
        },
        "party_pairs": [_plain(s) for s in result.pair_stats],
        "entity_merging": _plain(result.entity_stats),
        "token_evidence": _token_evidence(result) if result.model is None else {},
        "borderline_pairs": _borderline_pairs(result),
        "timings_seconds": {k: round(v, 4) for k, v in result.timings.items()},
        "notes": list(result.notes),
    }


#: Linked pairs closest to the threshold described in report.json (levels, never tokens).
BORDERLINE_SAMPLE = 12


def _borderline_pairs(result: LinkResult) -> list[dict[str, Any]]:
    """The linked pairs scoring closest to the threshold, each with its per-field comparison
    levels and weights (``link --scoring fs``: its waterfall), for report.html. No row
    token: only which parties, the score and the levels."""
    why = result.explanations
    pa, _, pb, _, score = result.pairs
    if why is None or not len(score):
        return []
    names = result.party_names
    nearest = np.argsort(np.asarray(score, np.float64) - result.threshold.value, kind="stable")
    out = []
    for k in nearest[:BORDERLINE_SAMPLE].tolist():
        fields = [
            {"field": name, "level": why.level_names[c][int(why.levels[k, c])],
             "weight": round(float(why.weights[k, c]), 3)}
            for c, name in enumerate(why.fields)
        ]
        out.append({"party_a": names[int(pa[k])], "party_b": names[int(pb[k])],
                    "score": round(float(score[k]), 4), "prior": round(float(why.prior[k]), 3),
                    "fields": fields})
    return out


def _token_evidence(result: LinkResult) -> dict[str, dict[str, Any]]:
    """The evidence each exact-token column carried in the scores (report.html draws it)."""
    from hashmatch.link.scoring import DEFAULT_EVIDENCE

    out = {}
    for party in result.parties:
        for name, kind in party.token_kinds.items():
            evidence = DEFAULT_EVIDENCE.get(kind)
            if evidence is not None:
                out[name] = {"kind": kind, "agree_bits": evidence.agree_bits,
                             "disagree_bits": evidence.disagree_bits}
    return out


def _threshold(choice: Any) -> Any:
    to_dict = getattr(choice, "to_dict", None)
    return _plain(to_dict() if callable(to_dict) else choice)


#: Rows whose token and entity id strings are made at once when writing the files (made
#: for all rows at once, the strings took ~200 bytes a row: 4 GB at 20M rows).
_ROWS_PER_BLOCK = 1 << 20


def _row_strings(result: LinkResult, p: int) -> Iterator[tuple[int, list[str], list[str]]]:
    """Party ``p``'s rows a block at a time: the first row, the row tokens and entity ids
    as the files carry them."""
    entities, tokens = result.entities[p], result.row_tokens[p]
    for start in range(0, len(entities), _ROWS_PER_BLOCK):
        stop = start + _ROWS_PER_BLOCK
        yield (start, row_token_strings(tokens[start:stop]),
               entity_id_strings(entities[start:stop], result.n_entities))


def _write_rows(
    fh: IO[str], columns: Sequence[Sequence[str]], *, end: str = "", chunk: int = 100_000
) -> None:
    """CSV rows from columns of already CSV-safe fields (hex, ids, :func:`csv_field`), each
    line ending with ``end`` (the cells every row shares, e.g. ``",<run id>"``).

    A join per chunk is several times faster than csv.writer on millions of rows.
    """
    rows = map(",".join, zip(*columns, strict=True))
    line_end = end + "\n"
    while block := list(itertools.islice(rows, chunk)):
        fh.write(line_end.join(block) + line_end)


def _write_pairs(path: Path, result: LinkResult, tokens: list[list[str]], run_id: str) -> None:
    names = [safe_cell(n) for n in result.party_names]
    pa, ra, pb, rb, score = result.pairs
    order = np.lexsort((rb, pb, ra, pa))
    why = result.explanations
    with atomic_write(path, "w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        header = ["party_a", "row_token_a", "party_b", "row_token_b", "score"]
        writer.writerow(header + (explanation_header(why.fields) if why else []) + [RUN_ID_COLUMN])
        for k in order.tolist():
            a, b = int(pa[k]), int(pb[k])
            writer.writerow(
                [names[a], tokens[a][ra[k]], names[b], tokens[b][rb[k]], f"{score[k]:.4f}"]
                + (why.row(k) if why else [])
                + [run_id]
            )


def _write_relationships(path: Path, result: LinkResult, run_id: str) -> None:
    related = result.relationships
    assert related is not None
    ids_a = entity_id_strings(related.entity_a, result.n_entities)
    ids_b = entity_id_strings(related.entity_b, result.n_entities)
    shared = [";".join(related.field_names(m)) for m in related.shared.tolist()]
    differ = [";".join(related.field_names(m)) for m in related.differ.tolist()]
    with atomic_write(path, "w", newline="") as fh:
        fh.write(",".join([*RELATIONSHIPS_HEADER, RUN_ID_COLUMN]) + "\n")
        _write_rows(fh, [ids_a, ids_b, [LOOKALIKE] * len(related),
                         [csv_field(x) for x in shared], [csv_field(x) for x in differ]],
                    end=f",{run_id}")


def _other_parties(result: LinkResult) -> list[list[str]]:
    """Per party and row: ``;``-joined names of the other parties holding its entity."""
    names = result.party_names
    if len(names) > 62:
        msg = "naming other parties supports at most 62 parties"
        raise ResultsError(msg)
    mask = np.zeros(result.n_entities, np.int64)
    for p, e in enumerate(result.entities):
        np.bitwise_or.at(mask, e, np.int64(1) << p)
    out: list[list[str]] = []
    for p, e in enumerate(result.entities):
        row_masks = mask[e] & ~(np.int64(1) << p)
        uniq, inverse = np.unique(row_masks, return_inverse=True)
        text = [
            csv_field(";".join(n for q, n in enumerate(names) if int(m) >> q & 1)) for m in uniq
        ]
        out.append([text[k] for k in inverse.reshape(-1).tolist()])
    return out


def row_token_strings(tokens: npt.NDArray[np.uint8]) -> list[str]:
    """Row tokens (``uint8[rows, 16]``) as the 32-hex-character strings the files carry."""
    h = np.ascontiguousarray(tokens, dtype=np.uint8).tobytes().hex()
    return [h[k : k + 32] for k in range(0, len(h), 32)]


def _histogram(values: npt.NDArray[Any]) -> dict[str, int]:
    counts = np.bincount(values.astype(np.int64)) if len(values) else np.zeros(0, np.int64)
    return {str(k): int(c) for k, c in enumerate(counts.tolist()) if c}


def _plain(obj: Any) -> Any:
    """Dataclasses, numpy scalars and tuples -> JSON-ready values."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [_plain(v) for v in obj.tolist()]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float) and obj != obj:  # NaN is not JSON
        return None
    return obj
