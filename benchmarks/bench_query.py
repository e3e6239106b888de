"""Query-time benchmark on an existing index: our hybrid ``search()`` against a raw Chroma query,
and where the time of an answer goes, per answer backend.

    python benchmarks/bench_query.py DATA_DIR_OR_DATASET [--data-dir D] [--queries 60] [--k 10]
                                     [--llm-questions 3] [--backend extractive --backend local] [--json]

PATH is either an index folder (the NEWSQA_DATA_DIR of an ingest; queries are then article titles
sampled from its catalog) or a dataset folder with ``questions.jsonl`` (its questions are the
queries; the index is --data-dir, e.g. the one ``python -m retrieval evaluate --data-dir`` keeps).

Retrieval, all measured in one run, interleaved query by query so that machine load hits every
contender alike:
  - ours (vector given): ``search()`` with the query vector precomputed (a cached embedder);
  - raw (vector given): ``collection.query(query_embeddings=[v], n_results=k)`` on the same vector;
  - ours / raw, each including the query embedding.
Goal: ours p50 <= 1.2 x raw Chroma (vector given).

Answers: the per-step split (retrieve, prompt build, first token, generation, verify) of
``Assistant.stream`` for each backend available: extractive always, local when its model file is
assembled (``python -m retrieval prepare``) and llama-cpp-python is installed, openai when asked for.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from retrieval.eval_metrics import percentile  # noqa: E402
from retrieval.machine import machine_summary  # noqa: E402
from retrieval.settings import Settings  # noqa: E402
from retrieval.store import Store  # noqa: E402


def machine_info() -> dict[str, Any]:
    import chromadb
    import torch

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        usable = os.cpu_count() or 0
    return {
        **machine_summary(),  # cpu, cores, load_average_1m
        "cores_usable": usable,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "chromadb": chromadb.__version__,
    }


class CachedEmbedder:
    """The store's embedder with precomputed query vectors: ``search()`` then skips the model."""

    def __init__(self, inner: Any, vectors: dict[str, Any]) -> None:
        self._inner = inner
        self._vectors = vectors

    def encode(self, texts: Sequence[str], batch_size: int | None = None) -> Any:
        import numpy as np

        if all(t in self._vectors for t in texts):
            return np.stack([self._vectors[t] for t in texts])
        return self._inner.encode(texts, batch_size)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def load_queries(path: Path, store: Store, n: int) -> list[str]:
    qfile = path / "questions.jsonl"
    if qfile.is_file():
        rows = [json.loads(line) for line in qfile.read_text(encoding="utf-8").splitlines() if line.strip()]
        rows.sort(key=lambda r: not r.get("gold_article_ids"))  # answerable first, file order kept
        return [str(r["question"]) for r in rows if r.get("question")][:n]
    rows = store.catalog._query("SELECT title FROM articles WHERE state = 'done' AND title != '' ORDER BY id")
    titles = [r["title"] for r in rows]
    step = max(1, len(titles) // max(1, n))
    return titles[::step][:n]


def bench_retrieval(store: Store, queries: list[str], k: int, repeat: int) -> dict[str, Any]:
    from retrieval.search import search

    collection = store.collection
    embedder = store.embedder
    vectors = dict(zip(queries, embedder.encode(queries), strict=True))
    cached = Store(store.settings, embedder=CachedEmbedder(embedder, vectors))  # type: ignore[arg-type]
    # Share the opened components: same Chroma client, same catalog connection.
    cached.__dict__.update(catalog=store.catalog, client=store.client, collection=collection)

    def raw_vector(q: str) -> None:
        collection.query(query_embeddings=[vectors[q]], n_results=k)

    def raw_embed(q: str) -> None:
        collection.query(query_embeddings=[embedder.encode([q])[0]], n_results=k)

    steps: dict[str, list[float]] = defaultdict(list)

    def ours_vector(q: str) -> None:
        result = search(cached, q, k=k)
        for name, seconds in result.timings.items():
            steps[name].append(seconds * 1000)

    def ours_embed(q: str) -> None:
        search(store, q, k=k)

    contenders = {
        "ours (vector given)": ours_vector,
        "raw chroma (vector given)": raw_vector,
        "ours (with embedding)": ours_embed,
        "raw chroma (with embedding)": raw_embed,
    }
    for q in queries[:3]:  # warm-up: HNSW index, SQLite pages, model
        for fn in contenders.values():
            fn(q)
    steps.clear()
    times: dict[str, list[float]] = defaultdict(list)
    names = list(contenders)
    for r in range(repeat):
        for i, q in enumerate(queries):
            shift = (i + r) % len(names)  # rotate the order so none is always first
            for name in names[shift:] + names[:shift]:
                t = time.perf_counter()
                contenders[name](q)
                times[name].append((time.perf_counter() - t) * 1000)
    table = {
        name: {"p50_ms": percentile(v, 50), "p95_ms": percentile(v, 95), "mean_ms": statistics.fmean(v)}
        for name, v in times.items()
    }
    ratios = {
        "p50 ours/raw (vector given)": table["ours (vector given)"]["p50_ms"]
        / table["raw chroma (vector given)"]["p50_ms"],
        "p95 ours/raw (vector given)": table["ours (vector given)"]["p95_ms"]
        / table["raw chroma (vector given)"]["p95_ms"],
        "p50 ours/raw (with embedding)": table["ours (with embedding)"]["p50_ms"]
        / table["raw chroma (with embedding)"]["p50_ms"],
        "p95 ours/raw (with embedding)": table["ours (with embedding)"]["p95_ms"]
        / table["raw chroma (with embedding)"]["p95_ms"],
    }
    split = {name: percentile(v, 50) for name, v in steps.items() if name != "retrieve"}
    return {
        "queries": len(queries),
        "repeat": repeat,
        "k": k,
        "fetch_k": store.settings.fetch_k,
        "latency": table,
        "ratios": ratios,
        "ours_step_p50_ms": split,
        "goal_p50_ratio_vector_given": 1.2,
        "goal_met": ratios["p50 ours/raw (vector given)"] <= 1.2,
    }


def local_ready(settings: Settings) -> str | None:
    """None when the local backend can run without assembling or building anything, else why not."""
    import importlib.util

    from retrieval.local_model import local_model_path

    if importlib.util.find_spec("llama_cpp") is None:
        return "llama-cpp-python is not installed (./scripts/setup.sh)"
    if not local_model_path(settings).is_file():
        return f"the model file {local_model_path(settings)} is not assembled (python -m retrieval prepare)"
    return None


# Answer.timings keys, in order: first_token is measured from the question, the others are durations.
STEPS = ("rewrite", "retrieve", "prompt", "first_token", "generate", "verify", "total")


def bench_answers(store: Store, queries: list[str], backends: list[str], llm_questions: int,
                  notes: list[str]) -> dict[str, Any]:
    from retrieval.answer import Assistant

    out: dict[str, Any] = {}
    for backend in backends:
        if backend == "local":
            why = local_ready(store.settings)
            if why:
                notes.append(f"local backend skipped: {why}")
                continue
        assistant = Assistant(store.settings, store=store, backend=backend)
        load_s = None
        try:
            model = assistant.chat_model
            if model is not None and hasattr(model, "load"):
                t = time.perf_counter()
                model.load()
                load_s = time.perf_counter() - t
        except Exception as exc:  # report it and go on with the other backends
            notes.append(f"{backend} backend skipped: {exc}")
            continue
        n = len(queries) if backend == "extractive" else min(llm_questions, len(queries))
        if backend == "extractive":
            assistant.answer(queries[0])  # warm-up (sentence embeddings cache is per question anyway)
        per_step: dict[str, list[float]] = defaultdict(list)
        refused = 0
        for q in queries[:n]:
            answer = assistant.answer(q)
            refused += answer.refused
            for step in STEPS:
                if step in answer.timings:
                    per_step[step].append(answer.timings[step])
            spent = answer.timings
            if "first_token" in spent:
                # first_token counts from the question; generate from the model call to its last token.
                wait = (spent["first_token"] - spent.get("rewrite", 0) - spent.get("retrieve", 0)
                        - spent.get("prompt", 0))
                per_step["model_wait_to_first_token"].append(wait)
                per_step["generation_after_first_token"].append(max(0.0, spent.get("generate", 0) - wait))
        out[backend] = {
            "questions": n,
            "refused": refused,
            "model_load_s": load_s,
            "p50_s": {step: percentile(v, 50) for step, v in per_step.items()},
            "mean_s": {step: statistics.fmean(v) for step, v in per_step.items()},
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", type=Path, help="index folder, or dataset folder with questions.jsonl")
    parser.add_argument("--data-dir", type=Path, help="the index, when PATH is a dataset (default: NEWSQA_DATA_DIR)")
    parser.add_argument("--queries", type=int, default=60, help="queries for the retrieval timing")
    parser.add_argument("--repeat", type=int, default=2, help="passes over the queries")
    parser.add_argument("--k", type=int, default=10, help="passages per query (ours and raw Chroma alike)")
    parser.add_argument("--llm-questions", type=int, default=3, help="questions per LLM backend")
    parser.add_argument("--backend", action="append", dest="backends",
                        help="answer backends to time (repeatable; default: extractive and local)")
    parser.add_argument("--no-answers", action="store_true", help="time retrieval only")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)

    if (args.path / "catalog.sqlite3").is_file():
        data_dir = args.path
    elif (args.path / "questions.jsonl").is_file():
        data_dir = args.data_dir or Settings().data_dir
    else:
        parser.error(f"{args.path} is neither an index (catalog.sqlite3) nor a dataset (questions.jsonl)")
    if not (data_dir / "catalog.sqlite3").is_file():
        parser.error(f"no index in {data_dir}: ingest first, or pass --data-dir "
                     "(e.g. the one of `python -m retrieval evaluate DATASET --data-dir D`)")
    settings = Settings(data_dir=data_dir)
    store = Store(settings)
    facts = store.facts()
    queries = load_queries(args.path, store, args.queries)
    if not queries:
        parser.error("no queries: the dataset has no questions / the index has no titled articles")
    notes: list[str] = []
    report: dict[str, Any] = {
        "machine": machine_info(),
        "index": {"data_dir": str(data_dir), "articles": facts["articles"], "chunks": facts["chunks"],
                  "vectors": store.collection.count(), "embedding_dtype": store.embedder.dtype},
        "retrieval": bench_retrieval(store, queries, args.k, args.repeat),
    }
    if not args.no_answers:
        report["answers"] = bench_answers(store, queries, args.backends or ["extractive", "local"],
                                          args.llm_questions, notes)
    report["notes"] = notes
    report["machine"]["load_average_1m_after"] = round(os.getloadavg()[0], 2)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(report)
    return 0


def print_report(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    m = report["machine"]
    console.print(f"[bold]machine[/]: {m['cpu']} · {m['cores']} cores ({m['cores_usable']} usable) · "
                  f"load {m['load_average_1m']}→{m['load_average_1m_after']} · python {m['python']} · "
                  f"torch {m['torch']} ({m['torch_threads']} threads) · chromadb {m['chromadb']}")
    i = report["index"]
    console.print(f"[bold]index[/]: {i['data_dir']} · {i['articles']} articles · {i['chunks']} chunks · "
                  f"{i['vectors']} vectors · embeddings {i['embedding_dtype']}")
    r = report["retrieval"]
    table = Table(title=f"Retrieval latency ({r['queries']} queries × {r['repeat']}, k={r['k']}, "
                        f"fetch_k={r['fetch_k']})")
    for col in ("", "p50 ms", "p95 ms", "mean ms"):
        table.add_column(col, justify="right" if col else "left")
    for name, row in r["latency"].items():
        table.add_row(name, f"{row['p50_ms']:.1f}", f"{row['p95_ms']:.1f}", f"{row['mean_ms']:.1f}")
    console.print(table)
    for name, value in r["ratios"].items():
        console.print(f"  {name}: [bold]{value:.2f}×[/]")
    console.print(f"  goal p50 ≤ {r['goal_p50_ratio_vector_given']}× raw: "
                  f"{'[green]met[/]' if r['goal_met'] else '[red]not met[/]'}")
    console.print("  our steps (p50 ms): " + ", ".join(f"{k} {v:.1f}" for k, v in r["ours_step_p50_ms"].items()))
    for backend, a in report.get("answers", {}).items():
        load = "" if a["model_load_s"] is None else f", model load {a['model_load_s']:.1f}s"
        table = Table(title=f"Answer time, {backend} backend ({a['questions']} questions, "
                            f"{a['refused']} refused{load})")
        table.add_column("step")
        table.add_column("p50 s", justify="right")
        table.add_column("mean s", justify="right")
        for step, value in a["p50_s"].items():
            table.add_row(step, f"{value:.3f}", f"{a['mean_s'][step]:.3f}")
        console.print(table)
    for note in report.get("notes", []):
        console.print(f"[yellow]note[/]: {note}")


if __name__ == "__main__":
    sys.exit(main())
