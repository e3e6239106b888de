"""Does the local model, reading the first few passages, order them better than the fused search?

    python benchmarks/reader_lab.py gather DATASET_DIR --data-dir INDEX --out POOL.json [--k 10]
    python benchmarks/reader_lab.py score POOL.json --scores SCORES.jsonl [--top 5] [--model GGUF]
    python benchmarks/reader_lab.py report DATASET_DIR POOL.json SCORES.jsonl [--top 3 5] [--prior 0 0.5 1 2]

``gather`` runs the product's ``search()`` for every answerable question as of its date (as
``evaluate`` does, k = 10) and keeps the ranked passages. ``score`` asks the local GGUF model, for each
of the first ``--top`` passages, whether the passage answers the question, and records the log-odds of
its first reply token ("yes" against "no") — one prompt evaluation per passage, no generation; the
instructions and the question are a prefix shared by a question's passages. Scores are appended, so a
killed run resumes. ``report`` re-orders the first N passages by ``logodds + prior × (N − rank)`` and
scores the orders with the evaluation's own metrics per week half (A ≤ 2026-05-01, B after), with the
paired difference to the search's order (± one standard error).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

HALF_SPLIT = "2026-05-01"

SYSTEM = "You check whether a news passage answers a question. Reply with one word: yes or no."
PREFIX = "<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\nQuestion: {question}\n\n"
BODY = ("Passage ({source}):\n{text}\n\nDoes this passage state the answer to the question? Reply yes or no."
        "<|im_end|>\n<|im_start|>assistant\n")


def gather(args: argparse.Namespace) -> None:
    from retrieval.eval_data import load_dataset
    from retrieval.evaluate import as_of
    from retrieval.search import search
    from retrieval.settings import Settings
    from retrieval.store import Store

    dataset = load_dataset(args.dataset)
    questions = [q for q in dataset.questions if q.answerable]
    store = Store(Settings(data_dir=args.data_dir))
    out = []
    for i, q in enumerate(questions):
        result = search(store, q.question, k=args.k, filters=as_of(q))
        out.append({
            "id": q.id, "date": q.date, "question": q.question, "answer": q.answer, "gold": list(q.gold),
            "answer_in_gold": q.answer_in_gold,
            "passages": [{"chunk_id": p.chunk_id, "article_id": p.article_id, "title": p.title,
                          "outlet": p.outlet, "published": p.published, "text": p.text} for p in result.passages],
        })
        if i % 20 == 0:
            print(f"{i}/{len(questions)}", file=sys.stderr)
    Path(args.out).write_text(json.dumps(out))


def _logsumexp(values: np.ndarray) -> float:
    top = float(values.max())
    return top + math.log(float(np.exp(values - top).sum()))


def score(args: argparse.Namespace) -> None:
    import llama_cpp

    from retrieval.local_model import local_model_path
    from retrieval.settings import Settings

    pool = json.loads(Path(args.pool).read_text())
    path = args.model or str(local_model_path(Settings()))
    llm = llama_cpp.Llama(model_path=path, n_ctx=args.n_ctx, n_batch=512, n_threads=args.threads,
                          n_threads_batch=args.threads, verbose=False)
    vocab = llm.n_vocab()

    def token_ids(words: list[str]) -> list[int]:
        ids = set()
        for w in words:
            toks = llm.tokenize(w.encode(), add_bos=False)
            if len(toks) == 1:
                ids.add(toks[0])
        return sorted(ids)

    yes, no = token_ids(["yes", "Yes", " yes", " Yes", "YES"]), token_ids(["no", "No", " no", " No", "NO"])
    done = set()
    scores_path = Path(args.scores)
    if scores_path.exists():
        for line in scores_path.read_text().splitlines():
            row = json.loads(line)
            done.add((row["id"], row["chunk_id"]))
    started, n_tokens, n_done = time.perf_counter(), 0, 0
    with scores_path.open("a") as f:
        for qi, q in enumerate(pool):
            if args.only and not any(q["id"].startswith(p) for p in args.only):
                continue
            prefix = llm.tokenize(PREFIX.format(system=SYSTEM, question=q["question"]).encode(), add_bos=False,
                                  special=True)
            prefix_ready = False
            for rank, p in enumerate(q["passages"][: args.top], start=1):
                if (q["id"], p["chunk_id"]) in done:
                    continue
                if not prefix_ready:
                    llm.reset()
                    llm.eval(prefix)
                    n_tokens += len(prefix)
                    prefix_ready = True
                source = f"{p['outlet']}, {(p['published'] or '')[:10]}: {p['title']}"
                body = llm.tokenize(BODY.format(source=source, text=p["text"]).encode(), add_bos=False, special=True)
                llm.n_tokens = len(prefix)
                llm.eval(body)
                n_tokens += len(body)
                logits = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(vocab,)).astype(np.float64)
                odds = _logsumexp(logits[yes]) - _logsumexp(logits[no])
                f.write(json.dumps({"id": q["id"], "chunk_id": p["chunk_id"], "rank": rank,
                                    "logodds": odds, "tokens": len(prefix) + len(body)}) + "\n")
                f.flush()
                n_done += 1
            if qi % 10 == 0 and n_done:
                el = time.perf_counter() - started
                print(f"{qi}/{len(pool)} {n_done} passages {el:.0f}s {n_tokens / el:.0f} tok/s "
                      f"{el / n_done:.2f} s/passage", file=sys.stderr)


def report(args: argparse.Namespace) -> None:
    from retrieval.eval_data import load_dataset
    from retrieval.eval_metrics import contains

    dataset = load_dataset(args.dataset)
    counted = {q.id: q.answer_in_gold is not False for q in dataset.questions}
    pool = json.loads(Path(args.pool).read_text())
    logodds: dict[tuple[str, str], float] = {}
    for line in Path(args.scores).read_text().splitlines():
        row = json.loads(line)
        logodds[(row["id"], row["chunk_id"])] = row["logodds"]

    def metrics(q: dict[str, Any], order: list[dict[str, Any]]) -> dict[str, float]:
        arts: list[str] = []
        for p in order:
            if p["article_id"] not in arts:
                arts.append(p["article_id"])
        gold = set(q["gold"])
        art = next((r for r, a in enumerate(arts, 1) if a in gold), None)
        hit = next((r for r, p in enumerate(order, 1) if contains(p["text"], q["answer"])), None)
        out = {"mrr": 1 / art if art else 0.0, "art@1": float(art == 1), "art@3": float(bool(art and art <= 3))}
        if counted.get(q["id"], True):
            out.update({"hit@1": float(hit == 1), "hit@3": float(bool(hit and hit <= 3))})
        return out

    def reorder(q: dict[str, Any], top: int, prior: float) -> list[dict[str, Any]] | None:
        head = q["passages"][:top]
        if any((q["id"], p["chunk_id"]) not in logodds for p in head):
            return None
        keyed = sorted(range(len(head)),
                       key=lambda i: -(logodds[(q["id"], head[i]["chunk_id"])] + prior * (len(head) - i)))
        return [head[i] for i in keyed] + q["passages"][top:]

    for half, test in (("A", lambda d: d <= HALF_SPLIT), ("B", lambda d: d > HALF_SPLIT)):
        qs = [q for q in pool if test(q["date"] or "")]
        for top in args.top:
            for prior in args.prior:
                base, new = [], []
                for q in qs:
                    order = reorder(q, top, prior)
                    if order is None:
                        continue
                    base.append(metrics(q, q["passages"]))
                    new.append(metrics(q, order))
                if not base:
                    continue
                parts = [f"{half} top{top} prior{prior} n{len(base)}"]
                for m in ("mrr", "art@1", "art@3", "hit@1", "hit@3"):
                    pairs = [(b[m], n[m]) for b, n in zip(base, new, strict=True) if m in b]
                    d = np.array([n - b for b, n in pairs])
                    se = d.std(ddof=1) / math.sqrt(len(d)) if len(d) > 1 else 0.0
                    parts.append(f"{m} {np.mean([b for b, _ in pairs]):.3f}->{np.mean([n for _, n in pairs]):.3f}"
                                 f" ({d.mean():+.3f}±{se:.3f})")
                print("  ".join(parts))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gather")
    g.add_argument("dataset", type=Path)
    g.add_argument("--data-dir", type=Path, required=True)
    g.add_argument("--out", required=True)
    g.add_argument("--k", type=int, default=10)
    s = sub.add_parser("score")
    s.add_argument("pool")
    s.add_argument("--scores", required=True)
    s.add_argument("--top", type=int, default=5)
    s.add_argument("--model")
    s.add_argument("--n-ctx", type=int, default=2048)
    s.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    s.add_argument("--only", nargs="*", help="only question ids starting with these")
    r = sub.add_parser("report")
    r.add_argument("dataset", type=Path)
    r.add_argument("pool")
    r.add_argument("scores")
    r.add_argument("--top", type=int, nargs="+", default=[3, 5])
    r.add_argument("--prior", type=float, nargs="+", default=[0, 0.5, 1, 2])
    args = ap.parse_args()
    {"gather": gather, "score": score, "report": report}[args.cmd](args)


if __name__ == "__main__":
    main()
