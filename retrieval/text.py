"""Text helpers: sentence splitting shared by chunking (ingest) and citation verification (answers),
and the keyword tokenizer (terms without stop words) shared by BM25 queries, dedup and answers.

Text arrives as one paragraph a line (scraped pages), hard-wrapped at a fixed width (plain-text
files, e-mails), or as lists and headings. :func:`paragraphs` joins the lines of a hard-wrapped
paragraph back into one; :func:`split_sentences` splits paragraphs into sentences. Spans are
offsets into the text as given (a sentence of a wrapped paragraph may contain line breaks:
:func:`flat` shows it as one line).
"""

from __future__ import annotations

import re
from collections.abc import Collection

_SENTENCE_END = re.compile(r"(?<=[.!?])[\"”’)\]]*\s+(?=[\"“‘(\[]?[A-Z0-9])")
_ABBREVIATION = re.compile(
    r"(?:\b(?:Dr|Mr|Mrs|Ms|Mx|Prof|St|Sr|Jr|Gov|Sen|Rep|Gen|Col|Lt|Sgt|Capt|Cmdr|Adm|Pres|Rev|Hon|Inc|Ltd|Co|Corp|"
    r"No|Nos|vs|etc|Jan|Feb|Mar|Apr|Aug|Sept|Sep|Oct|Nov|Dec|U\.S|U\.K|U\.N|E\.U|a\.m|p\.m)|\b[A-Z])\.$"
)
# A line that ends a sentence: final punctuation, maybe inside closing quotes or brackets.
_ENDS_SENTENCE = re.compile(r"[.!?…][\"”’)\]*_]*\s*$")
# A list item or a markdown heading starts its own unit, whatever the line before it.
_OWN_LINE = re.compile(r"^\s*(?:[-*•·–—]\s+|\d{1,3}[.)]\s+|[a-z][.)]\s+|#{1,6}\s|>\s*|\|)")
# A line that carries on the sentence of the line before: it starts in lower case or with
# punctuation that cannot open a sentence.
_CONTINUES = re.compile(r"^\s*[a-z,;:)\]%–—-]")
# Hard-wrapped text: no line is longer than this, and its wrapped lines fill most of the width.
_MAX_WRAP_WIDTH = 120
_MIN_WRAP_WIDTH = 40
_FILL = 0.6


def line_sentences(line: str, base: int = 0) -> list[tuple[int, int]]:
    """(start, end) spans of the sentences of one line (or one paragraph), shifted by ``base``.

    A period after a title or initial ("Dr. Reed", "U.S. officials") does not end a sentence.
    """
    spans = []
    start = 0
    for match in _SENTENCE_END.finditer(line):
        end = match.start() + len(match.group(0).rstrip())
        if _ABBREVIATION.search(line[max(start, end - 6):match.start()]):
            continue
        if line[start:end].strip():
            spans.append((base + start, base + end))
        start = match.end()
    if line[start:].strip():
        spans.append((base + start, base + len(line.rstrip())))
    return spans


def _lines(text: str) -> list[tuple[int, int]]:
    """(start, end) of every line of ``text``, blank ones included (end excludes the line break)."""
    spans = []
    start = 0
    for line in text.split("\n"):
        spans.append((start, start + len(line)))
        start += len(line) + 1
    return spans


def paragraphs(text: str, keep: Collection[tuple[int, int]] = ()) -> list[tuple[int, int]]:
    """(start, end) spans of the non-blank paragraphs of ``text``, one a line unless a line was
    hard-wrapped: a line break then joins two lines of one sentence.

    A line break joins when the line before it does not end a sentence and the next line is not
    a list item or heading, and either the next line carries on in lower case (or with a comma,
    a closing bracket …), or the text is hard-wrapped (no line over 120 characters, at least two
    unpunctuated line ends that fill most of the width) and the line fills most of that width. A
    short line without final punctuation followed by a capital ("Key findings" / "The council
    said …") stays a heading. Lines whose spans are in ``keep`` (known headings) are never joined.
    """
    lines = [(s, e) for s, e in _lines(text)]
    body = [(s, e) for s, e in lines if text[s:e].strip()]
    if not body:
        return []
    width = max(len(text[s:e].rstrip()) for s, e in body)
    open_ends = sum(
        1 for s, e in body
        if not _ENDS_SENTENCE.search(text[s:e]) and len(text[s:e].rstrip()) >= _FILL * width
    )
    wrapped = _MIN_WRAP_WIDTH <= width <= _MAX_WRAP_WIDTH and open_ends >= 2

    out: list[tuple[int, int]] = []
    current: tuple[int, int] | None = None
    previous: tuple[int, int] | None = None  # the line before, when it was not blank
    for s, e in lines:
        line = text[s:e]
        if not line.strip():
            if current is not None:
                out.append(current)
            current = previous = None
            continue
        if current is not None and previous is not None and _joins(text, previous, (s, e), width, wrapped, keep):
            current = (current[0], e)
        else:
            if current is not None:
                out.append(current)
            current = (s, e)
        previous = (s, e)
    if current is not None:
        out.append(current)
    # Trim surrounding spaces so that spans start and end on text.
    trimmed = []
    for s, e in out:
        chunk = text[s:e]
        lead = len(chunk) - len(chunk.lstrip())
        trimmed.append((s + lead, s + len(chunk.rstrip())))
    return trimmed


def _joins(text: str, before: tuple[int, int], after: tuple[int, int], width: int, wrapped: bool,
           keep: Collection[tuple[int, int]]) -> bool:
    prev, line = text[before[0]:before[1]], text[after[0]:after[1]]
    if before in keep or after in keep:
        return False
    if _ENDS_SENTENCE.search(prev) or _OWN_LINE.match(line) or prev.lstrip().startswith("#"):
        return False
    if _CONTINUES.match(line):
        return True
    # An indented line under a list item continues the item.
    if _OWN_LINE.match(prev) and line[:1].isspace():
        return True
    return wrapped and len(prev.rstrip()) >= _FILL * width


def split_sentences(text: str, keep: Collection[tuple[int, int]] = ()) -> list[tuple[int, int]]:
    """(start, end) spans of the sentences of ``text``: every paragraph break and list item ends a
    sentence; a line break inside a hard-wrapped sentence does not (see :func:`paragraphs`). A quotation
    of several sentences stays whole with the sentence that opens it (see :func:`_within_quotes`)."""
    spans: list[tuple[int, int]] = []
    for s, e in paragraphs(text, keep):
        spans.extend(_within_quotes(text, line_sentences(text[s:e], s)))
    return spans


# A quotation joined into one sentence is at most this long; a longer one (or one that never closes in
# its paragraph, as a quote running on into the next paragraph does) keeps its sentences apart.
MAX_QUOTED = 500


_STRAIGHT_QUOTE = re.compile(r'(?<!\d)"')  # not an inch mark ("a 65" screen")


def _open_quote(text: str) -> bool:
    """Whether ``text`` leaves a quotation open: more “ than ”, or an odd number of straight quotes."""
    return text.count("“") > text.count("”") or len(_STRAIGHT_QUOTE.findall(text)) % 2 == 1


def _within_quotes(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """``spans`` (the sentences of one paragraph) with the sentences of one quotation joined:
    ``He said: “We will stay. Any suggestion otherwise is untrue.”`` is one sentence, so that a quote is
    never shown opened and not closed, or closed and never opened."""
    joined: list[tuple[int, int]] = []
    i = 0
    while i < len(spans):
        start, end = spans[i]
        j = i
        while _open_quote(text[start:spans[j][1]]) and j + 1 < len(spans) and spans[j + 1][1] - start <= MAX_QUOTED:
            j += 1
        if j > i and not _open_quote(text[start:spans[j][1]]):
            end = spans[j][1]
            i = j
        joined.append((start, end))
        i += 1
    return joined


# Characters that act on the display rather than show: C0 and C1 controls but the line break and tab
# (ESC starts terminal escape sequences; BEL, backspace, CR and DEL overwrite what is shown), bidi
# embeddings, overrides and isolates (U+202E shows "emit yna ta" as "at any time", makes "Reuters"
# of another outlet name), the zero-width space and the stray byte-order mark.
_INVISIBLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b\u202a-\u202e\u2066-\u2069\ufeff]")


def printable(text: str) -> str:
    """``text`` without characters that would act on a terminal or page instead of showing (an article's
    text, title or outlet is untrusted); line breaks, tabs and everything visible are kept."""
    return _INVISIBLE.sub("", text)


def flat(text: str) -> str:
    """``text`` on one line: line breaks and runs of spaces become one space."""
    return " ".join(text.split())


# --- keyword terms ---------------------------------------------------------------------------------

_WORD = re.compile(r"[\w][\w'’.-]*[\w]|[\w]", re.UNICODE)
# Very common English words: they only add noise to an OR-ed BM25 query.
STOPWORDS = frozenset(
    [
        "a", "about", "above", "according", "after", "again", "against", "all", "am", "an", "and", "any", "are",
        "article", "articles", "as", "at", "be", "because", "been", "before", "being", "below", "between", "both",
        "but", "by", "can", "could", "did", "do", "does", "doing", "down", "during", "each", "few", "for", "from",
        "further", "had", "has", "have", "having", "he", "her", "here", "hers", "herself", "him", "himself", "his",
        "how", "i", "if", "in", "into", "is", "it", "its", "itself", "just", "me", "more", "most", "my", "myself",
        "news", "no", "nor", "not", "now", "of", "off", "on", "once", "only", "or", "other", "our", "ours",
        "ourselves", "out", "over", "own", "reportedly", "said", "same", "say", "says", "she", "should", "so",
        "some", "such", "than", "that", "the", "their", "theirs", "them", "themselves", "then", "there", "these",
        "they", "this", "those", "through", "to", "too", "under", "until", "up", "very", "was", "we", "week",
        "weeks", "were", "what", "what's", "when", "where", "which", "while", "who", "who's", "whom", "why",
        "will", "with", "would", "year", "years", "you", "your", "yours", "yourself", "yourselves",
    ]
)


def keyword_terms(text: str) -> list[str]:
    """The distinct, non-stopword terms of ``text`` in order of appearance (lower-cased)."""
    seen: dict[str, None] = {}
    for match in _WORD.finditer(text.lower()):
        word = match.group(0).strip(".'’-")
        if word and word not in STOPWORDS and word not in seen:
            seen[word] = None
    return list(seen)


# A follow-up no model rewrote is searched and answered as itself plus what it follows up on ("Why? (following
# up on: Why did the mayor resign?)"); who it asks about is read from the follow-up alone (``bare_followup``).
FOLLOWING_UP = " (following up on: {subject})"
_FOLLOWING = re.compile(r"\s*" + re.escape(FOLLOWING_UP.split("{", 1)[0].strip()) + r".*$", re.S)


def following_up(question: str, subject: str) -> str:
    """``question`` followed by the ``subject`` it follows up on (``FOLLOWING_UP``)."""
    return question + FOLLOWING_UP.format(subject=subject)


def bare_followup(question: str) -> str:
    """``question`` without what it follows up on (:func:`following_up`), stripped."""
    return _FOLLOWING.sub("", question).strip()


def shorten(text: str, limit: int) -> str:
    """``text`` on one line, cut at a word before ``limit`` characters, with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return (text[: limit - 1].rsplit(" ", 1)[0] or text[: limit - 1]).rstrip(" ,;:?") + "…"
