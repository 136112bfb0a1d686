"""The results folder of a registry run, written as one unit.

Like a batch link's (:mod:`hashmatch.link.outputs`), with persistent ids, and under the
same rules: the folder is staged and swapped in whole (:mod:`hashmatch.output_set`), a
folder that is not empty is replaced only with ``force`` (checked before the registry is
touched), and every CSV file ends with the ``run_id`` column that ``report.json`` also
holds, so ``hashmatch reveal`` can tell a file of another run:

* ``<party>.csv`` - ``row_token,entity_id`` for every current record of the party (for
  every party of the registry, since a run can change the ids of parties not in it);
* ``<party>.changes.csv`` - ``row_token,previous_id,new_id,event``: the party's records
  whose entity id changed in this run (``event``: ``record_added``, ``record_removed``,
  ``merged``, ``split`` or ``record_moved``; an empty id means none). ``hashmatch reveal``
  turns both files into record ids;
* ``entities.csv`` - ``entity_id,party,row_token``, every record (the coordinator's view);
* ``relationships.csv`` - ``entity_a,entity_b,relation,shared_fields,differing_fields``:
  pairs of entities whose records look alike (twins, couples, parents and children) by
  their current ids, as a batch link lists them (:mod:`hashmatch.registry.lookalikes`);
* ``report.json`` - written last: the run's counts and timings and the registry's rules.
  Counts only, no row token.
"""

from __future__ import annotations

import csv
import json
import os
import secrets
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hashmatch._version import __version__
from hashmatch.atomic import atomic_write, atomic_write_text
from hashmatch.csv_cells import safe_cell
from hashmatch.errors import ResultsError
from hashmatch.link.outputs import (
    ENTITIES_FILE,
    RELATIONSHIPS_FILE,
    RELATIONSHIPS_HEADER,
    REPORT_FILE,
    RUN_ID_COLUMN,
    check_results_folder,
    is_results_file,
    party_file_name,
)
from hashmatch.link.relationships import LOOKALIKE
from hashmatch.output_set import OutputSet
from hashmatch.registry.lookalikes import related_entities
from hashmatch.registry.state import RegistryState
from hashmatch.registry.store import Store, is_postgres_url
from hashmatch.registry.update import RunResult

__all__ = [
    "CHANGES_SUFFIX",
    "RegistryFiles",
    "changes_file_name",
    "update_and_write",
    "write_run_results",
]

REGISTRY_REPORT_FORMAT = 1
CHANGES_SUFFIX = ".changes.csv"
CHANGES_HEADER = ["row_token", "previous_id", "new_id", "event"]


@dataclass(frozen=True)
class RegistryFiles:
    parties: dict[str, Path]
    changes: dict[str, Path]
    entities: Path
    report: Path


def changes_file_name(party: str) -> str:
    return party_file_name(party).removesuffix(".csv") + CHANGES_SUFFIX


def write_run_results(store: Store, result: RunResult, out_dir: str | os.PathLike[str],
                      *, force: bool = False) -> RegistryFiles:
    """Write the results folder of ``result`` from the registry's current state, as one
    unit (a folder that is not empty is replaced only with ``force``)."""
    final = Path(out_dir)
    stage = OutputSet([final], force=force, reads=[_local_file(store.url)], folder=True,
                      replaceable=is_results_file)
    try:
        with stage:
            files = _write_folder(store, result, stage.path(final), final)
    except OSError as exc:
        raise ResultsError(f"{final}: cannot write the results folder ({exc.strerror})") from None
    return files


def _local_file(url: str) -> str | None:
    """The registry's file (never inside the folder replaced), None for a server URL."""
    return None if is_postgres_url(url) else url


def _write_folder(store: Store, result: RunResult, out: Path, final: Path) -> RegistryFiles:
    run_id = secrets.token_hex(8)
    with store.read_transaction():
        names = [str(n) for (n,) in store.query("SELECT name FROM parties ORDER BY name")]
        rows = store.query(
            "SELECT p.name, r.row_token, e.eid FROM records r JOIN parties p "
            "ON p.party_id = r.party_id JOIN entities e ON e.entity = r.entity ORDER BY r.rid")
        state = RegistryState.load(store)
        related = related_entities(store, state.layout) if state.layout is not None else []
    file_names = [party_file_name(n) for n in names]
    if len(set(file_names)) != len(file_names) or {ENTITIES_FILE,
                                                    RELATIONSHIPS_FILE} & set(file_names):
        msg = f"{out}: party names give clashing result file names"
        raise ResultsError(msg, hint="give each party a distinct name when encoding")
    by_party: dict[str, list[tuple[str, str]]] = {n: [] for n in names}
    for party, token, eid in rows:
        by_party[str(party)].append((bytes(token).hex(), str(eid)))
    parties, changes = {}, {}
    for name, file_name in zip(names, file_names, strict=True):
        _write(out / file_name, ["row_token", "entity_id"], by_party[name], run_id)
        _write(out / changes_file_name(name), CHANGES_HEADER, [
            (c.row_token.hex(), c.previous or "", c.new or "", c.event)
            for c in sorted(result.changes_of(name), key=lambda c: c.row_token)], run_id)
        parties[name] = final / file_name
        changes[name] = final / changes_file_name(name)
    _write(out / ENTITIES_FILE, ["entity_id", "party", "row_token"],
           [(eid, safe_cell(party), token) for party in names for token, eid in by_party[party]],
           run_id)
    _write(out / RELATIONSHIPS_FILE, RELATIONSHIPS_HEADER,
           [(a, b, LOOKALIKE, shared, differ) for a, b, shared, differ in related], run_id)
    report: dict[str, Any] = {
        "run_id": run_id,
        "format_version": REGISTRY_REPORT_FORMAT,
        "hashmatch_version": __version__,
        "registry": {"url": store.url, **state.describe()},
        "run": result.to_dict(),
        "counts": {"rows": len(rows), "entities": len({r[2] for r in rows}),
                   **_entity_histograms(rows)},
        # the keys report.html reads (hashmatch.report.data), as a batch link writes them
        "dedup": state.dedup,
        "threshold": {"value": state.threshold, "method": state.threshold_method},
        "timings_seconds": {"total": round(sum(result.timings.values()), 4)},
        "relationships": {LOOKALIKE: len(related)},
        "outputs": {"entities": ENTITIES_FILE, "relationships": RELATIONSHIPS_FILE,
                    "parties": dict(zip(names, file_names, strict=True)),
                    "changes": {n: changes_file_name(n) for n in names}},
    }
    atomic_write_text(out / REPORT_FILE, json.dumps(report, indent=2, sort_keys=True) + "\n")
    return RegistryFiles(parties, changes, final / ENTITIES_FILE, final / REPORT_FILE)


def _entity_histograms(rows: Any) -> dict[str, dict[str, int]]:
    """Entities by number of records and by number of parties (report.html's charts)."""
    records: Counter[str] = Counter()
    parties: dict[str, set[str]] = {}
    for party, _token, eid in rows:
        records[str(eid)] += 1
        parties.setdefault(str(eid), set()).add(str(party))
    by_size = Counter(records.values())
    by_parties = Counter(len(p) for p in parties.values())
    return {"entities_by_size": {str(k): by_size[k] for k in sorted(by_size)},
            "entities_by_parties": {str(k): by_parties[k] for k in sorted(by_parties)}}


def _write(path: Path, header: list[str], rows: Any, run_id: str) -> None:
    with atomic_write(path, "w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow([*header, RUN_ID_COLUMN])
        writer.writerows((*row, run_id) for row in rows)


def update_and_write(registry: str | os.PathLike[str] | Store,
                     files: Any, out_dir: str | os.PathLike[str], *, force: bool = False,
                     **options: Any) -> RunResult:
    """:func:`~hashmatch.registry.update.update`, then the results folder of the run
    (what ``hashmatch link --registry`` does). The folder is checked first, so a refusal
    (not empty without ``force``) leaves the registry untouched."""
    from hashmatch.registry.store import open_store
    from hashmatch.registry.update import update

    url = registry.url if isinstance(registry, Store) else os.fspath(registry)
    check_results_folder(out_dir, force=force, reads=[_local_file(url)])
    if isinstance(registry, Store):
        result = update(registry, files, **options)
        write_run_results(registry, result, out_dir, force=force)
        return result
    with open_store(registry, create=True) as store:
        result = update(store, files, **options)
        write_run_results(store, result, out_dir, force=force)
    return result
