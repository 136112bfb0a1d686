"""Single-record lookups against a registry: server-side latency and loopback throughput.

Synthesises 4 parties (``hashmatch synth``), links them into a new registry, loads the
service's in-memory index, then measures:

* **server side**: decoding and answering one record in the service's own code (what a
  request costs inside ``POST /v1/match``), over ``--queries`` records of the parties'
  files, p50/p99 in ms; and, as the reference measured in the same run, the same records
  scored against *every* stored record (no index), whose median over ours is the ratio;
* **answers**: of the queried stored records, how many came back with the entity the
  registry gave them (the rest ``ambiguous``, ``new`` or another entity); and of
  ``--newcomers`` people synthesised with another seed (encoded with the registry's
  secret, which ``--encodings`` finds as ``linkage.secret`` beside the files, with
  ``schema.toml`` and ``crm.mapping.toml`` one folder up), how many came back ``new``;
* **over loopback**: ``hashmatch serve --workers N`` on uvicorn at 127.0.0.1, a bounded
  loop of single-record ``POST /v1/match`` requests (each query once) from ``--clients``
  threads, each on its own raw keep-alive HTTP/1.1 socket with the requests serialised
  before the loop (the client's CPU per request is a tenth of the server's): p50/p99
  round trip, requests/s, and the CPU seconds the server's processes and the client spent
  per request, from /proc and the client's process time, over the loop.

Bars (issue 16): p50 <= 5 ms, p99 <= 20 ms server side, >= 500 requests/s, at 1M records;
>= 99.5% of stored records back with their entity id, a new person back ``new``.
Query records are rows of the crm's encoding file, sent without their row token.

    python benchmarks/serve.py                   # 20k people (~50k records)
    python benchmarks/serve.py --entities 40000  # ~100k records
    python benchmarks/serve.py --encodings /work/data/s500k/enc --registry /tmp/r1m.db
                                                 # 4 parties' .hme files (~1M records); the
                                                 # registry is built once, reused after
    python benchmarks/serve.py --quick           # smoke test
"""

from __future__ import annotations

import argparse
import collections
import gc
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from hashmatch.encfile import EncodingFile
from hashmatch.encode import LinkageSecret, encode_file, encode_records
from hashmatch.encode.keys import RowKey
from hashmatch.link.inputs import as_encoding
from hashmatch.link.scorer import PairScorer
from hashmatch.registry import update
from hashmatch.registry.records import RecordSet
from hashmatch.registry.store import open_store
from hashmatch.service.index import RegistryIndex
from hashmatch.service.payload import MatchRequest, decode_records, encode_rows
from hashmatch.service.process import PORT_ATTEMPTS, free_port, port_taken, serving
from hashmatch.service.tokens import issue_token
from hashmatch.synth import synthesize

PARTIES = ("callcentre", "catalogue", "crm", "partner")


def _synthesise(root: Path, entities: int) -> list[Path]:
    synthesize(root / "synth", entities=entities, seed=11)
    secret = LinkageSecret.generate()
    secret.write(root / "linkage.secret")  # for the newcomers (_newcomers)
    files = []
    for party in PARTIES:
        RowKey.generate().write(root / f"{party}.rowkey")
        out = root / f"{party}.hme"
        encode_file(root / "synth" / f"{party}.csv", schema=root / "synth" / "schema.toml",
                    secret=secret, party=party, out=out, lookup=root / f"{party}.lookup",
                    mapping=root / "synth" / f"{party}.mapping.toml",
                    row_key=root / f"{party}.rowkey")
        files.append(out)
    return files


def _build(registry: Path, files: list[Path]) -> float | None:
    """Link ``files`` into a new registry; None when ``registry`` exists (reused)."""
    if registry.exists():
        return None
    started = time.perf_counter()
    update(str(registry), files)
    return time.perf_counter() - started


def _bodies(crm: Path, n: int) -> tuple[list[dict], list[bytes]]:
    """``n`` single-record request bodies of random rows of ``crm`` (without their row
    tokens), in a random order; and each row's token (to check the answers with)."""
    with EncodingFile.open(crm) as f:
        h = f.header
        rng = np.random.default_rng(5)
        rows = np.sort(rng.choice(h.rows, size=min(n, h.rows), replace=False))
        # no row token: answer from the encoding alone, the general (slower) path
        records = encode_rows(np.asarray(f.clks[rows]),
                              {k: np.asarray(f.token(k)[rows]) for k in h.token_names},
                              np.asarray(f.present[rows]), None, h.field_names)
        row_tokens = [bytes(t) for t in np.asarray(f.row_tokens[rows])]
        fingerprint, commitment = h.schema_fingerprint, h.secret_commitment
    order = np.random.default_rng(6).permutation(len(records))
    return ([{"schema_fingerprint": fingerprint, "secret_commitment": commitment,
              "records": [records[k]]} for k in order], [row_tokens[k] for k in order])


def _newcomers(root: Path, secret: Path, schema: Path, mapping: Path, people: int
               ) -> list[dict]:
    """Single-record bodies of the crm's rows of ``people`` people the registry never
    saw (synthesised with another seed), encoded as the crm would."""
    synthesize(root / "newcomers", entities=people, seed=20261207)
    batch = encode_records(root / "newcomers" / "crm.csv", schema=schema, secret=secret,
                           party="crm", mapping=mapping)
    h = batch.header
    records = encode_rows(batch.clks, batch.tokens, batch.present, None, h.field_names)
    return [{"schema_fingerprint": h.schema_fingerprint,
             "secret_commitment": h.secret_commitment, "records": [r]} for r in records]


def _answers(index: RegistryIndex, bodies: list[dict]) -> list:
    return [index.match(decode_records(MatchRequest.model_validate(b), index.layout), "crm")[0]
            for b in bodies]


def _stored_tally(index: RegistryIndex, bodies: list[dict], row_tokens: list[bytes],
                  prefix: str) -> dict:
    """How the stored records queried came back: with the entity the registry gave them
    (``same``), ``ambiguous`` (``ambiguous_listing_it``: their entity among the
    candidates), ``new``, or matched to another entity (``wrong``)."""
    crm = index.party_names.index("crm")
    tally: collections.Counter[str] = collections.Counter()
    for answer, token in zip(_answers(index, bodies), row_tokens, strict=True):
        want = index.entities[index.by_token[crm, token]]
        if answer.status == "matched":
            tally["same" if answer.entity_id == want else "wrong"] += 1
        else:
            tally[answer.status] += 1
            tally["ambiguous_listing_it"] += answer.status == "ambiguous" and \
                want in answer.candidates
    return {f"{prefix}_{k}": tally[k] for k in ("same", "ambiguous", "ambiguous_listing_it",
                                                "new", "wrong")} | \
        {f"{prefix}_same_share": round(tally["same"] / len(bodies), 4)}


def _with_row_tokens(bodies: list[dict], row_tokens: list[bytes]) -> list[dict]:
    """The bodies as ``hashmatch lookup`` and ``hm.Client`` send them: with the row token
    (a stored record unchanged is answered with the entity the registry gave it)."""
    return [{**b, "records": [{**b["records"][0], "row_token": t.hex()}]}
            for b, t in zip(bodies, row_tokens, strict=True)]


def _pct(ms: list[float]) -> tuple[float, float]:
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def _server_side(index: RegistryIndex, bodies: list[dict]
                 ) -> tuple[list[float], list[float]]:
    """Wall and CPU milliseconds (this thread's) of each query: on a machine shared with
    other work the wall time's tail is the scheduler's, the CPU time's is ours."""
    wall, cpu = [], []
    for body in bodies:
        started, cpu_started = time.perf_counter(), time.thread_time()
        index.match(decode_records(MatchRequest.model_validate(body), index.layout), "crm")
        wall.append(1000 * (time.perf_counter() - started))
        cpu.append(1000 * (time.thread_time() - cpu_started))
    return wall, cpu


def _brute_force(index: RegistryIndex, bodies: list[dict]) -> list[float]:
    """The reference: one record scored against every stored record, no index."""
    out = []
    every = np.arange(index.size, dtype=np.int64)
    for body in bodies:
        started = time.perf_counter()
        b = decode_records(MatchRequest.model_validate(body), index.layout)
        q = RecordSet(index.layout, np.zeros(1, np.int64), b.row_tokens, b.clks, b.tokens,
                      b.present)
        scorer = PairScorer([as_encoding(q), index.encoding], index.config)
        scorer(0, np.zeros(index.size, np.int64), 1, every)
        out.append(1000 * (time.perf_counter() - started))
    return out


def _request(port: int, token: str, body: dict) -> bytes:
    """One keep-alive HTTP/1.1 request, serialised once before the loop."""
    data = json.dumps(body, separators=(",", ":")).encode()
    return (f"POST /v1/match HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n\r\n").encode() + data


class _Connection:
    """A raw keep-alive connection: send the bytes, read one response by its length
    (the cheapest client Python has, so the client leaves the cores to the server)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def roundtrip(self, request: bytes) -> int:
        self.sock.sendall(request)
        while b"\r\n\r\n" not in self.buf:
            self._more()
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        status = int(head[9:12])
        length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:"))
        while len(self.buf) < length:
            self._more()
        self.buf = self.buf[length:]
        return status

    def _more(self) -> None:
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        self.buf += chunk


def _server_pids(port: int) -> list[int]:
    """The ``hashmatch serve`` process listening on ``port`` and its workers (Linux)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"serve" in cmd and str(port).encode() in cmd:
            return _tree(int(entry))
    return []


def _tree(root: int) -> list[int]:
    """``root`` and its descendants (Linux)."""
    parent: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            parent[int(entry)] = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1]
                                     .split()[1])
        except (OSError, ValueError, IndexError):
            continue
    pids, grew = {root}, True
    while grew:
        more = {p for p, pp in parent.items() if pp in pids} - pids
        grew = bool(more)
        pids |= more
    return sorted(pids)


def _cpu_seconds(pids: list[int]) -> float:
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


def _pss_mib(pids: list[int]) -> float:
    """Memory of the processes (MiB, Linux): their proportional set sizes, a page shared
    by k of them (forked workers share the index) counted 1/k in each."""
    total = 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        total += next(int(line.split()[1]) for line in status.splitlines()
                      if line.startswith("Pss:"))
    return total / 1024


_SPAWNED = ("import sys, uvicorn\nfrom hashmatch.service.app import worker_environment\n"
            "with worker_environment(sys.argv[1]):\n"
            "    uvicorn.run('hashmatch.service.app:app_from_environment', factory=True, "
            "workers=int(sys.argv[3]), host='127.0.0.1', port=int(sys.argv[2]))")


def _launch(argv: Callable[[int], list[str]], ready: bytes, count: int, what: str
            ) -> tuple[subprocess.Popen, int, float]:
    """Start ``argv(port)`` on a free port and wait until its log has shown ``ready``
    ``count`` times: (process, port, when the successful start began). Started again on
    another port when the free one was taken before the server could bind it."""
    for _ in range(PORT_ATTEMPTS):
        port, started = free_port(), time.perf_counter()
        proc = subprocess.Popen(argv(port), stderr=subprocess.PIPE)
        assert proc.stderr is not None
        seen, found = [], 0
        for line in iter(proc.stderr.readline, b""):
            seen.append(line)
            found += ready in line
            if found == count:
                threading.Thread(target=proc.stderr.read, daemon=True).start()
                return proc, port, started
        proc.wait()
        if not port_taken(b"".join(seen)):
            break
    msg = f"{what} did not start:\n" + b"".join(seen).decode(errors="replace")
    raise RuntimeError(msg[-2000:])


def _spawned_start(registry: str, workers: int) -> dict:
    """The reference for the start: uvicorn's own ``workers`` (each a fresh interpreter
    that loads its own index, as ``hashmatch serve --workers`` did before it forked them
    after one load): seconds until every one is ready, and their memory."""
    proc, _, started = _launch(
        lambda port: [sys.executable, "-c", _SPAWNED, registry, str(port), str(workers)],
        b"startup complete", workers, "uvicorn's workers")
    try:
        start_s = time.perf_counter() - started
        pss = _pss_mib(_tree(proc.pid))
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    return {"spawned_start_s": round(start_s, 1), "spawned_pss_mib": round(pss)}


def _loopback(registry: str, token: str, bodies: list[dict], clients: int,
              workers: int) -> dict:
    extra = {"workers": workers} if workers > 1 else {}  # main's serving() has no workers
    launched = time.perf_counter()
    with serving(registry, wait=1800, **extra) as url:  # 1M records: ~half a minute to load
        start_s = time.perf_counter() - launched  # until every worker holds its index
        port = int(url.rsplit(":", 1)[1])
        requests = [_request(port, token, b) for b in bodies]
        server = _server_pids(port)
        times: list[float] = []
        lock = threading.Lock()

        def client(share: list[bytes]) -> None:
            conn = _Connection(port)
            for warm in share[:5]:
                assert conn.roundtrip(warm) == 200
            mine = []
            for req in share:
                started = time.perf_counter()
                status = conn.roundtrip(req)
                mine.append(1000 * (time.perf_counter() - started))
                assert status == 200, status
            with lock:
                times.extend(mine)

        threads = [threading.Thread(target=client, args=(requests[k::clients],))
                   for k in range(clients)]
        server_cpu, client_cpu = _cpu_seconds(server), time.process_time()
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - started
        server_cpu = _cpu_seconds(server) - server_cpu
        client_cpu = time.process_time() - client_cpu
        pss = _pss_mib(server)
    p50, p99 = _pct(times)
    return {"service_start_s": round(start_s, 1), "service_pss_mib": round(pss),
            "loopback_p50_ms": round(p50, 3), "loopback_p99_ms": round(p99, 3),
            "requests_per_s": round(len(times) / wall, 1), "clients": clients,
            "workers": workers,
            "server_cpu_ms_per_request": round(1000 * server_cpu / len(times), 3),
            "client_cpu_ms_per_request": round(1000 * client_cpu / len(times), 3),
            "client_cpu_share": round(client_cpu / max(client_cpu + server_cpu, 1e-9), 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--entities", type=int, default=20_000)
    ap.add_argument("--encodings", type=Path, help="link these parties' .hme files instead "
                    "of synthesising (crm.hme among them)")
    ap.add_argument("--registry", type=Path, help="registry file: built when missing, "
                    "reused when present")
    ap.add_argument("--queries", type=int, default=2000)
    ap.add_argument("--clients", type=int, default=4, help="client threads, one "
                    "keep-alive connection each")
    ap.add_argument("--workers", type=int, default=2, help="hashmatch serve --workers")
    ap.add_argument("--newcomers", type=int, default=300, help="people of another synth "
                    "seed to query (their crm rows): each should come back new")
    ap.add_argument("--quick", action="store_true", help="smoke test: a few hundred people")
    args = ap.parse_args()
    if args.quick:
        args.entities, args.queries, args.newcomers = 200, 60, 40
    with tempfile.TemporaryDirectory(prefix="hashmatch-serve-bench-") as tmp:
        root = Path(tmp)
        files = sorted(args.encodings.glob("*.hme")) if args.encodings else \
            _synthesise(root, args.entities)
        registry = args.registry or root / "registry.db"
        build_s = _build(registry, files)
        with open_store(str(registry)) as store:
            started = time.perf_counter()
            index = RegistryIndex.load(store)
            load_s = time.perf_counter() - started
        bodies, row_tokens = _bodies(next(f for f in files if f.name == "crm.hme"),
                                     args.queries)
        gc.freeze()  # as the service does after loading: the collector skips the index
        ours, ours_cpu = _server_side(index, bodies)
        reference = _brute_force(index, bodies[: max(10, len(bodies) // 20)])
        p50, p99 = _pct(ours)
        ref50, _ = _pct(reference)
        token = issue_token(str(registry), "crm")
        data = args.encodings.parent if args.encodings else root / "synth"
        secret = (args.encodings or root) / "linkage.secret"
        newcomers = _newcomers(root, secret, data / "schema.toml", data / "crm.mapping.toml",
                               args.newcomers) if secret.exists() else []
        statuses = collections.Counter(a.status for a in _answers(index, newcomers))
        row = {"records": index.size, "entities_synth": None if args.encodings else args.entities,
               "registry_build_s": None if build_s is None else round(build_s, 2),
               "index_load_s": round(load_s, 3),
               "server_p50_ms": round(p50, 3), "server_p99_ms": round(p99, 3),
               **dict(zip(("server_cpu_p50_ms", "server_cpu_p99_ms"),
                          (round(x, 3) for x in _pct(ours_cpu)), strict=True)),
               "no_index_p50_ms": round(ref50, 3), "speedup_vs_no_index": round(ref50 / p50, 1),
               # stored records as the lookup client sends them (with their row token),
               # and from the encoding alone (as the latencies above were measured)
               **_stored_tally(index, _with_row_tokens(bodies, row_tokens), row_tokens,
                               "stored"),
               **_stored_tally(index, bodies, row_tokens, "stored_no_token"),
               "newcomers": len(newcomers),
               **{f"newcomers_{k}": statuses[k] for k in ("new", "ambiguous", "matched")},
               **_loopback(str(registry), token, bodies, args.clients, args.workers),
               **(_spawned_start(str(registry), args.workers) if args.workers > 1 else {}),
               # other work on the machine moves every figure: say how busy it was
               "load_average_1min": round(os.getloadavg()[0], 2)}
    print(json.dumps(row))
    print(f"{row['records']:,} records: index loaded in {row['index_load_s']:.1f} s (the "
          f"service with {row['workers']} workers ready in {row['service_start_s']} s, "
          f"{row['service_pss_mib']} MiB PSS; uvicorn's own workers, the reference: "
          f"{row.get('spawned_start_s')} s, {row.get('spawned_pss_mib')} MiB); "
          f"server side p50 {row['server_p50_ms']} ms, "
          f"p99 {row['server_p99_ms']} ms (CPU time p50 {row['server_cpu_p50_ms']} ms, p99 "
          f"{row['server_cpu_p99_ms']} ms; {row['speedup_vs_no_index']}x a scan of every "
          f"record); loopback p50 {row['loopback_p50_ms']} ms, p99 {row['loopback_p99_ms']} "
          f"ms, {row['requests_per_s']} requests/s with {row['clients']} clients and "
          f"{row['workers']} workers (server {row['server_cpu_ms_per_request']} CPU-ms a "
          f"request, client {row['client_cpu_ms_per_request']}: "
          f"{100 * row['client_cpu_share']:.0f}% of the CPU the loop used)")
    for prefix, how in (("stored", "with"), ("stored_no_token", "without")):
        print(f"stored records queried {how} their row token: {row[prefix + '_same']} of "
              f"{len(bodies)} with their entity ({100 * row[prefix + '_same_share']:.2f}%), "
              f"{row[prefix + '_ambiguous']} ambiguous ({row[prefix + '_ambiguous_listing_it']}"
              f" listing it), {row[prefix + '_new']} new, {row[prefix + '_wrong']} another "
              "entity")
    print(f"newcomers: {row['newcomers_new']} of "
          f"{row['newcomers']} new, {row['newcomers_ambiguous']} ambiguous, "
          f"{row['newcomers_matched']} matched")


if __name__ == "__main__":
    main()
