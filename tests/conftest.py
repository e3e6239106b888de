"""Shared fixtures: every test isolated (env, data dir), the real embedder loaded once, a fake one.

Fixtures here are used by several test modules; a fixture used by one module belongs in that module.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from retrieval.settings import Settings
from retrieval.store import Embedder, Store, packaged_model_path

ROOT = Path(__file__).resolve().parent.parent


# --- isolation ---------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def _isolate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's NEWSQA_* settings, an index outside tmp_path or the network hub."""
    for name in list(os.environ):
        if name.startswith("NEWSQA_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("NEWSQA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")


# --- embedders ---------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The real packaged all-MiniLM-L6-v2, loaded once per test session."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    real = Embedder(packaged_model_path())
    real.count_tokens(["warm up"])  # load now, not inside the first test's timing
    return real


class FakeEmbedder(Embedder):
    """Deterministic and model-free: each text maps to a unit vector seeded by its SHA-256.

    Equal texts get equal vectors (cosine 1), different texts nearly orthogonal ones. Word pieces
    are estimated as words + punctuation marks (BERT's pre-tokenisation without sub-word splits).
    ``encoded`` records every text encoded, so tests can prove that nothing was re-embedded.
    """

    DIM = 384

    def __init__(self) -> None:
        super().__init__("fake-hash-embedder", dtype="float32")
        self.encoded: list[str] = []

    @property
    def name(self) -> str:
        return "fake-hash-384"

    @property
    def dimension(self) -> int:
        return self.DIM

    @property
    def max_tokens(self) -> int:
        return 256

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(re.findall(r"\w+|[^\w\s]", t)) for t in texts]

    def encode(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        self.encoded.extend(texts)
        out = np.zeros((len(texts), self.DIM), dtype=np.float32)
        for row, text in enumerate(texts):
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
            vec = np.random.default_rng(seed).standard_normal(self.DIM)
            out[row] = vec / np.linalg.norm(vec)
        return out


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


# --- settings and stores -----------------------------------------------------------------------
@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


def close_store(store: Store) -> None:
    """Release the catalog connection and Chroma's per-path system cache of a store that was opened."""
    if "catalog" in store.__dict__:
        store.catalog.close()
    if "client" in store.__dict__:
        from chromadb.api.client import SharedSystemClient

        SharedSystemClient.clear_system_cache()


@pytest.fixture
def store(settings: Settings, embedder: Embedder) -> Iterator[Store]:
    """A real index in tmp_path with the real embedder."""
    opened = Store(settings, embedder=embedder)
    yield opened
    close_store(opened)


@pytest.fixture
def fake_store(settings: Settings, fake_embedder: FakeEmbedder) -> Iterator[Store]:
    """A real index (Chroma + catalog) in tmp_path with the fake embedder."""
    opened = Store(settings, embedder=fake_embedder)
    yield opened
    close_store(opened)


@pytest.fixture
def cli_embedder(monkeypatch: pytest.MonkeyPatch) -> Callable[[Embedder], None]:
    """Make the CLI's ``ingest()`` open its Store with a given embedder (no model load per call)."""

    def use(chosen: Embedder) -> None:
        monkeypatch.setattr("ingest.pipeline.Store", lambda s: Store(s, embedder=chosen))

    return use


# --- a local web server ------------------------------------------------------------------------
@dataclass
class Page:
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    delay: float = 0.0  # seconds to wait before answering (for timeouts)


class LocalWeb:
    """A threaded HTTP server on 127.0.0.1 serving ``pages`` (path -> Page); 404 for the rest."""

    def __init__(self) -> None:
        self.pages: dict[str, Page] = {}
        self.hits: list[str] = []
        self.stopping = threading.Event()
        web = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                web.hits.append(self.path)
                page = web.pages.get(self.path)
                if page is None:
                    self.send_error(404)
                    return
                if page.delay and web.stopping.wait(page.delay):
                    return
                try:
                    self.send_response(page.status)
                    self.send_header("Content-Type", page.content_type)
                    self.send_header("Content-Length", str(len(page.body)))
                    self.end_headers()
                    self.wfile.write(page.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def __enter__(self) -> LocalWeb:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def web() -> Iterator[LocalWeb]:
    with LocalWeb() as server:
        yield server


def closed_port() -> int:
    """A local TCP port nobody listens on (connecting to it is refused)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


# --- sample articles and index checks -----------------------------------------------------------
_PLACES = ["Port Alder", "Kessel", "Mill Valley", "Northfield", "Dunmore", "Saltmarsh", "Ravenscar", "Eastwick"]
_SUBJECTS = ["the harbour council", "the rail operator", "the water board", "the school trust",
             "the hospital group", "the county police", "the farmers' union", "the transit authority"]
_ACTIONS = ["approved a plan to", "postponed a vote on whether to", "announced it would", "refused to",
            "asked residents whether to", "set aside funds to", "opened an inquiry into plans to"]
_OBJECTS = ["rebuild the old bridge", "extend evening bus services", "close two branch libraries",
            "raise parking charges", "plant ten thousand trees", "repair the sea wall",
            "merge the fire stations", "open a night clinic"]


def article_text(n: int, paragraphs: int = 3) -> str:
    """A small, distinct, news-like article (title line + paragraphs); ``n`` picks its facts."""
    place = _PLACES[n % len(_PLACES)]
    subject = _SUBJECTS[(n // 2) % len(_SUBJECTS)]
    obj = _OBJECTS[(n * 3) % len(_OBJECTS)]
    lines = [f"{place} Story {n}: {subject.title()} Decides"]
    for p in range(paragraphs):
        action = _ACTIONS[(n + p) % len(_ACTIONS)]
        lines.append(
            f"On day {n * 7 + p} of the session in {place}, {subject} {action} {obj}. "
            f"Officials said the decision, reference {n}-{p}, would cost about {n * 13 + p} thousand euros. "
            f"Residents of {place} told reporters that meeting {p + 1} had been long but fair."
        )
    return "\n".join(lines) + "\n"


def write_articles(folder: Path, count: int, paragraphs: int = 3, start: int = 0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n in range(start, start + count):
        path = folder / f"story-{n:03d}.txt"
        path.write_text(article_text(n, paragraphs), encoding="utf-8")
        paths.append(path)
    return paths


def fts_hits(settings: Settings, word: str) -> list[int]:
    """Rowids the FTS index returns for ``word`` (stale index entries would show up here)."""
    import sqlite3
    from contextlib import closing

    with closing(sqlite3.connect(settings.catalog_path)) as db:
        return [r[0] for r in db.execute("SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ?", (f'"{word}"',))]


def check_index(store: Store) -> dict[str, list[str]]:
    """Assert the catalog, the keyword index and Chroma agree exactly; return chunk ids per article.

    Every article is 'done', Chroma's ids are the catalog's chunk ids, each article has ``n_chunks``
    chunks in both, the FTS index holds one document per chunk (checked against its content), and the
    article-level index one document per article.
    """
    import sqlite3
    from collections import defaultdict
    from contextlib import closing

    with closing(sqlite3.connect(store.settings.catalog_path)) as db:
        articles = {r[0]: (r[1], r[2]) for r in db.execute("SELECT id, state, n_chunks FROM articles")}
        by_article: dict[str, list[str]] = defaultdict(list)
        for chunk_id, article_id in db.execute("SELECT id, article_id FROM chunks ORDER BY article_id, ord"):
            by_article[article_id].append(chunk_id)
        fts_docs = db.execute("SELECT count(*) FROM chunks_fts_docsize").fetchone()[0]
        db.execute("INSERT INTO chunks_fts(chunks_fts, rank) VALUES ('integrity-check', 1)")
        article_docs = sorted(r[0] for r in db.execute("SELECT article_id FROM articles_fts"))
        mapped = sorted(r[0] for r in db.execute(
            "SELECT m.article_id FROM articles_fts_rows m JOIN articles_fts f ON f.rowid = m.fts_rowid "
            "AND f.article_id = m.article_id"))
    pending = [a for a, (state, _) in articles.items() if state != "done"]
    assert not pending, f"articles not done: {pending}"
    assert set(by_article) <= set(articles), "chunks of unknown articles"
    got = store.collection.get(include=["metadatas"])
    chroma: dict[str, list[str]] = defaultdict(list)
    for chunk_id, meta in zip(got["ids"], got["metadatas"], strict=True):
        chroma[meta["article_id"]].append(chunk_id)
    catalog_ids = [c for ids in by_article.values() for c in ids]
    assert len(catalog_ids) == len(set(catalog_ids))
    assert sorted(got["ids"]) == sorted(catalog_ids), "Chroma and the catalog hold different chunks"
    for article_id, (_, n_chunks) in articles.items():
        assert len(by_article[article_id]) == n_chunks, article_id
        assert sorted(chroma[article_id]) == sorted(by_article[article_id]), article_id
    assert fts_docs == len(catalog_ids), f"FTS holds {fts_docs} documents for {len(catalog_ids)} chunks"
    assert article_docs == sorted(articles), "the article-level BM25 index holds other articles than the catalog"
    assert mapped == article_docs, "articles_fts_rows does not point at each article's articles_fts row"
    if store.keywords is not None and store.keywords.ready:  # the keyword engine, when in use, holds the same
        assert store.keywords.counts() == {"passages": len(catalog_ids), "articles": len(articles)}
    return dict(by_article)
