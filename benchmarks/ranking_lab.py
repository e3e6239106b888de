"""Replay the ranking offline to compare fusion settings in seconds instead of minutes.

    python benchmarks/ranking_lab.py DATASET_DIR --data-dir INDEX [--set name=value ...] [--against name=value ...]

``python -m retrieval evaluate`` runs the real ``search()`` for every question (minutes on the full
RealTime QA index). This lab fetches each question's candidates once — exact dense scores over all
chunk vectors, passage BM25 and whole-article BM25 from the catalog — and then re-fuses them under
any settings, scoring with the evaluation's own metric functions. Use it to explore; confirm a
winner with ``evaluate`` (the lab skips the HNSW approximation and near-duplicate collapse, so its
figures differ from evaluate's by ~0.005).

``--against-data-dir`` compares two indexes of the same articles (e.g. built with different
``NEWSQA_CHUNK_TOKENS``): the baseline ranking then comes from that index.

``--set`` and ``--against`` take Settings fields (rrf_k, fetch_k, dense_weight, keyword_weight,
article_weight, recency_weight, recency_days, tail_passage_weight); the lab prints both rankings' metrics and a paired
comparison of article reciprocal ranks (mean difference ± standard error, questions better/worse).

Example: does whole-article BM25 help?
    python benchmarks/ranking_lab.py ../shared/eval/rtqa-2026 --data-dir /tmp/rtqa-index \\
        --set article_weight=1 --against article_weight=0
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from retrieval.eval_data import Question, load_dataset  # noqa: E402
from retrieval.eval_metrics import article_ranking, first_gold, first_hit  # noqa: E402
from retrieval.search import fuse, lean_tail, parse_day  # noqa: E402
from retrieval.settings import Settings  # noqa: E402
from retrieval.store import Store  # noqa: E402
from retrieval.types import Passage  # noqa: E402

POOL = 200  # candidates kept per retriever; fetch_k above this is capped


@dataclass
class Candidates:
    dense: list[str]  # chunk ids, best first
    keyword: list[str]
    articles: list[str]  # article ids, best first


def gather(store: Store, questions: list[Question]) -> tuple[list[Candidates], dict[str, dict[str, Any]]]:
    """Each question's candidate lists, and the chunk rows they need."""
    got = store.collection.get(include=["embeddings"])
    ids = list(got["ids"])
    vectors = np.asarray(got["embeddings"], dtype=np.float32)
    queries = np.asarray(store.embedder.encode([q.question for q in questions]), dtype=np.float32)
    out = []
    for q, qvec in zip(questions, queries, strict=True):
        sims = vectors @ qvec
        top = np.argpartition(-sims, min(POOL, len(ids) - 1))[:POOL]
        dense = [ids[i] for i in top[np.argsort(-sims[top])]]
        keyword = [h.chunk_id for h in store.keyword_search(q.question, POOL)]
        articles = [h.article_id for h in store.article_search(q.question, POOL)]
        out.append(Candidates(dense, keyword, articles))
    needed = {c for cand in out for c in (*cand.dense, *cand.keyword)}
    rows = {cid: dict(row) for cid, row in store.chunks_by_id(needed).items()}
    return out, rows


def rank(cand: Candidates, rows: dict[str, dict[str, Any]], s: Settings, as_of: str, k: int) -> list[Passage]:
    """The ranking of ``retrieval.search.search`` (its own ``fuse`` and ``lean_tail``, without collapse and
    without the dense reserve) under settings ``s``."""
    fetch = max(s.fetch_k, k * 3)
    dense = {cid: r for r, cid in enumerate(cand.dense[:fetch], start=1)}
    keyword = {cid: r for r, cid in enumerate(cand.keyword[:fetch], start=1)}
    articles = {a: r for r, a in enumerate(cand.articles[:fetch], start=1)} if s.article_weight else {}
    day = parse_day(as_of)
    fused = fuse(s, dense, keyword, articles, rows, day)
    best = sorted(fused, key=lambda c: -fused[c])
    if s.tail_passage_weight != 1.0:
        best = lean_tail(best, fuse(s, dense, keyword, articles, rows, day, s.tail_passage_weight))
    best = best[:k]
    return [Passage(chunk_id=c, article_id=rows[c]["article_id"], text=rows[c]["text"], start=0, end=0,
                    published=rows[c]["published"], score=fused[c]) for c in best]


def score(questions: list[Question], rankings: list[list[Passage]]) -> tuple[dict[str, float], list[float]]:
    reciprocal = []
    hits = {d: 0 for d in (1, 3, 10)}
    counted = 0
    for q, passages in zip(questions, rankings, strict=True):
        r = first_gold(article_ranking(passages), set(q.gold))
        reciprocal.append(1 / r if r else 0.0)
        if q.answer_in_gold is not False:
            counted += 1
            h = first_hit(passages, q.answer)
            for d in hits:
                hits[d] += bool(h and h <= d)
    metrics = {f"answer_hits@{d}": hits[d] / max(counted, 1) for d in hits}
    metrics["article_mrr@10"] = sum(reciprocal) / len(reciprocal)
    return metrics, reciprocal


def parse_overrides(pairs: list[str]) -> dict[str, float]:
    out = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        if name not in Settings.model_fields or not value:
            raise SystemExit(f"--set/--against take a Settings field=value, e.g. article_weight=0; got {pair!r}")
        out[name] = float(value)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", type=Path, help="dataset folder (questions.jsonl with gold_article_ids)")
    parser.add_argument("--data-dir", type=Path, required=True, help="the index, e.g. from evaluate --data-dir")
    parser.add_argument("--set", dest="candidate", action="append", default=[], metavar="FIELD=VALUE")
    parser.add_argument("--against", dest="baseline", action="append", default=[], metavar="FIELD=VALUE")
    parser.add_argument("--against-data-dir", type=Path, metavar="INDEX",
                        help="take the baseline's candidates from this index instead (same articles, e.g. "
                        "other chunk sizes)")
    parser.add_argument("--k", type=int, default=10)
    args = parser.parse_args()

    questions = load_dataset(args.dataset).answerable
    if not questions:
        raise SystemExit(f"{args.dataset} has no question with gold articles")
    base = Settings(data_dir=args.data_dir)
    store = Store(base)
    print(f"gathering candidates for {len(questions)} questions …", file=sys.stderr)
    pools = {"candidate": gather(store, questions)}
    pools["baseline"] = pools["candidate"]
    if args.against_data_dir is not None:
        print(f"… and from {args.against_data_dir}", file=sys.stderr)
        pools["baseline"] = gather(Store(Settings(data_dir=args.against_data_dir), embedder=store.embedder),
                                   questions)  # the model loaded once
    results = {}
    runs = (("baseline", parse_overrides(args.baseline)), ("candidate", parse_overrides(args.candidate)))
    for label, overrides in runs:
        s = base.model_copy(update={k: int(v) if k in ("rrf_k", "fetch_k") else v for k, v in overrides.items()})
        candidates, rows = pools[label]
        rankings = [rank(c, rows, s, q.date, args.k) for c, q in zip(candidates, questions, strict=True)]
        metrics, reciprocal = score(questions, rankings)
        results[label] = reciprocal
        shown = " ".join(f"{key} {value:.3f}" for key, value in metrics.items())
        where = f" [{args.against_data_dir}]" if label == "baseline" and args.against_data_dir else ""
        print(f"{label:9} {overrides or 'defaults'}{where}: {shown}")
    diff = np.asarray(results["candidate"]) - np.asarray(results["baseline"])
    se = diff.std(ddof=1) / math.sqrt(len(diff)) if len(diff) > 1 else 0.0
    print(f"candidate − baseline, article reciprocal rank: {diff.mean():+.4f} ± {se:.4f} (1 s.e.); "
          f"better {(diff > 0).sum()}, worse {(diff < 0).sum()}, same {(diff == 0).sum()}")


if __name__ == "__main__":
    main()
