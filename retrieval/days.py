"""Questions about a day ("What happened yesterday?"), about a topic on a day, and for the latest state of
things; the filters each reads; and the date said beside a relative time ("yesterday") of an old article."""

from __future__ import annotations

import datetime as dt
import re

from retrieval.claims import MARKER as _MARKER
from retrieval.evidence import question_ask
from retrieval.search import Filters, parse_day
from retrieval.text import split_sentences
from retrieval.types import Answer

# "What happened today?": no topic, only a day (days back from the as-of day: first, last).
_DAYS_ASKED = (
    (re.compile(r"\b(today|tonight|this (morning|afternoon|evening))\b", re.I), (0, 0)),
    (re.compile(r"\b(yesterday|last night)\b", re.I), (1, 1)),
    (re.compile(r"\b(this|past|last) (week|seven days)\b|\blast few days\b", re.I), (6, 0)),
)
# Words of such a question that name no topic either ("What's the news today?").
_DAY_QUESTION_WORDS = frozenset({"news", "headline", "stori", "story", "event", "go", "top", "big", "main", "major",
                                 "import", "important", "happen", "on", "world"})
# A relative time in a sentence: true as of its article's day, not the reader's.
_RELATIVE_TIME = re.compile(
    r"\b(today|tonight|tomorrow|yesterday|this (morning|afternoon|evening|week|weekend|month|year)|"
    r"last (night|week|weekend|month|year)|next (week|weekend|month|year)|earlier this \w+)\b", re.I)
# An article published more than this many days before the as-of day has its date said beside a sentence
# of it that uses a relative time ("… resigned yesterday (published 2023-05-02) [1]."). Fixed by design.
STALE_DAYS = 2


def asked_days(question: str) -> tuple[int, int] | None:
    """For a question that asks only about a day ("What happened today?", "What happened yesterday?",
    "Any news this week?"): the days it covers, counted back from the as-of day (first, last); None for
    any other question (one naming a topic finds that day's articles by their freshness)."""
    ask = question_ask(question)
    if ask.names or ask.terms - _DAY_QUESTION_WORDS:
        return None
    for pattern, days in _DAYS_ASKED:
        if pattern.search(question):
            return days
    return None


# A question for the newest state of things: "the latest toll", "the price now", "so far", "most recent".
_LATEST = re.compile(r"\b(latest|most recent|newest|current|currently|now|so far|to date|as of today|up to date)\b",
                     re.I)


def topic_day(question: str) -> tuple[int, int] | None:
    """For a question about a topic on a day ("What happened in Kessel yesterday?", "… today?"): that day,
    counted back from the as-of day as in :func:`asked_days`; None otherwise (a week, a month, a year
    named in a question is when things happened, not when they were reported: "last year's most popular
    name" is news of this year)."""
    if asked_days(question) is not None:
        return None
    # In lower case only: "the “Today” anchor" names a show, not a day.
    for pattern, days in _DAYS_ASKED[:2]:  # today, yesterday
        if (found := pattern.search(question)) and found.group(0).islower():
            return days
    return None


def asks_latest(question: str) -> bool:
    """Whether ``question`` asks for the newest state of things ("What is the latest death toll?")."""
    return bool(_LATEST.search(question))


def latest_filters(filters: Filters | None, newest: str) -> Filters:
    """``filters`` read as of the newest article when the index ends before their as-of day: "the latest"
    in an archive that ends in July is July's news, and freshness counts from there."""
    filters = filters or Filters()
    day = parse_day(newest)
    if day is None or filters.as_of or day >= filters.as_of_day:
        return filters
    return Filters(filters.outlets, filters.date_from, filters.date_to, day.isoformat())


def day_filters(filters: Filters | None, days: tuple[int, int]) -> Filters | None:
    """``filters`` narrowed to the days ``asked_days`` found, counted back from their as-of day; None when
    those days lie outside the filters' dates ("yesterday" under ``--since`` today): none may answer."""
    filters = filters or Filters()
    as_of = filters.as_of_day
    first, last = as_of - dt.timedelta(days=days[0]), as_of - dt.timedelta(days=days[1])
    if filters.date_from:
        first = max(first, dt.date.fromisoformat(filters.date_from))
    if filters.date_to:
        last = min(last, dt.date.fromisoformat(filters.date_to))
    if first > last:
        return None
    return Filters(filters.outlets, first.isoformat(), last.isoformat(), as_of.isoformat())


def days_outside_note(filters: Filters, days: tuple[int, int]) -> str:
    """Why a question about a day is refused under date filters that leave none of its days."""
    as_of = filters.as_of_day
    first, last = as_of - dt.timedelta(days=days[0]), as_of - dt.timedelta(days=days[1])
    asked = first.isoformat() if first == last else f"{first.isoformat()} to {last.isoformat()}"
    return (f"The question asks about {asked}, outside the filters (articles {filters.describe()}): widen or "
            "drop the filters.")


def dated(answer: Answer, as_of: dt.date) -> Answer:
    """``answer`` with the article's date beside each sentence that carries a relative time ("yesterday",
    "this week") and cites an article published more than ``STALE_DAYS`` before ``as_of``, or after it:
    "yesterday" in a 2023 article (or in one dated after the day the news is read as of) is not the
    reader's yesterday. (Weekdays are left alone: "on Monday" names a day
    the reader can place, and most news sentences carry one.)"""
    if answer.refused:
        return answer
    days = {c.n: parse_day(c.published) for c in answer.citations}
    pieces = []
    last = 0
    for s, e in split_sentences(answer.text):
        sentence = answer.text[s:e]
        if not _RELATIVE_TIME.search(_MARKER.sub("", sentence)):
            continue
        group = re.search(r"(?:\[\d+\])+", sentence)
        if not group:
            continue
        old = sorted({d for n in map(int, re.findall(r"\d+", group.group(0)))
                      if (d := days.get(n)) is not None and ((as_of - d).days > STALE_DAYS or d > as_of)})
        if not old:
            continue
        at = s + group.start()
        pieces.append(answer.text[last:at] + f"(published {', '.join(d.isoformat() for d in old)}) ")
        last = at
    if pieces:
        answer.text = "".join(pieces) + answer.text[last:]
    return answer
