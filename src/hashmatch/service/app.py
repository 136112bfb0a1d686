"""The lookup service's HTTP API: FastAPI routes over a :class:`RegistryIndex`.

FastAPI (on Starlette, served by uvicorn) because it derives ``/openapi.json`` and the
request validation from the same pydantic models (:mod:`~hashmatch.service.payload`), so
the document, the checks and the code cannot drift apart.

Routes: ``GET /health`` (no auth), ``POST /v1/match`` and ``POST /v1/records`` (a
party's bearer token, :mod:`~hashmatch.service.tokens`). Handlers run on the event loop
thread, one at a time: matching is CPU work of a millisecond, and a commit
(:func:`hashmatch.registry.update` with ``delta=True``, journalled like any run) must not
interleave with matches that read the index it updates (in place, with the records and
entity ids the run changed: :meth:`RegistryIndex.committed`). Commits of several service
processes on one registry serialise on the registry's run lock. Bodies over
:data:`MAX_BODY_BYTES` get 413; bad payloads get 4xx with a message naming the field,
never a value; the log line of a request holds its route, party, count and status only.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.types import ASGIApp, Receive, Scope, Send

from hashmatch._version import __version__
from hashmatch.encfile import EncodingWriter
from hashmatch.errors import HashmatchError
from hashmatch.registry import update
from hashmatch.registry.store import Store, open_store
from hashmatch.service.index import Answer, RegistryIndex
from hashmatch.service.payload import (
    CommitRequest,
    CommitResponse,
    MatchAnswer,
    MatchRequest,
    MatchResponse,
    PayloadError,
    decode_records,
)
from hashmatch.service.tokens import authenticate

__all__ = ["MAX_BODY_BYTES", "create_app"]

#: Largest request body accepted (100 records of a 4096-bit CLK take ~80 KB).
MAX_BODY_BYTES = 1 << 20

log = logging.getLogger("hashmatch.service")
_bearer = HTTPBearer(auto_error=False)


class _Service:
    def __init__(self, registry: str) -> None:
        self.registry = registry
        self.store: Store | None = None
        self.index: RegistryIndex | None = None

    def open(self) -> None:
        self.store = open_store(self.registry)
        self.index = RegistryIndex.load(self.store)

    def close(self) -> None:
        if self.store is not None:
            self.store.close()


class _BodyLimit:
    """413 for a body larger than :data:`MAX_BODY_BYTES`, declared or streamed."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
            await _too_large(send)
            return
        seen = 0

        async def limited() -> Any:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > MAX_BODY_BYTES:
                raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await _too_large(send)


class _TooLarge(Exception):
    pass


async def _too_large(send: Send) -> None:
    body = b'{"detail":"request body too large"}'
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def _party_of(
        request: Request,
        creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> str:
    """The party whose live token the request bears; 401 otherwise."""
    service: _Service = request.app.state.service
    party = None
    if creds is not None and creds.scheme.lower() == "bearer" and service.store:
        party = authenticate(service.store, creds.credentials)
    if party is None:
        raise HTTPException(401, "missing, unknown or revoked API token",
                            headers={"WWW-Authenticate": "Bearer"})
    return party


Party = Annotated[str, Depends(_party_of)]


def create_app(registry: str) -> FastAPI:
    """The service over ``registry`` (a SQLite file or ``postgresql://`` URL); the
    registry is opened and indexed when the app starts."""
    service = _Service(registry)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service.open()
        assert service.index is not None
        log.info("serving a registry of %d records", service.index.size)
        try:
            yield
        finally:
            service.close()

    app = FastAPI(title="hashmatch lookup service", version=__version__, lifespan=lifespan,
                  description="Recognise a customer from their encoded record: see "
                  "docs/guides/service.md.")
    app.state.service = service
    app.add_middleware(_BodyLimit)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # pydantic's own errors echo the input: keep where and what, drop the value
        problems = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")}
                    for e in exc.errors()]
        return JSONResponse({"detail": problems}, status_code=422)

    @app.exception_handler(PayloadError)
    async def bad_payload(request: Request, exc: PayloadError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.exception_handler(HashmatchError)
    async def refused(request: Request, exc: HashmatchError) -> JSONResponse:
        return JSONResponse({"detail": str(exc).strip()}, status_code=409)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        """Liveness: no authentication, no registry facts beyond readiness."""
        return {"status": "ok" if service.index is not None else "starting"}

    @app.post("/v1/match", response_model=MatchResponse)
    async def match(body: MatchRequest, party: Party) -> MatchResponse:
        """The entity of each encoded record: ``matched``, ``new`` or ``ambiguous``."""
        assert service.index is not None
        started = time.perf_counter()
        batch = decode_records(body, service.index.layout)
        answers = service.index.match(batch, party)
        log.info("match party=%s records=%d ms=%.2f", party, len(answers),
                 1000 * (time.perf_counter() - started))
        return MatchResponse(results=[_answer(a, ref)
                                      for a, ref in zip(answers, batch.refs, strict=True)])

    @app.post("/v1/records", response_model=CommitResponse)
    async def records(body: CommitRequest, party: Party) -> CommitResponse:
        """Add or update the caller's own records (``commit``: false = a dry run that
        only matches); committed as one journalled registry run."""
        assert service.index is not None and service.store is not None
        layout = service.index.layout
        batch = decode_records(body, layout, need_row_token=True)
        if len({bytes(t) for t in batch.row_tokens}) != len(batch.row_tokens):
            raise PayloadError("records: two records share a row_token")
        counts = {"added": 0, "changed": 0, "unchanged": 0}
        if body.commit:
            with tempfile.TemporaryDirectory(prefix="hashmatch-commit-") as tmp:
                path = Path(tmp) / "commit.hme"
                with EncodingWriter(path, party=party,
                                    schema_fingerprint=layout.schema_fingerprint,
                                    clk_bits=layout.clk_bits, segments=layout.segments,
                                    token_names=layout.token_names,
                                    field_names=layout.field_names,
                                    secret_commitment=layout.secret_commitment,
                                    encoder_version=layout.encoder_version,
                                    extra=dict(layout.extra)) as w:
                    w.append(batch.clks, batch.tokens, batch.present, batch.row_tokens)
                result = update(service.store, [path], delta=True)
            got = result.parties.get(party, {})
            counts = {k: int(got.get(k, 0)) for k in counts}
            service.index = service.index.committed(
                service.store, result, party, [bytes(t) for t in batch.row_tokens])
            log.info("commit party=%s added=%d changed=%d run=%d", party, counts["added"],
                     counts["changed"], result.run)
        answers = service.index.match(batch, party)
        if body.commit:  # the registry's own decision, not a second opinion of the index
            answers = _as_committed(answers, service.store, party, batch.row_tokens)
        return CommitResponse(committed=body.commit, **counts,
                              results=[_answer(a, ref)
                                       for a, ref in zip(answers, batch.refs, strict=True)])

    return app


def _as_committed(answers: list[Answer], store: Store, party: str, row_tokens: Any
                  ) -> list[Answer]:
    """Answers for records just committed, with the entity the registry run gave each.

    Matching the committed records against the index again would usually give the same
    id, but another service's commit of the same person in between can leave two
    candidates the index weighs differently from the run's clustering: what the party
    must learn is the id its record now carries."""
    tokens = [bytes(t) for t in row_tokens]
    marks = ", ".join("?" * len(tokens))
    with store.read_transaction():
        held = {bytes(t): str(eid) for t, eid in store.query(
            "SELECT r.row_token, e.eid FROM records r JOIN parties p ON "
            "p.party_id = r.party_id JOIN entities e ON e.entity = r.entity "
            f"WHERE p.name = ? AND r.row_token IN ({marks})", [party, *tokens])}
    out = []
    for answer, token in zip(answers, tokens, strict=True):
        if token in held:  # a committed record is held: "matched", to the id it carries
            answer = replace(answer, entity_id=held[token], status="matched")
        out.append(answer)
    return out


def _answer(a: Answer, ref: str | None) -> MatchAnswer:
    return MatchAnswer.model_validate({
        "ref": ref, "entity_id": a.entity_id, "status": a.status, "score": a.score,
        "candidates": a.candidates,
        "fields": [{"field": f, "similarity": s} for f, s in a.fields],
        "tokens": [{"token": t, "evidence": e} for t, e in a.tokens]})
