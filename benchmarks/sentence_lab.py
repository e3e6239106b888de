"""Sentence-level dense matching as a second stage, tuned on week half A, reported on half B (issue 17).

    python benchmarks/sentence_lab.py DATASET --data-dir INDEX --cache POOLS.pkl encode --top 30 [--variant plain]
    python benchmarks/sentence_lab.py DATASET --data-dir INDEX --cache POOLS.pkl diagnose [--top 10]
    python benchmarks/sentence_lab.py DATASET --data-dir INDEX --cache POOLS.pkl grid [--top 10 20 30] [--cv]
    python benchmarks/sentence_lab.py DATASET --data-dir INDEX --cache POOLS.pkl cost [--top 10 20 30]

A passage (≈ 250 word pieces) embedded as a whole dilutes the one sentence that answers. This lab takes the
candidates ``fusion_lab.py`` caches (``--cache``: the same pickle), puts each question's candidates in the
product's order (``fuse`` + ``lean_tail`` at the settings' ``tail_passage_weight``, then the dense
reserve: the ``product`` line, no collapse), splits the first ``--top`` passages into sentences
(``retrieval.text.split_sentences``), embeds them with the product's embedder (``Store.embedder``; the
question's vector is the one dense search used) and scores each passage by its sentences:

- ``max``: the best sentence cosine; ``top2``: the mean of the best two; ``win2``: the best window of two
  adjacent sentences, embedded together; ``title``: the best "title: sentence"; ``mix``: ``max`` + the
  passage's own cosine, halved.

How the score enters the ranking (``grid``), for each top N and weight W:

- ``rrf``: one more rank list over the top N (the passage ranked r by the sentence score gains
  W / (rrf_k + r)) in both the fused score and the tail's, the first place included;
- ``rrf-tail``: the same, the first place kept (places 2..N only);
- ``bonus``: W / rrf_k × the z-score of the sentence score within the top N (fused and tail);
- ``article``: among the first N, the places held by passages of one article go to those passages in the
  order of their sentence score (which article comes where is unchanged: article MRR cannot move);
- ``top10``: the 10 passages shown (after the dense reserve) re-ordered by W / (rrf_k + rank) of the
  sentence score + 1 / (rrf_k + their place): what is shown never changes, only its order.

Each cell prints, per half, MRR@10 and answer hits@1/3/5/10 with the paired difference to the product
(mean ± s.e., questions better / worse); ``--cv`` picks the (method, top, weight, feature) cell on four
fifths of half A's weeks by the sum of MRR and hits@1/3/5/10 and scores the fifth (leave-weeks-out).
``diagnose``: among the first ``--top`` passages of each question, how often a passage holding the answer
is scored above one that does not, by each sentence score and by the passage's own cosine (pairs of one
question; pairs within one gold article apart). ``cost``: CPU and wall milliseconds per question for
splitting and encoding the sentences of the first N passages, as ``search()`` would (one encode call).
"""

from __future__ import annotations

import argparse
import pickle
import sys
import time
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from benchmarks.fusion_lab import (  # noqa: E402
    METRICS,
    Pool,
    Table,
    describe,
    leave_weeks_out,
    line,
    paired,
)
from retrieval.eval_data import half_of, load_dataset  # noqa: E402
from retrieval.search import fuse, lean_tail, parse_day  # noqa: E402
from retrieval.settings import Settings  # noqa: E402
from retrieval.text import flat, split_sentences  # noqa: E402

VARIANTS = ("plain", "title", "win2")
FEATS = ("max", "top2", "win2", "title", "mix")
MIN_CHARS = 20  # shorter "sentences" (datelines, "Advertisement") are not scored


def sentences(text: str) -> list[str]:
    out = [flat(text[s:e]).strip() for s, e in split_sentences(text)]
    keep = [s for s in out if len(s) >= MIN_CHARS]
    return keep or [flat(text).strip()]


def units(row: dict[str, Any], variant: str) -> list[str]:
    sents = sentences(row["text"])
    if variant == "plain":
        return sents
    if variant == "title":
        title = flat(row.get("title") or "").strip()
        return [f"{title}: {s}" if title else s for s in sents]
    if len(sents) == 1:
        return sents
    return [f"{a} {b}" for a, b in pairwise(sents)]


class Product:
    """One question's candidates in the product's order, with the fused and tail scores behind it."""

    def __init__(self, t: Table, pool: Pool, rows: dict[str, dict[str, Any]], s: Settings, k: int) -> None:
        fetch = max(s.fetch_k, k * 3)
        dense = {c: r for r, (c, _) in enumerate(pool.dense[:fetch], start=1)}
        keyword = {c: r for r, (c, _) in enumerate(pool.keyword[:fetch], start=1)}
        art = {a: r for r, (a, _) in enumerate(pool.articles[:fetch], start=1)}
        day = parse_day(t.question.date)
        self.fused = fuse(s, dense, keyword, art, rows, day)
        self.tail = fuse(s, dense, keyword, art, rows, day, s.tail_passage_weight)
        self.order = lean_tail(sorted(self.fused, key=lambda c: -self.fused[c]), self.tail)
        self.t = t
        self.rrf_k = s.rrf_k

    def scores(self, order: Sequence[str]) -> np.ndarray:
        where = {c: n for n, c in enumerate(order)}
        return -np.array([where[c] for c in self.t.ids], dtype=float)

    def reorder(self, bonus: dict[str, float], keep_first: bool) -> list[str]:
        fused = {c: v + bonus.get(c, 0.0) for c, v in self.fused.items()}
        tail = {c: v + bonus.get(c, 0.0) for c, v in self.tail.items()}
        first = sorted(fused, key=lambda c: -fused[c])
        if keep_first:
            first = [self.order[0], *[c for c in first if c != self.order[0]]]
        return lean_tail(first, tail)


def load(args: argparse.Namespace) -> tuple[list[Table], list[Pool], dict[str, dict[str, Any]], Settings]:
    questions = load_dataset(args.dataset).answerable
    plain, rows = pickle.loads(args.cache.read_bytes())
    pools = [Pool(**p) for p in plain]
    s = Settings(data_dir=args.data_dir)
    tables = [describe(p, rows, q, s, args.k) for p, q in zip(pools, questions, strict=True)]
    return tables, pools, rows, s


def vec_path(args: argparse.Namespace, variant: str) -> Path:
    return args.cache.with_name(args.cache.stem + f".sent-{variant}.pkl")


def store_for(args: argparse.Namespace, s: Settings) -> Any:
    from retrieval.store import Store

    return Store(s)


def encode(args: argparse.Namespace) -> None:
    tables, pools, rows, s = load(args)
    products = [Product(t, p, rows, s, args.k) for t, p in zip(tables, pools, strict=True)]
    store = store_for(args, s)
    embedder = store.embedder
    for variant in args.variant:
        path = vec_path(args, variant)
        done: dict[str, np.ndarray] = pickle.loads(path.read_bytes()) if path.exists() else {}
        todo = list(dict.fromkeys(c for pr in products for c in pr.order[:args.top] if c not in done))
        print(f"{variant}: {len(todo)} passages to encode ({len(done)} cached)", file=sys.stderr)
        t0, cpu0, n = time.perf_counter(), time.process_time(), 0
        for start in range(0, len(todo), 200):
            part = todo[start:start + 200]
            texts = [units(rows[c], variant) for c in part]
            flat_texts = [x for u in texts for x in u]
            vecs = embedder.encode(flat_texts)
            n += len(flat_texts)
            at = 0
            for c, u in zip(part, texts, strict=True):
                done[c] = vecs[at:at + len(u)].astype(np.float32)
                at += len(u)
            path.write_bytes(pickle.dumps(done))
            print(f"  {start + len(part)}/{len(todo)} passages, {n} units, {time.perf_counter() - t0:.0f} s wall, "
                  f"{time.process_time() - cpu0:.0f} s CPU", file=sys.stderr)
    if args.queries or not vec_path(args, "query").exists():
        qv = embedder.encode([t.question.question for t in tables])
        vec_path(args, "query").write_bytes(pickle.dumps(qv))


def features(args: argparse.Namespace, tables: Sequence[Table], pools: Sequence[Pool]
             ) -> list[dict[str, dict[str, float]]]:
    """Per question: feature -> chunk id -> score, for every chunk whose sentences are encoded."""
    qv = pickle.loads(vec_path(args, "query").read_bytes())
    vecs = {v: pickle.loads(vec_path(args, v).read_bytes()) if vec_path(args, v).exists() else {} for v in VARIANTS}
    out = []
    for t, pool, q in zip(tables, pools, qv, strict=True):
        f: dict[str, dict[str, float]] = {name: {} for name in FEATS}
        for c in t.ids:
            if c not in vecs["plain"]:
                continue
            sims = np.sort(vecs["plain"][c] @ q)[::-1]
            f["max"][c] = float(sims[0])
            f["top2"][c] = float(sims[:2].mean())
            f["mix"][c] = (float(sims[0]) + pool.cosine[c]) / 2
            if c in vecs["win2"]:
                f["win2"][c] = float((vecs["win2"][c] @ q).max())
            if c in vecs["title"]:
                f["title"][c] = float((vecs["title"][c] @ q).max())
        out.append(f)
    return out


def new_order(pr: Product, feat: dict[str, float], method: str, top: int, w: float, k: int, reserve: int
              ) -> list[int]:
    head = [c for c in pr.order[:top] if c in feat]
    if len(head) < 2:
        return pr.t.ranking(pr.scores(pr.order), k, reserve)
    by_sent = sorted(head, key=lambda c: -feat[c])
    if method in ("rrf", "rrf-tail"):
        bonus = {c: w / (pr.rrf_k + r) for r, c in enumerate(by_sent, start=1)}
        return pr.t.ranking(pr.scores(pr.reorder(bonus, method == "rrf-tail")), k, reserve)
    if method == "bonus":
        v = np.array([feat[c] for c in head])
        z = (v - v.mean()) / (v.std() + 1e-6)
        bonus = {c: w / pr.rrf_k * float(zc) for c, zc in zip(head, z, strict=True)}
        return pr.t.ranking(pr.scores(pr.reorder(bonus, False)), k, reserve)
    if method == "article":  # each article's slots among the first N go to its passages by sentence score
        order = list(pr.order)
        slots: dict[str, list[int]] = {}
        for n, c in enumerate(order[:top]):
            slots.setdefault(pr.t.articles[pr.t.ids.index(c)], []).append(n)
        for places in slots.values():
            if len(places) > 1:
                mine = sorted((order[n] for n in places), key=lambda c: -feat.get(c, -1.0))
                for n, c in zip(places, mine, strict=True):
                    order[n] = c
        return pr.t.ranking(pr.scores(order), k, reserve)
    # top10: what is shown stays, its order changes
    shown = pr.t.ranking(pr.scores(pr.order), k, reserve)
    ids = [pr.t.ids[j] for j in shown]
    ranked = sorted((c for c in ids if c in feat), key=lambda c: -feat[c])
    srank = {c: r for r, c in enumerate(ranked, start=1)}
    score = {c: 1 / (pr.rrf_k + n) + (w / (pr.rrf_k + srank[c]) if c in srank else 0.0)
             for n, c in enumerate(ids, start=1)}
    return [pr.t.ids.index(c) for c in sorted(ids, key=lambda c: -score[c])]


def grid(args: argparse.Namespace) -> None:
    tables, pools, rows, s = load(args)
    k, reserve = args.k, round(args.k * s.dense_reserve)
    products = [Product(t, p, rows, s, k) for t, p in zip(tables, pools, strict=True)]
    feats = features(args, tables, pools)
    base = [pr.t.score(pr.t.ranking(pr.scores(pr.order), k, reserve)) for pr in products]
    dense_w = np.zeros(tables[0].x.shape[1])
    dense_w[0], dense_w[3] = 1.0, 0.5
    dense = [t.score(t.ranking(np.where(t.x[:, 0] > 0, t.x @ dense_w, -np.inf), k, 0)) for t in tables]
    halves = {h: [i for i, t in enumerate(tables) if half_of(t.question, h)] for h in ("A", "B")}
    for h, idx in halves.items():
        print(f"half {h} ({len(idx)}): product {line([base[i] for i in idx])}")
        print(f"half {h} ({len(idx)}): dense   {line([dense[i] for i in idx])}")
    cells: dict[tuple[str, str, int, float], list[dict[str, float | None]]] = {}
    for method in args.method:
        for feat in args.feature:
            if not any(f[feat] for f in feats):
                continue
            for top in args.top:
                for w in args.weight:
                    res = [pr.t.score(new_order(pr, f[feat], method, top, w, k, reserve))
                           for pr, f in zip(products, feats, strict=True)]
                    cells[(method, feat, top, w)] = res
                    print(f"\n== {method} {feat} top {top} w {w}")
                    for h, idx in halves.items():
                        new, old = [res[i] for i in idx], [base[i] for i in idx]
                        print(f"  {h}: {line(new)}")
                        print("     Δ " + "  ".join(f"{m} {paired(new, old, m)}" for m in METRICS))
    if args.cv:
        print("\n" + cross_validate(tables, cells, base))


def cross_validate(tables: Sequence[Table], cells: dict[Any, list[dict[str, float | None]]],
                   base: Sequence[dict[str, float | None]]) -> str:
    a = [i for i, t in enumerate(tables) if half_of(t.question, "A")]
    cells = {**cells, ("product", "-", 0, 0.0): list(base)}
    picks, new = leave_weeks_out(tables, a, cells, lambda cell, i: cells[cell][i])
    old = [base[i] for i in a]
    return (f"half A, leave-weeks-out (5 folds; picked {picks}):\n  {line(new)}\n  Δ "
            + "  ".join(f"{m} {paired(new, old, m)}" for m in METRICS))


def diagnose(args: argparse.Namespace) -> None:
    tables, pools, rows, s = load(args)
    products = [Product(t, p, rows, s, args.k) for t, p in zip(tables, pools, strict=True)]
    feats = features(args, tables, pools)
    for h in ("A", "B"):
        wins: dict[str, list[float]] = {}
        same: dict[str, list[float]] = {}
        for pr, f, pool in zip(products, feats, pools, strict=True):
            t = pr.t
            if not half_of(t.question, h):
                continue
            head = [c for c in pr.order[:args.top[0]] if c in f["max"]]
            pos = {c: n for n, c in enumerate(pr.order)}
            ans = [c for c in head if t.answer[t.ids.index(c)]]
            non = [c for c in head if not t.answer[t.ids.index(c)]]
            scorers: dict[str, dict[str, float]] = {name: f[name] for name in FEATS if f[name]}
            scorers |= {"passage_cos": pool.cosine, "product_order": {c: float(-pos[c]) for c in head}}
            for name, sc in scorers.items():
                for a in ans:
                    for b in non:
                        v = 1.0 if sc[a] > sc[b] else 0.5 if sc[a] == sc[b] else 0.0
                        wins.setdefault(name, []).append(v)
                        if t.articles[t.ids.index(a)] == t.articles[t.ids.index(b)]:
                            same.setdefault(name, []).append(v)
        print(f"half {h}: answer passage scored above a non-answer one (top {args.top[0]}; pairs: "
              f"{len(wins.get('max', []))}, same article {len(same.get('max', []))})")
        for name in wins:
            print(f"  {name:14} all {np.mean(wins[name]):.3f}   same article {np.mean(same.get(name, [np.nan])):.3f}")


def cost(args: argparse.Namespace) -> None:
    import torch

    tables, pools, rows, s = load(args)
    products = [Product(t, p, rows, s, args.k) for t, p in zip(tables, pools, strict=True)]
    embedder = store_for(args, s).embedder
    embedder.encode(["warm up"])
    print(f"embedder {embedder.name} dtype {embedder.dtype}, torch threads {torch.get_num_threads()}, "
          f"batch {embedder.batch_size}")
    sample = products[:: max(1, len(products) // args.questions)][:args.questions]
    for variant in args.variant:
        for top in args.top:
            walls, cpus, counts = [], [], []
            for pr in sample:
                t0, c0 = time.perf_counter(), time.process_time()
                texts = [x for c in pr.order[:top] for x in units(rows[c], variant)]
                embedder.encode(texts)
                walls.append(time.perf_counter() - t0)
                cpus.append(time.process_time() - c0)
                counts.append(len(texts))
            print(f"{variant} top {top}: {np.mean(counts):.0f} units/question; wall p50 {np.median(walls) * 1000:.0f} "
                  f"p90 {np.quantile(walls, 0.9) * 1000:.0f} ms; CPU p50 {np.median(cpus) * 1000:.0f} "
                  f"mean {np.mean(cpus) * 1000:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--cache", type=Path, required=True, help="fusion_lab.py's pickle of candidates")
    parser.add_argument("--k", type=int, default=10)
    sub = parser.add_subparsers(dest="command", required=True)
    enc = sub.add_parser("encode")
    enc.add_argument("--top", type=int, default=30)
    enc.add_argument("--variant", nargs="+", choices=VARIANTS, default=["plain"])
    enc.add_argument("--queries", action="store_true", help="re-encode the questions")
    g = sub.add_parser("grid")
    g.add_argument("--method", nargs="+", default=["rrf", "rrf-tail", "bonus", "top10"])
    g.add_argument("--feature", nargs="+", choices=FEATS, default=["max"])
    g.add_argument("--top", type=int, nargs="+", default=[10, 20, 30])
    g.add_argument("--weight", type=float, nargs="+", default=[0.5, 1.0, 2.0])
    g.add_argument("--cv", action="store_true")
    d = sub.add_parser("diagnose")
    d.add_argument("--top", type=int, nargs=1, default=[10])
    c = sub.add_parser("cost")
    c.add_argument("--top", type=int, nargs="+", default=[10, 20, 30])
    c.add_argument("--variant", nargs="+", choices=VARIANTS, default=["plain"])
    c.add_argument("--questions", type=int, default=40)
    args = parser.parse_args()
    {"encode": encode, "grid": grid, "diagnose": diagnose, "cost": cost}[args.command](args)


if __name__ == "__main__":
    main()
