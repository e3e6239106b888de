"""Evaluation metrics, pure functions: the answer-matching rules, ranks of the first hit and the
first gold article, ranking metrics and the one ``percentile`` (evaluate and the benchmarks use it).
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
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
    """The eval README's literal rule: ``answer`` occurs in ``text``, case-insensitively, even inside
    another word ("NFL" in "conflict", "2" in "2026"). Kept for the labs that compare with old runs;
    evaluate's answer_hits use :func:`mentions` (whole words, the number rule)."""
    return bool(answer) and answer.lower() in text.lower()


# The answer's own apparatus, not its words: citation markers ("[1]", "[2, 3]", a small model's "[Passage 3]")
# and the date note the product writes beside a sentence with a relative time ("(published 2023-04-25) [1]",
# retrieval/answer.py ``dated``). A gold "1" or "25" must not be found in them.
_APPARATUS = re.compile(
    r"\[\s*(?:passages?\s+)?\d+(?:\s*[,;–-]\s*\d+)*\s*\]"
    r"|\(published \d{4}-\d{2}-\d{2}(?:, \d{4}-\d{2}-\d{2})*\)",
    re.I,
)


def plain(text: str) -> str:
    """``text`` without citation markers and the product's "(published …)" notes (see ``_APPARATUS``)."""
    return _APPARATUS.sub(" ", text)


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


@functools.lru_cache(maxsize=4096)
def _phrase_pattern(answer: str) -> re.Pattern[str]:
    answer = _bare(answer).translate(_FOLD)
    left = r"\b" if answer[:1].isalnum() else ""
    right = r"\b" if answer[-1:].isalnum() else ""
    # The number rule: a figure is not found inside a longer one ("16" in "16,000", "$4" in "$4.42",
    # "2" in "2.5 million", "000" in "16,000"): a separator followed or preceded by a digit continues it.
    if answer[-1:].isdigit():
        right += r"(?![.,]\d)"
    if answer[:1].isdigit():
        left = r"(?<!\d[.,])" + left
    return re.compile(left + re.escape(answer) + right, re.I)


def mentions(text: str, answer: str) -> bool:
    """The answer rule: ``answer`` occurs in ``text`` as a whole word or phrase, case-insensitively.

    Stricter than :func:`contains` because answers such as "no" or "yes" would otherwise be found
    inside any reply ("not", "eyes"). Quotes around the whole answer (RealTime QA's titles:
    ``“Sinners”``, 24 of 420 answers) are not part of it: a reply naming Sinners names the film. A number
    is not found inside a longer number ("16" in "16,000"), nor in the answer's citation markers ("[1]")
    or date notes ("(published 2023-04-25)"), which :func:`plain` removes first.
    """
    answer = _bare(answer)
    return bool(answer) and bool(_phrase_pattern(answer).search(plain(text).translate(_FOLD)))


YES_NO = ("yes", "no")
# The verdict an answer opens with: "Yes, …", "No. …", "B) No …" (a choice label first), quotes or a dash before.
_VERDICT = re.compile(r"^[\W_]*(?:\(?[A-J]\)\s*)?(yes|no)\b", re.I)


def verdict(text: str) -> str | None:
    """"yes" or "no" when ``text`` opens with that verdict, else None ("England will no doubt …" is none)."""
    found = _VERDICT.match(plain(text).translate(_FOLD))
    return found.group(1).lower() if found else None


def answers_gold(text: str, answer: str) -> bool:
    """Whether an answer text gives the gold ``answer``: for a yes/no gold (MultiHop-RAG's comparison and
    temporal questions), the verdict the text opens with; for any other, :func:`mentions`."""
    bare = _bare(answer).lower()
    if bare in YES_NO:
        return verdict(text) == bare
    return mentions(text, answer)


def named_choices(text: str, choices: Sequence[str]) -> list[int]:
    """The choices ``text`` names, in the order of their first mention (an earlier, then a longer match
    first). A choice found only inside the match of another, longer choice is not named by it ("Trump"
    inside "Donald Trump")."""
    folded = plain(text).translate(_FOLD)
    spans: dict[int, list[tuple[int, int]]] = {}
    for i, choice in enumerate(choices):
        if choice.strip():
            found = [(m.start(), m.end()) for m in _phrase_pattern(choice).finditer(folded)]
            if found:
                spans[i] = found

    def inside(span: tuple[int, int], other: int) -> bool:
        return any(s <= span[0] and span[1] <= e and (e - s) > (span[1] - span[0]) for s, e in spans[other])

    named = []
    for i, found in spans.items():
        alone = [sp for sp in found if not any(inside(sp, j) for j in spans if j != i)]
        if alone:
            named.append((alone[0][0], -(alone[0][1] - alone[0][0]), i))
    return [i for _, _, i in sorted(named)]


# How a multiple-choice answer's pick was made (``Pick.how``).
BY_ONE_NAME, BY_ORDER, BY_SIMILARITY, REFUSED = "one_name", "order", "similarity", "refused"


@dataclass(frozen=True)
class Pick:
    """The choice an answer is taken to make and how: it names that choice and no other (``one_name``), it
    names several and that one first (``order``), it names none and that one is the most similar
    (``similarity``); ``refused`` (index None) for a refusal or an empty text."""

    index: int | None
    how: str

    def named(self, right: int | None) -> bool:
        """Whether the answer names the ``right`` choice and no other (what a reader sees as choosing it)."""
        return self.how == BY_ONE_NAME and self.index is not None and self.index == right


def choose(text: str, choices: Sequence[str], similarity: Callable[[str, Sequence[str]], Sequence[float]]) -> Pick:
    """The choice an answer text makes, and how (see :class:`Pick`)."""
    if not text.strip() or not choices:
        return Pick(None, REFUSED)
    named = named_choices(text, choices)
    if named:
        return Pick(named[0], BY_ONE_NAME if len(named) == 1 else BY_ORDER)
    scores = list(similarity(text, choices))
    return Pick(max(range(len(choices)), key=lambda i: scores[i]), BY_SIMILARITY)


def pick_choice(text: str, choices: Sequence[str], similarity: Callable[[str, Sequence[str]], Sequence[float]]
                ) -> int | None:
    """The choice an answer text names: the only one it mentions, the first mentioned if several,
    else the one most similar to it (``similarity``); None for an empty text. (:func:`choose` also says
    which of these it was.)"""
    return choose(text, choices, similarity).index


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
    """Rank (1-based) of the first passage that :func:`mentions` ``answer`` (a whole word, the number
    rule: not "NFL" in "conflict" nor "2" in "2026"), None if none does."""
    return next((rank for rank, p in enumerate(passages, start=1) if mentions(p.text, answer)), None)


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
