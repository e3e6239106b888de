"""Feedback and article-level signals on top of today's ranking, tuned on week half A, reported on half B
(issue 17, session 17).

    python benchmarks/expansion_lab.py DATASET --data-dir INDEX --cache POOLS.pkl prepare
    python benchmarks/expansion_lab.py DATASET --data-dir INDEX --cache POOLS.pkl article-ranks [--weight …]
    python benchmarks/expansion_lab.py DATASET --data-dir INDEX --cache POOLS.pkl lead [--weight …]
    python benchmarks/expansion_lab.py DATASET --data-dir INDEX --cache POOLS.pkl rocchio [--top 3 5] [--beta …]
    python benchmarks/expansion_lab.py DATASET --data-dir INDEX --cache POOLS.pkl rm3 [--top 3 5] [--terms …]
    python benchmarks/expansion_lab.py DATASET --data-dir INDEX --cache POOLS.pkl weekday [--weight …]

The candidates are ``fusion_lab.py``'s (``--cache``: the same pickle, gathered on a copy of the index);
``prepare`` adds every chunk's vector, article and place (``POOLS.vectors.npz``) and the questions' vectors.
Today's order (``base``) is the product's: ``fuse`` on the first ``fetch_k`` of each list, ``lean_tail`` at
``tail_passage_weight``, the dense reserve; no near-duplicate collapse, no HNSW (exact cosines). Each variant
changes one thing and is paired with ``base`` per half (article MRR@10, answer hits@1/3/5/10; mean ± 1 s.e.,
questions better / worse):

- ``article-ranks``: per-article reciprocal rank fusion of the passage lists — an article's rank in the dense
  (keyword) list is the place of its best passage among articles; every passage of the article gains
  ``W / (rrf_k + that rank)`` (``--lists dense keyword both``);
- ``lead``: an article-level dense score: the cosine of the question with each candidate article's first
  chunk (title and lead), ranked among the candidate articles, ``W / (rrf_k + rank)`` to its passages
  (``--agg max mean`` instead: the article's best / mean chunk cosine over all its chunks);
- ``rocchio``: the dense query moved toward today's first ``--top`` passages (``q + β · mean``, normalised),
  searched again (exact, ``fetch_k``), the new list replacing the dense list or added as a third one
  (``--mode replace add``), the dense reserve kept on the question's own list;
- ``rm3``: keyword pseudo-relevance feedback: the terms of today's first ``--top`` passages (with their
  titles), weighted by Σ fused-score share × term frequency share × idf, the best ``--terms`` not in the
  question added to both BM25 queries (passages and articles) with a boost ``λ`` × their weight share
  (tantivy ``boost_query``; the question's own terms boost 1); the new lists replace the old ones;
- ``weekday``: a question naming a weekday ("on Monday") gives ``W / rrf_k`` to the passages of articles
  published on that weekday (or the day after) in the 8 days up to the question's date.
"""

from __future__ import annotations

import argparse
import math
import pickle
import re
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from benchmarks.fusion_lab import DEPTHS, METRICS, Pool, leave_weeks_out, line, paired  # noqa: E402
from retrieval.eval_data import Question, half_of, load_dataset  # noqa: E402
from retrieval.eval_metrics import contains  # noqa: E402
from retrieval.search import fuse, lean_tail, parse_day  # noqa: E402
from retrieval.settings import Settings  # noqa: E402
from retrieval.text import keyword_terms  # noqa: E402

Ranks = dict[str, int]
Result = dict[str, float | None]


class Lab:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.questions = load_dataset(args.dataset).answerable
        plain, self.rows = pickle.loads(args.cache.read_bytes())
        self.pools = [Pool(**p) for p in plain]
        self.s = Settings(data_dir=args.data_dir)
        self.k = args.k
        self.fetch = max(self.s.fetch_k, self.k * 3)
        self.reserve = round(self.k * self.s.dense_reserve)
        self._store: Any = None
        self._vec: dict[str, Any] | None = None
        self.cells: dict[str, list[Result]] = {}  # every variant's results, for --cv

    # --- data ---------------------------------------------------------------------------------------
    @property
    def store(self) -> Any:
        if self._store is None:
            from retrieval.store import Store

            self._store = Store(self.s)
        return self._store

    def vec_path(self) -> Path:
        return self.args.cache.with_name(self.args.cache.stem + ".vectors.npz")

    @property
    def vec(self) -> dict[str, Any]:
        if self._vec is None:
            got = np.load(self.vec_path(), allow_pickle=True)
            ids = list(got["ids"])
            self._vec = {
                "ids": ids, "index": {c: i for i, c in enumerate(ids)}, "matrix": got["matrix"],
                "article": list(got["article"]), "ord": got["ord"], "queries": got["queries"],
            }
        return self._vec

    def prepare(self) -> None:
        store = self.store
        got = store.collection.get(include=["embeddings"])
        ids = list(got["ids"])
        matrix = np.asarray(got["embeddings"], dtype=np.float32)
        meta = {r[0]: (r[1], r[2]) for r in store.catalog._query("SELECT id, article_id, ord FROM chunks", ())}
        keep = [i for i, c in enumerate(ids) if c in meta]
        ids = [ids[i] for i in keep]
        queries = np.asarray(store.embedder.encode([q.question for q in self.questions]), dtype=np.float32)
        np.savez(self.vec_path(), ids=np.array(ids, dtype=object), matrix=matrix[keep],
                 article=np.array([meta[c][0] for c in ids], dtype=object),
                 ord=np.array([meta[c][1] for c in ids]), queries=queries)
        print(f"{len(ids)} chunk vectors, {len(queries)} questions", file=sys.stderr)

    def need_rows(self, ids: set[str]) -> None:
        missing = [c for c in ids if c not in self.rows]
        if missing:
            self.rows.update({c: dict(r) for c, r in self.store.chunks_by_id(missing).items()})

    # --- ranking ------------------------------------------------------------------------------------
    def lists(self, i: int) -> tuple[Ranks, Ranks, Ranks]:
        pool = self.pools[i]
        f = self.fetch
        return ({c: r for r, (c, _) in enumerate(pool.dense[:f], start=1)},
                {c: r for r, (c, _) in enumerate(pool.keyword[:f], start=1)},
                {a: r for r, (a, _) in enumerate(pool.articles[:f], start=1)})

    def order(self, i: int, dense: Ranks, keyword: Ranks, articles: Ranks,
              bonus: Callable[[str, dict[str, Any]], float] | None = None,
              extra: Sequence[tuple[Ranks, float]] = ()) -> list[str]:
        """search()'s order (fuse, lean_tail) with an optional per-passage bonus and extra weighted rank lists
        (the bonus and the lists count in the fused and the tail score alike)."""
        s, day = self.s, parse_day(self.questions[i].date)
        ids = set(dense) | set(keyword) | {c for ranks, _ in extra for c in ranks}
        self.need_rows(ids)
        rows = self.rows
        dense2, keyword2 = dict(dense), dict(keyword)
        for c in ids:  # fuse() only scores what one of its two passage lists holds
            if c not in dense2 and c not in keyword2:
                keyword2[c] = 10**9
        fused = fuse(s, dense2, keyword2, articles, rows, day)
        tail = fuse(s, dense2, keyword2, articles, rows, day, s.tail_passage_weight)
        for c in fused:  # an extra passage list weighs tail_passage_weight in the tail, like the other two
            listed = sum(w / (s.rrf_k + ranks[c]) for ranks, w in extra if c in ranks)
            add = bonus(c, rows[c]) if bonus is not None else 0.0
            fused[c] += listed + add
            tail[c] += s.tail_passage_weight * listed + add
        return lean_tail(sorted(fused, key=lambda c: -fused[c]), tail)

    def shown(self, order: Sequence[str], dense: Ranks) -> list[str]:
        """The first k of ``order`` with the dense reserve (with_dense_reserve's rule, no collapse)."""
        k, reserve = self.k, self.reserve
        best = sorted((c for c in dense if c in self.rows), key=lambda c: dense[c])[:reserve]
        step = max(1, k // reserve)
        due = [(n * step, c) for n, c in enumerate(best, start=1)]
        out: list[str] = []
        for c in order[:k]:
            while due and due[0][0] <= len(out) + 1:
                d = due.pop(0)[1]
                if d not in out and len(out) < k:
                    out.append(d)
            if c not in out and len(out) < k:
                out.append(c)
        out.extend(d for _, d in due if d not in out)
        return out[:k]

    def score(self, i: int, shown: Sequence[str]) -> Result:
        q = self.questions[i]
        seen: list[str] = []
        rr = 0.0
        for c in shown:
            a = self.rows[c]["article_id"]
            if a not in seen:
                seen.append(a)
            if a in q.gold:
                rr = 1 / len(seen)
                break
        counted = q.answer_in_gold is not False
        hit = next((n for n, c in enumerate(shown, start=1) if counted and contains(self.rows[c]["text"], q.answer)),
                   None)
        out: Result = {"article_rr": rr}
        for d in DEPTHS:
            out[f"hits@{d}"] = float(bool(hit and hit <= d)) if counted else None
        return out

    def base(self, i: int) -> list[str]:
        dense, keyword, articles = self.lists(i)
        return self.order(i, dense, keyword, articles)

    def report(self, name: str, new: Sequence[Result], base: Sequence[Result]) -> None:
        self.cells[name] = list(new)
        print(f"== {name}")
        for half in ("A", "B"):
            idx = [i for i, q in enumerate(self.questions) if half_of(q, half)]
            n, b = [new[i] for i in idx], [base[i] for i in idx]
            print(f"  {half}: {line(n)}")
            print("     Δ " + "  ".join(f"{m} {paired(n, b, m)}" for m in METRICS))
        sys.stdout.flush()


# =================================================================================================
# Variants
# =================================================================================================


def article_ranks(lab: Lab, base: list[Result]) -> None:
    for lists in lab.args.lists:
        for w in lab.args.weight:
            new = []
            for i in range(len(lab.questions)):
                dense, keyword, articles = lab.lists(i)
                lab.need_rows(set(dense) | set(keyword))
                bonus_rank: list[Ranks] = []
                for ranks, name in ((dense, "dense"), (keyword, "keyword")):
                    if lists not in (name, "both"):
                        continue
                    order: list[str] = []
                    for c in sorted(ranks, key=lambda c: ranks[c]):
                        a = lab.rows[c]["article_id"] if c in lab.rows else None
                        if a is not None and a not in order:
                            order.append(a)
                    bonus_rank.append({a: r for r, a in enumerate(order, start=1)})
                rk = lab.s.rrf_k

                def bonus(c: str, row: dict[str, Any], br: list[Ranks] = bonus_rank, w: float = w, rk: int = rk
                          ) -> float:
                    return sum(w / (rk + r[row["article_id"]]) for r in br if row["article_id"] in r)

                new.append(lab.score(i, lab.shown(lab.order(i, dense, keyword, articles, bonus), dense)))
            lab.report(f"article-ranks {lists} W {w}", new, base)


def lead(lab: Lab, base: list[Result]) -> None:
    v = lab.vec
    by_article: dict[str, list[int]] = {}
    for j, a in enumerate(v["article"]):
        by_article.setdefault(a, []).append(j)
    first = {a: min(js, key=lambda j: v["ord"][j]) for a, js in by_article.items()}
    for agg in lab.args.agg:
        for w in lab.args.weight:
            new = []
            for i in range(len(lab.questions)):
                dense, keyword, articles = lab.lists(i)
                lab.need_rows(set(dense) | set(keyword))
                q = v["queries"][i]
                arts = {lab.rows[c]["article_id"] for c in [*dense, *keyword] if c in lab.rows}
                score = {}
                for a in arts:
                    if agg == "lead":
                        score[a] = float(v["matrix"][first[a]] @ q)
                    else:
                        sims = v["matrix"][by_article[a]] @ q
                        score[a] = float(sims.max() if agg == "max" else sims.mean())
                ranked = {a: r for r, a in enumerate(sorted(score, key=lambda a: -score[a]), start=1)}
                rk = lab.s.rrf_k

                def bonus(c: str, row: dict[str, Any], ranked: Ranks = ranked, w: float = w, rk: int = rk) -> float:
                    return w / (rk + ranked[row["article_id"]])

                new.append(lab.score(i, lab.shown(lab.order(i, dense, keyword, articles, bonus), dense)))
            lab.report(f"article dense ({agg}) W {w}", new, base)


def rocchio(lab: Lab, base: list[Result], base_orders: list[list[str]]) -> None:
    v = lab.vec
    matrix, index = v["matrix"], v["index"]
    for top in lab.args.top:
        for beta in lab.args.beta:
            lists = []
            for i in range(len(lab.questions)):
                q = v["queries"][i]
                fb = np.mean([matrix[index[c]] for c in base_orders[i][:top] if c in index], axis=0)
                q2 = q + beta * fb
                q2 /= np.linalg.norm(q2)
                sims = matrix @ q2
                n = lab.fetch
                best = np.argpartition(-sims, n)[:n]
                best = best[np.argsort(-sims[best])]
                lists.append({v["ids"][j]: r for r, j in enumerate(best, start=1)})
            for mode in lab.args.mode:
                for w in (lab.args.weight if mode == "add" else [1.0]):
                    new = []
                    for i in range(len(lab.questions)):
                        dense, keyword, articles = lab.lists(i)
                        if mode == "replace":
                            order = lab.order(i, lists[i], keyword, articles)
                        else:
                            order = lab.order(i, dense, keyword, articles, extra=[(lists[i], w)])
                        new.append(lab.score(i, lab.shown(order, dense)))
                    lab.report(f"rocchio top {top} β {beta} {mode}" + (f" W {w}" if mode == "add" else ""), new, base)


def rm3_terms(lab: Lab, i: int, order: Sequence[str], fused_share: Sequence[float], top: int, n_terms: int,
              df: Counter[str], n_rows: int) -> list[tuple[str, float]]:
    """The ``n_terms`` best feedback terms of the first ``top`` passages, with their weights (summing to 1)."""
    question = set(keyword_terms(lab.questions[i].question))
    weight: dict[str, float] = {}
    for c, share in zip(order[:top], fused_share, strict=False):
        row = lab.rows[c]
        words = [w for w in re.findall(r"[a-z][a-z'’-]*[a-z]", (row.get("title") or "").lower() + " "
                                                                + row["text"].lower()) if len(w) > 2]
        words = [w for w in words if w in df]
        if not words:
            continue
        tf = Counter(words)
        for term, n in tf.items():
            weight[term] = weight.get(term, 0.0) + share * n / len(words)
    scored = {t: w * math.log((n_rows + 1) / (df[t] + 1)) for t, w in weight.items()
              if t not in question and df[t] >= 2}
    best = sorted(scored, key=lambda t: -scored[t])[:n_terms]
    total = sum(scored[t] for t in best) or 1.0
    return [(t, scored[t] / total) for t in best]


def tantivy_search(lab: Lab, kind: str, terms: Sequence[tuple[str, float]], limit: int) -> list[str]:
    import tantivy

    kw = lab.store.keywords
    searchers = kw._current()
    analyzer = kw._analyzer()
    should = []
    for term, boost in terms:
        tokens = analyzer.analyze(term)
        if len(tokens) == 1:
            query = tantivy.Query.term_query(kw._schema, "body", tokens[0])
        elif tokens:
            query = tantivy.Query.phrase_query(kw._schema, "body", tokens)
        else:
            continue
        if boost != 1.0:
            query = tantivy.Query.boost_query(query, boost)
        should.append((tantivy.Occur.Should, query))
    if not should:
        return []
    searcher = searchers[kind]
    hits = searcher.search(tantivy.Query.boolean_query(should), limit, count=False).hits
    return [searcher.doc(address)["id"][0] for _, address in hits]


def rm3_run(lab: Lab, base: list[Result], base_orders: list[list[str]], fused: list[dict[str, float]]) -> None:
    from retrieval.text import STOPWORDS

    cache_path = lab.args.cache.with_name(lab.args.cache.stem + ".rm3.pkl")
    cache: dict[Any, Any] = pickle.loads(cache_path.read_bytes()) if cache_path.exists() else {}
    if "df" not in cache:
        df: Counter[str] = Counter()
        rows = lab.store.catalog._query("SELECT text, title FROM chunks", ())
        for r in rows:
            df.update(set(re.findall(r"[a-z][a-z'’-]*[a-z]", (r[1] + " " + r[0]).lower())))
        cache["df"] = {t: n for t, n in df.items() if n >= 2 and t not in STOPWORDS}
        cache["n_rows"] = len(rows)
        cache_path.write_bytes(pickle.dumps(cache))
    df = Counter(cache["df"])
    n_rows = cache["n_rows"]
    check = tantivy_search(lab, "passages", [(t, 1.0) for t in keyword_terms(lab.questions[0].question)], lab.fetch)
    if check != [c for c, _ in lab.pools[0].keyword[:lab.fetch]]:
        print("warning: the lab's tantivy query differs from the product's keyword search", file=sys.stderr)
    v = lab.vec
    lead_of = {a: c for c, a, o in zip(v["ids"], v["article"], v["ord"], strict=True) if int(o) == 0}
    for top in lab.args.top:
        for n_terms in lab.args.terms:
            for lam in lab.args.lam:
                key = (top, n_terms, lam) if lab.args.source == "passages" else (top, n_terms, lam, lab.args.source)
                if key not in cache:
                    got = []
                    for i, q in enumerate(lab.questions):
                        order = base_orders[i]
                        if lab.args.source == "leads":  # the first chunk of each of the first articles
                            firsts: dict[str, str] = {}
                            for c in order:
                                firsts.setdefault(lab.rows[c]["article_id"], c)
                            picked = list(firsts.items())[:top]
                            scores = [fused[i][c] for _, c in picked]
                            order = [lead_of[a] for a, _ in picked]
                            lab.need_rows(set(order))
                        else:
                            scores = [fused[i][c] for c in order[:top]]
                        share = [x / sum(scores) for x in scores]
                        terms = rm3_terms(lab, i, order, share, top, n_terms, df, n_rows)
                        query = [(t, 1.0) for t in keyword_terms(q.question)] + [(t, lam * w) for t, w in terms]
                        got.append((terms, tantivy_search(lab, "passages", query, lab.fetch),
                                    tantivy_search(lab, "articles", query, lab.fetch)))
                    cache[key] = got
                    cache_path.write_bytes(pickle.dumps(cache))
                got = cache[key]
                for mode in lab.args.mode:
                    new = []
                    for i in range(len(lab.questions)):
                        dense, keyword, articles = lab.lists(i)
                        kw2 = {c: r for r, c in enumerate(got[i][1], start=1)}
                        art2 = {a: r for r, a in enumerate(got[i][2], start=1)}
                        if mode == "passages":
                            order = lab.order(i, dense, kw2, articles)
                        elif mode == "articles":
                            order = lab.order(i, dense, keyword, art2)
                        else:
                            order = lab.order(i, dense, kw2, art2)
                        if lab.args.first_only:  # the expanded search picks the first place only
                            order = [order[0], *(c for c in base_orders[i] if c != order[0])]
                        new.append(lab.score(i, lab.shown(order, dense)))
                    first = " first-only" if lab.args.first_only else ""
                    name = f"rm3{first} {lab.args.source} top {top} terms {n_terms} λ {lam} replace {mode}"
                    lab.report(name, new, base)
                    if lab.args.show:
                        for i in range(lab.args.show):
                            print("   ", lab.questions[i].question, "→", [t for t, _ in got[i][0]])


def statement(question: str) -> str:
    """A question as the start of a statement that would answer it ("Which US city was …?" → "The US city
    that was …"); questions of other shapes are returned without their question mark."""
    q = question.strip().rstrip("?").strip()
    head, _, last = q.rpartition(". ")  # a context sentence first: rewrite the question that ends it
    if not re.search(r"\b(which|what|who|where|when|how|why)\b", last, re.IGNORECASE):
        head, last = "", q
    rules = (
        (r"^(?:in|at|from|for|to|on|of|with|by) (which|what) ", r"the "),
        (r"^(?:which|what) (?:of the following )?(\w+(?: \w+)?) (is|was|are|were|has|have|had|did|does|do|will|can)\b",
         r"the \1 that \2"),
        (r"^(?:which|what) ", r"the "),
        (r"^who (is|was|are|were)\b", r"the person who \1"),
        (r"^who ", r"the person who "),
        (r"^where (is|was|are|were|did|does|do)\b", r"the place where \1"),
        (r"^when (is|was|are|were|did|does|do|will)\b", r"the time when \1"),
        (r"^how (many|much) ", r"the number of "),
        (r"^why ", r"the reason "),
    )
    low = last[:1].lower() + last[1:]
    for pattern, repl in rules:
        new, n = re.subn(pattern, repl, low, count=1, flags=re.IGNORECASE)
        if n:
            low = new
            break
    else:
        low = re.sub(r"\b(which|what)\b", "a", low, count=1, flags=re.IGNORECASE)
    return f"{head}. {low}" if head else low


def query_variants(lab: Lab, base: list[Result]) -> None:
    v = lab.vec
    matrix = v["matrix"]
    embedder = lab.store.embedder
    for variant in lab.args.variant:
        texts: list[list[str]] = []
        for q in lab.questions:
            if variant == "statement":
                texts.append([statement(q.question)])
            elif variant == "terms":
                texts.append([" ".join(keyword_terms(q.question))])
            else:  # split: each sentence of a question that has several, apart
                parts = [p.strip() for p in re.split(r"(?<=[.?!])\s+", q.question) if p.strip()]
                texts.append(parts if len(parts) > 1 else [])
        if lab.args.show:
            for t in texts[:lab.args.show]:
                print("   ", t)
        flat_texts = [t for ts in texts for t in ts]
        vecs = np.asarray(embedder.encode(flat_texts), dtype=np.float32) if flat_texts else np.zeros((0, 1))
        lists: list[list[Ranks]] = []
        at = 0
        for ts in texts:
            got = []
            for _ in ts:
                sims = matrix @ vecs[at]
                at += 1
                n = lab.fetch
                best = np.argpartition(-sims, n)[:n]
                best = best[np.argsort(-sims[best])]
                got.append({v["ids"][j]: r for r, j in enumerate(best, start=1)})
            lists.append(got)
        touched = sum(bool(g) for g in lists)
        for mode in lab.args.mode:
            for w in (lab.args.weight if mode == "add" else [1.0]):
                new = []
                for i in range(len(lab.questions)):
                    dense, keyword, articles = lab.lists(i)
                    if not lists[i]:
                        order = lab.order(i, dense, keyword, articles)
                    elif mode == "replace" and len(lists[i]) == 1:
                        order = lab.order(i, lists[i][0], keyword, articles)
                    else:
                        order = lab.order(i, dense, keyword, articles,
                                          extra=[(ranks, w / len(lists[i])) for ranks in lists[i]])
                    new.append(lab.score(i, lab.shown(order, dense)))
                lab.report(f"query {variant} {mode}" + (f" W {w}" if mode == "add" else "") + f" ({touched} q)",
                           new, base)


def neighbours(lab: Lab, base: list[Result], base_orders: list[list[str]]) -> None:
    """A passage gains γ × the best fused score of its neighbours in its article (the chunks just before and
    after it); the neighbours of today's first ``--top`` passages join the candidates."""
    v = lab.vec
    at = {(a, int(o)): c for c, a, o in zip(v["ids"], v["article"], v["ord"], strict=True)}
    place = {c: (a, int(o)) for (a, o), c in at.items()}

    def around(c: str) -> list[str]:
        a, o = place[c]
        return [n for n in (at.get((a, o - 1)), at.get((a, o + 1))) if n is not None]

    for top in lab.args.top:
        for gamma in lab.args.gamma:
            new = []
            for i in range(len(lab.questions)):
                dense, keyword, articles = lab.lists(i)
                day = parse_day(lab.questions[i].date)
                lab.need_rows(set(dense) | set(keyword))
                f = fuse(lab.s, dense, keyword, articles, lab.rows, day)
                added = {n for c in base_orders[i][:top] if c in place for n in around(c) if n not in f}
                inject = {c: 10**9 for c in added}

                def bonus(c: str, row: dict[str, Any], f: dict[str, float] = f, g: float = gamma) -> float:
                    near = [f[n] for n in around(c) if n in f] if c in place else []
                    return g * max(near, default=0.0)

                order = lab.order(i, dense, keyword, articles, bonus, extra=[(inject, 0.0)])
                new.append(lab.score(i, lab.shown(order, dense)))
            lab.report(f"neighbours top {top} γ {gamma}", new, base)


WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def weekday(lab: Lab, base: list[Result]) -> None:
    for w in lab.args.weight:
        new = []
        touched = 0
        for i, q in enumerate(lab.questions):
            dense, keyword, articles = lab.lists(i)
            named = [n for n, d in enumerate(WEEKDAYS) if re.search(rf"\b{d}\b", q.question.lower())]
            as_of = parse_day(q.date)
            if not named or as_of is None:
                new.append(lab.score(i, lab.shown(lab.base(i), dense)))
                continue
            touched += 1
            days = {as_of - timedelta(days=n) for n in range(-1, 9)}
            wanted: set[date] = {d for d in days if d.weekday() in named}
            wanted |= {d + timedelta(days=1) for d in wanted}
            rk = lab.s.rrf_k

            def bonus(c: str, row: dict[str, Any], wanted: set[date] = wanted, w: float = w, rk: int = rk) -> float:
                day = parse_day(row["published"]) if row["published"] else None
                return w / rk if day in wanted else 0.0

            new.append(lab.score(i, lab.shown(lab.order(i, dense, keyword, articles, bonus), dense)))
        lab.report(f"weekday W {w} ({touched} questions name a weekday)", new, base)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--cache", type=Path, required=True, help="fusion_lab.py's pickle of the candidates")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--cv", action="store_true", help="leave-weeks-out choice among the cells on half A")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("prepare", help="cache every chunk's vector, article and place, and the questions' vectors")
    p = sub.add_parser("article-ranks")
    p.add_argument("--lists", nargs="+", default=["dense", "keyword", "both"], choices=["dense", "keyword", "both"])
    p.add_argument("--weight", type=float, nargs="+", default=[0.25, 0.5, 1.0])
    p = sub.add_parser("lead")
    p.add_argument("--agg", nargs="+", default=["lead", "max", "mean"], choices=["lead", "max", "mean"])
    p.add_argument("--weight", type=float, nargs="+", default=[0.25, 0.5, 1.0])
    p = sub.add_parser("rocchio")
    p.add_argument("--top", type=int, nargs="+", default=[3, 5])
    p.add_argument("--beta", type=float, nargs="+", default=[0.3, 0.7])
    p.add_argument("--mode", nargs="+", default=["replace", "add"], choices=["replace", "add"])
    p.add_argument("--weight", type=float, nargs="+", default=[0.5, 1.0])
    p = sub.add_parser("rm3")
    p.add_argument("--top", type=int, nargs="+", default=[3, 5])
    p.add_argument("--terms", type=int, nargs="+", default=[5, 10])
    p.add_argument("--lam", type=float, nargs="+", default=[0.5, 1.0])
    p.add_argument("--mode", nargs="+", default=["both", "passages", "articles"],
                   choices=["both", "passages", "articles"])
    p.add_argument("--show", type=int, default=0, help="print the feedback terms of the first N questions")
    p.add_argument("--first-only", action="store_true",
                   help="the expanded search's first passage first, then today's order (the places after it unchanged)")
    p.add_argument("--source", choices=["passages", "leads"], default="passages",
                   help="feedback from the first passages, or from the title and first chunk of the first articles")
    p = sub.add_parser("queries")
    p.add_argument("--variant", nargs="+", default=["statement", "split", "terms"],
                   choices=["statement", "split", "terms"])
    p.add_argument("--mode", nargs="+", default=["replace", "add"], choices=["replace", "add"])
    p.add_argument("--weight", type=float, nargs="+", default=[0.3, 0.6, 1.0])
    p.add_argument("--show", type=int, default=0)
    p = sub.add_parser("neighbours")
    p.add_argument("--top", type=int, nargs="+", default=[0, 5, 10, 20])
    p.add_argument("--gamma", type=float, nargs="+", default=[0.1, 0.2, 0.3, 0.5])
    p = sub.add_parser("weekday")
    p.add_argument("--weight", type=float, nargs="+", default=[0.25, 0.5, 1.0])
    args = parser.parse_args()

    lab = Lab(args)
    if args.command == "prepare":
        lab.prepare()
        return
    run(lab, args)
    if args.cv:
        cross_validate(lab)


def cross_validate(lab: Lab) -> None:
    """Leave-weeks-out on half A over every cell the command printed (base included): on each of 5 folds of
    whole weeks, the cell with the best sum of MRR and hits@1/3/5/10 on the other four scores the fold."""
    tables: Any = [Item(q) for q in lab.questions]  # leave_weeks_out reads only .question
    a = [i for i, q in enumerate(lab.questions) if half_of(q, "A")]
    picks, new = leave_weeks_out(tables, a, list(lab.cells), lambda cell, i: lab.cells[cell][i])
    base = [lab.cells["base (today's order)"][i] for i in a]
    print(f"== half A, leave-weeks-out over {len(lab.cells)} cells (picked {picks})")
    print(f"  A: {line(new)}")
    print("     Δ " + "  ".join(f"{m} {paired(new, base, m)}" for m in METRICS))


class Item:
    def __init__(self, question: Question) -> None:
        self.question = question


def run(lab: Lab, args: argparse.Namespace) -> None:
    base_orders = [lab.base(i) for i in range(len(lab.questions))]
    base = [lab.score(i, lab.shown(o, lab.lists(i)[0])) for i, o in enumerate(base_orders)]
    lab.report("base (today's order)", base, base)
    if args.command == "article-ranks":
        article_ranks(lab, base)
    elif args.command == "lead":
        lead(lab, base)
    elif args.command == "rocchio":
        rocchio(lab, base, base_orders)
    elif args.command == "rm3":
        fused = []
        for i in range(len(lab.questions)):
            dense, keyword, articles = lab.lists(i)
            fused.append(fuse(lab.s, dense, keyword, articles, lab.rows, parse_day(lab.questions[i].date)))
        rm3_run(lab, base, base_orders, fused)
    elif args.command == "queries":
        query_variants(lab, base)
    elif args.command == "neighbours":
        neighbours(lab, base, base_orders)
    elif args.command == "weekday":
        weekday(lab, base)


if __name__ == "__main__":
    main()
