"""Evaluation metrics, pure functions: the answer-matching rules, ranks of the first hit and the
first gold article, ranking metrics and the one ``percentile`` (evaluate and the benchmarks use it).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from retrieval.eval_data import Question
    from retrieval.types import Passage

HIT_DEPTHS = (1, 3, 5, 10)
ARTICLE_DEPTHS = (1, 3, 10)


# =================================================================================================
# Matching answers
# =================================================================================================


def contains(text: str, answer: str) -> bool:
    """The retrieval rule of the eval README: ``answer`` occurs in ``text``, case-insensitively."""
    return bool(answer) and answer.lower() in text.lower()


_OPENING_QUOTES = "\"'“‘«"
_CLOSING_QUOTES = "\"'”’»"


def _bare(answer: str) -> str:
    """The answer without surrounding space, a final full stop or quotes around the whole."""
    answer = answer.strip().rstrip(".").strip()
    if len(answer) > 2 and answer[0] in _OPENING_QUOTES and answer[-1] in _CLOSING_QUOTES:
        answer = answer[1:-1].strip()
    return answer


# Typographic apostrophes and quotes match their plain forms ("Handmaid’s" = "Handmaid's").
_FOLD = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"'})


def _phrase_pattern(answer: str) -> re.Pattern[str]:
    answer = _bare(answer).translate(_FOLD)
    left = r"\b" if answer[:1].isalnum() else ""
    right = r"\b" if answer[-1:].isalnum() else ""
    return re.compile(left + re.escape(answer) + right, re.I)


def mentions(text: str, answer: str) -> bool:
    """The answer rule: ``answer`` occurs in ``text`` as a whole word or phrase, case-insensitively.

    Stricter than :func:`contains` because answers such as "no" or "yes" would otherwise be found
    inside any reply ("not", "eyes"). Quotes around the whole answer (RealTime QA's titles:
    ``“Sinners”``, 24 of 420 answers) are not part of it: a reply naming Sinners names the film.
    """
    answer = _bare(answer)
    return bool(answer) and bool(_phrase_pattern(answer).search(text.translate(_FOLD)))


def pick_choice(text: str, choices: Sequence[str], similarity: Callable[[str, Sequence[str]], Sequence[float]]
                ) -> int | None:
    """The choice an answer text names: the only one it mentions, the first mentioned if several,
    else the one most similar to it (``similarity``); None for an empty text."""
    if not text.strip() or not choices:
        return None
    found = []
    for i, choice in enumerate(choices):
        match = _phrase_pattern(choice).search(text.translate(_FOLD)) if choice.strip() else None
        if match:
            found.append((match.start(), -len(choice), i))
    if found:
        return min(found)[2]
    scores = list(similarity(text, choices))
    return max(range(len(choices)), key=lambda i: scores[i])


def with_choices(question: str, choices: Sequence[str]) -> str:
    letters = "ABCDEFGHIJ"
    listed = "; ".join(f"{letters[i] if i < len(letters) else i + 1}) {c}" for i, c in enumerate(choices))
    return f"{question} Choose one of: {listed}."


# =================================================================================================
# Ranking metrics
# =================================================================================================


def article_ranking(passages: Sequence[Passage], credit_duplicates: bool = False) -> list[str]:
    """Article ids in the order of their best passage (optionally with the near-copies collapsed
    into each passage, at its rank)."""
    ranked: dict[str, None] = {}
    for p in passages:
        ranked.setdefault(p.article_id, None)
        if credit_duplicates:
            for dup in p.duplicates:
                ranked.setdefault(dup, None)
    return list(ranked)


def first_hit(passages: Sequence[Passage], answer: str) -> int | None:
    """Rank (1-based) of the first passage containing ``answer``, None if none does."""
    return next((rank for rank, p in enumerate(passages, start=1) if contains(p.text, answer)), None)


def first_gold(article_ids: Sequence[str], gold: Collection[str]) -> int | None:
    """Rank (1-based) of the first gold article, None if none is there."""
    return next((rank for rank, a in enumerate(article_ids, start=1) if a in gold), None)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of ``values``, linear between the closest ranks; NaN for no
    values (a latency of 0 would pass for a measurement). evaluate never asks about an empty list."""
    if not values:
        return math.nan
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def rank_metrics(prefix: str, rows: Sequence[dict[str, Any]], k: int) -> dict[str, float]:
    """answer_hits@d, article_hits@d and article_mrr@k from per-question first-hit ranks."""
    n = len(rows)
    out: dict[str, float] = {}
    if not n:
        return out
    hit_rows = [r for r in rows if r["hit_counted"]]
    for d in (d for d in HIT_DEPTHS if d <= k):
        if hit_rows:
            out[f"{prefix}answer_hits@{d}"] = sum(1 for r in hit_rows if r["hit"] and r["hit"] <= d) / len(hit_rows)
    for d in (d for d in ARTICLE_DEPTHS if d <= k):
        out[f"{prefix}article_hits@{d}"] = sum(1 for r in rows if r["article"] and r["article"] <= d) / n
    out[f"{prefix}article_mrr@{k}"] = sum(1 / r["article"] for r in rows if r["article"] and r["article"] <= k) / n
    if any("article_dups" in r for r in rows):
        out[f"{prefix}article_mrr@{k}_with_copies"] = sum(
            1 / r["article_dups"] for r in rows if r.get("article_dups") and r["article_dups"] <= k
        ) / n
    out[f"{prefix}article_recall@{k}"] = sum(r["recall"] for r in rows) / n
    ms = [r["ms"] for r in rows]
    out[f"{prefix}retrieval_p50_ms"] = percentile(ms, 50)
    out[f"{prefix}retrieval_p95_ms"] = percentile(ms, 95)
    return out


def reference_metrics(questions: Sequence[Question], k: int) -> dict[str, float]:
    """The dataset's own reference search (``search_article_ids``) scored like ours, when present."""
    rows = [q for q in questions if q.search_ids]
    if not rows:
        return {}
    ranks = [first_gold(q.search_ids[:k], q.gold) for q in rows]
    n = len(rows)
    out = {f"reference_search.article_hits@{d}": sum(1 for r in ranks if r and r <= d) / n for d in ARTICLE_DEPTHS}
    out[f"reference_search.article_mrr@{k}"] = sum(1 / r for r in ranks if r) / n
    return out
