"""A persistent entity registry: stable entity ids across monthly runs, and a journal.

``hashmatch link A.hme B.hme ... --registry REG -o RESULTS/`` links each party's current
snapshot into the registry REG (a SQLite file, created on first use, or a
``postgresql://`` URL) instead of starting from nothing: unchanged records keep their
entity, new and changed records are linked against what is stored, records missing from
a snapshot are removed, and every change is journalled. Entity ids survive by written
rules (:mod:`~hashmatch.registry.ids`; docs/guides/registry.md).

Modules, one job each: :mod:`~hashmatch.registry.store` (SQLite / PostgreSQL, the run
lock), :mod:`~hashmatch.registry.migrations` (tables, layout version, upgrades),
:mod:`~hashmatch.registry.state` (facts kept between runs, id minting),
:mod:`~hashmatch.registry.records` (records as stored), :mod:`~hashmatch.registry.candidates`
(blocking keys and their index), :mod:`~hashmatch.registry.clustering` (re-clustering a
scope), :mod:`~hashmatch.registry.ids` (the id rules), :mod:`~hashmatch.registry.journal`
(events, replay), :mod:`~hashmatch.registry.models` (the scoring model slot),
:mod:`~hashmatch.registry.update` (a run), :mod:`~hashmatch.registry.outputs` (the results
folder of a run) and :mod:`~hashmatch.registry.inspect` (log, show, stats).
"""

from hashmatch.registry.inspect import entity_view, journal, record_map, stats
from hashmatch.registry.outputs import update_and_write, write_run_results
from hashmatch.registry.update import DEFAULT_WAIT, Change, RunResult, update

__all__ = [
    "DEFAULT_WAIT",
    "Change",
    "RunResult",
    "entity_view",
    "journal",
    "record_map",
    "stats",
    "update",
    "update_and_write",
    "write_run_results",
]
