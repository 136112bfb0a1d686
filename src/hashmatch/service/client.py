"""The party side of the lookup service: send encoded records, get entity ids back.

``hm.Client(url, token).match(batch)`` takes an in-memory
:class:`~hashmatch.encode.EncodedBatch` (``hm.encode(...)``) or an open ``.hme``
:class:`~hashmatch.encfile.EncodingFile`: the records are encoded locally, so the secret
and the values never leave the party. Records go in requests of at most
:data:`~hashmatch.service.payload.MAX_RECORDS`; each answer is a dict (``entity_id``,
``status``, ``score``, ``candidates``, ``fields``, ``tokens``) in the batch's row order.
"""

from __future__ import annotations

from typing import Any

import httpx
import numpy as np

from hashmatch.errors import HashmatchError
from hashmatch.service.payload import MAX_RECORDS, encode_rows

__all__ = ["Client", "ServiceError"]


class ServiceError(HashmatchError):
    """The service refused a request or could not be reached (message from the server)."""


class Client:
    """A connection to a lookup service (``hashmatch serve``) with one party's token."""

    def __init__(self, url: str, token: str, *, timeout: float = 10.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self._http = httpx.Client(base_url=url.rstrip("/"), timeout=timeout,
                                  headers={"Authorization": f"Bearer {token.strip()}"},
                                  transport=transport)

    def match(self, batch: Any) -> list[dict[str, Any]]:
        """The answer for each row of ``batch``, in order."""
        return self._send("/v1/match", batch, {})

    def add(self, batch: Any, *, commit: bool = True) -> list[dict[str, Any]]:
        """Add or update the party's records (one registry run per request), then answer
        each as :meth:`match` does."""
        return self._send("/v1/records", batch, {"commit": commit})

    def health(self) -> dict[str, Any]:
        return self._checked(self._http.get("/health"))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, route: str, batch: Any, extra: dict[str, Any]) -> list[dict[str, Any]]:
        header = batch.header
        n = len(batch.row_tokens)
        tokens = {k: np.asarray(batch.tokens[k] if hasattr(batch.tokens, "__getitem__")
                                else batch.token(k)) for k in header.token_names}
        out: list[dict[str, Any]] = []
        for start in range(0, n, MAX_RECORDS):
            rows = slice(start, min(start + MAX_RECORDS, n))
            records = encode_rows(np.asarray(batch.clks)[rows],
                                  {k: v[rows] for k, v in tokens.items()},
                                  np.asarray(batch.present)[rows],
                                  np.asarray(batch.row_tokens)[rows], header.field_names)
            body = {"schema_fingerprint": header.schema_fingerprint,
                    "secret_commitment": header.secret_commitment, "records": records, **extra}
            out.extend(self._checked(self._http.post(route, json=body))["results"])
        return out

    @staticmethod
    def _checked(response: httpx.Response) -> dict[str, Any]:
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail")
            except ValueError:
                detail = response.text[:200]
            raise ServiceError(f"the service answered {response.status_code}: {detail}")
        result: dict[str, Any] = response.json()
        return result
