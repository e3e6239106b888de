"""Near-duplicate passages: syndicated copies and restatements that would crowd out other evidence.

Close is not the same: a wire story's update ("recalling 180,000 vehicles" where the first version
said 120,000), a correction, the next month's decision of the same central bank, or a denial of what
another copy asserted read almost alike. :func:`conflicting` finds the small edits that change a fact
(a number, a date, a weekday or month, a negation) between otherwise aligned passages; such a pair is
never collapsed, so both versions reach the reader with their dates.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Set

from retrieval.text import keyword_terms

VERBATIM_COSINE = 0.97  # above this two passages are copies whatever their wording
# A near-copy is cited as the original of a story only when its passage holds this share of the best-ranked
# copy's words (restatements of one story collapse from a word-set Jaccard of 0.18, and an outlet's own cut
# of the text can stop before the sentence that answered: at Jaccard >= 0.5 the answer left the shown
# passage in 4 of 19 swaps on RealTime QA) and came out at most this many days before it (looser groups
# offered "originals" written 1-3 years earlier; docs/results.md, session 15).
ORIGINAL_COVER = 0.95
ORIGINAL_DAYS = 7


def word_set(text: str) -> frozenset[str]:
    return frozenset(keyword_terms(text))


def jaccard(a: Set[str], b: Set[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


Words = Set[str] | Callable[[], Set[str]]


def is_near_duplicate(cosine: float, words_a: Words, words_b: Words, threshold: float) -> bool:
    """Same content: very close in meaning *and* sharing vocabulary, or practically identical.

    The word sets may be given as functions that make them: they are only called when the cosine
    leaves the question open (search collapses ~100 candidates per query, and a word set costs more
    than the cosine).

    Measured on the bundled article's two paraphrased interviews: matching answers have cosine
    0.85–0.93 with word-set Jaccard 0.19–0.45, while merely on-topic passages of the same article
    reach cosine 0.8–0.9 with Jaccard mostly under 0.17.
    """
    if cosine >= VERBATIM_COSINE:
        return True
    if cosine < threshold:
        return False
    a = words_a() if callable(words_a) else words_a
    b = words_b() if callable(words_b) else words_b
    return jaccard(a, b) >= 0.18


# Words whose change between two aligned passages changes the fact they state.
_NEGATION = frozenset({"not", "n't", "never", "no", "none", "nobody", "nothing", "neither", "nor", "without",
                       "cannot", "denied", "denies", "deny"})
_TIME_WORDS = frozenset({
    "january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
    "november", "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
    "today", "yesterday", "tomorrow", "tonight",
})
_NUMBER_WORDS = frozenset({
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "dozen",
    "dozens", "hundred", "hundreds", "thousand", "thousands", "million", "millions", "billion", "billions",
    "first", "second", "third", "half", "twice", "double", "triple",
})
_TOKEN = re.compile(r"\d[\d,.:]*\d|\d|n't|\w+", re.UNICODE)
# An edit longer than this (in tokens, on either side) is a different sentence, not a changed fact: chunk
# boundaries of copies cut differently give long inserts and deletes at the edges.
_SMALL_EDIT = 4


def _tokens(text: str) -> list[str]:
    return [t.lower() for t in _TOKEN.findall(text.replace("’", "'"))]


def _factual(token: str) -> bool:
    return token[0].isdigit() or token in _TIME_WORDS or token in _NUMBER_WORDS or token in _NEGATION


def conflicting(text_a: str, text_b: str) -> bool:
    """Whether two near-identical passages state different facts: aligned word by word, a small edit
    inside otherwise equal text replaces a number or a date word ("3 killed" / "5 killed", "in March" /
    "in June") or adds or drops a negation ("will run" / "will not run"). Long differing stretches
    (another sentence, a chunk cut elsewhere, a dateline) and added details ("on Tuesday") are not
    counted: copies differ that way."""
    a, b = _tokens(text_a), _tokens(text_b)
    if a == b:
        return False
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal" or i2 - i1 > _SMALL_EDIT or j2 - j1 > _SMALL_EDIT:
            continue
        # An edit at the very start or end of either passage is where copies were cut differently.
        if i1 == 0 or j1 == 0 or i2 == len(a) or j2 == len(b):
            continue
        if op == "replace":  # a figure, a date word or a negation became another
            if any(_factual(t) for t in (*a[i1:i2], *b[j1:j2])):
                return True
        elif any(t in _NEGATION for t in (*a[i1:i2], *b[j1:j2])):  # a negation added or dropped
            return True  # (an added detail — "on Tuesday", "about" — is no contradiction)
    return False
