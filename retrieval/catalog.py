"""The SQLite catalog: article records, chunk texts, the BM25 keyword index (FTS5) and ingest state.

It is the authority on what is indexed. Chroma holds vectors for the same chunk ids; the write
protocol in ``store.Store`` keeps both in step across crashes. Kept behind this small class so
that a shared SQL database (e.g. PostgreSQL full-text search) can replace it later.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retrieval.keyword import TermStats
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
CREATE TABLE IF NOT EXISTS chunks (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    article_id TEXT NOT NULL,
    ord INTEGER NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    section TEXT NOT NULL DEFAULT '',
    dup_of TEXT NOT NULL DEFAULT '',
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
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
# Bump when a derived index (articles_fts) must be rebuilt from the articles table on open.
DERIVED_VERSION = "1"
# Every committed change of what is indexed adds 1 to the catalog's generation (in the same
# transaction), so readers in any process can tell cheaply that the index changed under them.
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

    def __init__(self, path: Path) -> None:
        super().__init__(path, SCHEMA)
        if self.get_meta("derived_version") != DERIVED_VERSION:
            self._rebuild_article_index()

    def _rebuild_article_index(self) -> None:
        """Fill ``articles_fts`` from the articles (catalogs written before it existed)."""
        with self.transaction() as db:
            db.execute("DELETE FROM articles_fts")
            db.execute(
                "INSERT INTO articles_fts(article_id, title, text) SELECT id, title, text FROM articles "
                "WHERE state = 'done'"
            )
            db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('derived_version', ?)", (DERIVED_VERSION,))

    # --- ingest state --------------------------------------------------------------------------
    def states(self) -> dict[str, tuple[str | None, str, str]]:
        """article id -> (content hash, state, source) for every article known."""
        rows = self._query("SELECT id, content_hash, state, source FROM articles")
        return {r["id"]: (r["content_hash"], r["state"], r["source"]) for r in rows}

    def mark_pending(self, article_id: str, source: str = "") -> None:
        """Step 1 of every change: the article is no longer known to be consistent."""
        with self.transaction() as db:
            db.execute(
                "INSERT INTO articles(id, source, state) VALUES (?, ?, 'pending') "
                "ON CONFLICT(id) DO UPDATE SET state='pending'",
                (article_id, source),
            )

    def replace_article(self, article: Article, chunks: Sequence[Chunk], content_hash: str) -> int:
        """Last step of a write: chunks, keyword index and record replaced in one transaction.
        Returns the index's new generation."""
        now = time.time()
        with self.transaction() as db:
            db.execute("DELETE FROM chunks WHERE article_id = ?", (article.id,))
            db.executemany(
                "INSERT INTO chunks(id, article_id, ord, start, end, section, dup_of, title, text) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (c.id, c.article_id, c.ord, c.start, c.end, c.section, c.dup_of, article.title, c.text)
                    for c in chunks
                ],
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
            db.execute("DELETE FROM articles_fts WHERE article_id = ?", (article.id,))
            db.execute(
                "INSERT INTO articles_fts(article_id, title, text) VALUES (?, ?, ?)",
                (article.id, article.title, article.text),
            )
            db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('last_ingest', ?)", (str(now),))
            return self._bump_generation(db)

    def delete_article(self, article_id: str) -> int:
        """Remove an article, its chunks and keyword rows; returns the new generation."""
        with self.transaction() as db:
            db.execute("DELETE FROM chunks WHERE article_id = ?", (article_id,))
            db.execute("DELETE FROM articles_fts WHERE article_id = ?", (article_id,))
            db.execute("DELETE FROM articles WHERE id = ?", (article_id,))
            db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('last_ingest', ?)", (str(time.time()),))
            return self._bump_generation(db)

    def clear(self) -> int:
        """Drop every article (``ingest --rebuild``); returns the new generation."""
        with self.transaction() as db:
            db.execute("DELETE FROM chunks")
            db.execute("DELETE FROM articles_fts")
            db.execute("DELETE FROM articles")
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
            "SELECT c.id, c.article_id, c.ord, c.start, c.end, c.section, c.dup_of, c.text, a.title, a.url,"
            f" a.published, a.outlet FROM chunks c JOIN articles a ON a.id = c.article_id WHERE c.id IN ({marks})",
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

    # "Focus" (off): keyword queries would leave out the terms held by more than FOCUS_SHARE of the rows
    # and by more than FOCUS_FLOOR rows (they cost the most and weigh the least: idf < 3), keeping at
    # least FOCUS_KEEP terms found in the index (the rarest). Measured (benchmarks/bench_keyword.py,
    # docs/results.md session 4) at 0.05: passage BM25 ≈2× faster at 1×, but the ranking changes (top-60
    # overlap 0.70) and gets worse (keyword-only article MRR −0.034 ± 0.015), so it stays off until the
    # left-out terms are scored back on the candidates. None: every term is OR-ed.
    FOCUS_SHARE: float | None = None
    FOCUS_FLOOR = 1000
    FOCUS_KEEP = 2

    def _term_stats(self) -> TermStats:
        stats = self.__dict__.get("_keyword_stats")
        if stats is None:
            with self._lock:
                stats = self.__dict__.setdefault("_keyword_stats", TermStats(self.path, ("chunks_fts", "articles_fts")))
        return stats

    def _match(self, fts: str, query: str) -> str:
        """The FTS5 MATCH expression for ``query`` in ``fts``: its terms OR-ed, common ones left out."""
        terms = [t for t in (t.replace('"', "") for t in keyword_terms(query)) if t]
        share = self.FOCUS_SHARE
        if share is None or len(terms) <= self.FOCUS_KEEP:
            return " OR ".join(f'"{t}"' for t in terms)
        stats = self._term_stats()
        tokens = stats.tokens(terms)
        freq = stats.doc_freq(fts, [tok for toks in tokens for tok in toks])
        # A term of several tokens ("covid-19") is a phrase: it is in no more rows than its rarest token.
        df = {t: min(freq[tok] for tok in toks) for t, toks in zip(terms, tokens, strict=True) if toks}
        cap = max(share * stats.rows(fts), self.FOCUS_FLOOR)
        if all(n <= cap for n in df.values()):
            return " OR ".join(f'"{t}"' for t in terms)
        kept = {t for t, n in df.items() if n <= cap}
        for t in sorted((t for t in df if t not in kept), key=df.__getitem__):
            if sum(1 for k in kept if df[k] > 0) >= self.FOCUS_KEEP:
                break
            kept.add(t)
        return " OR ".join(f'"{t}"' for t in terms if t in kept)

    def _bm25(self, select_from: str, fts: str, query: str, limit: int, outlets: Sequence[str],
              date_from: str, date_to: str) -> list[tuple[str, float]]:
        """(id, BM25 score, higher is better) of ``select_from`` (which names ``id`` and ``rank`` and
        joins articles as ``a``) matching ``query``'s terms in table ``fts``, under the filters."""
        match = self._match(fts, query)
        if not match:
            return []
        conditions, params = self._article_filters(outlets, date_from, date_to)
        where = " AND ".join([f"{fts} MATCH ?", "a.state = 'done'", *conditions])
        rows = self._read(f"{select_from} WHERE {where} ORDER BY rank LIMIT ?", [match, *params, limit])
        return [(r["id"], -float(r["rank"])) for r in rows]

    def keyword_search(
        self, query: str, limit: int, outlets: Sequence[str] = (), date_from: str = "", date_to: str = ""
    ) -> list[KeywordHit]:
        """BM25 over chunk text, title and section; filters on outlet and ISO date range."""
        select = (
            "SELECT c.id AS id, bm25(chunks_fts, 1.0, 0.6, 0.3) AS rank FROM chunks_fts "
            "JOIN chunks c ON c.rowid = chunks_fts.rowid JOIN articles a ON a.id = c.article_id"
        )
        hits = self._bm25(select, "chunks_fts", query, limit, outlets, date_from, date_to)
        return [KeywordHit(cid, score) for cid, score in hits]

    def article_search(
        self, query: str, limit: int, outlets: Sequence[str] = (), date_from: str = "", date_to: str = ""
    ) -> list[ArticleHit]:
        """BM25 over whole articles (title and full text), best first; same filters as keyword_search."""
        select = (
            "SELECT articles_fts.article_id AS id, bm25(articles_fts, 0.0, 1.0, 1.0) AS rank FROM articles_fts "
            "JOIN articles a ON a.id = articles_fts.article_id"
        )
        hits = self._bm25(select, "articles_fts", query, limit, outlets, date_from, date_to)
        return [ArticleHit(aid, score) for aid, score in hits]

    def stats(self) -> dict[str, Any]:
        row = self._query(
            "SELECT COUNT(*) AS n, SUM(state = 'done') AS done, SUM(n_chunks) AS chunks,"
            " MAX(CASE WHEN published != '' THEN published END) AS newest FROM articles"
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
