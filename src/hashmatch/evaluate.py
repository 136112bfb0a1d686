"""Linkage quality against a ground truth: pairwise and cluster-level measures.

Inputs: the coordinator's ``entities.csv`` (``entity_id,party,row_token``), the truth
(CSV ``party,record_id,entity_id`` with the parties' internal ids) and the parties' lookup
files (``row_token,record_id``) that translate row tokens to record ids. Row tokens are 16
random bytes, so the lookups can simply be pooled.

Every measure comes from the contingency table of (predicted entity, true entity), so
nothing is ever enumerated pair by pair and a million records take seconds:

* **pairwise** over all record pairs (within and across parties): a pair is predicted when
  both records share a predicted entity, true when they share a true entity.
  TP = sum over cells C(n_pt, 2), predicted = sum_p C(n_p, 2), true = sum_t C(n_t, 2).
  The same per party pair (A, B): TP_AB = sum over cells n_ptA * n_ptB (C(n_ptA, 2) if A = B).
* **B-cubed** precision/recall: per record |P(r) & T(r)| / |P(r)| (resp. / |T(r)|),
  averaged over records.
* **exact-cluster accuracy**: the share of true entities reproduced exactly.

The measures cover the records present in both the results and the truth; truth records
absent from the results (rejected at encoding) and result rows without a lookup or a truth
entry are counted in the report, not silently scored.

What does not belong together is refused rather than scored: an ``entities.csv`` whose
rows carry more than one run id, or another run id than the ``report.json`` beside it,
and a lookup none of whose row tokens the results hold (another party's, or made with
another row key).

:func:`evaluate` reads the files of a deployment (``hashmatch evaluate``);
:func:`evaluate_table` (``hm.evaluate``) scores the table of ``LinkResult.to_pandas()``
against a truth DataFrame and returns the few headline figures as :class:`LinkageScores`.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from hashmatch._api.callable_package import make_callable
from hashmatch.errors import ResultsError
from hashmatch.link.outputs import ENTITIES_FILE, REPORT_FILE, RUN_ID_COLUMN
from hashmatch.lookup import read_lookup

__all__ = [
    "EvaluationReport",
    "LinkageScores",
    "PairwiseScores",
    "evaluate",
    "evaluate_labels",
    "evaluate_table",
]

PathLike = str | os.PathLike[str]

make_callable(__name__, "hashmatch.evaluate:evaluate_table")  # hm.evaluate(table, truth)


@dataclass(frozen=True)
class PairwiseScores:
    """Pair counts and the precision/recall/F1 they give (NaN when undefined: 0/0)."""

    true_positives: int
    predicted_pairs: int
    true_pairs: int

    @property
    def precision(self) -> float:
        return _ratio(self.true_positives, self.predicted_pairs)

    @property
    def recall(self) -> float:
        return _ratio(self.true_positives, self.true_pairs)

    @property
    def f1(self) -> float:
        return _ratio(2 * self.true_positives, self.predicted_pairs + self.true_pairs)

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "precision": _json_float(self.precision),
            "recall": _json_float(self.recall),
            "f1": _json_float(self.f1),
        }


@dataclass(frozen=True)
class EvaluationReport:
    """Everything :func:`evaluate` measured."""

    records: int  # records scored (in results and truth)
    true_entities: int
    predicted_entities: int
    pairwise: PairwiseScores
    per_party_pair: dict[tuple[str, str], PairwiseScores]
    bcubed_precision: float
    bcubed_recall: float
    exact_cluster_accuracy: float  # share of true entities reproduced exactly
    truth_records_missing: int = 0  # in the truth, not in the results
    rows_without_lookup: int = 0  # in the results, token in no lookup given
    rows_without_truth: int = 0  # in the results and a lookup, not in the truth
    #: Parties of the results none of whose rows could be scored: no lookup was given.
    unscored_parties: tuple[str, ...] = ()

    @property
    def precision(self) -> float:
        return self.pairwise.precision

    @property
    def recall(self) -> float:
        return self.pairwise.recall

    @property
    def f1(self) -> float:
        return self.pairwise.f1

    @property
    def bcubed_f1(self) -> float:
        p, r = self.bcubed_precision, self.bcubed_recall
        return _ratio(2 * p * r, p + r) if p + r else math.nan

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: NaN becomes null, party pairs become a list."""
        return {
            "records": self.records,
            "true_entities": self.true_entities,
            "predicted_entities": self.predicted_entities,
            "pairwise": self.pairwise.to_dict(),
            "per_party_pair": [
                {"party_a": a, "party_b": b, **s.to_dict()}
                for (a, b), s in sorted(self.per_party_pair.items())
            ],
            "bcubed": {
                "precision": _json_float(self.bcubed_precision),
                "recall": _json_float(self.bcubed_recall),
                "f1": _json_float(self.bcubed_f1),
            },
            "exact_cluster_accuracy": _json_float(self.exact_cluster_accuracy),
            "truth_records_missing": self.truth_records_missing,
            "rows_without_lookup": self.rows_without_lookup,
            "rows_without_truth": self.rows_without_truth,
            "unscored_parties": list(self.unscored_parties),
        }


@dataclass(frozen=True)
class LinkageScores:
    """Pairwise and B-cubed precision, recall and F1 of a linkage table (``hm.evaluate``).

    ``records`` rows were scored: those with an entity and a truth entry.
    ``rows_without_entity`` (rejected at encoding), ``rows_without_truth`` and
    ``truth_records_missing`` (truth records with no scored row) are counted, not scored.
    ``report`` holds everything else (per party pair, exact-cluster accuracy).
    """

    precision: float  # pairwise
    recall: float
    f1: float
    bcubed_precision: float
    bcubed_recall: float
    bcubed_f1: float
    records: int
    rows_without_entity: int
    rows_without_truth: int
    truth_records_missing: int
    report: EvaluationReport = field(repr=False, compare=False)

    def __repr__(self) -> str:
        return (
            f"LinkageScores(pairwise P={self.precision:.4f} R={self.recall:.4f} "
            f"F1={self.f1:.4f}; B-cubed P={self.bcubed_precision:.4f} "
            f"R={self.bcubed_recall:.4f} F1={self.bcubed_f1:.4f}; records={self.records}"
            + "".join(
                f", {name}={getattr(self, name)}"
                for name in ("rows_without_entity", "rows_without_truth", "truth_records_missing")
                if getattr(self, name)
            )
            + ")"
        )

    def _repr_html_(self) -> str:
        from hashmatch._api.display import html_card

        rows = [
            ("pairwise", self.precision, self.recall, self.f1),
            ("B-cubed", self.bcubed_precision, self.bcubed_recall, self.bcubed_f1),
        ]
        facts = [
            ("records scored", self.records),
            ("rows without entity", self.rows_without_entity),
            ("rows without truth", self.rows_without_truth),
            ("truth records missing", self.truth_records_missing),
        ]
        return html_card("LinkageScores", facts, (("", "precision", "recall", "F1"), rows))


def evaluate_table(table: Any, truth: Any) -> LinkageScores:
    """Score a linkage table against the truth (``hm.evaluate``; needs pandas).

    Parameters
    ----------
    table
        A DataFrame with ``party``, ``entity_id`` and ``record_id`` (or ``row_token``)
        columns, such as ``LinkResult.to_pandas()``. Rows without an entity id
        (rejected at encoding) are counted in ``rows_without_entity``, not scored.
    truth
        A DataFrame or CSV file with ``party``, ``record_id`` (or ``row_token``) and
        ``entity_id``: which records are the same real-world entity. Ids are compared
        as text.

    Raises
    ------
    ResultsError
        A column is missing, the truth lists one record twice, or no row can be scored.

    Example
    -------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"party": ["a", "b", "a", "b"], "record_id": ["1", "1", "2", "2"],
    ...                       "entity_id": ["E1", "E1", "E2", "E3"]})
    >>> truth = table.assign(entity_id=["p", "p", "q", "q"])
    >>> s = evaluate_table(table, truth)
    >>> round(s.precision, 3), round(s.recall, 3), round(s.f1, 3)
    (1.0, 0.5, 0.667)
    """
    import pandas as pd

    if isinstance(truth, str | os.PathLike):
        truth = pd.read_csv(truth, dtype=str, keep_default_na=False)
    key = "record_id" if "record_id" in truth.columns else "row_token"
    for name, frame, needed in (
        ("table", table, ("party", key, "entity_id")),
        ("truth", truth, ("party", key, "entity_id")),
    ):
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            msg = f"the {name} has no column {', '.join(missing)}"
            raise ResultsError(msg, hint="expected the columns party, record_id, entity_id")
    truth = pd.DataFrame(
        {"party": _text(truth["party"]), key: _text(truth[key]), "true": _text(truth["entity_id"])}
    )
    if truth.duplicated(["party", key]).any():
        msg = f"the truth lists some (party, {key}) more than once"
        raise ResultsError(msg, hint="give each record one true entity")
    rows = pd.DataFrame(
        {
            "party": _text(table["party"]),
            key: _text(table[key]),
            "predicted": _text(table["entity_id"]),
        }
    )
    with_entity = rows[rows["predicted"].notna()]
    scored = with_entity.merge(truth, on=["party", key], how="inner", validate="many_to_one")
    if scored.empty:
        msg = f"no row of the table has both an entity id and a truth entry (joined on {key})"
        raise ResultsError(msg, hint="check that both use the same party names and ids")
    report = evaluate_labels(
        scored["predicted"].to_numpy(str),
        scored["true"].to_numpy(str),
        scored["party"].to_numpy(str),
    )
    seen = len(scored.drop_duplicates(["party", key]))
    report = _replace_counts(report, len(truth) - seen, 0, len(with_entity) - len(scored))
    return LinkageScores(
        precision=report.precision,
        recall=report.recall,
        f1=report.f1,
        bcubed_precision=report.bcubed_precision,
        bcubed_recall=report.bcubed_recall,
        bcubed_f1=report.bcubed_f1,
        records=report.records,
        rows_without_entity=len(rows) - len(with_entity),
        rows_without_truth=report.rows_without_truth,
        truth_records_missing=report.truth_records_missing,
        report=report,
    )


def _text(column: Any) -> Any:
    """A column as pandas text (NA stays NA), so that ids compare as text."""
    return column.astype("string").str.strip()


def evaluate(
    results: PathLike, truth_csv: PathLike, lookups: Sequence[PathLike]
) -> EvaluationReport:
    """Score a linkage result against the truth.

    Parameters
    ----------
    results:
        A results folder (its ``entities.csv`` is used) or an ``entities.csv`` file.
    truth_csv:
        CSV ``party,record_id,entity_id``.
    lookups:
        The parties' lookup files (``row_token,record_id``), any order.

    Raises
    ------
    ResultsError
        A file is missing or lacks its columns, the results mix runs or do not match the
        report.json beside them, a lookup does not belong to the results, or no result
        row could be scored.
    """
    entities_path = Path(results)
    if entities_path.is_dir():
        entities_path = entities_path / ENTITIES_FILE
    rows = _entity_rows(entities_path)
    in_results = {token.lower() for _, _, token in rows}
    token_to_record: dict[str, str] = {}
    for lookup in lookups:
        table = read_lookup(lookup)
        # Row tokens are stable under a party's row key, so a lookup of another month may
        # hold records no longer linked; one with no token in the results is foreign.
        if table and in_results.isdisjoint(table):
            raise ResultsError(
                f"{lookup} does not belong to {entities_path}: not one of its row tokens is in "
                "the results (the lookup of another party or row key, or a party not linked)",
                hint="pass the lookups written with the .hme files that were linked",
            )
        token_to_record.update(table)
    truth: dict[tuple[str, str], str] = {
        (party, record_id): entity
        for party, record_id, entity in _rows(Path(truth_csv), ("party", "record_id", "entity_id"))
    }
    predicted: list[str] = []
    true: list[str] = []
    parties: list[str] = []
    seen: set[tuple[str, str]] = set()
    no_lookup = no_truth = 0
    lacking: set[str] = set()  # parties with a row no lookup knows
    for entity, party, token in rows:
        found = token_to_record.get(token.lower())
        if found is None:
            no_lookup += 1
            lacking.add(party)
            continue
        true_entity = truth.get((party, found))
        if true_entity is None:
            no_truth += 1
            continue
        seen.add((party, found))
        predicted.append(entity)
        true.append(true_entity)
        parties.append(party)
    if not predicted:
        msg = (
            f"{entities_path}: no row could be matched to the truth through the lookups "
            f"({no_lookup} rows without a lookup entry, {no_truth} without a truth entry)"
        )
        raise ResultsError(msg, hint="pass every party's --lookup and the matching truth file")
    report = evaluate_labels(_codes(predicted), _codes(true), parties)
    report = _replace_counts(report, len(truth) - len(seen), no_lookup, no_truth)
    return replace(report, unscored_parties=tuple(sorted(lacking - set(parties))))


def evaluate_labels(
    predicted: npt.ArrayLike, true: npt.ArrayLike, parties: Sequence[str] | npt.ArrayLike
) -> EvaluationReport:
    """Measures from per-record labels (predicted entity, true entity, party).

    Example
    -------
    >>> r = evaluate_labels([0, 0, 1, 1], [0, 0, 0, 1], ["a", "b", "a", "b"])
    >>> r.pairwise.true_positives, r.pairwise.predicted_pairs, r.pairwise.true_pairs
    (1, 2, 3)
    >>> round(r.precision, 3), round(r.recall, 3), round(r.f1, 3)
    (0.5, 0.333, 0.4)
    """
    pred = _codes(np.asarray(predicted))
    tru = _codes(np.asarray(true))
    party_names, party = np.unique(np.asarray(parties, dtype=str), return_inverse=True)
    n = len(pred)
    if not (len(tru) == len(party) == n):
        msg = "predicted, true and parties must have the same length"
        raise ValueError(msg)
    n_parties = len(party_names)
    cell_key = pred * (int(tru.max()) + 1 if n else 1) + tru
    _, cell = np.unique(cell_key, return_inverse=True)
    cell = cell.reshape(-1)
    n_cells = int(cell.max()) + 1 if n else 0
    cell_pred = np.zeros(n_cells, np.int64)
    cell_true = np.zeros(n_cells, np.int64)
    cell_pred[cell] = pred
    cell_true[cell] = tru
    by_cell = _table(cell, party, n_cells, n_parties)
    by_pred = _table(pred, party, int(pred.max()) + 1 if n else 0, n_parties)
    by_true = _table(tru, party, int(tru.max()) + 1 if n else 0, n_parties)

    n_cell = by_cell.sum(axis=1)
    n_pred = by_pred.sum(axis=1)
    n_true = by_true.sum(axis=1)
    pairwise = PairwiseScores(_c2(n_cell), _c2(n_pred), _c2(n_true))
    per_pair: dict[tuple[str, str], PairwiseScores] = {}
    for a in range(n_parties):
        for b in range(a, n_parties):
            per_pair[(str(party_names[a]), str(party_names[b]))] = PairwiseScores(
                _cross(by_cell, a, b), _cross(by_pred, a, b), _cross(by_true, a, b)
            )
    overlap = n_cell.astype(np.float64) ** 2
    bcubed_p = float((overlap / n_pred[cell_pred]).sum() / n) if n else math.nan
    bcubed_r = float((overlap / n_true[cell_true]).sum() / n) if n else math.nan
    exact = (n_cell == n_pred[cell_pred]) & (n_cell == n_true[cell_true])
    true_entities = int((n_true > 0).sum())
    return EvaluationReport(
        records=n,
        true_entities=true_entities,
        predicted_entities=int((n_pred > 0).sum()),
        pairwise=pairwise,
        per_party_pair=per_pair,
        bcubed_precision=bcubed_p,
        bcubed_recall=bcubed_r,
        exact_cluster_accuracy=_ratio(int(exact.sum()), true_entities),
    )


def _replace_counts(
    report: EvaluationReport, missing: int, no_lookup: int, no_truth: int
) -> EvaluationReport:
    values = {f: getattr(report, f) for f in report.__dataclass_fields__}
    values.update(
        truth_records_missing=missing, rows_without_lookup=no_lookup, rows_without_truth=no_truth
    )
    return EvaluationReport(**values)


def _codes(values: Any) -> npt.NDArray[np.int64]:
    """Dense integer codes 0..K-1 for arbitrary labels."""
    _, codes = np.unique(np.asarray(values), return_inverse=True)
    return codes.reshape(-1).astype(np.int64)


def _table(
    rows: npt.NDArray[np.int64], party: npt.NDArray[np.int64], n_rows: int, n_parties: int
) -> npt.NDArray[np.int64]:
    """Counts[row, party] (a dense rows x parties contingency table)."""
    flat = np.bincount(rows * n_parties + party, minlength=n_rows * n_parties)
    return flat.reshape(n_rows, n_parties).astype(np.int64)


def _c2(counts: npt.NDArray[np.int64]) -> int:
    return int((counts * (counts - 1) // 2).sum())


def _cross(table: npt.NDArray[np.int64], a: int, b: int) -> int:
    if a == b:
        return _c2(table[:, a])
    return int((table[:, a] * table[:, b]).sum())


def _ratio(num: float, den: float) -> float:
    return num / den if den else math.nan


def _json_float(x: float) -> float | None:
    return None if math.isnan(x) else x


def _entity_rows(path: Path) -> list[tuple[str, ...]]:
    """``(entity_id, party, row_token)`` of entities.csv, after checking its run id."""
    table = _rows(path, ("entity_id", "party", "row_token"), optional=(RUN_ID_COLUMN,))
    runs = {row[3] for row in table if len(row) > 3}
    if len(runs) > 1:
        raise ResultsError(f"{path} mixes rows of {len(runs)} link runs")
    report_path = path.parent / REPORT_FILE
    try:
        report = json.loads(report_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        report = {}
    except (OSError, ValueError):
        raise ResultsError(f"{report_path}: cannot be read as a link report") from None
    reported = report.get("run_id") if isinstance(report, dict) else None
    if reported is not None and runs != {reported}:
        raise ResultsError(
            f"{path} is not the entities file of the link run described by {report_path}",
            hint="evaluate a results folder as link wrote it",
        )
    return [row[:3] for row in table]


def _rows(
    path: Path, columns: tuple[str, ...], optional: tuple[str, ...] = ()
) -> list[tuple[str, ...]]:
    """The named columns of a CSV file (header matched case-insensitively, any order)."""
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            header = [c.strip().lower() for c in next(reader, [])]
            missing = [c for c in columns if c not in header]
            if missing:
                msg = f"{path}: missing column(s) {', '.join(missing)}"
                raise ResultsError(msg, hint=f"expected the columns {','.join(columns)}")
            idx = [header.index(c) for c in columns]
            idx += [header.index(c) for c in optional if c in header]
            out: list[tuple[str, ...]] = []
            for line_no, row in enumerate(reader, start=2):
                if not row:
                    continue
                if len(row) < len(header):
                    raise ResultsError(f"{path}, line {line_no}: expected {len(header)} columns")
                out.append(tuple(row[i] for i in idx))
            return out
    except FileNotFoundError:
        raise ResultsError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise ResultsError(f"{path}: cannot be read as CSV ({reason})") from None
