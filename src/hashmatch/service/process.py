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

__all__ = ["PORT_ATTEMPTS", "free_port", "port_taken", "serving"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


#: Attempts at a free port: ``free_port`` can only say a port was free a moment ago, and
#: another process (a parallel test, a benchmark) may bind it before the service does.
PORT_ATTEMPTS = 5


def port_taken(stderr: bytes) -> bool:
    """True when a server's log says its port was taken before it could bind it."""
    return b"address already in use" in stderr.lower()


@contextmanager
def serving(registry: str, *, wait: float = 120.0, workers: int = 1) -> Iterator[str]:
    """Run the service over ``registry`` on 127.0.0.1 (``workers`` processes, each
    started when this yields); yields its URL."""
    for attempt in range(PORT_ATTEMPTS):
        proc, url, err = _start(registry, wait, workers)
        if proc is not None:
            break
        if not port_taken(err) or attempt == PORT_ATTEMPTS - 1:
            raise HashmatchError("the service did not start:\n"
                                 + err.decode(errors="replace")[-2000:])
    assert proc is not None  # the loop either broke with a process or raised
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _start(registry: str, wait: float, workers: int
           ) -> tuple[subprocess.Popen[bytes] | None, str, bytes]:
    """The service started on a free port and answering ``/health``: (process, URL, b"");
    or (None, URL, its log) when it exited or did not answer within ``wait`` seconds."""
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
    deadline = time.monotonic() + wait
    while True:
        try:
            ready = sum(b"startup complete" in x for x in list(lines)) >= workers
            if ready and httpx.get(url + "/health", timeout=1).status_code == 200:
                return proc, url, b""
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            time.sleep(0.1)  # the reader thread's last lines
            return None, url, b"".join(lines)
        time.sleep(0.2)
