"""The SQLite catalog: article records, chunk texts, the BM25 keyword index (FTS5) and ingest state.

It is the authority on what is indexed. Chroma holds vectors for the same chunk ids; the write
protocol in ``store.Store`` keeps both in step across crashes. Kept behind this small class so
that a shared SQL database (e.g. PostgreSQL full-text search) can replace it later.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from retrieval.keyword import TermStats, common_bound
from retrieval.sqlite import SQLiteDB
from retrieval.text import keyword_terms
from retrieval.types import Article, Chunk

SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL DEFAULT '',
    url TEXT NOT NULL DEFAULT '',
    published TEXT NOT NULL DEFAULT '',
    outlet TEXT NOT NULL DEFAULT '',
    authors TEXT NOT NULL DEFAULT '[]',
    source TEXT NOT NULL DEFAULT '',
    text TEXT NOT NULL DEFAULT '',
    content_hash TEXT,
    state TEXT NOT NULL DEFAULT 'pending',
    n_chunks INTEGER NOT NULL DEFAULT 0,
    ingested_at REAL
);
CREATE INDEX IF NOT EXISTS articles_source ON articles(source);
-- What every ingest reads first (Catalog.states): without it the read walks past each article's text,
-- stored before content_hash and state (43 → 8 ms at 11,820 articles warm; seconds cold at 16×).
CREATE INDEX IF NOT EXISTS articles_states ON articles(id, content_hash, state, source);
CREATE TABLE IF NOT EXISTS chunks (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    article_id TEXT NOT NULL,
    ord INTEGER NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    section TEXT NOT NULL DEFAULT '',
    title TEXT NOT NULL DEFAULT '',
    text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_article ON chunks(article_id);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    text, title, section, content='chunks', content_rowid='rowid', tokenize='porter unicode61'
);
CREATE TRIGGER IF NOT EXISTS chunks_ai AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_fts(rowid, text, title, section) VALUES (new.rowid, new.text, new.title, new.section);
END;
CREATE TRIGGER IF NOT EXISTS chunks_ad AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts(chunks_fts, rowid, text, title, section)
    VALUES ('delete', old.rowid, old.text, old.title, old.section);
END;
-- Whole articles (title + text) for article-level BM25. It keeps its own copy of the text, so that
-- it never depends on the implicit rowids of ``articles`` (which VACUUM may renumber).
CREATE VIRTUAL TABLE IF NOT EXISTS articles_fts USING fts5(
    article_id UNINDEXED, title, text, tokenize='porter unicode61'
);
-- Which articles_fts row holds each article: article_id is UNINDEXED there, so finding an article's
-- row by it scans the whole table (10 ms per article at 2,955 articles, 150 ms at 47,280 — per write).
-- FTS5 rowids are explicit (its content table's INTEGER PRIMARY KEY): VACUUM keeps them.
CREATE TABLE IF NOT EXISTS articles_fts_rows (article_id TEXT PRIMARY KEY, fts_rowid INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
-- Articles changed since the keyword engine (keyword_index.KeywordIndex) last caught up: written in the
-- same transaction as each change, emptied by the writer once the engine has committed them. An empty
-- article_id stands for every article (the index was cleared).
CREATE TABLE IF NOT EXISTS keyword_backlog (seq INTEGER PRIMARY KEY AUTOINCREMENT, article_id TEXT NOT NULL);
"""
# Bump when a derived index (articles_fts) must be rebuilt from the articles table on open.
# "2": articles_fts_rows, filled from articles_fts itself when a catalog of version "1" opens.
DERIVED_VERSION = "2"
# Every committed change of what is indexed adds 1 to the catalog's generation (in the same
# transaction), so readers in any process can tell cheaply that the index changed under them.
_BACKLOG = "INSERT INTO keyword_backlog(article_id) VALUES (?)"
_BUMP_GENERATION = (
    "INSERT INTO meta(key, value) VALUES ('generation', '1') "
    "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"
)

@dataclass(frozen=True)
class KeywordHit:
    chunk_id: str
    score: float  # BM25, higher is better


@dataclass(frozen=True)
class ArticleHit:
    article_id: str
    score: float  # BM25 of the whole article, higher is better


class Catalog(SQLiteDB):
    """Thread-safe access to the catalog database (one connection, WAL mode, serialized writes)."""

    def __init__(self, path: Path, common_share: float = 0.0, common_rows: int = 0) -> None:
        super().__init__(path, SCHEMA)
        # Settings.keyword_common_share / keyword_common_rows: see _bm25. Share 0: one OR-ed query.
        self.common_share = common_share
        self.common_rows = common_rows
        self.plans: Counter[str] = Counter()  # how _bm25 answered, for benchmarks
        derived = self.get_meta("derived_version")
        if derived != DERIVED_VERSION:
            self._rebuild_article_index(full=derived != "1")

    def _rebuild_article_index(self, full: bool = True) -> None:
        """Fill ``articles_fts`` from the articles (catalogs written before it existed), and
        ``articles_fts_rows`` from ``articles_fts`` (``full=False``: catalogs written before the map)."""
        with self.transaction() as db:
            if full:
                db.execute("DELETE FROM articles_fts")
                db.execute(
                    "INSERT INTO articles_fts(article_id, title, text) SELECT id, title, text FROM articles "
                    "WHERE state = 'done'"
                )
            db.execute("DELETE FROM articles_fts_rows")
            db.execute("INSERT OR REPLACE INTO articles_fts_rows(article_id, fts_rowid) "
                       "SELECT article_id, rowid FROM articles_fts")
            db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('derived_version', ?)", (DERIVED_VERSION,))

    @staticmethod
    def _drop_article_row(db: sqlite3.Connection, article_id: str) -> None:
        """Remove the article's ``articles_fts`` row, found through ``articles_fts_rows`` (no scan)."""
        row = db.execute("SELECT fts_rowid FROM articles_fts_rows WHERE article_id = ?", (article_id,)).fetchone()
        if row is not None:
            db.execute("DELETE FROM articles_fts WHERE rowid = ?", (row[0],))
            db.execute("DELETE FROM articles_fts_rows WHERE article_id = ?", (article_id,))

    # --- ingest state --------------------------------------------------------------------------
    def states(self) -> dict[str, tuple[str | None, str, str]]:
        """article id -> (content hash, state, source) for every article known."""
        rows = self._query("SELECT id, content_hash, state, source FROM articles")
        return {r["id"]: (r["content_hash"], r["state"], r["source"]) for r in rows}

    def chunkless(self) -> set[str]:
        """Ids of the articles written with no chunk: one-line articles, before session 12, were taken
        for a heading over nothing. They are redone even when unchanged. Reads ``articles_states`` and
        ``chunks_article`` only (never the texts)."""
        # A set difference of two index scans: 0.13 s at 47,280 articles (a lookup per article: 0.7 s).
        rows = self._query("SELECT id FROM articles WHERE state = 'done' EXCEPT SELECT article_id FROM chunks")
        return {r["id"] for r in rows}

    def has_source(self, source: str) -> bool:
        """Whether an article read from ``source`` (a file's recorded path; its records' and pages'
        ``source#…`` too) is in the index."""
        rows = self._query(
            "SELECT 1 FROM articles WHERE state = 'done' AND (source = ? OR (source >= ? AND source < ?)) LIMIT 1",
            (source, f"{source}#", f"{source}$"),  # '$' follows '#': every "source#…"
        )
        return bool(rows)

    def set_sources(self, sources: dict[str, str]) -> None:
        """Record where articles now read from (article id -> source); nothing else changes."""
        if sources:
            with self.transaction() as db:
                db.executemany("UPDATE articles SET source = ? WHERE id = ?", [(s, i) for i, s in sources.items()])

    def done_chunk_count(self) -> int:
        """Chunks of the articles written completely (the vectors the collection must hold)."""
        return int(self._query("SELECT COALESCE(SUM(n_chunks), 0) AS n FROM articles WHERE state = 'done'")[0]["n"])

    def articles_missing(self, present: set[str]) -> set[str]:
        """Done articles with a chunk whose id is not in ``present`` (the vector ids a store holds)."""
        rows = self._query("SELECT c.id, c.article_id FROM chunks c JOIN articles a ON a.id = c.article_id"
                           " WHERE a.state = 'done'")
        return {r["article_id"] for r in rows if r["id"] not in present}

    def mark_pending(self, article_id: str, source: str = "") -> None:
        """Step 1 of every change: the article is no longer known to be consistent."""
        with self.transaction() as db:
            db.execute(
                "INSERT INTO articles(id, source, state) VALUES (?, ?, 'pending') "
                "ON CONFLICT(id) DO UPDATE SET state='pending'",
                (article_id, source),
            )
            db.execute(_BACKLOG, (article_id,))

    def replace_article(self, article: Article, chunks: Sequence[Chunk], content_hash: str) -> int:
        """Last step of a write: chunks, keyword index and record replaced in one transaction.
        Returns the index's new generation."""
        now = time.time()
        with self.transaction() as db:
            db.execute("DELETE FROM chunks WHERE article_id = ?", (article.id,))
            db.executemany(
                # Catalogs from before session 18 have a dup_of column after section (near-duplicates within
                # an article, never read): it is left as it is, and new rows take its default ''.
                "INSERT INTO chunks(id, article_id, ord, start, end, section, title, text) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(c.id, c.article_id, c.ord, c.start, c.end, c.section, article.title, c.text) for c in chunks],
            )
            db.execute(
                "INSERT INTO articles(id, title, url, published, outlet, authors, source, text, content_hash,"
                " state, n_chunks, ingested_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'done', ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET title=excluded.title, url=excluded.url,"
                " published=excluded.published, outlet=excluded.outlet, authors=excluded.authors,"
                " source=excluded.source, text=excluded.text, content_hash=excluded.content_hash,"
                " state='done', n_chunks=excluded.n_chunks, ingested_at=excluded.ingested_at",
                (
                    article.id, article.title, article.url, article.published, article.outlet,
                    json.dumps(list(article.authors)), article.source, article.text, content_hash,
                    len(chunks), now,
                ),
            )
            self._drop_article_row(db, article.id)
            added = db.execute(
                "INSERT INTO articles_fts(article_id, title, text) VALUES (?, ?, ?)",
                (article.id, article.title, article.text),
            )
            db.execute("INSERT INTO articles_fts_rows(article_id, fts_rowid) VALUES (?, ?)",
                       (article.id, added.lastrowid))
            db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('last_ingest', ?)", (str(now),))
            db.execute(_BACKLOG, (article.id,))
            return self._bump_generation(db)

    def delete_article(self, article_id: str) -> int:
        """Remove an article, its chunks and keyword rows; returns the new generation."""
        with self.transaction() as db:
            db.execute("DELETE FROM chunks WHERE article_id = ?", (article_id,))
            self._drop_article_row(db, article_id)
            db.execute("DELETE FROM articles WHERE id = ?", (article_id,))
            db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('last_ingest', ?)", (str(time.time()),))
            db.execute(_BACKLOG, (article_id,))
            return self._bump_generation(db)

    def clear(self) -> int:
        """Drop every article (``ingest --rebuild``); returns the new generation."""
        with self.transaction() as db:
            db.execute("DELETE FROM chunks")
            db.execute("DELETE FROM articles_fts")
            db.execute("DELETE FROM articles_fts_rows")
            db.execute("DELETE FROM articles")
            db.execute(_BACKLOG, ("",))
            return self._bump_generation(db)

    @staticmethod
    def _bump_generation(db: sqlite3.Connection) -> int:
        db.execute(_BUMP_GENERATION)
        return int(db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])

    def get_meta(self, key: str) -> str | None:
        rows = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0]["value"] if rows else None

    def generation(self) -> int:
        """How many committed changes the index has seen (0 for a new one). A read on a pooled
        read-only connection: it never waits for a write transaction, in this process or another."""
        rows = self._read("SELECT value FROM meta WHERE key = 'generation'")
        return int(rows[0]["value"]) if rows else 0

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    # --- reads ---------------------------------------------------------------------------------
    def chunks_by_id(self, ids: Iterable[str]) -> dict[str, sqlite3.Row]:
        """Chunk rows joined with their article's metadata, for articles in a consistent state."""
        ids = list(ids)
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self._query(
            "SELECT c.id, c.article_id, c.ord, c.start, c.end, c.section, c.text, a.title, a.url,"
            f" a.published, a.outlet FROM chunks c JOIN articles a ON a.id = c.article_id WHERE c.id IN ({marks})"
            # An article being rewritten (or left so by a killed run) is not shown: its vectors may already be
            # the new text's while its rows are the old one's.
            " AND a.state = 'done'",
            ids,
        )
        return {r["id"]: r for r in rows}

    def article(self, article_id: str) -> sqlite3.Row | None:
        rows = self._query("SELECT * FROM articles WHERE id = ?", (article_id,))
        return rows[0] if rows else None

    def chunk_ids(self, article_id: str) -> list[str]:
        return [r["id"] for r in self._query("SELECT id FROM chunks WHERE article_id = ? ORDER BY ord", (article_id,))]

    @staticmethod
    def _article_filters(outlets: Sequence[str], date_from: str, date_to: str) -> tuple[list[str], list[Any]]:
        """SQL conditions (on articles ``a``) and their parameters for outlet and ISO date-range filters."""
        where: list[str] = []
        params: list[Any] = []
        if outlets:
            where.append(f"a.outlet IN ({','.join('?' * len(outlets))})")
            params.extend(outlets)
        if date_from:
            where.append("a.published != '' AND substr(a.published, 1, 10) >= ?")
            params.append(date_from[:10])
        if date_to:
            where.append("a.published != '' AND substr(a.published, 1, 10) <= ?")
            params.append(date_to[:10])
        return where, params

    # --- keyword search ------------------------------------------------------------------------
    # Per FTS5 table: the score (bm25 with column weights), the joins that reach the article (``a``)
    # and the id returned.
    _KEYWORD_TABLES: ClassVar[dict[str, tuple[str, str, str]]] = {
        "chunks_fts": (
            "bm25(chunks_fts, 1.0, 0.6, 0.3)",
            "JOIN chunks c ON c.rowid = chunks_fts.rowid JOIN articles a ON a.id = c.article_id",
            "c.id",
        ),
        "articles_fts": (
            "bm25(articles_fts, 0.0, 1.0, 1.0)",
            "JOIN articles a ON a.id = articles_fts.article_id",
            "articles_fts.article_id",
        ),
    }

    def _term_stats(self) -> TermStats:
        stats = self.__dict__.get("_keyword_stats")
        if stats is None:
            with self._lock:
                stats = self.__dict__.setdefault("_keyword_stats", TermStats(self.path, tuple(self._KEYWORD_TABLES)))
        return stats

    def _top(self, fts: str, match: str, limit: int, outlets: Sequence[str], date_from: str,
             date_to: str) -> list[tuple[str, float]]:
        """(id, -bm25) of the ``limit`` best rows of ``fts`` matching ``match``, articles ``done`` and
        under the filters. Without outlet/date filters FTS5 ranks alone and only the top rows are
        joined (joining every matching row first costs more than scoring it)."""
        score, join, ident = self._KEYWORD_TABLES[fts]
        conditions, params = self._article_filters(outlets, date_from, date_to)
        if not conditions:
            top = self._read(f"SELECT rowid AS rid, {score} AS s FROM {fts} WHERE {fts} MATCH ? ORDER BY s LIMIT ?",
                             [match, limit])
            if not top:
                return []
            marks = ",".join("?" * len(top))
            ids = {r["rid"]: r["id"] for r in self._read(
                f"SELECT {fts}.rowid AS rid, {ident} AS id FROM {fts} {join} "
                f"WHERE {fts}.rowid IN ({marks}) AND a.state = 'done'", [r["rid"] for r in top])}
            if len(ids) == len(top) or len(top) < limit:
                return [(ids[r["rid"]], -float(r["s"])) for r in top if r["rid"] in ids]
            # Some of the top rows belong to articles being rewritten: rank with the join (rare).
        where = " AND ".join([f"{fts} MATCH ?", "a.state = 'done'", *conditions])
        rows = self._read(f"SELECT {ident} AS id, {score} AS s FROM {fts} {join} WHERE {where} ORDER BY s LIMIT ?",
                          [match, *params, limit])
        return [(r["id"], -float(r["s"])) for r in rows]

    def _split_top(self, fts: str, rare: Sequence[str], common: Sequence[str], limit: int,
                   outlets: Sequence[str], date_from: str, date_to: str) -> list[tuple[str, float]]:
        """The ``limit`` best rows holding a ``rare`` term, scored over all terms, best first.

        Rows holding a common term too come from ``(rare) AND (common)``, with their full score. A row
        holding only rare terms scores what ``rare`` alone gives it, and if it is among the best it is
        among the ``limit`` best of ``rare`` alone (the rows above it there score at least as much
        over all terms). That list also holds rows with a common term, scored without it: such a row
        is not among the first list's, so it scores below that list's last, and it can only fall
        behind the cut — unless the first list is short, and then it holds every such row."""
        either = " OR ".join(rare)
        both = self._top(fts, f"({either}) AND ({' OR '.join(common)})", limit, outlets, date_from, date_to)
        alone = self._top(fts, either, limit, outlets, date_from, date_to)
        seen = {i for i, _ in both}
        merged = both + [(i, s) for i, s in alone if i not in seen]
        merged.sort(key=lambda hit: -hit[1])
        return merged[:limit]

    def _bm25(self, fts: str, query: str, limit: int, outlets: Sequence[str], date_from: str,
              date_to: str) -> list[tuple[str, float]]:
        """(id, BM25 score, higher is better) of the rows of ``fts`` matching ``query``'s terms, under
        the filters: the ``limit`` best of one query OR-ing every term (as FTS5 scores it).

        With ``common_share`` set the same top rows are found without scoring every row that holds a
        common term (MaxScore): the terms held by more than that share of the rows, and by more than
        ``common_rows`` rows, are split off; the rest (the rare ones) find the candidates, which are
        scored over all terms (``_split_top``).
        Rows holding only common terms are missed, so the result stands only if its last score is at
        least the most those terms can give together (``keyword.common_bound``); else the rarest common
        terms move to the rare side until the bound is under that score — the second round is then
        exact, since its last score can only be higher — or none is left (one OR-ed query)."""
        terms = [f'"{t}"' for t in (t.replace('"', "") for t in keyword_terms(query)) if t]
        if not terms:
            return []
        share = self.common_share
        if not share or len(terms) < 2:
            self.plans["one query"] += 1
            return self._top(fts, " OR ".join(terms), limit, outlets, date_from, date_to)
        stats = self._term_stats()
        tokens = stats.tokens([t[1:-1] for t in terms])
        rows = stats.rows(fts)
        freq = stats.doc_freq(fts, [toks[0] for toks in tokens if len(toks) == 1], self.generation())
        # Only single-token terms can be split off: a phrase ("covid-19") is rarer than its tokens, and
        # counting its rows would take a query of its own. A term with no token matches nothing.
        df = {t: freq[toks[0]] if toks else 0 for t, toks in zip(terms, tokens, strict=True) if len(toks) <= 1}
        cap = max(share * rows, self.common_rows)
        common = sorted((t for t in df if df[t] > cap), key=df.__getitem__)  # least common first
        rare = [t for t in terms if t not in common]
        if common and not any(df.get(t, 1) for t in rare):  # no rare term is in the index: keep one common
            rare.append(common.pop(0))
        if not common:
            self.plans["one query"] += 1
            return self._top(fts, " OR ".join(terms), limit, outlets, date_from, date_to)
        hits = self._split_top(fts, rare, common, limit, outlets, date_from, date_to)
        last = hits[-1][1] if len(hits) == limit else 0.0
        if last >= common_bound(rows, [df[t] for t in common]):
            self.plans["split"] += 1
            return hits
        while common and common_bound(rows, [df[t] for t in common]) > last:
            rare.append(common.pop(0))
        if not common:
            self.plans["split, then one query"] += 1
            return self._top(fts, " OR ".join(terms), limit, outlets, date_from, date_to)
        self.plans["split twice"] += 1
        return self._split_top(fts, rare, common, limit, outlets, date_from, date_to)

    def keyword_search(
        self, query: str, limit: int, outlets: Sequence[str] = (), date_from: str = "", date_to: str = ""
    ) -> list[KeywordHit]:
        """BM25 over chunk text, title and section; filters on outlet and ISO date range."""
        hits = self._bm25("chunks_fts", query, limit, outlets, date_from, date_to)
        return [KeywordHit(cid, score) for cid, score in hits]

    def article_search(
        self, query: str, limit: int, outlets: Sequence[str] = (), date_from: str = "", date_to: str = ""
    ) -> list[ArticleHit]:
        """BM25 over whole articles (title and full text), best first; same filters as keyword_search."""
        hits = self._bm25("articles_fts", query, limit, outlets, date_from, date_to)
        return [ArticleHit(aid, score) for aid, score in hits]

    # --- what the keyword engine must catch up on (keyword_index.KeywordIndex) -------------------
    def keyword_backlog(self) -> tuple[int, bool, list[str]]:
        """(last seq, whether everything must be re-read, the distinct article ids changed) of the backlog."""
        rows = self._query("SELECT seq, article_id FROM keyword_backlog ORDER BY seq")
        if not rows:
            return 0, False, []
        ids = list(dict.fromkeys(r["article_id"] for r in rows))
        return int(rows[-1]["seq"]), "" in ids, [i for i in ids if i]

    def keyword_caught_up(self, seq: int) -> None:
        """The engine committed every change up to ``seq``: drop them from the backlog and move the
        ``keyword_synced`` mark on (readers reload the engine's files when it moves)."""
        with self.transaction() as db:
            db.execute("DELETE FROM keyword_backlog WHERE seq <= ?", (seq,))
            db.execute(
                "INSERT INTO meta(key, value) VALUES ('keyword_synced', '1') "
                "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"
            )

    def keyword_state(self) -> tuple[str | None, bool]:
        """(the ``keyword_synced`` mark, whether changes wait in the backlog), on a pooled reader."""
        row = self._read(
            "SELECT (SELECT value FROM meta WHERE key = 'keyword_synced') AS mark,"
            " EXISTS(SELECT 1 FROM keyword_backlog) AS waiting"
        )[0]
        return row["mark"], bool(row["waiting"])

    def done_article_ids(self) -> list[str]:
        return [r["id"] for r in self._query("SELECT id FROM articles WHERE state = 'done' ORDER BY id")]

    def keyword_documents(self, article_ids: Sequence[str]) -> tuple[list[sqlite3.Row], list[sqlite3.Row]]:
        """(chunk rows, article rows) of those of ``article_ids`` that are ``done``, with what the keyword
        engine indexes: ``id``, ``article_id``, ``title``, ``section``, ``text``, ``published``, ``outlet``."""
        if not article_ids:
            return [], []
        marks = ",".join("?" * len(article_ids))
        chunks = self._query(
            "SELECT c.id, c.article_id, a.title, c.section, c.text, a.published, a.outlet FROM chunks c"
            f" JOIN articles a ON a.id = c.article_id WHERE a.state = 'done' AND a.id IN ({marks})",
            list(article_ids),
        )
        articles = self._query(
            "SELECT id, id AS article_id, title, '' AS section, text, published, outlet FROM articles"
            f" WHERE state = 'done' AND id IN ({marks})",
            list(article_ids),
        )
        return chunks, articles

    def ensure_meta(self, key: str, make: Callable[[], str]) -> str:
        """The value of ``key``, set to ``make()`` first if it has none."""
        with self.transaction() as db:
            row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            if row is not None:
                return str(row[0])
            value = make()
            db.execute("INSERT INTO meta(key, value) VALUES (?, ?)", (key, value))
            return value

    def stats(self) -> dict[str, Any]:
        row = self._query(
            "SELECT COUNT(*) AS n, SUM(state = 'done') AS done, SUM(n_chunks) AS chunks,"
            # A date after tomorrow is a typo or a planted one ("2099-12-31"): it is not the newest news.
            " MAX(CASE WHEN published != '' AND published < date('now', '+2 days') THEN published END) AS newest"
            " FROM articles"
        )[0]
        outlets = [
            r["outlet"]
            for r in self._query(
                "SELECT outlet, COUNT(*) n FROM articles WHERE outlet != '' GROUP BY outlet ORDER BY n DESC"
            )
        ]
        last = self.get_meta("last_ingest")
        return {
            "articles": int(row["done"] or 0),
            "pending": int((row["n"] or 0) - (row["done"] or 0)),
            "chunks": int(row["chunks"] or 0),
            "newest_published": row["newest"] or "",
            "last_ingest": float(last) if last else None,
            "outlets": outlets,
        }
