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

import gc
import inspect
import json
import logging
import os
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from hashmatch._version import __version__
from hashmatch.encfile import EncodingWriter
from hashmatch.errors import HashmatchError
from hashmatch.registry import update
from hashmatch.registry.store import Store, open_store
from hashmatch.registry.update import RunResult
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
from hashmatch.service.peers import CommitLog, data_version, journalled_run
from hashmatch.service.tokens import live_tokens, party_of

__all__ = ["MAX_BODY_BYTES", "REGISTRY_ENV", "SHARED_ENV", "app_from_environment", "create_app",
           "worker_environment"]

#: Largest request body accepted (100 records of a 4096-bit CLK take ~80 KB).
MAX_BODY_BYTES = 1 << 20

log = logging.getLogger("hashmatch.service")
#: FastAPI's own OpenTelemetry hooks (newer releases) off: nothing of a request leaves the
#: process but its answer and the log line, and the check per request costs ~0.1 ms.
_NO_TELEMETRY: dict[str, Any] = (
    {"telemetry": {"tracing": False, "metrics": False, "logs": False}}
    if "telemetry" in inspect.signature(FastAPI).parameters else {})
_bearer = HTTPBearer(auto_error=False)


class _Service:
    """The registry's connection, its index and its live tokens, kept current
    (:mod:`~hashmatch.service.peers`)."""

    def __init__(self, registry: str, shared: str | None = None,
                 index: RegistryIndex | None = None) -> None:
        self.registry = registry
        self.store: Store | None = None
        self.index: RegistryIndex | None = None
        self.preloaded = index  # loaded before this process was forked (prefork)
        self.peers = CommitLog(shared) if shared else None
        self.tokens: list[tuple[str, str]] = []
        self.version: int | None = None

    def open(self) -> None:
        self.store = open_store(self.registry)
        self.version = data_version(self.store)
        self.tokens = live_tokens(self.store)
        index, self.preloaded = self.preloaded, None
        last = int(self.store.scalar("SELECT coalesce(max(run), 0) FROM runs"))
        if index is None or index.run != last:  # none, or a run since it was loaded
            index = _frozen(RegistryIndex.load(self.store))
        self.index = index

    def close(self) -> None:
        if self.store is not None:
            self.store.close()

    def party(self, authorization: str | None) -> str:
        """The party whose live token the ``Authorization`` header bears; 401 otherwise.
        Catches up with others' writes first (tokens, runs)."""
        self.catch_up()
        scheme, _, token = (authorization or "").partition(" ")
        party = party_of(self.tokens, token.strip()) if scheme.lower() == "bearer" else None
        if party is None:
            raise HTTPException(401, "missing, unknown or revoked API token",
                                headers={"WWW-Authenticate": "Bearer"})
        return party

    def catch_up(self) -> None:
        """Read the tokens again and bring the index up to the registry's last run when
        another connection wrote to the registry since the last request."""
        assert self.store is not None and self.index is not None
        version = data_version(self.store)
        if version is not None and version == self.version:
            return
        self.version = version
        self.tokens = live_tokens(self.store)
        last = int(self.store.scalar("SELECT coalesce(max(run), 0) FROM runs"))
        while self.index.run < last:
            run = self.index.run + 1
            sibling = self.peers.committed(run) if self.peers else None
            if sibling is None:  # another writer's run: the index is loaded afresh
                log.info("run %d by another writer: indexing the registry again", run)
                self.index = _frozen(RegistryIndex.load(self.store))
                break
            self.index = self.index.committed(self.store, journalled_run(self.store, run),
                                              *sibling)

    def committed(self, result: RunResult, party: str, row_tokens: list[bytes]) -> None:
        """After this process's commit: the index updated, the siblings told."""
        assert self.store is not None and self.index is not None
        self.index = self.index.committed(self.store, result, party, row_tokens)
        if self.peers is not None:
            self.peers.record(result.run, party, row_tokens)
        # (the data version counts other connections' commits only: this one left it)


def _frozen(index: RegistryIndex) -> RegistryIndex:
    """``index``, its objects (a million entity ids and row tokens at 1M records) moved
    out of the garbage collector's sight: a full collection would walk them all, tens of
    milliseconds that land on some request's latency."""
    gc.collect()
    gc.freeze()
    return index


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
    return service.party(request.headers.get("authorization"))


Party = Annotated[str, Depends(_party_of)]


def create_app(registry: str, *, shared: str | None = None,
               index: RegistryIndex | None = None) -> FastAPI:
    """The service over ``registry`` (a SQLite file or ``postgresql://`` URL); the
    registry is opened and indexed when the app starts. ``shared``: the private folder
    of the workers of one service (their :class:`~hashmatch.service.peers.CommitLog`);
    ``index``: the registry's index loaded already (:mod:`~hashmatch.service.prefork`),
    used when no run came after it."""
    service = _Service(registry, shared, index)

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
                  "docs/guides/service.md.", **_NO_TELEMETRY)
    app.state.service = service
    app.add_middleware(_BodyLimit)
    app.openapi = lambda: _document(app)  # type: ignore[method-assign]

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

    @app.post("/v1/match", response_model=MatchResponse, openapi_extra=_BODY_OF_MATCH)
    async def match(request: Request) -> Response:
        """The entity of each encoded record: ``matched``, ``new`` or ``ambiguous``."""
        # The hot path: no dependency solving, the body parsed and validated by pydantic's
        # JSON parser in one pass, the answer written without a second validation (its
        # shape is MatchResponse's, which the OpenAPI document states).
        party = service.party(request.headers.get("authorization"))
        body = _parsed(MatchRequest, await request.body())
        assert service.index is not None
        started = time.perf_counter()
        batch = decode_records(body, service.index.layout)
        answers = service.index.match(batch, party)
        log.info("match party=%s records=%d ms=%.2f", party, len(answers),
                 1000 * (time.perf_counter() - started))
        results = [_answer_fields(a, ref) for a, ref in zip(answers, batch.refs, strict=True)]
        return Response(json.dumps({"results": results}, separators=(",", ":")),
                        media_type="application/json")

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
            service.committed(result, party, [bytes(t) for t in batch.row_tokens])
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


#: Environment of the worker processes of ``hashmatch serve --workers N``: the registry
#: and the workers' shared folder (:class:`~hashmatch.service.peers.CommitLog`).
REGISTRY_ENV, SHARED_ENV = "HASHMATCH_SERVICE_REGISTRY", "HASHMATCH_SERVICE_SHARED"


def app_from_environment() -> FastAPI:
    """The app of one worker process (uvicorn's factory, see :func:`worker_environment`)."""
    return create_app(os.environ[REGISTRY_ENV], shared=os.environ.get(SHARED_ENV))


@contextmanager
def worker_environment(registry: str) -> Iterator[dict[str, str]]:
    """Set, for the workers to come, the registry and a new private folder they share;
    the folder is removed on exit."""
    with tempfile.TemporaryDirectory(prefix="hashmatch-service-") as shared:
        os.chmod(shared, 0o700)
        saved = {k: os.environ.get(k) for k in (REGISTRY_ENV, SHARED_ENV)}
        os.environ.update({REGISTRY_ENV: registry, SHARED_ENV: shared})
        try:
            yield {REGISTRY_ENV: registry, SHARED_ENV: shared}
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def _answer_fields(a: Answer, ref: str | None) -> dict[str, Any]:
    """One answer as :class:`MatchAnswer`'s JSON object."""
    return {"ref": ref, "entity_id": a.entity_id, "status": a.status, "score": a.score,
            "candidates": a.candidates,
            "fields": [{"field": f, "similarity": s} for f, s in a.fields],
            "tokens": [{"token": t, "evidence": e} for t, e in a.tokens]}


def _answer(a: Answer, ref: str | None) -> MatchAnswer:
    return MatchAnswer.model_validate(_answer_fields(a, ref))


def _parsed(model: type[MatchRequest], body: bytes) -> MatchRequest:
    """``body`` parsed and validated as ``model``; errors as FastAPI reports a body's
    (422, the handler above drops the values)."""
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e.get("loc", ()))} for e in exc.errors(include_input=False)]
        ) from None


#: /v1/match reads its body itself: the document states it as the route's schema.
_BODY_OF_MATCH: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"$ref": "#/components/schemas/MatchRequest"}}}}}


def _document(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document, with the schema of /v1/match's body among its components."""
    if app.openapi_schema is None:
        doc = get_openapi(title=app.title, version=app.version, routes=app.routes,
                          description=app.description)
        schema = MatchRequest.model_json_schema(ref_template="#/components/schemas/{model}")
        components = doc.setdefault("components", {}).setdefault("schemas", {})
        components.update(schema.pop("$defs", {}))
        components["MatchRequest"] = schema
        app.openapi_schema = doc
    return app.openapi_schema
