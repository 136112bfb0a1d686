"""Parties' API tokens for the lookup service: issued once, stored only as a hash.

A token is 32 random bytes (``secrets``), shown to the operator once as
``hm_<party>_<hex>``; the registry keeps only its SHA-256 in ``registry_meta`` under
``api_token:<party>`` (one live token per party: issuing again replaces it, revoking
deletes it). A request's bearer token is hashed and compared in constant time with every
live hash, so a lookup never depends on which party a token claims to be.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from hashmatch.errors import RegistryError
from hashmatch.registry.migrations import get_meta, set_meta, upgrade
from hashmatch.registry.store import Store, open_store

__all__ = ["authenticate", "issue_token", "live_tokens", "party_of", "revoke_token"]

_PREFIX = "api_token:"
_PARTY = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(registry: str, party: str, *, wait: float = 60.0) -> str:
    """A new API token for ``party`` (replacing its previous one); only its hash is kept."""
    if not _PARTY.match(party):
        raise RegistryError("party names are 1-64 letters, digits, '_', '.' or '-'")
    token = f"hm_{party}_{secrets.token_bytes(32).hex()}"
    with open_store(registry) as store, store.run_transaction(wait):
        upgrade(store)
        set_meta(store, _PREFIX + party, _digest(token))
    return token


def revoke_token(registry: str, party: str, *, wait: float = 60.0) -> bool:
    """Revoke ``party``'s token; False if it had none."""
    with open_store(registry) as store, store.run_transaction(wait):
        had = get_meta(store, _PREFIX + party) is not None
        store.execute("DELETE FROM registry_meta WHERE key = ?", [_PREFIX + party])
    return had


def live_tokens(store: Store) -> list[tuple[str, str]]:
    """``(party, token hash)`` of every live token (the service caches this table and
    reads it again whenever the registry changed, so a revocation still takes effect at
    the next request)."""
    return [(str(key)[len(_PREFIX):], str(value)) for key, value in store.query(
        "SELECT key, value FROM registry_meta WHERE key LIKE ?", [_PREFIX + "%"])]


def party_of(tokens: list[tuple[str, str]], token: str) -> str | None:
    """The party of ``tokens`` whose hash ``token`` has, or None."""
    want = _digest(token)
    found = None
    for party, digest in tokens:
        if hmac.compare_digest(digest, want):
            found = party
    return found


def authenticate(store: Store, token: str) -> str | None:
    """The party whose live token ``token`` is, or None (read from the registry now)."""
    return party_of(live_tokens(store), token)
