"""Ingest benchmark: our ``ingest()`` against the raw embedding model, on a JSON-lines article dump.

In one run, into a fresh temporary data dir:

1. ``ingest()`` of the dump: chunks/s (the model is loaded first and timed apart);
2. raw ``SentenceTransformer.encode`` of the very same chunk texts (read back from the catalog),
   same model object, batch size and dtype: chunks/s, and the ratio (1)/(2) (goal >= 0.9);
3. a second ``ingest()`` of the unchanged dump: its time as % of the first (goal <= 3 %);
4. peak RSS of the process (goal <= 2.5 GB);
5. float32 vs bfloat16 encode chunks/s on a sample of chunks, and the minimum cosine between them.

    python benchmarks/bench_ingest.py /work/shared/eval/rtqa-2026/articles.jsonl --limit 300
    python benchmarks/bench_ingest.py /work/shared/eval/rtqa-2026/articles.jsonl --json > bench.json

The figures depend on what else the machine runs: the load average before and after is reported.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sqlite3
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

GOAL_RATIO = 0.9
GOAL_REINGEST_PCT = 3.0
GOAL_RSS_GB = 2.5


class EncodeTimer:
    """Adds up the seconds spent inside ``embedder.encode`` (``seconds``) while it is installed;
    ``restore()`` puts the plain method back. Shared with bench_scale_ingest.py."""

    def __init__(self, embedder: Any) -> None:
        self.seconds = 0.0
        self._embedder = embedder
        self._real = embedder.encode

        def timed(texts: Any, batch_size: int | None = None) -> Any:
            started = time.perf_counter()
            try:
                return self._real(texts, batch_size)
            finally:
                self.seconds += time.perf_counter() - started

        embedder.encode = timed

    def restore(self) -> None:
        self._embedder.encode = self._real


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far (getrusage: psutil has no peak figure on Linux)."""
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(maxrss if sys.platform == "darwin" else maxrss * 1024)  # bytes on macOS, KiB on Linux


def machine_info() -> dict[str, Any]:
    import torch

    from retrieval.machine import cpu_has_native_bf16, cpu_model

    cpu = cpu_model()
    try:
        memory_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9, 1)
    except (ValueError, OSError):
        memory_gb = None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": memory_gb,
        "native_bf16": cpu_has_native_bf16(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
    }


def take_first(source: Path, limit: int, folder: Path) -> Path:
    """The first ``limit`` non-empty lines of a JSON-lines dump, streamed into ``folder``."""
    out = folder / f"first-{limit}.jsonl"
    kept = 0
    with source.open("rb") as src, out.open("wb") as dst:
        for line in src:
            if not line.strip():
                continue
            dst.write(line)
            kept += 1
            if kept >= limit:
                break
    return out


def chunk_texts(catalog_path: Path) -> list[str]:
    with closing(sqlite3.connect(catalog_path)) as db:
        return [r[0] for r in db.execute("SELECT text FROM chunks ORDER BY article_id, ord")]


def encode_rate(model: Any, texts: list[str], batch_size: int) -> tuple[float, Any]:
    """(chunks/s, vectors) of one ``SentenceTransformer.encode`` call, after a small warm-up."""
    import torch

    with torch.inference_mode():
        model.encode(texts[: min(len(texts), batch_size)], batch_size=batch_size, show_progress_bar=False)
        started = time.perf_counter()
        vectors = model.encode(
            texts, batch_size=batch_size, normalize_embeddings=True, convert_to_tensor=True, show_progress_bar=False
        )
        seconds = time.perf_counter() - started
    return len(texts) / seconds, vectors.float().cpu().numpy()


def run(dump: Path, limit: int | None, sample: int, work: Path) -> dict[str, Any]:
    import numpy as np

    from ingest.pipeline import ingest
    from retrieval.settings import Settings
    from retrieval.store import Store

    info = machine_info()
    if limit:
        dump = take_first(dump, limit, work)
    settings = Settings(data_dir=work / "data")
    store = Store(settings)
    embedder = store.embedder

    started = time.perf_counter()
    embedder.count_tokens(["warm up"])  # loads the model
    model_load = time.perf_counter() - started
    embedder.encode(["A short warm-up sentence for the first call."])

    # 1. Our ingest, with the time spent inside the model's encode measured apart.
    timer = EncodeTimer(embedder)
    started = time.perf_counter()
    first = ingest([str(dump)], settings, store=store)
    ingest_seconds = time.perf_counter() - started
    timer.restore()
    encode_seconds = timer.seconds
    rss_after_ingest = peak_rss_bytes()
    if first.failed:
        print(f"note: {len(first.failed)} records failed to load, e.g. {first.failed[0]}", file=sys.stderr)

    # 2. Raw encode of the same chunk texts, same model object (same dtype) and batch size.
    texts = chunk_texts(settings.catalog_path)
    assert len(texts) == first.chunks, (len(texts), first.chunks)
    tokens = embedder.count_tokens(texts)
    raw_rate, _ = encode_rate(embedder.model, texts, settings.embedding_batch_size)
    ingest_rate = first.chunks / ingest_seconds

    # 3. Re-ingest of the unchanged dump.
    started = time.perf_counter()
    second = ingest([str(dump)], settings, store=store)
    reingest_seconds = time.perf_counter() - started
    assert second.chunks == 0 and second.unchanged == first.added + first.updated, second.to_json()

    # 5. float32 vs bfloat16 on a sample (fresh model copies, so "auto" does not decide for us).
    import torch
    from sentence_transformers import SentenceTransformer

    step = max(1, len(texts) // sample)
    picked = texts[::step][:sample]
    fp32 = SentenceTransformer(embedder.model_path, device="cpu", local_files_only=True).eval()
    bf16 = SentenceTransformer(embedder.model_path, device="cpu", local_files_only=True).to(torch.bfloat16).eval()
    fp32_rate, fp32_vecs = encode_rate(fp32, picked, settings.embedding_batch_size)
    bf16_rate, bf16_vecs = encode_rate(bf16, picked, settings.embedding_batch_size)
    # Re-normalised in float32: bf16 vectors are normalised in bf16, their norms are off by ~1e-3.
    cosines = np.sum(fp32_vecs * bf16_vecs, axis=1) / (
        np.linalg.norm(fp32_vecs, axis=1) * np.linalg.norm(bf16_vecs, axis=1)
    )

    stats = store.stats()
    info["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    return {
        "machine": info,
        "dump": str(dump),
        "articles": first.added + first.updated,
        "failed_records": len(first.failed),
        "chunks": first.chunks,
        "chars": sum(len(t) for t in texts),
        "tokens_per_chunk": round(sum(tokens) / max(1, len(tokens)), 1),
        "embedding_dtype": embedder.dtype,
        "batch_size": settings.embedding_batch_size,
        "model_load_s": round(model_load, 2),
        "ingest_s": round(ingest_seconds, 2),
        "ingest_encode_s": round(encode_seconds, 2),
        "ingest_other_s": round(ingest_seconds - encode_seconds, 2),
        "ingest_chunks_per_s": round(ingest_rate, 2),
        "raw_encode_chunks_per_s": round(raw_rate, 2),
        "ratio": round(ingest_rate / raw_rate, 3),
        "reingest_s": round(reingest_seconds, 3),
        "reingest_pct": round(100 * reingest_seconds / ingest_seconds, 2),
        "peak_rss_after_ingest_gb": round(rss_after_ingest / 1e9, 3),
        "peak_rss_gb": round(peak_rss_bytes() / 1e9, 3),
        "bf16_sample": len(picked),
        "fp32_chunks_per_s": round(fp32_rate, 2),
        "bf16_chunks_per_s": round(bf16_rate, 2),
        "bf16_speedup": round(bf16_rate / fp32_rate, 2),
        "bf16_min_cosine": round(float(cosines.min()), 5),
        "bf16_mean_cosine": round(float(cosines.mean()), 5),
        "index_vectors": stats["vectors"],
        "goals": {
            "ratio>=0.9": ingest_rate / raw_rate >= GOAL_RATIO,
            "reingest<=3%": 100 * reingest_seconds / ingest_seconds <= GOAL_REINGEST_PCT,
            "peak_rss<=2.5GB": peak_rss_bytes() / 1e9 <= GOAL_RSS_GB,
        },
    }


def print_table(r: dict[str, Any]) -> None:
    m = r["machine"]
    ok = {True: "ok", False: "MISSED"}
    g = r["goals"]
    rows = [
        ("machine", f"{m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB, native bf16: {m['native_bf16']}"),
        ("software", f"python {m['python']}, torch {m['torch']}, {m['torch_threads']} threads"),
        ("load average", f"before {m['load_average_before']}, after {m['load_average_after']}"),
        ("dump", f"{r['dump']}: {r['articles']} articles, {r['failed_records']} failed, {r['chunks']} chunks, "
                 f"{r['chars']:,} chars, {r['tokens_per_chunk']} word pieces/chunk"),
        ("embedder", f"dtype {r['embedding_dtype']}, batch {r['batch_size']}, loaded in {r['model_load_s']} s"),
        ("1 ingest", f"{r['ingest_s']} s = {r['ingest_chunks_per_s']} chunks/s "
                     f"(encode {r['ingest_encode_s']} s, everything else {r['ingest_other_s']} s)"),
        ("2 raw encode", f"{r['raw_encode_chunks_per_s']} chunks/s"),
        ("  ratio 1/2", f"{r['ratio']}  [goal >= {GOAL_RATIO}: {ok[g['ratio>=0.9']]}]"),
        ("3 re-ingest", f"{r['reingest_s']} s = {r['reingest_pct']} % of ingest  "
                        f"[goal <= {GOAL_REINGEST_PCT} %: {ok[g['reingest<=3%']]}]"),
        ("4 peak RSS", f"{r['peak_rss_gb']} GB (after ingest {r['peak_rss_after_ingest_gb']} GB)  "
                       f"[goal <= {GOAL_RSS_GB} GB: {ok[g['peak_rss<=2.5GB']]}]"),
        ("5 fp32 / bf16", f"{r['fp32_chunks_per_s']} / {r['bf16_chunks_per_s']} chunks/s "
                          f"(x{r['bf16_speedup']}) on {r['bf16_sample']} chunks; cosine min {r['bf16_min_cosine']}, "
                          f"mean {r['bf16_mean_cosine']}"),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dump", type=Path, help="JSON-lines article dump (fields id, url, title, published, text)")
    parser.add_argument("--limit", type=int, default=None, help="take only the first N articles")
    parser.add_argument("--sample", type=int, default=512, help="chunks for the fp32/bf16 comparison (512)")
    parser.add_argument("--json", action="store_true", help="print the results as one JSON object")
    parser.add_argument("--keep", type=Path, default=None, help="build the index in this folder and keep it")
    args = parser.parse_args(argv)
    if not args.dump.is_file():
        parser.error(f"no such file: {args.dump}")
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        results = run(args.dump, args.limit, args.sample, args.keep)
    else:
        with tempfile.TemporaryDirectory(prefix="newsqa-bench-") as work:
            results = run(args.dump, args.limit, args.sample, Path(work))
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print_table(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
