"""Embedding formats: ``auto`` per machine, ONNX exported once into the cache (never at import),
vectors comparable with float32 torch, and an index refused when its vectors would not compare."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT

from retrieval import embedding
from retrieval.settings import Settings
from retrieval.store import Embedder, IndexMismatchError, Store, packaged_model_path

TEXTS = [
    "The harbour council voted on Monday to rebuild the desalination plant with a regional grant.",
    "Households will pay four percent more for water from next spring, the treasurer said.",
    "Rail strike ends after nineteen hours of talks between the union and the operator.",
]


def test_settings_accept_every_format_and_refuse_others(monkeypatch: pytest.MonkeyPatch) -> None:
    for fmt in ("auto", *embedding.FORMATS):
        monkeypatch.setenv("NEWSQA_EMBEDDING_DTYPE", fmt)
        assert Settings().embedding_dtype == fmt
    monkeypatch.setenv("NEWSQA_EMBEDDING_DTYPE", "int4")
    with pytest.raises(ValueError, match="onnx-int8"):
        Settings()


def test_auto_follows_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    assert embedding.auto_format(native_bf16=True) == "bfloat16"
    assert embedding.auto_format(native_bf16=False) in embedding.FORMATS
    monkeypatch.setattr("retrieval.store.cpu_has_native_bf16", lambda: False)
    assert Embedder("/models/x", "auto").dtype == embedding.auto_format(native_bf16=False)
    monkeypatch.setattr("retrieval.store.cpu_has_native_bf16", lambda: True)
    assert Embedder("/models/x", "auto").dtype == "bfloat16"
    assert Embedder("/models/x", "onnx-int8").dtype == "onnx-int8"  # an explicit choice is kept


def test_an_index_of_incomparable_vectors_is_refused_with_the_way_out(settings: Settings) -> None:
    path = packaged_model_path()
    Store(settings, embedder=Embedder(path, "float32")).check_model()
    # Comparable formats share the index (no model is loaded to decide it).
    for fmt in sorted(embedding.COMPARABLE):
        assert Embedder(path, fmt).name == path.name
        Store(settings, embedder=Embedder(path, fmt)).check_model()
    # onnx-int8 vectors (min cosine 0.983 to float32) are named apart: an index built otherwise refuses them.
    other = Embedder(path, "onnx-int8")
    assert other.name == f"{path.name}+onnx-int8"
    with pytest.raises(IndexMismatchError, match="--rebuild"):
        Store(settings, embedder=other).check_model()


def test_importing_the_modules_exports_nothing(tmp_path: Path) -> None:
    code = (
        "import retrieval.embedding, retrieval.store, sys;"
        f"e = retrieval.store.Embedder(retrieval.store.packaged_model_path(), 'onnx-int8', cache_dir=__import__"
        f"('pathlib').Path({str(tmp_path)!r}));"
        "print(e.dtype, e.name)"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[0] == "onnx-int8"
    assert list(tmp_path.iterdir()) == []  # nothing exported until the first encode


@pytest.mark.slow
def test_onnx_formats_export_once_and_match_float32(tmp_path: Path, embedder: Embedder) -> None:
    pytest.importorskip("onnx", reason="the [onnx] extra exports the model")
    path = packaged_model_path()
    reference = Embedder(path, "float32").encode(TEXTS)
    for fmt, floor in (("onnx-float32", 0.9999), ("onnx-int8", 0.97)):
        onnx = Embedder(path, fmt, cache_dir=tmp_path)
        vectors = onnx.encode(TEXTS)
        assert vectors.shape == reference.shape and vectors.dtype == np.float32
        assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
        cosines = np.sum(vectors * reference, axis=1)
        assert cosines.min() >= floor, (fmt, cosines)
        assert onnx.count_tokens(TEXTS) == embedder.count_tokens(TEXTS)
        assert (onnx.dimension, onnx.max_tokens) == (384, 256)
        # int8 activations are scaled per batch, so a text's vector moves a little with its batch mates.
        assert float(np.dot(onnx.embed_query(TEXTS[0]), vectors[0])) >= floor
    exported = embedding.onnx_path(path, tmp_path, "onnx-int8")
    stamp = exported.stat().st_mtime_ns
    Embedder(path, "onnx-int8", cache_dir=tmp_path).encode(TEXTS[:1])  # a new process-like embedder
    assert exported.stat().st_mtime_ns == stamp  # reused, not exported again
    assert not [p for p in exported.parent.iterdir() if p.name.endswith(".tmp")]


def test_the_page_builds_its_embedder_as_the_store_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The page built its embedder without the model cache folder (NEWSQA_MODEL_CACHE_DIR ignored: an ONNX
    format was exported a second time into ~/.cache); now the page and the CLI's Store share one factory."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("newsqa_app_embedder", ROOT / "app.py")
    assert spec and spec.loader
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    monkeypatch.setattr(app, "_warm_up", lambda assistant: None)  # no model is loaded here
    settings = Settings(data_dir=tmp_path / "data", model_cache_dir=tmp_path / "cache", backend="extractive")
    page = app.get_assistant(settings.model_dump_json(), settings).store.embedder
    store = Store(settings).embedder
    assert page.cache_dir == store.cache_dir == tmp_path / "cache"
    assert (page.model_path, page.requested_dtype, page.batch_size) == (
        store.model_path, store.requested_dtype, store.batch_size
    )
    # Another cache folder is another embedder (the page caches them by what they are built from).
    other = Settings(data_dir=tmp_path / "data", model_cache_dir=tmp_path / "other", backend="extractive")
    assert app.get_assistant(other.model_dump_json(), other).store.embedder.cache_dir == tmp_path / "other"


@pytest.mark.parametrize("given", [None, "ACTIVE"])
def test_thread_pools_wait_passively_unless_told_otherwise(given: str | None) -> None:
    """OpenMP threads that spin while they wait took the cores the working ones needed on a shared machine
    (one question's vector 330-530 ms instead of 26-35 ms at load 17): the policy is passive when the model
    loads (before torch loads the OpenMP runtime, and spaCy's thinc imports torch), and a user's own value
    stays."""
    import os

    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    env |= {"OMP_WAIT_POLICY": given} if given else {}
    code = (
        "import os, sys\n"
        "from retrieval.claims import load_nlp\n"
        "from retrieval.store import Embedder, packaged_model_path\n"
        "assert 'torch' not in sys.modules\n"
        "load_nlp()\n"
        "Embedder(packaged_model_path()).model\n"
        "assert 'torch' in sys.modules\n"
        "print(os.environ.get('OMP_WAIT_POLICY'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == (given or "PASSIVE")
