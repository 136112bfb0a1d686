"""``hashmatch serve --workers N`` on Linux: the registry is indexed once, then N workers
are forked from the process holding it.

uvicorn's own ``--workers`` spawns fresh interpreters, each of which loads the index
again: N times the CPU before the service answers (on a busy 2-core machine, 93 s to
start 2 workers over 1M records where one load takes ~30 s) and N full copies in memory.
Forked after the load, the workers share the index's pages copy-on-write (its arrays are
only read; the collector was told to leave its objects alone, :func:`gc.freeze`, so that
it does not write to their headers either), and the service starts in the time of one
load. Each worker then runs its own uvicorn server on the one listening socket, opens its
own registry connection (never one shared across a fork) and keeps its index current as
before (:class:`~hashmatch.service.app._Service`: siblings' commits in place, another
writer's run by a fresh load, a run between the load and the fork included).

Supervision is deliberately small: SIGTERM or SIGINT is passed to the workers, and when
a worker ends on its own the others are stopped and the command fails, for the process
manager (systemd, a container runtime) to restart the service as a whole.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import signal
import sys
from typing import Any

from hashmatch.registry.store import open_store
from hashmatch.service.app import create_app
from hashmatch.service.index import RegistryIndex

__all__ = ["can_fork", "run_forked"]

log = logging.getLogger("hashmatch.service")


def can_fork() -> bool:
    """Whether workers are forked here: on Linux (macOS's system libraries are not safe
    to use in a forked child, Windows has no fork)."""
    return hasattr(os, "fork") and sys.platform.startswith("linux")


def preloaded(registry: str) -> RegistryIndex:
    """The registry's index, its compiled matcher built and its objects frozen, ready to
    be shared by forked workers."""
    with open_store(registry) as store:
        index = RegistryIndex.load(store)
    index.matcher()  # laid out once here, not once per worker at its first request
    gc.collect()
    gc.freeze()
    return index


def run_forked(registry: str, workers: int, shared: str, options: dict[str, Any]) -> int:
    """Serve ``registry`` from ``workers`` processes forked after one load; ``shared``:
    their commit log folder; ``options``: :class:`uvicorn.Config`'s. Returns the exit
    status (0 after a signal, 1 when a worker ended on its own)."""
    import uvicorn

    index = preloaded(registry)
    sock = uvicorn.Config(app=None, **options).bind_socket()  # type: ignore[arg-type]
    children: set[int] = set()
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:  # a worker: its own app and server on the shared socket
            status = 1
            try:
                app = create_app(registry, shared=shared, index=index)
                uvicorn.Server(uvicorn.Config(app, **options)).run(sockets=[sock])
                status = 0
            except SystemExit as exc:
                status = exc.code if isinstance(exc.code, int) else 1
            except BaseException:
                log.exception("worker %d failed", os.getpid())
            finally:
                os._exit(status)  # never back into the parent's code
        children.add(pid)
    sock.close()
    stopping = False

    def stop(signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True
        for child in children:
            with contextlib.suppress(ProcessLookupError):  # ended already
                os.kill(child, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    status = 0
    while children:
        try:
            pid, _ = os.wait()
        except ChildProcessError:
            break
        children.discard(pid)
        if not stopping:
            log.error("worker %d ended on its own: stopping the service", pid)
            status = 1
            stop(signal.SIGTERM, None)
    return status
