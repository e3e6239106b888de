"""Embedding formats other than torch: the same sentence-transformers model run by ONNX Runtime,
in float32 or dynamically quantised to int8, exported once into the model cache.

``retrieval.store.Embedder`` picks a format (``NEWSQA_EMBEDDING_DTYPE``); this module exports and
runs the ONNX ones. The export needs ``onnx`` (and torch, which loads the model once to trace it);
running needs only ``onnxruntime`` (installed with chromadb). Nothing happens at import time: the
export runs at the first encode of a process that asks for an ONNX format and finds no cached file.

``OnnxEncoder`` answers the part of ``SentenceTransformer``'s interface that the project uses
(``encode``, ``tokenizer``, ``max_seq_length``, ``get_sentence_embedding_dimension``), so that the
embedder and the benchmarks treat both alike.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.machine import quiet_threads

# Torch formats keep their names (the values NEWSQA_EMBEDDING_DTYPE always had).
TORCH_FORMATS = ("float32", "bfloat16")
ONNX_FORMATS = ("onnx-float32", "onnx-int8")
FORMATS = TORCH_FORMATS + ONNX_FORMATS
# Formats whose vectors sit within cosine 0.99 of float32 torch on every chunk measured
# (benchmarks/bench_embed.py: bfloat16 min 0.9999, onnx-float32 1.0000): an index built in one of
# them can be searched with any other. onnx-int8 is not among them (min 0.983 on 300 rtqa chunks):
# it gets its own index name (``Embedder.name``), so an index built otherwise is refused with
# --rebuild advice rather than searched with vectors that do not compare.
COMPARABLE = frozenset({"float32", "bfloat16", "onnx-float32"})

EXPORT_VERSION = "1"  # bump when the export below changes what it writes


def auto_format(native_bf16: bool) -> str:
    """``NEWSQA_EMBEDDING_DTYPE=auto``: bfloat16 torch where the CPU has native bf16, else float32.

    No ONNX format is picked: measured against float32 torch on the same chunks, onnx-float32 ran at
    0.55–0.79×; onnx-int8 at 0.9–2.7× (under heavy load) but with a min cosine of 0.983 (docs/results.md,
    session 4), below the 0.99 bar. Both stay selectable (onnx-int8 with an index of its own).
    """
    return "bfloat16" if native_bf16 else "float32"


class OnnxUnavailableError(RuntimeError):
    """An ONNX format was asked for but cannot be exported or run here."""


def _fingerprint(model_path: Path) -> str:
    """Names the model's weights (file names, sizes, mtimes): a changed model gets a fresh export."""
    parts = [EXPORT_VERSION]
    for file in sorted(model_path.rglob("*")):
        if file.is_file() and file.suffix in {".safetensors", ".bin", ".json", ".txt"}:
            stat = file.stat()
            parts.append(f"{file.relative_to(model_path)}:{stat.st_size}:{int(stat.st_mtime)}")
    return hashlib.sha1("\n".join(parts).encode()).hexdigest()[:12]


def onnx_path(model_path: str | Path, cache_dir: Path, fmt: str) -> Path:
    """Where the ONNX file of ``fmt`` for ``model_path`` lives in ``cache_dir`` (exported or not)."""
    model_path = Path(model_path)
    folder = cache_dir / "onnx" / f"{model_path.name}-{_fingerprint(model_path)}"
    return folder / ("model_int8.onnx" if fmt == "onnx-int8" else "model.onnx")


_export_lock = threading.Lock()


def export_onnx(model_path: str | Path, cache_dir: Path, fmt: str) -> Path:
    """The cached ONNX file of ``fmt``, exported (and quantised) first if missing. Atomic: a file
    is renamed into place only once complete, so a killed export leaves nothing half-written."""
    if fmt not in ONNX_FORMATS:
        raise ValueError(f"not an ONNX format: {fmt!r} (expected one of {', '.join(ONNX_FORMATS)})")
    target = onnx_path(model_path, cache_dir, fmt)
    if target.exists():
        return target
    try:
        import onnx  # noqa: F401  (torch's exporter and the quantiser both need it)
    except ImportError as exc:
        raise OnnxUnavailableError(
            f"NEWSQA_EMBEDDING_DTYPE={fmt} needs the onnx package to export the model once: "
            "pip install -e '.[onnx]' (or set NEWSQA_EMBEDDING_DTYPE=auto)"
        ) from exc
    with _export_lock:
        if target.exists():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        fp32 = onnx_path(model_path, cache_dir, "onnx-float32")
        if not fp32.exists():
            _export_float32(Path(model_path), fp32)
        if fmt == "onnx-int8":
            from onnxruntime.quantization import QuantType, quantize_dynamic

            tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
            # Per-channel int8 weights of the MatMuls (where the time goes); activations are
            # quantised per batch at run time. Gather (the embedding table) stays float32.
            quantize_dynamic(str(fp32), str(tmp), weight_type=QuantType.QInt8, per_channel=True,
                             op_types_to_quantize=["MatMul"])
            os.replace(tmp, target)
    return target


def _export_float32(model_path: Path, target: Path) -> None:
    quiet_threads()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(model_path), device="cpu", local_files_only=True)
    transformer: Any = st[0].auto_model
    transformer.eval()

    class LastHiddenState(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return out.last_hidden_state

    sample = st.tokenizer(["a sentence to trace the model with"], return_tensors="pt")
    names = ["input_ids", "attention_mask", "token_type_ids"]
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    import warnings

    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            LastHiddenState(transformer), tuple(sample[n] for n in names), str(tmp),
            input_names=names, output_names=["last_hidden_state"],
            dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]},
            opset_version=17, dynamo=False,
        )
    (target.parent / "export.json").write_text(json.dumps({"model": str(model_path), "torch": torch.__version__}))
    os.replace(tmp, target)


class OnnxEncoder:
    """A sentence-transformers model (Transformer → mean pooling → L2 normalise) on ONNX Runtime."""

    def __init__(self, model_path: str | Path, onnx_file: Path, threads: int | None = None) -> None:
        import onnxruntime as ort
        from transformers import AutoTokenizer

        config_path = Path(model_path) / "sentence_bert_config.json"
        config = json.loads(config_path.read_text()) if config_path.exists() else {}
        self.max_seq_length = int(config.get("max_seq_length") or 256)
        self.tokenizer = AutoTokenizer.from_pretrained(str(model_path), local_files_only=True)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or 0  # 0: one per core, as torch does
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self.session.get_inputs()}
        self._dimension = int(self.session.get_outputs()[0].shape[-1])

    def get_sentence_embedding_dimension(self) -> int:
        return self._dimension

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        enc = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_seq_length,
                             return_tensors="np")
        feeds = {k: np.asarray(v, dtype=np.int64) for k, v in enc.items() if k in self._inputs}
        if "token_type_ids" in self._inputs and "token_type_ids" not in feeds:
            feeds["token_type_ids"] = np.zeros_like(feeds["input_ids"])
        hidden = self.session.run(None, feeds)[0]
        mask = feeds["attention_mask"][..., None].astype(np.float32)
        return (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)

    def encode(self, sentences: Sequence[str] | str, batch_size: int = 32, normalize_embeddings: bool = True,
               convert_to_tensor: bool = False, **_: Any) -> Any:
        """Like ``SentenceTransformer.encode``: texts sorted by length so batches pad little."""
        single = isinstance(sentences, str)
        texts = [sentences] if isinstance(sentences, str) else list(sentences)
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        for start in range(0, len(texts), batch_size):
            idx = order[start:start + batch_size]
            out[idx] = self._encode_batch([texts[i] for i in idx])
        if normalize_embeddings:
            out /= np.clip(np.linalg.norm(out, axis=1, keepdims=True), 1e-12, None)
        if convert_to_tensor:
            import torch

            return torch.from_numpy(out[0] if single else out)
        return out[0] if single else out
