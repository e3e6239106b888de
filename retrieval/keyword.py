"""Term statistics of the catalog's FTS5 indexes, for keyword queries whose cost grows slowly.

An OR-ed FTS5 query scores every row that holds any of its terms, so a common word ("city",
"president") makes the query as slow as that word's posting list is long: linear in the corpus.
``TermStats`` reads how many rows hold each term (FTS5's own vocabulary, through an ``fts5vocab``
table in a read-only connection's temp schema: a count over the term's postings, no scoring) and
how many rows the index has (its "averages" record, no scan). ``fts5_idf`` and ``common_bound``
are the arithmetic of ``Catalog``'s split query (MaxScore): the rare terms find the candidates, the
common ones are scored on them only, and a bound on what the common terms alone can score says when
the top results are exactly those of the one OR-ed query.

Terms are cut into FTS5 tokens by the very tokenizer of the index (``porter unicode61``, run in an
in-memory FTS5 table), so "crackdowns" is looked up as the index stores it ("crackdown").
"""

from __future__ import annotations

import math
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

TOKENIZER = "porter unicode61"  # the catalog's FTS5 tables use this one (catalog.SCHEMA)
K1 = 1.2  # FTS5's bm25() constants (fts5_aux.c); its term weight is idf · f·(K1+1) / (f + K1·(1 − b + b·|D|/avgdl))
TF_BOUND = K1 + 1.0  # ... which stays below idf · (K1 + 1) whatever the frequency f, length |D| and column weights


def fts5_idf(rows: int, hits: int) -> float:
    """FTS5's idf of a phrase held by ``hits`` of ``rows`` rows (clamped to 1e-6 like bm25() does)."""
    idf = math.log((rows - hits + 0.5) / (hits + 0.5))
    return idf if idf > 0 else 1e-6


def common_bound(rows: int, doc_freq: Sequence[int]) -> float:
    """A bound on the BM25 score (as ``-bm25()``, whatever the column weights) a row can reach with only terms
    of these document frequencies: every row holding none of the other terms scores below it."""
    return sum(TF_BOUND * fts5_idf(rows, n) for n in doc_freq)


def _varints(blob: bytes) -> list[int]:
    """SQLite varints (big-endian 7-bit groups; a 9th byte carries 8 bits)."""
    out: list[int] = []
    i = 0
    while i < len(blob):
        value = 0
        for k in range(9):
            byte = blob[i]
            i += 1
            if k == 8:
                value = (value << 8) | byte
                break
            value = (value << 7) | (byte & 0x7F)
            if not byte & 0x80:
                break
        out.append(value)
    return out


class TermStats:
    """Row counts and document frequencies of the FTS5 tables of one SQLite file (thread-safe:
    one read-only connection and one tokenizer per thread)."""

    CACHE_SIZE = 200_000  # document frequencies kept (about 100 bytes each)

    def __init__(self, path: Path, tables: Sequence[str]) -> None:
        self.path = path
        self.tables = tuple(tables)
        self._lock = threading.Lock()
        self._idle: list[tuple[sqlite3.Connection, sqlite3.Connection]] = []  # (catalog, tokenizer) pairs
        self._all: list[sqlite3.Connection] = []
        self._counts: dict[tuple[str, str], int] = {}  # (table, token) -> rows, at generation _generation
        self._generation: int | None = None

    def _open(self) -> tuple[sqlite3.Connection, sqlite3.Connection]:
        # mode=ro (not PRAGMA query_only, which also forbids the temp schema the vocab table needs).
        db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False, isolation_level=None)
        for table in self.tables:
            db.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.{table}_vocab USING fts5vocab(main, {table}, 'row')")
        tok = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        tok.execute(f"CREATE VIRTUAL TABLE q USING fts5(x, tokenize='{TOKENIZER}')")
        tok.execute("CREATE VIRTUAL TABLE qv USING fts5vocab(q, 'instance')")
        with self._lock:
            self._all.extend((db, tok))
        return db, tok

    @contextmanager
    def _connections(self) -> Iterator[tuple[sqlite3.Connection, sqlite3.Connection]]:
        with self._lock:
            pair = self._idle.pop() if self._idle else None
        pair = pair or self._open()
        try:
            yield pair
        finally:
            with self._lock:
                self._idle.append(pair)

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
            self._idle.clear()

    def tokens(self, terms: Sequence[str]) -> list[list[str]]:
        """Each term as the index's tokenizer cuts it (a term may give 0, 1 or several tokens)."""
        with self._connections() as (_, tok):
            tok.execute("BEGIN")
            tok.execute("DELETE FROM q")
            tok.executemany("INSERT INTO q(rowid, x) VALUES (?, ?)", list(enumerate(terms)))
            rows = tok.execute("SELECT term, doc FROM qv ORDER BY doc, \"offset\"").fetchall()
            tok.execute("COMMIT")
        out: list[list[str]] = [[] for _ in terms]
        for token, doc in rows:
            out[doc].append(token)
        return out

    def rows(self, table: str) -> int:
        """Rows in FTS5 table ``table``, from its averages record (no scan)."""
        with self._connections() as (db, _):
            found = db.execute(f"SELECT block FROM {table}_data WHERE id = 1").fetchone()
        return _varints(found[0])[0] if found and found[0] else 0

    def doc_freq(self, table: str, tokens: Sequence[str], generation: int | None = None) -> dict[str, int]:
        """How many rows of ``table`` hold each token (0 for an unknown token). FTS5 counts them over
        the token's postings (fast, but as long as they are); with ``generation`` (the catalog's count
        of committed changes, read by the caller) the counts are kept until it changes."""
        wanted = sorted(set(tokens))
        if not wanted:
            return {}
        cache = self._cache(generation)
        known = {t: cache[(table, t)] for t in wanted if (table, t) in cache}
        missing = [t for t in wanted if t not in known]
        if missing:
            marks = ",".join("?" * len(missing))
            with self._connections() as (db, _):
                found = dict(db.execute(f"SELECT term, doc FROM temp.{table}_vocab WHERE term IN ({marks})", missing))
            with self._lock:
                for t in missing:
                    known[t] = int(found.get(t, 0))
                    if generation is not None and generation == self._generation:
                        cache[(table, t)] = known[t]
        return {t: known[t] for t in wanted}

    def _cache(self, generation: int | None) -> dict[tuple[str, str], int]:
        """The counts read at ``generation`` (a new, empty cache when it changed; none without one)."""
        if generation is None:
            return {}
        with self._lock:
            if generation != self._generation or len(self._counts) > self.CACHE_SIZE:
                self._counts = {}
                self._generation = generation
            return self._counts
