"""Cleaning scraped article text and cutting it into chunks that fit the embedder's window.

``clean_article`` drops table-of-contents blocks and boilerplate lines and finds section headings;
``chunk_article`` packs whole sentences (paragraph-aware) into chunks of at most ``max_tokens``
word pieces, with sentence overlap, stable ids, section headings and character offsets.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import replace

from retrieval.settings import Settings
from retrieval.text import line_sentences, paragraphs, printable
from retrieval.types import Article, Chunk

TokenCounter = Callable[[Sequence[str]], list[int]]

_TOC_HEAD = re.compile(r"^\s*(table of contents|contents|in this article|jump to)\s*:?\s*$", re.I)
_LIST_ITEM = re.compile(r"^\s*(?:[-*•·]|\d+[.)])\s+(.*\S)\s*$")
_BOILERPLATE = re.compile(
    r"^\s*(advertisement|advertisement\s*-\s*scroll to continue|sponsored( content)?|skip to (main )?content|"
    r"(sign up|subscribe)( now)?( for| to) .{0,60}(newsletter|updates|alerts).*|subscribe( now)?|"
    r"share (this|on) .{0,40}|(click|tap) here.{0,60}|read more:?.{0,80}|related( articles| stories)?:?.{0,80}|"
    r"follow us on .{0,60}|all rights reserved.{0,80}|©.{0,80}|copyright \d{4}.{0,80}|"
    r"(facebook|twitter|linkedin|whatsapp|email|print)( \| (facebook|twitter|linkedin|whatsapp|email|print))*|"
    r"loading\.\.\.|image (source|credit):.{0,80}|getty images|ap photo.{0,60})\s*$",
    re.I,
)
_HEADING_END = re.compile(r"[.!?,;:\"”]$")


def normalise(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ").replace("\t", " ")
    text = printable(re.sub(r"[\x0b\x0c\x1c-\x1f\x85\u2028\u2029]", "\n", text))  # page, record and line
    # separators (pdftotext puts \x0c at every page) part words: kept as line breaks, not dropped
    text = re.sub(r"[ \u2000-\u200b]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def _is_heading(line: str, known: set[str], next_line: str) -> bool:
    stripped = line.strip()
    if stripped.lower() in known:
        return True
    if stripped.startswith("#"):
        return True
    words = stripped.split()
    if not 1 <= len(words) <= 14 or _HEADING_END.search(stripped) or not stripped[0].isupper():
        return False
    # A short unpunctuated line followed by a longer paragraph reads as a heading.
    return len(next_line.split()) > len(words) * 2


def clean_text(text: str, title: str = "") -> tuple[str, list[tuple[int, int, str]]]:
    """Cleaned article text and its headings as (start, end, heading) spans of that text."""
    lines = normalise(text).split("\n")
    kept: list[str] = []
    toc: set[str] = set()
    seen_short: set[str] = set()
    i = 0
    while i < len(lines):
        line = lines[i]
        if _TOC_HEAD.match(line):
            j = i + 1
            while j < len(lines) and (_LIST_ITEM.match(lines[j]) or not lines[j].strip()):
                item = _LIST_ITEM.match(lines[j])
                if item:
                    toc.add(item.group(1).strip().lower())
                j += 1
            if j > i + 1:
                i = j
                continue
        stripped = line.strip()
        if stripped and _BOILERPLATE.match(stripped):
            i += 1
            continue
        key = stripped.lower()
        if stripped and len(stripped) < 120 and key in seen_short and key not in toc:
            i += 1  # a short line repeated verbatim (share bars, bylines, "Advertisement" variants)
            continue
        if stripped:
            seen_short.add(key)
        kept.append(line)
        i += 1

    # Headings: the title line, table-of-contents entries, markdown headings, short lead-in lines.
    known = toc | ({title.strip().lower()} if title.strip() else set())
    out: list[str] = []
    headings: list[tuple[int, int, str]] = []
    offset = 0
    nonblank = [ln for ln in kept]
    for idx, line in enumerate(nonblank):
        following = next((ln for ln in nonblank[idx + 1:] if ln.strip()), "")
        if line.strip() and _is_heading(line, known, following):
            heading = line.strip().lstrip("#").strip()
            headings.append((offset, offset + len(line), heading))
        out.append(line)
        offset += len(line) + 1
    if len(headings) == sum(1 for line in out if line.strip()):
        # Every line reads as a heading (a one-line article whose first line became its title): the
        # text is its own body, not headings over nothing, or it would leave no chunk to search.
        headings = []
    return "\n".join(out), headings


Headings = list[tuple[int, int, str]]


def clean_article(article: Article) -> tuple[Article, Headings]:
    """The article with cleaned text, and the headings found (spans of the cleaned text)."""
    cleaned, headings = clean_text(article.text, article.title)
    return replace(
        article, text=cleaned, title=_field(article.title), outlet=_field(article.outlet),
        authors=tuple(a for a in map(_field, article.authors) if a),
    ), headings


# In a name, also the marks that only steer bidi or joining (in article text they can be needed).
_NAME_INVISIBLE = re.compile(r"[\u00ad\u061c\u200c-\u200f\u2060-\u2064]")


def _field(value: str) -> str:
    """A title, outlet or author on one line, nothing invisible in it (two outlets that look alike are one)."""
    return " ".join(_NAME_INVISIBLE.sub("", printable(value)).split())


def approx_tokens(texts: Sequence[str]) -> list[int]:
    """A word-piece estimate for when no tokenizer is at hand (≈1.35 pieces per word)."""
    return [int(len(t.split()) * 1.35) + t.count(",") + 1 for t in texts]


def chunk_id(article_id: str, ordinal: int) -> str:
    return f"{hashlib.sha1(article_id.encode()).hexdigest()[:16]}-{ordinal:04d}"


def _fit_spans(
    text: str, s: int, e: int, count_tokens: TokenCounter, max_tokens: int
) -> list[tuple[int, int, int]]:
    """``text[s:e]`` cut into runs of whole words of at most ``max_tokens`` pieces: (start, end, pieces).

    Words are packed by their own piece counts (an average per word under-cuts a run of dense
    words, e.g. numbers or codes); a run still over the window (a long URL, CJK text without
    spaces) is halved, at a space where there is one, until it fits.
    """
    words = [(s + m.start(), s + m.end()) for m in re.finditer(r"\S+", text[s:e])]
    runs: list[tuple[int, int]] = []
    total = 0
    for (a, b), n in zip(words, count_tokens([text[a:b] for a, b in words]), strict=True):
        if runs and total and total + n <= max_tokens:
            runs[-1] = (runs[-1][0], b)
            total += n
        else:
            runs.append((a, b))
            total = n if n <= max_tokens else 0  # an oversized word gets a run of its own
    out: list[tuple[int, int, int]] = []
    todo = list(zip(runs, count_tokens([text[a:b] for a, b in runs]), strict=True))
    while todo:
        (a, b), n = todo.pop(0)
        if n <= max_tokens or b - a < 2:
            out.append((a, b, n))
            continue
        mid = (a + b) // 2
        space = text.rfind(" ", a + 1, mid + 1)
        cut = space if space > a else mid
        left = (a, a + len(text[a:cut].rstrip()))
        right = (b - len(text[cut:b].lstrip()), b)
        halves = [left, right]
        todo[:0] = list(zip(halves, count_tokens([text[x:y] for x, y in halves]), strict=True))
    return out


def chunk_article(
    article: Article,
    headings: Headings | None = None,
    count_tokens: TokenCounter = approx_tokens,
    max_tokens: int = Settings.model_fields["chunk_tokens"].default,  # one default: the settings'
    overlap_sentences: int = Settings.model_fields["chunk_overlap_sentences"].default,
) -> list[Chunk]:
    """Chunks of the (already cleaned) article text; offsets index into ``article.text``.

    ``headings`` come from ``clean_article``; without them they are guessed from the text alone.
    """
    text = article.text
    if headings is None:
        _, headings = clean_text(text, article.title) if text else ("", [])
    heading_spans = {(s, e) for s, e, _ in headings}
    heading_trimmed = {  # the heading lines as paragraphs() reports them: without surrounding spaces
        (s + len(text[s:e]) - len(text[s:e].lstrip()), s + len(text[s:e].rstrip())): name for s, e, name in headings
    }

    # Units: (start, end, section, paragraph_start) for every sentence of every body paragraph.
    units: list[tuple[int, int, str, bool]] = []
    section = ""
    # Paragraphs: lines, but the lines of a hard-wrapped paragraph joined (retrieval.text).
    for start, end in paragraphs(text, keep=heading_spans):
        if (start, end) in heading_trimmed:
            section = heading_trimmed[start, end]
            continue
        for k, (s, e) in enumerate(line_sentences(text[start:end], start)):
            units.append((s, e, section, k == 0))
    if not units:
        return []

    counts = count_tokens([text[s:e] for s, e, _, _ in units])
    # Split any sentence longer than the window into word runs that fit.
    pieces: list[tuple[int, int, str, bool, int]] = []
    for (s, e, sec, para), n in zip(units, counts, strict=True):
        if n <= max_tokens:
            pieces.append((s, e, sec, para, n))
            continue
        for w, (ps, pe, m) in enumerate(_fit_spans(text, s, e, count_tokens, max_tokens)):
            pieces.append((ps, pe, sec, para and w == 0, m))

    chunks: list[Chunk] = []
    current: list[tuple[int, int, str, bool, int]] = []

    def flush() -> None:
        if not current:
            return
        s, e = current[0][0], current[-1][1]
        chunks.append(
            Chunk(
                id=chunk_id(article.id, len(chunks)),
                article_id=article.id,
                ord=len(chunks),
                text=text[s:e],
                start=s,
                end=e,
                section=current[0][2],
            )
        )

    total = 0
    for piece in pieces:
        new_section = current and piece[2] != current[-1][2]
        fits = total + piece[4] <= max_tokens
        # Close a chunk at a section change, when full, or at a paragraph start once mostly full.
        if current and (new_section or not fits or (piece[3] and total >= max_tokens * 0.75)):
            flush()
            carry = [] if new_section else current[-overlap_sentences:] if overlap_sentences else []
            carry = [c for c in carry if c[4] + piece[4] <= max_tokens * 0.5]
            current = list(carry)
            total = sum(c[4] for c in current)
        current.append(piece)
        total += piece[4]
    flush()
    return chunks
