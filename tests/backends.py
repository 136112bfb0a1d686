"""Registry backends for tests: SQLite, and PostgreSQL when a server is at hand.

PostgreSQL comes from ``HASHMATCH_TEST_POSTGRES`` (a DSN to an existing database on a
server the tests may create databases on; ``.ci/run`` starts one). Without it, a
throwaway cluster is started here when ``initdb`` is installed; otherwise the PostgreSQL
runs are skipped, except in CI (``CI=true``), where a missing server fails them.

The fixtures are imported by ``tests/unit/conftest.py``, so the registry's tests and the
lookup service's share one server per test session.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_ENV = "HASHMATCH_TEST_POSTGRES"


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return versions[-1] if versions else None


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A DSN to a PostgreSQL database the tests may create databases from."""
    dsn = os.environ.get(PG_ENV)
    if dsn:
        yield dsn
        return
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI needs a PostgreSQL server: set {PG_ENV} (see .ci/run)")
        pytest.skip("no PostgreSQL server: set HASHMATCH_TEST_POSTGRES or install postgresql")
    folder = Path(tempfile.mkdtemp(prefix="hashmatch-pg-"))
    os.chmod(folder, 0o700)
    user = ["-U", "postgres"]
    run_as: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root: run the cluster as an unprivileged user
        shutil.chown(folder, "postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = folder / "data"
    subprocess.run([*run_as, initdb, "-D", str(data), *user, "-A", "trust"], check=True,
                   capture_output=True)
    subprocess.run([*run_as, pg_ctl, "-D", str(data), "-l", str(folder / "log"), "-w",
                    "-o", f"-h 127.0.0.1 -p {port} -k {folder}", "start"], check=True,
                   capture_output=True)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*run_as, pg_ctl, "-D", str(data), "-m", "immediate", "stop"],
                       check=False, capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def registry_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new, empty registry of each backend."""
    if request.param == "sqlite":
        yield str(tmp_path / "registry.db")
        return
    import psycopg

    server = request.getfixturevalue("postgres_server")
    name = f"hm_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    base, _, _ = server.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
