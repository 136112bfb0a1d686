"""``hashmatch serve`` as a child process on a free loopback port (tests, benchmarks,
scripts that need a real socket): started, waited for on ``/health``, stopped on exit."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from hashmatch.errors import HashmatchError

__all__ = ["free_port", "serving"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(registry: str, *, wait: float = 120.0, workers: int = 1) -> Iterator[str]:
    """Run the service over ``registry`` on 127.0.0.1 (``workers`` processes, each
    started when this yields); yields its URL."""
    port = free_port()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    more = ["--workers", str(workers)] if workers > 1 else []
    proc = subprocess.Popen([sys.executable, "-m", "hashmatch", "serve", "--registry",
                             registry, "--port", str(port), *more], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    # uvicorn says "startup complete" once per worker: all must hold their index
    lines: list[bytes] = []
    assert proc.stderr is not None
    threading.Thread(target=lines.extend, args=(iter(proc.stderr.readline, b""),),
                     daemon=True).start()
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                ready = sum(b"startup complete" in x for x in list(lines)) >= workers
                if ready and httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                err = b"".join(lines).decode(errors="replace")[-2000:]
                raise HashmatchError("the service did not start:\n" + err) from None
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
