"""Single-record lookups against a registry: server-side latency and loopback throughput.

Synthesises 4 parties (``hashmatch synth``), links them into a new registry, loads the
service's in-memory index, then measures:

* **server side**: decoding and answering one record in the service's own code (what a
  request costs inside ``POST /v1/match``), over ``--queries`` records of the parties'
  files, p50/p99 in ms; and, as the reference measured in the same run, the same records
  scored against *every* stored record (no index), whose median over ours is the ratio;
* **over loopback**: ``hashmatch serve`` on uvicorn at 127.0.0.1 (one worker), a bounded
  loop of single-record ``POST /v1/match`` requests from ``--clients`` threads, each on a
  keep-alive httpx connection: p50/p99 round trip and requests/s.

Bars (issue 16): p50 <= 5 ms, p99 <= 20 ms server side, >= 500 requests/s, at 1M records.
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
import json
import os
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

from hashmatch.encfile import EncodingFile
from hashmatch.encode import LinkageSecret, encode_file
from hashmatch.encode.keys import RowKey
from hashmatch.link.inputs import as_encoding
from hashmatch.link.scorer import PairScorer
from hashmatch.registry import update
from hashmatch.registry.records import RecordSet
from hashmatch.registry.store import open_store
from hashmatch.service.index import RegistryIndex
from hashmatch.service.payload import MatchRequest, decode_records, encode_rows
from hashmatch.service.process import serving
from hashmatch.service.tokens import issue_token
from hashmatch.synth import synthesize

PARTIES = ("callcentre", "catalogue", "crm", "partner")


def _synthesise(root: Path, entities: int) -> list[Path]:
    synthesize(root / "synth", entities=entities, seed=11)
    secret = LinkageSecret.generate()
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


def _bodies(crm: Path, n: int) -> list[dict]:
    with EncodingFile.open(crm) as f:
        h = f.header
        rng = np.random.default_rng(5)
        rows = np.sort(rng.choice(h.rows, size=min(n, h.rows), replace=False))
        # no row token: answer from the encoding alone, the general (slower) path
        records = encode_rows(np.asarray(f.clks[rows]),
                              {k: np.asarray(f.token(k)[rows]) for k in h.token_names},
                              np.asarray(f.present[rows]), None, h.field_names)
        fingerprint, commitment = h.schema_fingerprint, h.secret_commitment
    order = np.random.default_rng(6).permutation(len(records))
    return [{"schema_fingerprint": fingerprint, "secret_commitment": commitment,
             "records": [records[k]]} for k in order]


def _pct(ms: list[float]) -> tuple[float, float]:
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def _server_side(index: RegistryIndex, bodies: list[dict]) -> list[float]:
    out = []
    for body in bodies:
        started = time.perf_counter()
        index.match(decode_records(MatchRequest.model_validate(body), index.layout), "crm")
        out.append(1000 * (time.perf_counter() - started))
    return out


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


def _loopback(registry: str, token: str, bodies: list[dict], clients: int) -> dict:
    with serving(registry) as url:
        times: list[float] = []
        lock = threading.Lock()

        def worker(share: list[dict]) -> None:
            headers = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=url, headers=headers, timeout=10) as http:
                http.post("/v1/match", json=share[0]).raise_for_status()  # warm connection
                mine = []
                for body in share:
                    started = time.perf_counter()
                    http.post("/v1/match", json=body).raise_for_status()
                    mine.append(1000 * (time.perf_counter() - started))
            with lock:
                times.extend(mine)

        threads = [threading.Thread(target=worker, args=(bodies[k::clients],))
                   for k in range(clients)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - started
    p50, p99 = _pct(times)
    return {"loopback_p50_ms": round(p50, 3), "loopback_p99_ms": round(p99, 3),
            "requests_per_s": round(len(times) / wall, 1), "clients": clients}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--entities", type=int, default=20_000)
    ap.add_argument("--encodings", type=Path, help="link these parties' .hme files instead "
                    "of synthesising (crm.hme among them)")
    ap.add_argument("--registry", type=Path, help="registry file: built when missing, "
                    "reused when present")
    ap.add_argument("--queries", type=int, default=2000)
    ap.add_argument("--clients", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="smoke test: a few hundred people")
    args = ap.parse_args()
    if args.quick:
        args.entities, args.queries = 200, 60
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
        bodies = _bodies(next(f for f in files if f.name == "crm.hme"), args.queries)
        ours = _server_side(index, bodies)
        reference = _brute_force(index, bodies[: max(10, len(bodies) // 20)])
        p50, p99 = _pct(ours)
        ref50, _ = _pct(reference)
        token = issue_token(str(registry), "crm")
        row = {"records": index.size, "entities_synth": None if args.encodings else args.entities,
               "registry_build_s": None if build_s is None else round(build_s, 2),
               "index_load_s": round(load_s, 3),
               "server_p50_ms": round(p50, 3), "server_p99_ms": round(p99, 3),
               "no_index_p50_ms": round(ref50, 3), "speedup_vs_no_index": round(ref50 / p50, 1),
               **_loopback(str(registry), token, bodies, args.clients),
               # other work on the machine moves every figure: say how busy it was
               "load_average_1min": round(os.getloadavg()[0], 2)}
    print(json.dumps(row))
    print(f"{row['records']:,} records: server side p50 {row['server_p50_ms']} ms, "
          f"p99 {row['server_p99_ms']} ms ({row['speedup_vs_no_index']}x a scan of every "
          f"record); loopback p50 {row['loopback_p50_ms']} ms, p99 {row['loopback_p99_ms']} "
          f"ms, {row['requests_per_s']} requests/s with {row['clients']} clients")


if __name__ == "__main__":
    main()
