"""One SQLite database file shared by threads: WAL mode, one connection for writes and serialized
access, plus a pool of read-only connections so that searches can read in parallel."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class SQLiteDB:
    """Base of the catalog and the conversation store: opens ``path`` and applies ``schema``."""

    def __init__(self, path: Path, schema: str, busy_timeout_s: float = 60, foreign_keys: bool = False) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.RLock()
        self._busy_timeout_s = busy_timeout_s
        # Read-only connections, under a lock of their own: a reader never waits for a write
        # transaction holding ``_lock`` (WAL lets it read the last committed state meanwhile).
        self._pool_lock = threading.Lock()
        self._readers: list[sqlite3.Connection] = []  # idle
        self._all_readers: list[sqlite3.Connection] = []
        self._db = sqlite3.connect(path, check_same_thread=False, timeout=busy_timeout_s, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
        if foreign_keys:
            self._db.execute("PRAGMA foreign_keys=ON")
        with self._lock:
            self._db.executescript(schema)

    def close(self) -> None:
        with self._pool_lock:
            for reader in self._all_readers:
                reader.close()
            self._readers.clear()
            self._all_readers.clear()
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT, rolled back on any exception (also KeyboardInterrupt)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """A read on a pooled read-only connection: unlike ``_query`` it runs alongside other reads
        (WAL readers do not block each other, and SQLite lets go of the GIL while it works). For the
        heavy search queries, which search() runs two at a time."""
        with self._pool_lock:
            reader = self._readers.pop() if self._readers else None
        if reader is None:
            reader = sqlite3.connect(self.path, check_same_thread=False, timeout=self._busy_timeout_s,
                                     isolation_level=None)
            reader.row_factory = sqlite3.Row
            reader.execute("PRAGMA query_only=ON")
            with self._pool_lock:
                self._all_readers.append(reader)
        try:
            return reader.execute(sql, params).fetchall()
        finally:
            with self._pool_lock:
                self._readers.append(reader)
