"""Hybrid search: dense (Chroma) + keyword (BM25 over passages) fused by reciprocal rank, re-weighed
by whole-article BM25 and freshness; filters, near-duplicate collapse (a story several outlets carried is
cited from its original), and an optional rerank hook."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from functools import partial
from typing import Any, Literal, TypeVar

import numpy as np

from retrieval.dedup import ORIGINAL_COVER, ORIGINAL_DAYS, conflicting, is_near_duplicate, word_set
from retrieval.settings import Settings
from retrieval.store import Store
from retrieval.types import Copy, Passage

Mode = Literal["hybrid", "dense", "keyword"]
T = TypeVar("T")
# A reranker maps (question, passages in fused order) to one score per passage, higher is better.
Reranker = Callable[[str, Sequence[Passage]], Sequence[float]]


def parse_day(value: str | date | None) -> date | None:
    """``2026-07-10`` (or a longer ISO timestamp, or a date) → date; None when it is not one."""
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        return None


# A filter's day: YYYY-MM-DD, alone or starting a complete ISO timestamp (checked by datetime).
_FILTER_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ].+)?", re.ASCII)


def filter_day(value: str) -> date:
    """The day of a filter bound: ``2026-07-10`` (or a complete ISO timestamp such as
    ``2026-07-10T08:00:00Z``: its day). Unlike :func:`parse_day` (lenient, for article metadata) nothing
    else passes: ``ValueError`` for ``2026-07-10xyz``, ``20260710``, ``2026-13-01`` or ``yesterday``."""
    text = value.strip()
    if _FILTER_DAY.fullmatch(text):
        try:
            return datetime.fromisoformat(text).date() if len(text) > 10 else date.fromisoformat(text)
        except ValueError:
            pass
    raise ValueError(f"dates must look like YYYY-MM-DD, but got {value!r}")


@dataclass(frozen=True)
class Filters:
    """Restrict a search to some outlets and/or an inclusive ISO date range (YYYY-MM-DD), and say
    as of which day the news is read (``as_of``, default: ``date_to``, else today). ``as_of``
    restricts nothing: fresher articles only rank higher (see :func:`search`). Each date is checked
    with :func:`filter_day` and kept as its ``YYYY-MM-DD`` (every search backend compares that)."""

    outlets: tuple[str, ...] = ()
    date_from: str = ""
    date_to: str = ""
    as_of: str = ""

    def __post_init__(self) -> None:
        for name in ("date_from", "date_to", "as_of"):
            value = getattr(self, name)
            if not value:
                continue
            try:
                day = filter_day(value)
            except ValueError:
                raise ValueError(f"dates must look like YYYY-MM-DD, but {name} is {value!r}") from None
            object.__setattr__(self, name, day.isoformat())

    @property
    def restricts(self) -> bool:
        """Whether anything is filtered out (``as_of`` filters nothing)."""
        return bool(self.outlets or self.date_from or self.date_to)

    def describe(self) -> str:
        """The filters in words: "from Reuters or BBC, published 2026-01-01 to 2026-02-01"."""
        parts = []
        if self.outlets:
            parts.append("from " + " or ".join(self.outlets))
        if self.date_from and self.date_to:
            parts.append(f"published {self.date_from} to {self.date_to}")
        elif self.date_from:
            parts.append(f"published on or after {self.date_from}")
        elif self.date_to:
            parts.append(f"published on or before {self.date_to}")
        return ", ".join(parts)

    @property
    def as_of_day(self) -> date:
        return parse_day(self.as_of) or parse_day(self.date_to) or date.today()

    def chroma_where(self) -> dict[str, Any] | None:
        clauses: list[dict[str, Any]] = []
        if self.outlets:
            clauses.append({"outlet": {"$in": list(self.outlets)}})
        if self.date_from:
            clauses.append({"day": {"$gte": _day(self.date_from)}})
        if self.date_to:
            clauses.append({"day": {"$lte": _day(self.date_to)}})
        if self.date_to and not self.date_from:
            clauses.append({"day": {"$gt": 0}})  # an unknown date (0) is not "before" anything
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def _day(iso: str) -> int:
    day = parse_day(iso)
    if day is None:
        raise ValueError(f"dates must look like YYYY-MM-DD, but got {iso!r}")
    return day.year * 10000 + day.month * 100 + day.day


def freshness(published: str, as_of: date | None, days: float) -> float:
    """1.0 for an article published on ``as_of``, decaying by e every ``days`` days before it; 0.0 for
    undated articles and for those published more than a day after ``as_of`` (news from the future of
    the question, e.g. when replaying an old question)."""
    day = parse_day(published) if published else None
    if as_of is None or day is None:
        return 0.0
    age = (as_of - day).days
    if age < -1:
        return 0.0
    return math.exp(-max(age, 0) / days)


def fuse(
    settings: Settings,
    dense_rank: Mapping[str, int],
    keyword_rank: Mapping[str, int],
    article_rank: Mapping[str, int],
    rows: Mapping[str, Any],  # chunk id -> catalog row (sqlite3.Row or dict): article_id, published
    as_of: date | None,
    passage_share: float = 1.0,
) -> dict[str, float]:
    """The fused score of every candidate passage that has a catalog row (chunk id -> score).

    Reciprocal rank fusion of the dense and keyword ranks; then article-level evidence re-weighs the
    passages found (it adds none of its own): the rank of the passage's article in whole-article
    BM25, and the article's freshness as of ``as_of`` (None: no freshness bonus). ``passage_share``
    scales the weights of the two passage ranks (how the places after the first are ordered: see
    :func:`lean_tail`).
    """
    k = settings.rrf_k
    fused: dict[str, float] = {}
    for cid in dict.fromkeys([*dense_rank, *keyword_rank]):
        row = rows.get(cid)
        if row is None:
            continue  # mid-ingest: not (or no longer) in the catalog
        score = 0.0
        if cid in dense_rank:
            score += passage_share * settings.dense_weight / (k + dense_rank[cid])
        if cid in keyword_rank:
            score += passage_share * settings.keyword_weight / (k + keyword_rank[cid])
        if row["article_id"] in article_rank:
            score += settings.article_weight / (k + article_rank[row["article_id"]])
        if as_of is not None and settings.recency_weight:
            score += settings.recency_weight / k * freshness(row["published"], as_of, settings.recency_days)
        fused[cid] = score
    return fused


def lean_tail(order: Sequence[str], tail: Mapping[str, float]) -> list[str]:
    """``order`` (chunk ids, best first) with its first passage kept and the others re-ordered by ``tail``
    (higher first; ties keep their order): the best fused match stays on top, and the places after it
    go to the passages that ``tail`` (fusion leaning on whole-article evidence) favours."""
    rest = sorted(order[1:], key=lambda cid: -tail[cid])
    return [*order[:1], *rest]


def with_dense_reserve(
    kept: list[Passage],
    ranked: Sequence[Passage],
    k: int,
    reserve: int,
    twin_of: Callable[[Passage, Sequence[Passage]], Passage | None],
) -> list[Passage]:
    """``kept`` (fused order, at most ``k``) with the ``reserve`` best dense candidates of ``ranked`` spread
    through it: the i-th best dense passage is at place ``i × (k // reserve)`` or better (with k = 6 and
    2 reserved: the best by place 3, the second by place 6), unless a near-copy of it is shown already.
    Fusion's passages keep their order around them; those pushed past ``k`` drop out."""
    step = max(1, k // reserve)
    best_dense = sorted((p for p in ranked if p.dense_rank is not None), key=lambda p: p.dense_rank or 0)[:reserve]
    kept_ids = {p.chunk_id for p in kept}
    due = [
        (i * step, p) for i, p in enumerate(best_dense, start=1)
        if p.chunk_id in kept_ids or twin_of(p, kept) is None
    ]
    out: list[Passage] = []
    placed: set[str] = set()

    def place(p: Passage) -> None:
        if p.chunk_id not in placed and len(out) < k:
            out.append(p)
            placed.add(p.chunk_id)

    for p in kept:
        while due and due[0][0] <= len(out) + 1:  # a reserved passage whose place has come
            place(due.pop(0)[1])
        place(p)
    for _, p in due:  # fusion ran out of passages before their places
        place(p)
    return out


def _time_of_day(published: str) -> str:
    """The time part of an ISO timestamp (stored in UTC: comparable as text), "" for a day alone."""
    text = published.strip()
    return text[11:] if len(text) > 11 and text[10] in "T " else ""


def cite_original(best: Passage, copies: Sequence[Passage]) -> Passage:
    """The passage a story carried by several outlets is shown and cited as: ``best`` (the best-ranked of
    the near-copies) and ``copies`` (the others collapsed into it, best first) are one story, cited from
    its earliest publication — the wire original, not the newest re-run that freshness ranked first.

    Only a copy whose passage holds ``best``'s words (:data:`ORIGINAL_COVER` of them: the answer ``best``
    was ranked for stays in what is shown) published at most :data:`ORIGINAL_DAYS` days before it can be the
    original: near-copies collapse on looser grounds (a restatement of the story), and
    the same text years earlier is an evergreen page or a misdated one, not a wire story's first run.
    The earliest day wins; on that day, the earliest time when every copy of that day gives one, else the
    better rank. An undated copy never displaces a dated one. The original is not cited when it states
    a different fact from another copy (:func:`conflicting`): then ``best`` stays. What is returned is
    the original's own passage (its text, offsets, article) with the group's place and scores — those of
    ``best`` — and every other article of the group as its ``copies``, earliest first (undated last)."""
    by_article: dict[str, Passage] = {}
    for p in (best, *copies):
        by_article.setdefault(p.article_id, p)  # an article's best-ranked passage speaks for it
    members = list(by_article.values())
    days = [parse_day(p.published) for p in members]
    original = best
    best_day, best_words = days[0], word_set(best.text)
    dated = [  # the copies that may be the original, best-ranked first
        (p, d) for p, d in zip(members, days, strict=True)
        if d is not None and (p is best or (
            (best_day is None or (best_day - d).days <= ORIGINAL_DAYS)
            and len(best_words & word_set(p.text)) >= ORIGINAL_COVER * len(best_words)))
    ]
    if dated:
        first = min(d for _, d in dated)
        on_first = [p for p, d in dated if d == first]
        if all(_time_of_day(p.published) for p in on_first):
            on_first.sort(key=lambda p: _time_of_day(p.published))  # stable: ties keep their rank
        original = on_first[0]
        if original is not best and any(
            conflicting(original.text, p.text) for p in members if p is not original and p is not best
        ):
            original = best  # already checked against best when it was collapsed into it
    order = {p.article_id: (d or date.max, i) for i, (p, d) in enumerate(zip(members, days, strict=True))}
    others = sorted((p for p in members if p is not original), key=lambda p: order[p.article_id])
    return replace(
        original, score=best.score, similarity=best.similarity, dense_rank=best.dense_rank,
        keyword_rank=best.keyword_rank, copies=[Copy.of(p) for p in others],
    )


def _timed(fn: Callable[..., T], *args: Any) -> tuple[T, float]:
    t = time.perf_counter()
    return fn(*args), time.perf_counter() - t


@dataclass
class SearchResult:
    passages: list[Passage]
    timings: dict[str, float] = field(default_factory=dict)
    candidates: int = 0
    collapsed: int = 0

    @property
    def best_similarity(self) -> float:
        return max((p.similarity for p in self.passages), default=0.0)


def search(
    store: Store,
    query: str,
    *,
    k: int | None = None,
    filters: Filters | None = None,
    mode: Mode = "hybrid",
    collapse: bool = True,
    reranker: Reranker | None = None,
    recency: bool = True,
    dense_reserve: bool = True,
) -> SearchResult:
    """The ``k`` best passages for ``query``; each carries its article's metadata and scores.

    News is read as of a day (``filters.as_of_day``): articles published shortly before it get a
    freshness bonus (``settings.recency_weight``, decaying over ``settings.recency_days``), so "this
    week" finds this week's story before last year's. ``recency=False`` ranks by relevance alone.
    A hybrid search without a ``reranker`` keeps the best fused passage first and orders the places
    after it with the passage ranks weighing ``settings.tail_passage_weight`` times as much
    (:func:`lean_tail`): whole-article evidence counts more there. Each passage's ``score`` stays its
    fused score.
    ``dense_reserve=False``: no places kept for the best dense matches (``settings.dense_reserve``), e.g.
    when a ``reranker`` knows better which passages matter.
    ``collapse``: near-copies of a passage (a story several outlets carried) are shown once, at the place
    of the best-ranked copy, cited from the earliest publication among them (:func:`cite_original`), the
    others listed as its ``copies``; an update that changes a fact is never collapsed.
    """
    settings = store.settings
    k = k or settings.k
    filters = filters or Filters()
    as_of_day = filters.as_of_day
    timings: dict[str, float] = {}
    fetch = max(settings.fetch_k, k * 3)

    t0 = time.perf_counter()
    keyword_ids: list[str] = []
    article_rank: dict[str, int] = {}
    dense: list[tuple[str, float, np.ndarray]] = []
    # The two BM25 queries run on their own threads while the query is embedded and Chroma searched
    # (SQLite, torch and Chroma all let go of the GIL): the wait is the slowest of them, not the sum.
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="newsqa-bm25") as pool:
        keyword_job = article_job = None
        if mode != "dense":
            keyword_job = pool.submit(
                _timed, store.keyword_search,
                query, fetch, filters.outlets, filters.date_from, filters.date_to,
            )
            if mode == "hybrid" and settings.article_weight > 0:
                article_job = pool.submit(
                    _timed, store.article_search,
                    query, fetch, filters.outlets, filters.date_from, filters.date_to,
                )
        qvec, timings["embed"] = _timed(lambda: store.embedder.encode([query])[0])
        if mode != "keyword":
            dense, timings["dense"] = _timed(store.dense_search, qvec, fetch, filters.chroma_where())
        if keyword_job is not None:
            hits, timings["keyword"] = keyword_job.result()
            keyword_ids = [h.chunk_id for h in hits]
        if article_job is not None:
            found, timings["articles"] = article_job.result()
            article_rank = {h.article_id: rank for rank, h in enumerate(found, start=1)}

    t = time.perf_counter()
    dense_rank = {cid: rank for rank, (cid, _, _) in enumerate(dense, start=1)}
    keyword_rank = {cid: rank for rank, cid in enumerate(keyword_ids, start=1)}
    vectors: dict[str, np.ndarray] = {cid: vec for cid, _, vec in dense}
    candidates = list(dict.fromkeys([*dense_rank, *keyword_rank]))
    vectors.update(store.vectors([cid for cid in candidates if cid not in vectors]))
    rows = store.chunks_by_id(candidates)
    day = as_of_day if recency else None
    fused = fuse(settings, dense_rank, keyword_rank, article_rank, rows, day)
    order = sorted(fused, key=lambda cid: -fused[cid])  # fuse kept those with a row
    if mode == "hybrid" and reranker is None and settings.tail_passage_weight != 1.0:
        tail = fuse(settings, dense_rank, keyword_rank, article_rank, rows, day, settings.tail_passage_weight)
        order = lean_tail(order, tail)

    passages: list[Passage] = []
    for cid in order:
        if cid not in vectors:
            continue  # mid-ingest: not yet (or no longer) in Chroma
        row = rows[cid]
        score = fused[cid]
        passages.append(
            Passage(
                chunk_id=cid,
                article_id=row["article_id"],
                text=row["text"],
                start=row["start"],
                end=row["end"],
                title=row["title"],
                url=row["url"],
                published=row["published"],
                outlet=row["outlet"],
                section=row["section"],
                score=score,
                similarity=float(np.dot(qvec, vectors[cid])),
                dense_rank=dense_rank.get(cid),
                keyword_rank=keyword_rank.get(cid),
            )
        )
    if reranker is not None and passages:
        scores = list(reranker(query, passages))
        for passage, new in zip(passages, scores, strict=True):
            passage.score = float(new)
        passages.sort(key=lambda p: -p.score)

    reserve = round(k * settings.dense_reserve) if mode == "hybrid" and dense_reserve else 0
    collapsed = 0
    if collapse and passages:
        words: dict[str, frozenset[str]] = {}
        at = {p.chunk_id: i for i, p in enumerate(passages)}
        matrix = np.stack([vectors[p.chunk_id] for p in passages])
        cosines = matrix @ matrix.T  # every pair of candidates, in one product

        def words_of(p: Passage) -> frozenset[str]:  # only passages close in meaning need them
            if p.chunk_id not in words:
                words[p.chunk_id] = word_set(p.text)
            return words[p.chunk_id]

        def twin_of(passage: Passage, among: Sequence[Passage]) -> Passage | None:
            # A copy that changes a fact (an update, a correction, a denial) is no twin: both versions stay.
            row = cosines[at[passage.chunk_id]]
            return next(
                (
                    q for q in among
                    if is_near_duplicate(
                        float(row[at[q.chunk_id]]), partial(words_of, q), partial(words_of, passage),
                        settings.dedup_threshold,
                    )
                    and not conflicting(q.text, passage.text)
                ),
                None,
            )

        # Every candidate is looked at, not only those up to the k-th kept one: a shown passage lists all
        # its near-copies, and its original (often ranked lower: freshness favours the re-runs) is among them.
        kept: list[Passage] = []
        copies: dict[str, list[Passage]] = {}  # shown passage's chunk id -> its near-copies, best first
        for passage in passages:
            twin = twin_of(passage, kept)
            if twin is not None:
                copies.setdefault(twin.chunk_id, []).append(passage)
            elif len(kept) < k:
                kept.append(passage)
        if reserve:
            shown = with_dense_reserve(kept, passages, k, reserve, twin_of)
            before = {q.chunk_id for q in kept}
            added = [p for p in shown if p.chunk_id not in before]
            if added:  # the reserve's passages, ranked after the k-th kept, list their near-copies too
                taken = {p.chunk_id for p in shown} | {c.chunk_id for group in copies.values() for c in group}
                for passage in passages:
                    if passage.chunk_id not in taken and (twin := twin_of(passage, added)) is not None:
                        copies.setdefault(twin.chunk_id, []).append(passage)
            kept = shown
        collapsed = sum(len(copies.get(p.chunk_id, ())) for p in kept)
        kept = [cite_original(p, copies.get(p.chunk_id, ())) for p in kept]
    else:
        kept = passages[:k]
        if reserve:
            kept = with_dense_reserve(kept, passages, k, reserve, lambda _p, _among: None)
    timings["fuse"] = time.perf_counter() - t
    timings["retrieve"] = time.perf_counter() - t0
    return SearchResult(kept, timings, candidates=len(passages), collapsed=collapsed)
