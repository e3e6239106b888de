"""The passages a follow-up reads: its story across its articles, not one article's passages over again.

A follow-up's search (``Assistant.retrieve`` with the follow-up's new terms ranked up, and the articles the
previous answer cited ranked up the more: what "it" refers to) often fills its first places with passages
of a single article — "What did Caracas say about it?" after Maduro's capture read six passages of the
article the first answer quoted, while another article of the story, where the Venezuelan government's
reaction is, waited at place 15. So the follow-up is searched deeper (``FOLLOWUP_DEPTH`` places, the same
candidates) and each article's best passage comes before any article's second (:func:`spread`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from retrieval.search import Filters, SearchResult
from retrieval.types import Passage

if TYPE_CHECKING:
    from retrieval.answer import Assistant, FollowUp

# How many places of a follow-up's ranking are spread over its articles (at most fetch_k / 3: ``search``
# then draws on the same candidates as for k places). On rtqa follow-ups (docs/results.md, session 18), half
# A: 8 or 10 places found the right article in the top 3 for 5 more of 121 conversations, 12 for 6, 16 and
# 20 for 7 (none lost).
FOLLOWUP_DEPTH = 16


def spread(passages: Sequence[Passage], k: int) -> list[Passage]:
    """The first ``k`` of ``passages`` (best first) taken with each article's best passage before any
    article's second one, and so on; within a round, rank order."""
    rounds: list[list[Passage]] = []
    seen: dict[str, int] = {}
    for p in passages:
        n = seen.get(p.article_id, 0)
        seen[p.article_id] = n + 1
        if n == len(rounds):
            rounds.append([])
        rounds[n].append(p)
    return [p for r in rounds for p in r][:k]


def followup_retrieve(assistant: Assistant, follow: FollowUp, window: Filters) -> SearchResult:
    """The ``assistant.settings.k`` passages of a follow-up's search (``follow``, within the time ``window``):
    the best ``FOLLOWUP_DEPTH`` spread over their articles (:func:`spread`); "What happened next?" (or before)
    leaves out the articles the previous answer cited."""
    k = assistant.settings.k
    result = assistant.retrieve(follow.query, window, boost=follow.new, cited=follow.cited,
                                k=max(k, FOLLOWUP_DEPTH))
    passages = result.passages
    if follow.after or follow.before:  # what came next (or before) is not what was cited already
        passages = [p for p in passages if p.article_id not in follow.cited]
    result.passages = spread(passages, k)
    return result
