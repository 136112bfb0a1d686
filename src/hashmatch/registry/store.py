"""Where a registry lives: a SQLite file (embedded, the default) or a PostgreSQL database.

Everything above this module speaks one small dialect: SQL with ``?`` placeholders and
the column types of :mod:`hashmatch.registry.migrations`, run through a :class:`Store`.
The two backends differ only in what is here:

* **transactions and the run lock.** A run is one transaction. SQLite: ``BEGIN
  IMMEDIATE`` takes the database's write lock at the start, and ``busy_timeout`` makes a
  second run wait for it up to ``wait`` seconds (WAL journal, so ``registry log`` and
  friends still read meanwhile). PostgreSQL: a transaction-scoped advisory lock, taken
  with ``lock_timeout`` set to the same wait. Either way a run that cannot get the lock
  in time raises :class:`~hashmatch.errors.RegistryBusyError`; a process killed mid-run
  leaves the database as it was (the transaction never committed).
* **bulk loads.** PostgreSQL rows go in through ``COPY``; SQLite through ``executemany``.
* **id lists.** Queries over many record ids join a temporary table of them
  (:meth:`Store.load_ids`) instead of building ``IN (...)`` lists.

PostgreSQL needs the optional extra ``hashmatch[postgres]`` (psycopg 3).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hashmatch.errors import RegistryBusyError, RegistryError

__all__ = ["Store", "is_postgres_url", "open_store"]

#: Advisory lock id of a registry run in PostgreSQL (any fixed number; one registry per
#: database, so one lock).
_PG_LOCK_ID = 0x686D_7265_6769  # "hmregi"


#: SQLite page cache of a connection, KiB, and the most of the file it maps.
_CACHE_KIB = 256 * 1024
_MMAP_BYTES = 1 << 32


def is_postgres_url(url: str | os.PathLike[str]) -> bool:
    return isinstance(url, str) and url.startswith(("postgresql://", "postgres://"))


class Store:
    """One connection to a registry database, with the dialect differences hidden."""

    kind: str  # "sqlite" | "postgresql"
    blob: str  # the binary column type
    without_rowid: str  # table option for key-only tables

    def __init__(self, url: str, conn: Any) -> None:
        self.url = url
        self.conn = conn

    # -- statements ------------------------------------------------------------------

    def sql(self, statement: str) -> str:
        return statement

    def execute(self, statement: str, params: Sequence[Any] = ()) -> Any:
        cur = self.conn.cursor()
        cur.execute(self.sql(statement), tuple(params))
        return cur

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return list(self.execute(statement, params).fetchall())

    def scalar(self, statement: str, params: Sequence[Any] = ()) -> Any:
        row = self.execute(statement, params).fetchone()
        return None if row is None else row[0]

    def insert(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        marks = ",".join("?" * len(columns))
        cur = self.conn.cursor()
        cur.executemany(self.sql(f"INSERT INTO {table} ({','.join(columns)}) VALUES ({marks})"),
                        rows)

    def load_ids(self, ids: Iterable[int], table: str = "tmp_ids") -> None:
        """Fill the temporary table ``table`` (one column ``id``) with ``ids``, replacing
        what it held, for joins over many ids."""
        self.execute(f"CREATE TEMP TABLE IF NOT EXISTS {table} (id BIGINT PRIMARY KEY)")
        self.execute(f"DELETE FROM {table}")
        self.insert(table, ["id"], ((int(i),) for i in sorted(set(ids))))

    def has_table(self, name: str) -> bool:
        raise NotImplementedError

    # -- transactions ----------------------------------------------------------------

    @contextmanager
    def run_transaction(self, wait: float) -> Iterator[None]:
        """One run: the registry's write lock (waiting up to ``wait`` seconds), then commit
        on success and roll back on any exception, including KeyboardInterrupt."""
        self._begin_locked(wait)
        try:
            yield
        except BaseException:
            self.conn.rollback()
            raise
        self.conn.commit()

    @contextmanager
    def read_transaction(self) -> Iterator[None]:
        """A consistent read of several statements (never writes)."""
        try:
            yield
        finally:
            self.conn.rollback()

    def _begin_locked(self, wait: float) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SqliteStore(Store):
    kind = "sqlite"
    blob = "BLOB"
    without_rowid = "WITHOUT ROWID"

    def __init__(self, path: Path, *, create: bool) -> None:
        if not create and not path.is_file():
            raise RegistryError(f"no registry at {path}",
                                hint="a first `hashmatch link ... --registry FILE` creates it")
        try:
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")  # readers go on while a run writes
            conn.execute("PRAGMA synchronous=FULL")
            # a run's inserts land all over the journal's and records' indexes: a page
            # cache of up to 256 MiB (grown as used) keeps them from being read and
            # spilled again and again; the run's temporary id tables stay in memory;
            # reads (the index blobs, most of all) come from a memory map, not copies
            conn.execute(f"PRAGMA cache_size={-_CACHE_KIB}")
            conn.execute("PRAGMA temp_store=MEMORY")
            conn.execute(f"PRAGMA mmap_size={_MMAP_BYTES}")
        except sqlite3.DatabaseError as exc:
            raise RegistryError(f"{path}: cannot be opened as a registry ({exc})") from None
        super().__init__(str(path), conn)

    def execute(self, statement: str, params: Sequence[Any] = ()) -> Any:
        try:
            return self.conn.execute(statement, tuple(params))
        except sqlite3.DatabaseError as exc:
            if "not a database" in str(exc):
                raise RegistryError(f"{self.url}: not a registry (not a SQLite file)") from None
            raise

    def insert(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        marks = ",".join("?" * len(columns))
        self.conn.executemany(f"INSERT INTO {table} ({','.join(columns)}) VALUES ({marks})", rows)

    def has_table(self, name: str) -> bool:
        found = self.scalar("SELECT count(*) FROM sqlite_master WHERE type='table' AND name=?",
                            [name])
        return bool(found)

    @contextmanager
    def read_transaction(self) -> Iterator[None]:
        self.conn.execute("BEGIN")
        try:
            yield
        finally:
            self.conn.execute("ROLLBACK")

    def _begin_locked(self, wait: float) -> None:
        self.conn.execute(f"PRAGMA busy_timeout={max(int(wait * 1000), 0)}")
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise _busy(self.url, wait) from None
            raise


class PostgresStore(Store):
    kind = "postgresql"
    blob = "BYTEA"
    without_rowid = ""

    def __init__(self, url: str) -> None:
        try:
            import psycopg
        except ImportError:
            msg = "a PostgreSQL registry needs psycopg 3"
            raise RegistryError(msg, hint='pip install "hashmatch[postgres]"') from None
        try:
            conn = psycopg.connect(url, autocommit=False)
        except psycopg.Error as exc:
            # the message names the server, never the password (libpq leaves it out)
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise RegistryError(f"cannot connect to the registry database ({detail})") from None
        super().__init__(_redacted(url), conn)

    def sql(self, statement: str) -> str:
        return statement.replace("?", "%s")

    def insert(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        with self.conn.cursor() as cur, cur.copy(
            f"COPY {table} ({','.join(columns)}) FROM STDIN"
        ) as copy:
            for row in rows:
                copy.write_row(row)

    def has_table(self, name: str) -> bool:
        return self.scalar("SELECT to_regclass(?) IS NOT NULL", [name]) is True

    def _begin_locked(self, wait: float) -> None:
        import psycopg

        self.conn.rollback()  # a fresh transaction
        self.execute(f"SET LOCAL lock_timeout = '{max(int(wait * 1000), 1)}ms'")
        try:
            self.execute("SELECT pg_advisory_xact_lock(?)", [_PG_LOCK_ID])
        except psycopg.errors.LockNotAvailable:
            self.conn.rollback()
            raise _busy(self.url, wait) from None
        self.execute("SET LOCAL lock_timeout = 0")


def _busy(url: str, wait: float) -> RegistryBusyError:
    return RegistryBusyError(
        f"{url}: another run is updating this registry (waited {wait:g} s)",
        hint="let it finish and run again, or wait longer with --wait SECONDS",
    )


def _redacted(url: str) -> str:
    """The URL without a password, for messages and reports."""
    scheme, sep, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    if not at or ":" not in creds:
        return url
    return f"{scheme}{sep}{creds.split(':', 1)[0]}:***@{host}"


def open_store(url: str | os.PathLike[str], *, create: bool = False) -> Store:
    """Connect to the registry at ``url``: a ``postgresql://`` URL or a SQLite file path
    (created on first use when ``create``)."""
    if is_postgres_url(url):
        return PostgresStore(str(url))
    return SqliteStore(Path(url), create=create)
