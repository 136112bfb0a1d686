"""The scoring-model slot: trained models kept per party pair, versioned, opaque.

A probabilistic scorer (trained per pair of parties) stores its model here so that
monthly runs reuse it instead of re-estimating. The registry does not read the model: it
keeps the JSON text as given, numbers its versions per (unordered) party pair from 1, and
records the run that stored it. Same-party models (dedup) use the party twice.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from hashmatch.registry.store import Store

__all__ = ["load_model", "store_model"]


def _pair(party_a: str, party_b: str) -> tuple[str, str]:
    a, b = sorted((party_a, party_b))
    return a, b


def store_model(store: Store, party_a: str, party_b: str, model: Any, *, run: int = 0) -> int:
    """Add ``model`` (JSON-serialisable) as the newest version for the party pair, inside
    the caller's transaction; returns its version."""
    a, b = _pair(party_a, party_b)
    text = json.dumps(model, sort_keys=True)
    latest = store.scalar("SELECT max(version) FROM models WHERE party_a = ? AND party_b = ?",
                          [a, b])
    version = int(latest or 0) + 1
    store.insert("models", ["party_a", "party_b", "version", "run", "created", "model"],
                 [(a, b, version, run, datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                   text)])
    return version


def load_model(store: Store, party_a: str, party_b: str, version: int | None = None
               ) -> tuple[int, Any] | None:
    """``(version, model)`` for the party pair (the newest unless ``version``), or None."""
    a, b = _pair(party_a, party_b)
    if version is None:
        version = store.scalar("SELECT max(version) FROM models WHERE party_a = ? "
                               "AND party_b = ?", [a, b])
        if version is None:
            return None
    text = store.scalar("SELECT model FROM models WHERE party_a = ? AND party_b = ? "
                        "AND version = ?", [a, b, int(version)])
    return None if text is None else (int(version), json.loads(str(text)))
