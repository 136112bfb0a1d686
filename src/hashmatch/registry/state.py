"""The facts a registry keeps between runs, in ``registry_meta``, and entity id minting.

Kept from the first run on: the encoding :class:`~hashmatch.registry.records.Layout`
(so files of another schema fingerprint or secret commitment are refused), the LSH
plan (:mod:`~hashmatch.registry.candidates`), the threshold, the within-party cut and
the cross-party pairs linked at their own threshold (chosen from the first run's scores
unless given, then fixed: every record is judged by the same rule, and an unchanged
record never needs scoring again; a party that joins later is held to the threshold),
whether within-party duplicates are linked (``dedup``), the counters for run, record,
entity and journal numbers, and the key entity ids are made with.

Entity ids are opaque: ``"E"`` and 16 hex digits of HMAC-SHA256(id key, entity number),
where the id key is 32 random bytes drawn when the registry is made. They say nothing
about age, size or parties, and since entity numbers only grow, an id is never reused
(a collision with an earlier id, odds 2**-64 per id, skips to the next number).
"""

from __future__ import annotations

import hmac
import json
import secrets
from dataclasses import dataclass, field

from hashmatch.link.blocking import LshPlan
from hashmatch.registry.candidates import plan_from_json, plan_to_json
from hashmatch.registry.clustering import Rules
from hashmatch.registry.migrations import get_meta, set_meta
from hashmatch.registry.records import Layout
from hashmatch.registry.store import Store

__all__ = ["RegistryState"]

_COUNTERS = ("next_run", "next_record", "next_entity", "next_seq")


@dataclass
class RegistryState:
    """What ``registry_meta`` holds (see the module docstring)."""

    layout: Layout | None
    plan: LshPlan | None
    threshold: float | None
    within_cut: float | None
    threshold_method: str
    dedup: bool
    id_key: bytes
    #: Cross-party pairs (party names, sorted) linked at their own threshold.
    pair_cuts: dict[tuple[str, str], float] = field(default_factory=dict)
    next_run: int = 1
    next_record: int = 1
    next_entity: int = 1
    next_seq: int = 1

    @classmethod
    def load(cls, store: Store) -> RegistryState:
        """The stored facts; a registry that has never run has no layout yet."""
        meta = dict(store.query("SELECT key, value FROM registry_meta"))
        id_key = meta.get("id_key")
        state = cls(
            layout=Layout.from_json(meta["layout"]) if "layout" in meta else None,
            plan=plan_from_json(meta["lsh_plan"]) if "lsh_plan" in meta else None,
            threshold=float(meta["threshold"]) if "threshold" in meta else None,
            within_cut=float(meta["within_cut"]) if "within_cut" in meta else None,
            threshold_method=meta.get("threshold_method", ""),
            dedup=meta.get("dedup") == "true",
            id_key=bytes.fromhex(id_key) if id_key else secrets.token_bytes(32),
            pair_cuts={(a, b): float(cut) for a, b, cut in json.loads(meta["pair_cuts"])}
            if "pair_cuts" in meta else {},
        )
        for name in _COUNTERS:
            if name in meta:
                setattr(state, name, int(meta[name]))
        return state

    def save(self, store: Store) -> None:
        values = {"id_key": self.id_key.hex(), "dedup": "true" if self.dedup else "false",
                  "threshold_method": self.threshold_method}
        if self.layout is not None:
            values["layout"] = self.layout.to_json()
        if self.plan is not None:
            values["lsh_plan"] = plan_to_json(self.plan)
        if self.threshold is not None and self.within_cut is not None:
            values["threshold"] = repr(self.threshold)
            values["within_cut"] = repr(self.within_cut)
        if self.pair_cuts:  # absent, not empty, when there are none (older registries)
            values["pair_cuts"] = json.dumps([[a, b, cut] for (a, b), cut
                                              in sorted(self.pair_cuts.items())])
        values.update({name: str(getattr(self, name)) for name in _COUNTERS})
        for key, value in values.items():
            if get_meta(store, key) != value:
                set_meta(store, key, value)

    def rules(self) -> Rules:
        """The linkage rules every run applies (once the first run has fixed them)."""
        assert self.threshold is not None and self.within_cut is not None
        return Rules(self.threshold, self.within_cut, self.dedup, dict(self.pair_cuts))

    def take(self, counter: str, n: int = 1) -> int:
        """Reserve ``n`` consecutive numbers of ``counter``; returns the first."""
        first = int(getattr(self, counter))
        setattr(self, counter, first + n)
        return first

    def entity_id(self, entity: int) -> str:
        """The opaque id of entity number ``entity``."""
        mac = hmac.digest(self.id_key, b"hashmatch/v1/entity-id\0" + str(entity).encode(),
                          "sha256")
        return "E" + mac[:8].hex()

    def describe(self) -> dict[str, object]:
        """JSON-ready facts for ``registry stats`` and report.json (no key material)."""
        return {
            "schema_fingerprint": self.layout.schema_fingerprint if self.layout else None,
            "secret_commitment": self.layout.secret_commitment if self.layout else None,
            "threshold": self.threshold,
            "within_party_threshold": self.within_cut,
            "pair_thresholds": {f"{a} ~ {b}": cut for (a, b), cut
                                in sorted(self.pair_cuts.items())},
            "threshold_method": self.threshold_method,
            "dedup": self.dedup,
            "lsh_bands": len(self.plan.bands) if self.plan else None,
        }

    def to_json(self) -> str:
        return json.dumps(self.describe(), sort_keys=True)
