"""Learned score fusion and cheap second stages, tuned on week half A and reported on half B (issue 17).

    python benchmarks/fusion_lab.py DATASET --data-dir INDEX --cache FILE learn [--method pairwise|lambda|ascent]
        [--features a,b,...] [--label graded|gold|answer|both] [--C 1.0] [--cv]
    python benchmarks/fusion_lab.py DATASET --data-dir INDEX --cache FILE weights dense_rrf=0.6 keyword_rrf=0.4
    python benchmarks/fusion_lab.py DATASET --data-dir INDEX --cache FILE second-stage --feature answer_type
        [--weight 0.1 0.2] [--top 25] [--window 20]
    python benchmarks/fusion_lab.py DATASET --data-dir INDEX --cache FILE tail [--share 0.3 0.4 0.5] [--cv]

Like ``ranking_lab.py`` it fetches each question's candidates once — exact dense cosines over all chunk
vectors, passage BM25 and whole-article BM25 with their scores — and replays the ranking offline
(``--cache`` keeps them in a pickle: the next run takes seconds). Every candidate ``search()`` would see
(the first ``fetch_k`` of each list) is described by the features of :data:`FEATURES`: the ranks as
rrf_k / (rrf_k + rank), scores normalised per question, freshness, its article's count of candidates,
title and text overlap with the question … ``fuse()`` is the weighted sum :data:`PRODUCT` of four of
them, and the lab checks that it reproduces ``fuse`` + ``with_dense_reserve`` exactly before it reports.

``learn`` fits weights on **half A only** (weeks ≤ ``WEEK_SPLIT``): ``pairwise`` is a logistic regression
on feature differences of candidate pairs of one question (``--label graded``: a passage of a gold
article that holds the answer > one with only one of the two > the rest); ``lambda`` weighs each pair by
the change in reciprocal rank that swapping it would make and keeps the product's score as a nearly
unpenalised feature (so ``--C`` shrinks towards the product); ``ascent`` is coordinate ascent on the sum
of article MRR and answer hits@1/3/5/10, starting from the product's weights. ``--cv`` adds a
leave-weeks-out estimate on half A (5 folds of whole weeks), the honest figure for the method itself.
``weights`` ranks by given weights. ``second-stage`` adds ``W ×`` a spaCy feature computed on the product
ranking's first ``--top`` passages: ``answer_type`` (the passage names an entity of the type the question
asks for — who → PERSON, which country → GPE, how many → CARDINAL … — that the question does not
name), ``answer_window`` (the idf-weighted share of the question's terms within ``--window`` tokens of
such an entity), ``names`` (the share of the question's named entities the passage names); it prints
spaCy's CPU time per passage. ``tail`` is ``search()``'s own ``lean_tail``: the best fused passage
first, the places after it ordered by ``fuse(..., passage_share=SHARE)``; ``--cv`` picks the share
among those given on four fifths of half A's weeks and scores the fifth left out.

Each prints, per half, the fused ranking (``fuse`` + dense reserve, ``tail_passage_weight`` = 1: the
product before session 8, called ``product``), dense only and the new one (answer_hits@1/3/5/10 and
article MRR@10, ± 1 s.e.) and the paired difference to the product (mean ± s.e., questions better +
/ worse −). Scores use the evaluation's own rules (``contains``: the answer string in the passage; gold
articles). No near-duplicate collapse and no HNSW: figures differ from ``evaluate``'s by ~0.005.
"""

from __future__ import annotations

import argparse
import math
import pickle
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from benchmarks.week_halves import mean_se  # noqa: E402
from retrieval.eval_data import Question, half_of, load_dataset, week  # noqa: E402
from retrieval.eval_metrics import contains  # noqa: E402
from retrieval.search import freshness, fuse, lean_tail, parse_day, with_dense_reserve  # noqa: E402
from retrieval.settings import Settings  # noqa: E402
from retrieval.text import keyword_terms  # noqa: E402
from retrieval.types import Passage  # noqa: E402

POOL = 200  # candidates kept per retriever
DEPTHS = (1, 3, 5, 10)
METRICS = ("article_rr", *(f"hits@{d}" for d in DEPTHS))
FEATURES = (
    "dense_rrf", "keyword_rrf", "article_rrf", "fresh", "cos", "cos_gap", "cos_z", "keyword_norm",
    "article_norm", "article_top3", "article_count", "title_overlap", "text_overlap", "fresh_long",
    "future", "undated",
)
PRODUCT = {"dense_rrf": 1.0, "keyword_rrf": 1.0, "article_rrf": 1.0, "fresh": 0.5}  # fuse() × rrf_k, defaults


@dataclass
class Pool:
    """One question's candidates with their scores, best first."""

    dense: list[tuple[str, float]]  # chunk id, cosine
    keyword: list[tuple[str, float]]  # chunk id, BM25 (higher is better)
    articles: list[tuple[str, float]]  # article id, BM25
    cosine: dict[str, float]  # every candidate chunk's exact cosine with the question


def gather(data_dir: Path, questions: Sequence[Question]) -> tuple[list[Pool], dict[str, dict[str, Any]]]:
    from retrieval.store import Store

    store = Store(Settings(data_dir=data_dir))
    got = store.collection.get(include=["embeddings"])
    ids = list(got["ids"])
    index = {cid: i for i, cid in enumerate(ids)}
    vectors = np.asarray(got["embeddings"], dtype=np.float32)
    queries = np.asarray(store.embedder.encode([q.question for q in questions]), dtype=np.float32)
    pools = []
    for q, qvec in zip(questions, queries, strict=True):
        sims = vectors @ qvec
        n = min(POOL, len(sims))  # a small index has fewer chunks than the pool
        top = np.argpartition(-sims, n - 1)[:n]
        top = top[np.argsort(-sims[top])]
        keyword = [(h.chunk_id, float(h.score)) for h in store.keyword_search(q.question, POOL)]
        articles = [(h.article_id, float(h.score)) for h in store.article_search(q.question, POOL)]
        cosine = {ids[i]: float(sims[i]) for i in top}
        cosine.update({c: float(sims[index[c]]) for c, _ in keyword if c in index})
        pools.append(Pool([(ids[i], float(sims[i])) for i in top], keyword, articles, cosine))
    needed = {c for p in pools for c in p.cosine}
    rows = {cid: dict(row) for cid, row in store.chunks_by_id(needed).items()}
    return pools, rows


# =================================================================================================
# One question's candidates: features, labels, ranking
# =================================================================================================


@dataclass
class Table:
    """One question's candidates (dense first, then keyword-only) with what ranking and scoring need."""

    question: Question
    ids: list[str]
    x: np.ndarray  # candidates × FEATURES
    gold: np.ndarray  # the candidate belongs to a gold article
    answer: np.ndarray  # the candidate holds the answer string (all False when hits are not counted)
    articles: list[str]
    best_dense: list[int]  # candidate positions of the best dense ranks, best first

    def ranking(self, scores: np.ndarray, k: int, reserve: int) -> list[int]:
        """Positions of the ``k`` passages shown: by score, with the product's dense reserve
        (:func:`retrieval.search.with_dense_reserve`'s rule, no collapse)."""
        order = [int(i) for i in np.argsort(-scores, kind="stable")]
        if not reserve:
            return order[:k]
        step = max(1, k // reserve)
        due = [(n * step, j) for n, j in enumerate(self.best_dense[:reserve], start=1)]
        out: list[int] = []
        for j in order[:k]:
            while due and due[0][0] <= len(out) + 1:
                _, d = due.pop(0)
                if d not in out and len(out) < k:
                    out.append(d)
            if j not in out and len(out) < k:
                out.append(j)
        out.extend(d for _, d in due if d not in out)
        return out[:k]

    def score(self, shown: Sequence[int]) -> dict[str, float | None]:
        """Article reciprocal rank and answer hits@d of a ranking (hits None when not counted)."""
        seen: list[str] = []
        rr = 0.0
        for j in shown:
            if self.articles[j] not in seen:
                seen.append(self.articles[j])
            if self.gold[j]:
                rr = 1 / len(seen)
                break
        hit = next((n for n, j in enumerate(shown, start=1) if self.answer[j]), None)
        counted = self.question.answer_in_gold is not False
        out: dict[str, float | None] = {"article_rr": rr}
        for d in DEPTHS:
            out[f"hits@{d}"] = float(bool(hit and hit <= d)) if counted else None
        return out

    def labels(self, kind: str) -> np.ndarray:
        g, a = self.gold.astype(float), self.answer.astype(float)
        return {"gold": g, "answer": a, "graded": g + a, "both": g * a}[kind]


def describe(pool: Pool, rows: dict[str, dict[str, Any]], q: Question, s: Settings, k: int) -> Table:
    """Every feature of :data:`FEATURES` for each candidate ``search()`` would see (as many per list as it fetches)."""
    fetch, rk = max(s.fetch_k, k * 3), s.rrf_k
    dense = {c: r for r, (c, _) in enumerate(pool.dense[:fetch], start=1)}
    keyword = {c: r for r, (c, _) in enumerate(pool.keyword[:fetch], start=1)}
    kw_score = dict(pool.keyword[:fetch])
    art = {a: r for r, (a, _) in enumerate(pool.articles[:fetch], start=1)}
    art_score = dict(pool.articles[:fetch])
    ids = [c for c in dict.fromkeys([*dense, *keyword]) if c in rows and c in pool.cosine]
    day = parse_day(q.date)
    cos = np.array([pool.cosine[c] for c in ids])
    kw_max = max(kw_score.values(), default=1.0) or 1.0
    art_max = max(art_score.values(), default=1.0) or 1.0
    per_article = Counter(rows[c]["article_id"] for c in ids)
    terms = set(keyword_terms(q.question))
    x = []
    for c, cs in zip(ids, cos, strict=True):
        row = rows[c]
        a = row["article_id"]
        pub = parse_day(row["published"]) if row["published"] else None
        age = (day - pub).days if day and pub else None
        feats = {
            "dense_rrf": rk / (rk + dense[c]) if c in dense else 0.0,
            "keyword_rrf": rk / (rk + keyword[c]) if c in keyword else 0.0,
            "article_rrf": rk / (rk + art[a]) if a in art else 0.0,
            "fresh": freshness(row["published"], day, s.recency_days),
            "cos": float(cs),
            "cos_gap": float(cs - cos.max()),
            "cos_z": float((cs - cos.mean()) / (cos.std() + 1e-6)),
            "keyword_norm": kw_score.get(c, 0.0) / kw_max,
            "article_norm": art_score.get(a, 0.0) / art_max,
            "article_top3": float(a in art and art[a] <= 3),
            "article_count": math.log1p(per_article[a]),
            "title_overlap": len(terms & set(keyword_terms(row.get("title") or ""))) / max(len(terms), 1),
            "text_overlap": len(terms & set(keyword_terms(row["text"]))) / max(len(terms), 1),
            "fresh_long": math.exp(-max(age, 0) / 180) if age is not None and age >= -1 else 0.0,
            "future": float(age is not None and age < -1),
            "undated": float(pub is None),
        }
        x.append([feats[f] for f in FEATURES])
    counted = q.answer_in_gold is not False
    return Table(
        question=q,
        ids=ids,
        x=np.asarray(x, dtype=np.float64).reshape(len(ids), len(FEATURES)),
        gold=np.array([rows[c]["article_id"] in q.gold for c in ids], dtype=bool),
        answer=np.array([counted and contains(rows[c]["text"], q.answer) for c in ids], dtype=bool),
        articles=[rows[c]["article_id"] for c in ids],
        best_dense=[j for _, j in sorted((dense[c], j) for j, c in enumerate(ids) if c in dense)],
    )


def weights(given: dict[str, float]) -> np.ndarray:
    unknown = set(given) - set(FEATURES)
    if unknown:
        raise SystemExit(f"unknown feature(s) {', '.join(sorted(unknown))}; known: {', '.join(FEATURES)}")
    return np.array([given.get(f, 0.0) for f in FEATURES])


def check_product(tables: Sequence[Table], pools: Sequence[Pool], rows: dict[str, dict[str, Any]], s: Settings,
                  k: int, reserve: int) -> None:
    """The lab's feature table with :data:`PRODUCT` weights ranks exactly like ``fuse`` + ``with_dense_reserve``."""
    w = weights(PRODUCT)
    for t, pool in zip(tables, pools, strict=True):
        fetch = max(s.fetch_k, k * 3)
        dense = {c: r for r, (c, _) in enumerate(pool.dense[:fetch], start=1)}
        keyword = {c: r for r, (c, _) in enumerate(pool.keyword[:fetch], start=1)}
        art = {a: r for r, (a, _) in enumerate(pool.articles[:fetch], start=1)}
        fused = fuse(s, dense, keyword, art, rows, parse_day(t.question.date))
        ranked = [Passage(chunk_id=c, article_id=rows[c]["article_id"], text="", start=0, end=0,
                          dense_rank=dense.get(c)) for c in sorted(fused, key=lambda c: -fused[c])]
        shown = with_dense_reserve(ranked[:k], ranked, k, reserve, lambda p, among: None)
        mine = [t.ids[j] for j in t.ranking(t.x @ w, k, reserve)]
        if [p.chunk_id for p in shown] != mine:
            raise SystemExit(f"the lab's ranking differs from fuse() for {t.question.id}: fix describe()")


# =================================================================================================
# Learning (half A only)
# =================================================================================================


def fit_pairwise(tables: Sequence[Table], cols: np.ndarray, label: str, c: float, lam: bool, k: int, reserve: int,
                 rounds: int = 2) -> np.ndarray:
    """Weights from a logistic regression on x_i − x_j over pairs of one question with y_i > y_j.

    ``lam``: the product's score is the first column, nearly unpenalised, and each pair weighs the change
    of 1/rank that swapping it would make under the current weights (two rounds)."""
    from sklearn.linear_model import LogisticRegression

    prod = weights(PRODUCT)
    base = np.zeros(len(cols) + 1)
    base[0] = 1.0
    w = base
    rng = np.random.default_rng(0)
    for _ in range(rounds if lam else 1):
        diffs, sample_weight = [], []
        for t in tables:
            x = np.column_stack([t.x @ prod, t.x[:, cols]]) if lam else t.x[:, cols]
            y = t.labels(label)
            hi, lo = np.nonzero(y[:, None] > y[None, :])
            if not len(hi):
                continue
            if lam:
                scores = x @ w
                rank = np.empty(len(scores), dtype=int)
                rank[np.argsort(-scores, kind="stable")] = np.arange(1, len(scores) + 1)
                gain = np.abs(1 / rank[hi] - 1 / rank[lo]) * (y[hi] - y[lo])
                keep = gain > 1e-3
                hi, lo, gain = hi[keep], lo[keep], gain[keep]
                if not len(hi):
                    continue
                sample_weight.append(gain / gain.sum())  # each question weighs the same
            else:
                pick = rng.choice(len(hi), size=min(400, len(hi)), replace=False)
                hi, lo = hi[pick], lo[pick]
                sample_weight.append(np.full(len(hi), 1 / len(hi)))
            diffs.append(x[hi] - x[lo])
        d, sw = np.concatenate(diffs), np.concatenate(sample_weight)
        scale = d.std(axis=0) + 1e-9
        if lam:
            scale[0] /= 100  # the product's own score: shrink towards it, not towards 0
        model = LogisticRegression(C=c, fit_intercept=False, max_iter=5000).fit(
            np.concatenate([d, -d]) / scale, np.r_[np.ones(len(d)), np.zeros(len(d))], sample_weight=np.r_[sw, sw])
        w = model.coef_[0] / scale
        if lam and w[0] > 0:
            w = w / w[0]
    out = np.zeros(len(FEATURES))
    if lam:
        out += w[0] * prod
        out[cols] += w[1:]
    else:
        out[cols] = w
    return out


def fit_ascent(tables: Sequence[Table], cols: np.ndarray, k: int, reserve: int) -> np.ndarray:
    """Coordinate ascent on the sum of article MRR and answer hits@1/3/5/10, from the product's weights."""
    sd = np.concatenate([t.x for t in tables]).std(axis=0) + 1e-9
    w = weights(PRODUCT)

    def objective(v: np.ndarray) -> float:
        return sum(summary([t.score(t.ranking(t.x @ v, k, reserve)) for t in tables])[m][0] for m in METRICS)

    best = objective(w)
    for step in (0.2, 0.1, 0.05):
        for _ in range(4):
            improved = False
            for j in cols:
                for m in (-4, -3, -2, -1, 1, 2, 3, 4):
                    v = w.copy()
                    v[j] += m * step / sd[j]
                    o = objective(v)
                    if o > best + 1e-9:
                        best, w, improved = o, v, True
            if not improved:
                break
    return w


# =================================================================================================
# spaCy second stage
# =================================================================================================

PLACE, NUMBER = {"GPE", "LOC", "FAC"}, {"CARDINAL", "MONEY", "PERCENT", "QUANTITY"}
ANSWER_TYPES = (  # the first pattern the question matches says which entity labels can answer it
    (r"\bhow (many|much)\b|\bwhat (percentage|percent|number|amount)\b|\bby how\b", NUMBER),
    (r"\b(when|what (year|day|date|month))\b", {"DATE"}),
    (r"\b(which|what) (\w+ )?(country|countries|state|states|city|cities|territory|nation|island|region|county|"
     r"province|capital)\b|\bwhere\b", PLACE),
    (r"\bwho\b|\b(which|what) (\w+ )?(person|president|leader|official|singer|actor|actress|player|artist|ceo|"
     r"musician|star|politician|senator|governor|lawmaker|judge|justice|member|figure|celebrity|rapper|athlete|"
     r"coach|founder|pope|billionaire|director)\b", {"PERSON"}),
    (r"\b(which|what) (\w+ )?(company|companies|automaker|airline|carrier|league|team|organization|organisation|"
     r"retailer|brand|agency|network|firm|bank|university|group|party|club|maker|startup|giant|chain|platform|"
     r"app|service|manufacturer|outlet|union|court)\b", {"ORG", "PRODUCT"}),
)


def answer_type(question: str) -> set[str] | None:
    low = question.lower()
    return next((set(labels) for pattern, labels in ANSWER_TYPES if re.search(pattern, low)), None)


def second_stage(tables: Sequence[Table], rows: dict[str, dict[str, Any]], feature: str, top: int, window: int,
                 k: int, reserve: int) -> tuple[list[np.ndarray], float]:
    """``feature`` for the product ranking's first ``top`` passages of each question (0 for the others),
    and spaCy's CPU milliseconds per passage."""
    from retrieval.claims import load_nlp

    nlp = load_nlp()
    prod = weights(PRODUCT)
    todo = [[int(j) for j in np.argsort(-(t.x @ prod), kind="stable")[:top]] for t in tables]
    texts = [rows[t.ids[j]]["text"] for t, js in zip(tables, todo, strict=True) for j in js]
    cpu = time.process_time()
    with nlp.select_pipes(enable=["tok2vec", "ner"]):
        docs = iter(list(nlp.pipe(texts, batch_size=32)))
        questions = list(nlp.pipe([t.question.question for t in tables]))
    ms = (time.process_time() - cpu) * 1000 / max(len(texts), 1)
    df = Counter(term for row in rows.values() for term in set(keyword_terms(row["text"])))
    out = []
    for t, js, qdoc in zip(tables, todo, questions, strict=True):
        low = t.question.question.lower()
        labels = answer_type(t.question.question)
        names = [e.text.lower() for e in qdoc.ents if e.label_ not in ("DATE", "TIME", "CARDINAL", "ORDINAL")]
        idf = {term: math.log((len(rows) + 1) / (df.get(term, 0) + 1)) for term in keyword_terms(t.question.question)}
        f = np.zeros(len(t.ids))
        for j in js:
            doc = next(docs)
            if feature == "names":
                text = (rows[t.ids[j]]["text"] + " " + (rows[t.ids[j]].get("title") or "")).lower()
                f[j] = sum(n in text for n in names) / len(names) if names else 0.0
                continue
            if labels is None:
                continue
            found = [e for e in doc.ents if e.label_ in labels and e.text.lower() not in low]
            if feature == "answer_type":
                f[j] = float(bool(found))
            else:  # answer_window
                tokens = [tok.lower_ for tok in doc]
                for e in found:
                    near = set(tokens[max(0, e.start - window):e.end + window])
                    f[j] = max(f[j], sum(v for term, v in idf.items() if term in near) / (sum(idf.values()) or 1))
        out.append(f)
    return out, ms


# =================================================================================================
# Report
# =================================================================================================


def summary(results: Sequence[dict[str, float | None]]) -> dict[str, tuple[float, float]]:
    return {m: mean_se([v for r in results if (v := r[m]) is not None])[:2] for m in METRICS}


def paired(new: Sequence[dict[str, float | None]], old: Sequence[dict[str, float | None]], metric: str) -> str:
    d = [a - b for x, y in zip(new, old, strict=True) if (a := x[metric]) is not None and (b := y[metric]) is not None]
    m, se, _ = mean_se(d)
    return f"{m:+.3f} ± {se:.3f} ({sum(v > 0 for v in d)}+/{sum(v < 0 for v in d)}−)"


def line(results: Sequence[dict[str, float | None]]) -> str:
    return "  ".join(f"{m} {v:.3f} ± {se:.3f}" for m, (v, se) in summary(results).items())


def report(tables: Sequence[Table], rankings: dict[str, Callable[[int], list[int]]], extra: str = "") -> None:
    results = {name: [tables[i].score(fn(i)) for i in range(len(tables))] for name, fn in rankings.items()}
    for half in ("A", "B"):
        idx = [i for i, t in enumerate(tables) if half_of(t.question, half)]
        print(f"half {half} ({len(idx)} questions{', tuning' if half == 'A' else ', report'}):")
        for name, res in results.items():
            print(f"  {name:10} {line([res[i] for i in idx])}")
        new, base = [results["new"][i] for i in idx], [results["product"][i] for i in idx]
        print("  new − product: " + "  ".join(f"{m} {paired(new, base, m)}" for m in METRICS))
    if extra:
        print(extra)


def tail_order(t: Table, pool: Pool, rows: dict[str, dict[str, Any]], s: Settings, k: int, share: float
               ) -> np.ndarray:
    """Scores putting ``t``'s candidates in ``search()``'s order with ``tail_passage_weight = share``."""
    fetch = max(s.fetch_k, k * 3)
    dense = {c: r for r, (c, _) in enumerate(pool.dense[:fetch], start=1)}
    keyword = {c: r for r, (c, _) in enumerate(pool.keyword[:fetch], start=1)}
    art = {a: r for r, (a, _) in enumerate(pool.articles[:fetch], start=1)}
    day = parse_day(t.question.date)
    fused = fuse(s, dense, keyword, art, rows, day)
    order = lean_tail(sorted(fused, key=lambda c: -fused[c]), fuse(s, dense, keyword, art, rows, day, share))
    where = {c: n for n, c in enumerate(order)}
    return -np.array([where[c] for c in t.ids], dtype=float)


def cross_validate(tables: Sequence[Table], fit: Callable[[Sequence[Table]], np.ndarray], k: int, reserve: int
                   ) -> str:
    """Leave-weeks-out on half A: 5 folds of whole weeks, each ranked by weights fitted on the others."""
    a = [t for t in tables if half_of(t.question, "A")]
    weeks = sorted({week(t.question.id, t.question.date) for t in a})
    fold = {t.question.id: weeks.index(week(t.question.id, t.question.date)) % 5 for t in a}
    scored: dict[str, dict[str, float | None]] = {}
    for f in range(5):
        w = fit([t for t in a if fold[t.question.id] != f])
        for t in a:
            if fold[t.question.id] == f:
                scored[t.question.id] = t.score(t.ranking(t.x @ w, k, reserve))
    prod = weights(PRODUCT)
    new = [scored[t.question.id] for t in a]
    base = [t.score(t.ranking(t.x @ prod, k, reserve)) for t in a]
    return (f"half A, leave-weeks-out (5 folds): {line(new)}\n  new − product: "
            + "  ".join(f"{m} {paired(new, base, m)}" for m in METRICS))


def leave_weeks_out(tables: Sequence[Table], a: Sequence[int], options: Iterable[Any],
                    result: Callable[[Any, int], dict[str, float | None]],
                    ) -> tuple[list[Any], list[dict[str, float | None]]]:
    """Leave-weeks-out over the questions ``a`` (indices into ``tables``; 5 folds of whole weeks): on each
    fold, the option whose results (``result(option, i)``) score best (sum of article MRR and answer
    hits@1/3/5/10) on the other four folds gives the fold's results. The picks, and the results in ``a``'s
    order."""
    options = list(options)
    weeks = sorted({week(tables[i].question.id, tables[i].question.date) for i in a})
    fold = {i: weeks.index(week(tables[i].question.id, tables[i].question.date)) % 5 for i in a}

    def total(option: Any, part: Sequence[int]) -> float:
        return sum(summary([result(option, i) for i in part])[m][0] for m in METRICS)

    scored: dict[int, dict[str, float | None]] = {}
    picks = []
    for f in range(5):
        best = max(options, key=lambda option: total(option, [i for i in a if fold[i] != f]))
        picks.append(best)
        for i in a:
            if fold[i] == f:
                scored[i] = result(best, i)
    return picks, [scored[i] for i in a]


def cross_validate_choice(tables: Sequence[Table], orders: dict[float, list[np.ndarray]], k: int, reserve: int
                          ) -> str:
    """Leave-weeks-out on half A: on each fold, the setting whose orders score best (sum of article MRR
    and answer hits@1/3/5/10) on the other four folds ranks the fold's questions."""
    a = [i for i, t in enumerate(tables) if half_of(t.question, "A")]
    picks, new = leave_weeks_out(
        tables, a, orders, lambda setting, i: tables[i].score(tables[i].ranking(orders[setting][i], k, reserve)))
    prod = weights(PRODUCT)
    base = [tables[i].score(tables[i].ranking(tables[i].x @ prod, k, reserve)) for i in a]
    return (f"half A, leave-weeks-out (5 folds; picked {picks}): {line(new)}\n  new − product: "
            + "  ".join(f"{m} {paired(new, base, m)}" for m in METRICS))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--cache", type=Path, help="pickle of the gathered candidates (written if missing)")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--no-reserve", action="store_true", help="new ranking without the dense reserve")
    sub = parser.add_subparsers(dest="command", required=True)
    learn = sub.add_parser("learn", help="fit weights on half A")
    learn.add_argument("--method", choices=["pairwise", "lambda", "ascent"], default="lambda")
    learn.add_argument("--features", default=",".join(FEATURES), help="comma-separated subset of FEATURES")
    learn.add_argument("--label", choices=["graded", "gold", "answer", "both"], default="graded")
    learn.add_argument("--C", type=float, default=0.1, help="inverse L2 strength (pairwise, lambda)")
    learn.add_argument("--cv", action="store_true", help="add a leave-weeks-out estimate on half A")
    given = sub.add_parser("weights", help="rank by given weights (features not named: 0)")
    given.add_argument("pairs", nargs="+", metavar="FEATURE=WEIGHT")
    stage = sub.add_parser("second-stage", help="the product's score + W × a spaCy feature")
    stage.add_argument("--feature", choices=["answer_type", "answer_window", "names"], default="answer_type")
    stage.add_argument("--weight", type=float, nargs="+", default=[0.1, 0.2, 0.4])
    stage.add_argument("--top", type=int, default=25, help="passages of the product ranking read by spaCy")
    stage.add_argument("--window", type=int, default=20, help="tokens either side of an entity (answer_window)")
    tail = sub.add_parser("tail", help="search()'s lean_tail at each passage share")
    tail.add_argument("--share", type=float, nargs="+", default=[0.3, 0.4, 0.5, 0.6, 0.75])
    tail.add_argument("--cv", action="store_true", help="leave-weeks-out choice of the share on half A")
    args = parser.parse_args()

    questions = load_dataset(args.dataset).answerable
    if args.cache and args.cache.exists():
        plain, rows = pickle.loads(args.cache.read_bytes())
        pools = [Pool(**p) for p in plain]
    else:
        print(f"gathering candidates for {len(questions)} questions …", file=sys.stderr)
        pools, rows = gather(args.data_dir, questions)
        if args.cache:
            args.cache.write_bytes(pickle.dumps(([vars(p) for p in pools], rows)))  # plain data: any script reads it
    s = Settings(data_dir=args.data_dir)
    k = args.k
    reserve = round(k * s.dense_reserve)
    new_reserve = 0 if args.no_reserve else reserve
    tables = [describe(p, rows, q, s, k) for p, q in zip(pools, questions, strict=True)]
    check_product(tables, pools, rows, s, k, reserve)
    prod = weights(PRODUCT)
    dense = weights({"dense_rrf": 1.0, "fresh": PRODUCT["fresh"]})
    rankings: dict[str, Callable[[int], list[int]]] = {
        "product": lambda i: tables[i].ranking(tables[i].x @ prod, k, reserve),
        "dense": lambda i: tables[i].ranking(np.where(tables[i].x[:, 0] > 0, tables[i].x @ dense, -np.inf), k, 0),
    }

    if args.command == "second-stage":
        feats, ms = second_stage(tables, rows, args.feature, args.top, args.window, k, reserve)
        print(f"spaCy NER: {ms:.1f} CPU ms per passage (× --top {args.top} per question)")
        for weight in args.weight:
            print(f"\n== product + {weight} × {args.feature}")
            rankings["new"] = lambda i, w=weight: tables[i].ranking(tables[i].x @ prod + w * feats[i], k, new_reserve)
            report(tables, rankings)
        return
    if args.command == "tail":
        orders = {share: [tail_order(t, p, rows, s, k, share) for t, p in zip(tables, pools, strict=True)]
                  for share in args.share}
        for share in args.share:
            print(f"\n== tail_passage_weight {share}")
            rankings["new"] = lambda i, o=orders[share]: tables[i].ranking(o[i], k, new_reserve)
            report(tables, rankings)
        if args.cv:
            print("\n" + cross_validate_choice(tables, orders, k, new_reserve))
        return
    if args.command == "weights":
        w = weights({f: float(v) for f, _, v in (p.partition("=") for p in args.pairs)})
        extra = ""
    else:
        cols = np.array([FEATURES.index(f) for f in args.features.split(",")])

        def fit(part: Sequence[Table]) -> np.ndarray:
            if args.method == "ascent":
                return fit_ascent(part, cols, k, new_reserve)
            return fit_pairwise(part, cols, args.label, args.C, args.method == "lambda", k, new_reserve)

        w = fit([t for t in tables if half_of(t.question, "A")])
        extra = cross_validate(tables, fit, k, new_reserve) if args.cv else ""
    print("weights:", {f: round(float(w[i]), 4) for i, f in enumerate(FEATURES) if w[i]})
    rankings["new"] = lambda i: tables[i].ranking(tables[i].x @ w, k, new_reserve)
    report(tables, rankings, extra)


if __name__ == "__main__":
    main()
