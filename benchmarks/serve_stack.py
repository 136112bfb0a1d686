"""The lookup service's HTTP stack: server CPU a request under uvicorn's protocol and loop
choices (h11 + asyncio, httptools + asyncio, httptools + uvloop), one process each in
turn, the same app, registry and requests (``benchmarks/serve.py``'s raw-socket client).
The reference is h11 + asyncio, uvicorn's pure-Python default, measured in the same run.

    python benchmarks/serve_stack.py --encodings ENC --registry REG   # crm.hme in ENC
    python benchmarks/serve_stack.py --quick      # smoke test: a synthesised registry
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

from serve import _bodies, _Connection, _cpu_seconds, _launch, _request, _synthesise  # serve.py

from hashmatch.registry import update
from hashmatch.service.tokens import issue_token

_RUN = ("import sys, uvicorn\nfrom hashmatch.service.app import create_app\n"
        "uvicorn.run(create_app(sys.argv[1]), host='127.0.0.1', port=int(sys.argv[2]), "
        "http=sys.argv[3], loop=sys.argv[4], log_level='info', access_log=False)")
STACKS = (("h11", "asyncio"), ("httptools", "asyncio"), ("httptools", "uvloop"))


def _measure(registry: str, token: str, bodies: list[dict], http: str, loop: str,
             clients: int) -> dict:
    # uvicorn says "startup complete" once the index is loaded, *before* it binds the
    # port; "running on" once it listens
    proc, port, _ = _launch(
        lambda port: [sys.executable, "-c", _RUN, registry, str(port), http, loop],
        b"Uvicorn running on", 1, f"{http} + {loop}")
    try:
        requests = [_request(port, token, b) for b in bodies]
        done = [0] * clients

        def client(k: int, share: list[bytes]) -> None:
            conn = _Connection(port)
            for req in share:
                status = conn.roundtrip(req)
                if status != 200:
                    msg = f"{http} + {loop}: a request got HTTP {status}"
                    raise RuntimeError(msg)
            done[k] = len(share)  # each thread its own slot: no lost update

        threads = [threading.Thread(target=client, args=(k, requests[k::clients]))
                   for k in range(clients)]
        cpu, started = _cpu_seconds([proc.pid]), time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall, cpu = time.perf_counter() - started, _cpu_seconds([proc.pid]) - cpu
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    if sum(done) != len(requests):  # a client thread failed (its error was printed)
        msg = f"{http} + {loop}: {sum(done)} of {len(requests)} requests answered"
        raise RuntimeError(msg)
    return {"http": http, "loop": loop, "requests_per_s": round(sum(done) / wall, 1),
            "server_cpu_ms_per_request": round(1000 * cpu / sum(done), 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--encodings", type=Path, help="the parties' .hme files (crm.hme)")
    ap.add_argument("--registry", type=Path, help="a registry they were linked into")
    ap.add_argument("--queries", type=int, default=1500)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--quick", action="store_true", help="smoke test: 200 people "
                    "synthesised and linked into a new registry")
    args = ap.parse_args()
    if not args.quick and not (args.encodings and args.registry):
        ap.error("--encodings and --registry are required (or --quick)")
    with tempfile.TemporaryDirectory(prefix="hashmatch-serve-stack-") as tmp:
        if args.quick:
            args.encodings, args.registry, args.queries = Path(tmp), Path(tmp) / "r.db", 60
            update(str(args.registry), _synthesise(args.encodings, 200))
        token = issue_token(str(args.registry), "crm")
        bodies, _ = _bodies(args.encodings / "crm.hme", args.queries)
        if args.quick:  # ~100 rows: each asked 10 times, over the CPU clock's 10 ms ticks
            bodies *= 10
        rows = [_measure(str(args.registry), token, bodies, http, loop, args.clients)
                for http, loop in STACKS]
    ref = rows[0]["server_cpu_ms_per_request"]
    for row in rows:
        row["cpu_vs_h11_asyncio"] = round(row["server_cpu_ms_per_request"] / ref, 2) \
            if ref else None  # (no clock tick seen: too few requests)
        row["load_average_1min"] = round(os.getloadavg()[0], 2)
        print(json.dumps(row))


if __name__ == "__main__":
    main()
