"""Embedding formats side by side: chunks/s and cosine to float32 torch, on the same chunks, in one run.

    python benchmarks/bench_embed.py /work/shared/eval/rtqa-2026/articles.jsonl [--chunks 300] [--rounds 2]
        [--formats float32,bfloat16,onnx-float32,onnx-int8] [--cache-dir DIR] [--json]

The chunks are the first ``--chunks`` chunks of the dump, cut by the project's own cleaner and
chunker with the model's tokenizer (what ingest embeds). Every format encodes the same texts with
the same batch size (NEWSQA_EMBEDDING_BATCH_SIZE, default 32); the formats take turns for
``--rounds`` rounds so that a change in machine load hits them alike, and the best round counts.

Reported per format: chunks/s, speed relative to float32 torch (the path of a CPU without native
bf16), load time (for ONNX: the one-off export is timed apart), and the cosine of each vector to
its float32 torch vector (min, 1st percentile, mean). A format is worth keeping only if its min
cosine is >= 0.99 and retrieval stays within its standard error (``python -m retrieval evaluate``
on an index built with NEWSQA_EMBEDDING_DTYPE set to it: see benchmarks/README.md).

The machine's bf16 support matters: on a CPU with AVX512-BF16/AMX, bfloat16 torch is native; on one
without, it is emulated and slower than float32 (docs/results.md).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from retrieval.embedding import FORMATS  # noqa: E402
from retrieval.machine import cpu_has_native_bf16, cpu_model  # noqa: E402
from retrieval.settings import Settings  # noqa: E402
from retrieval.store import Embedder, packaged_model_path  # noqa: E402


def sample_chunks(dump: Path, count: int, embedder: Embedder) -> list[str]:
    """The first ``count`` chunks of the dump, as ingest cuts them."""
    from ingest.chunking import chunk_article, clean_article
    from ingest.loaders import iter_jsonl
    from retrieval.types import Article

    texts: list[str] = []
    for item in iter_jsonl(dump):
        if not isinstance(item, Article):
            continue
        article, headings = clean_article(item)
        texts.extend(c.text for c in chunk_article(article, headings, embedder.count_tokens, 250))
        if len(texts) >= count:
            break
    return texts[:count]


def run(dump: Path, count: int, rounds: int, formats: list[str], cache_dir: Path) -> dict[str, Any]:
    import torch

    settings = Settings()
    path = settings.embedding_model or packaged_model_path()
    batch = settings.embedding_batch_size
    embedders: dict[str, Embedder] = {}
    loads: dict[str, float] = {}
    exports: dict[str, float] = {}
    for fmt in formats:
        embedder = Embedder(path, fmt, batch, cache_dir=cache_dir)
        if fmt.startswith("onnx"):
            from retrieval.embedding import export_onnx, onnx_path

            if not onnx_path(path, cache_dir, fmt).exists():
                started = time.perf_counter()
                export_onnx(path, cache_dir, fmt)
                exports[fmt] = round(time.perf_counter() - started, 2)
        started = time.perf_counter()
        embedder.encode(["warm up"])
        loads[fmt] = round(time.perf_counter() - started, 2)
        embedders[fmt] = embedder
    texts = sample_chunks(dump, count, embedders[formats[0]])
    tokens = embedders[formats[0]].count_tokens(texts)
    for embedder in embedders.values():  # one warm-up batch each
        embedder.encode(texts[:batch])
    rates: dict[str, list[float]] = {fmt: [] for fmt in formats}
    vectors: dict[str, np.ndarray] = {}
    for _ in range(rounds):
        for fmt, embedder in embedders.items():
            started = time.perf_counter()
            vectors[fmt] = embedder.encode(texts)
            rates[fmt].append(len(texts) / (time.perf_counter() - started))
    base = "float32" if "float32" in vectors else formats[0]
    out: dict[str, Any] = {
        "machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "native_bf16": cpu_has_native_bf16(),
                    "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
                    "python": platform.python_version(), "load_avg": os.getloadavg()},
        "chunks": len(texts), "mean_word_pieces": round(float(np.mean(tokens)), 1), "batch_size": batch,
        "rounds": rounds, "baseline": base, "formats": {},
    }
    for fmt in formats:
        a, b = vectors[fmt], vectors[base]
        cos = np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
        best = max(rates[fmt])
        out["formats"][fmt] = {
            "chunks_per_s": round(best, 2),
            "all_rounds": [round(r, 2) for r in rates[fmt]],
            "vs_baseline": round(best / max(rates[base]), 2),
            "cos_min": round(float(cos.min()), 5),
            "cos_p1": round(float(np.percentile(cos, 1)), 5),
            "cos_mean": round(float(cos.mean()), 5),
            "load_s": loads[fmt],
            "export_s": exports.get(fmt),
        }
    return out


def ceiling(dump: Path, count: int, rounds: int) -> dict[str, Any]:
    """How far any float32 format could go past float32 torch on this CPU: the model's FLOPs per chunk
    (as encode pads its batches), the float32 torch encode's GFLOP/s, the machine's float32 and bfloat16
    matmul GFLOP/s at the feed-forward layers' shape, and the share of the encode spent in the linear
    layers (torch's profiler). If every other op (attention, GELU, layer norm, copies) cost nothing, a
    float32 format could be at most 1 / that share faster; the linear layers' own speed is capped by
    the matmul figure."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    settings = Settings()
    path = settings.embedding_model or packaged_model_path()
    batch = settings.embedding_batch_size
    embedder = Embedder(path, "float32", batch)
    model = embedder.model
    texts = sample_chunks(dump, count, embedder)
    config = model[0].auto_model.config
    h, layers, ff = config.hidden_size, config.num_hidden_layers, config.intermediate_size
    order = np.argsort([-len(t) for t in texts], kind="stable")  # as SentenceTransformer.encode batches
    linear_flop = attention_flop = padded = 0
    for start in range(0, len(texts), batch):
        group = [texts[i] for i in order[start:start + batch]]
        encoded = model.tokenizer(group, padding=True, truncation=True, max_length=model.max_seq_length)
        width = len(encoded["input_ids"][0])
        tokens = len(group) * width
        padded += tokens
        linear_flop += layers * 2 * tokens * (4 * h * h + 2 * h * ff)  # Q, K, V, output; the two FFN matmuls
        attention_flop += layers * 2 * 2 * tokens * width * h  # scores and weighted sum
    model.encode(texts[:batch])
    best = 0.0
    for _ in range(rounds):
        started = time.perf_counter()
        model.encode(texts, batch_size=batch)
        best = max(best, len(texts) / (time.perf_counter() - started))
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        model.encode(texts, batch_size=batch)
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    linear = sum(e.self_cpu_time_total for e in events if e.key in ("aten::addmm", "aten::mm", "aten::matmul"))

    def matmul_gflops(dtype: Any) -> float:
        a = torch.randn(batch * 170, h, dtype=dtype)
        w1, w2 = torch.randn(h, ff, dtype=dtype), torch.randn(ff, h, dtype=dtype)
        for _ in range(3):
            (a @ w1) @ w2
        started = time.perf_counter()
        for _ in range(20):
            (a @ w1) @ w2
        return 20 * 2 * 2 * a.shape[0] * h * ff / (time.perf_counter() - started) / 1e9

    flop = (linear_flop + attention_flop) / len(texts)
    f32, bf16 = matmul_gflops(torch.float32), matmul_gflops(torch.bfloat16)
    share = linear / total if total else float("nan")
    return {
        "machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "native_bf16": cpu_has_native_bf16(),
                    "torch": torch.__version__, "torch_threads": torch.get_num_threads(), "load_avg": os.getloadavg()},
        "chunks": len(texts), "padded_tokens_per_chunk": round(padded / len(texts), 1),
        "gflop_per_chunk": round(flop / 1e9, 3),
        "linear_share_of_flop": round(linear_flop / (linear_flop + attention_flop), 3),
        "float32_chunks_per_s": round(best, 2), "float32_encode_gflops": round(flop * best / 1e9, 1),
        "matmul_gflops": {"float32": round(f32, 1), "bfloat16": round(bf16, 1)},
        "linear_share_of_time": round(share, 3),
        "linear_gflops": round(linear_flop / len(texts) * best / share / 1e9, 1) if share else None,
        "bound_if_the_rest_were_free": round(1 / share, 2) if share else None,
        "bound_at_matmul_speed": round(f32 / (flop * best / 1e9), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dump", type=Path, help="a JSON-lines article dump (e.g. rtqa-2026/articles.jsonl)")
    parser.add_argument("--chunks", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--formats", default=",".join(FORMATS), help=f"comma-separated, of {', '.join(FORMATS)}")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="where ONNX exports are cached (default: a temporary folder, exported afresh)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--ceiling", action="store_true",
                        help="instead: how much faster any float32 format could be than float32 torch here (FLOPs, "
                             "matmul GFLOP/s, the linear layers' share of the time)")
    args = parser.parse_args()
    if args.ceiling:
        print(json.dumps(ceiling(args.dump, args.chunks, args.rounds), indent=2))
        return
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    if unknown := set(formats) - set(FORMATS):
        parser.error(f"unknown formats {sorted(unknown)}: use {', '.join(FORMATS)}")
    with tempfile.TemporaryDirectory(prefix="bench-embed-") as tmp:
        result = run(args.dump, args.chunks, args.rounds, formats, args.cache_dir or Path(tmp))
    if args.json:
        print(json.dumps(result, indent=2))
        return
    m = result["machine"]
    print(f"{m['cpu']}, {m['cores']} cores, native bf16: {m['native_bf16']}, torch {m['torch']} "
          f"({m['torch_threads']} threads), load avg {m['load_avg'][0]:.1f}")
    print(f"{result['chunks']} chunks, {result['mean_word_pieces']} word pieces on average, batch "
          f"{result['batch_size']}, best of {result['rounds']} rounds; baseline {result['baseline']}")
    print(f"{'format':<14}{'chunks/s':>10}{'× base':>8}{'cos min':>10}{'cos p1':>10}{'cos mean':>10}"
          f"{'load s':>8}{'export s':>10}")
    for fmt, r in result["formats"].items():
        print(f"{fmt:<14}{r['chunks_per_s']:>10}{r['vs_baseline']:>8}{r['cos_min']:>10}{r['cos_p1']:>10}"
              f"{r['cos_mean']:>10}{r['load_s']:>8}{r['export_s'] if r['export_s'] is not None else '':>10}")


if __name__ == "__main__":
    main()
