"""Typed records that cross layer boundaries: articles, chunks, passages, citations, answers."""

from __future__ import annotations

import urllib.parse
from dataclasses import asdict, dataclass, field
from typing import Any

from retrieval.text import shorten


@dataclass(frozen=True)
class Article:
    """One news article, as loaded from any source. ``id`` is stable across re-ingests."""

    id: str
    title: str
    text: str
    url: str = ""
    published: str = ""  # ISO 8601 date or datetime, "" when unknown
    outlet: str = ""
    authors: tuple[str, ...] = ()
    source: str = ""  # where it was loaded from (path, URL, path#line)


@dataclass(frozen=True)
class Chunk:
    """A searchable span of an article. ``start``/``end`` are character offsets into ``Article.text``."""

    id: str
    article_id: str
    ord: int
    text: str
    start: int
    end: int
    section: str = ""


@dataclass(frozen=True)
class Copy:
    """Another article carrying the same passage (a syndicated copy collapsed into it): who else ran it."""

    article_id: str
    outlet: str = ""
    title: str = ""
    url: str = ""
    published: str = ""

    @property
    def label(self) -> str:
        """How the copy is named to a reader, on the page and in the terminal alike: its outlet, else
        its site ("apnews.com"), else its title, else "another article"."""
        site = (urllib.parse.urlsplit(self.url).hostname or "") if self.url else ""
        return (shorten(self.outlet, 80) or site.removeprefix("www.") or shorten(self.title, 60)
                or "another article")

    @classmethod
    def of(cls, passage: Passage) -> Copy:
        return cls(passage.article_id, passage.outlet, passage.title, passage.url, passage.published)

    @classmethod
    def from_json(cls, value: Any) -> Copy:
        """From ``asdict`` (a saved conversation) or a Copy."""
        if isinstance(value, Copy):
            return value
        data = value if isinstance(value, dict) else {}
        return cls(**{k: str(data.get(k) or "") for k in ("article_id", "outlet", "title", "url", "published")})


def _copies(values: Any) -> list[Copy]:
    return [Copy.from_json(v) for v in values or ()]


@dataclass
class Passage:
    """A retrieved chunk with its article's metadata and the scores that ranked it."""

    chunk_id: str
    article_id: str
    text: str
    start: int
    end: int
    title: str = ""
    url: str = ""
    published: str = ""
    outlet: str = ""
    section: str = ""
    score: float = 0.0  # fused score (higher is better)
    similarity: float = 0.0  # cosine similarity to the question
    dense_rank: int | None = None
    keyword_rank: int | None = None
    copies: list[Copy] = field(default_factory=list)  # articles whose near-copies were collapsed into it

    def __post_init__(self) -> None:
        self.copies = _copies(self.copies)

    @property
    def duplicates(self) -> list[str]:
        """The ids of the articles whose near-copies were collapsed into this passage."""
        return [c.article_id for c in self.copies]


@dataclass
class Citation:
    """One ``[n]`` marker of an answer, resolved to the exact quoted span of an article."""

    n: int
    article_id: str
    title: str
    url: str
    published: str
    outlet: str
    quote: str
    start: int  # character offsets of ``quote`` in the article text
    end: int
    support: float = 0.0  # support score of the sentences citing it (0..1)
    copies: list[Copy] = field(default_factory=list)  # other articles carrying the same passage

    def __post_init__(self) -> None:
        self.copies = _copies(self.copies)


class Unsupported(str):
    """An answer sentence no cited passage supports, with the reason in a few words ("the passage
    says 19:40"). It *is* the sentence (a ``str``), so code that lists sentences keeps working."""

    reason: str

    def __new__(cls, sentence: str, reason: str = "") -> Unsupported:
        obj = super().__new__(cls, sentence)
        obj.reason = reason or getattr(sentence, "reason", "")
        return obj

    @property
    def sentence(self) -> str:
        return str(self)

    def to_json(self) -> dict[str, str]:
        return {"sentence": str(self), "reason": self.reason}

    @classmethod
    def from_json(cls, value: Any) -> Unsupported:
        """From :meth:`to_json` or a plain sentence (records saved before reasons existed)."""
        if isinstance(value, Unsupported):
            return value
        if isinstance(value, dict):
            return cls(str(value.get("sentence", "")), str(value.get("reason", "")))
        return cls(str(value))


@dataclass
class Answer:
    """What the app and the CLI render: the answer text, its verified citations and timings."""

    text: str
    citations: list[Citation] = field(default_factory=list)
    refused: bool = False
    passages: list[Passage] = field(default_factory=list)
    # answer sentences no cited passage supports, each with its reason (plain strings are converted)
    unsupported: list[Unsupported] = field(default_factory=list)
    question: str = ""  # the standalone (rewritten) question that was searched
    timings: dict[str, float] = field(default_factory=dict)  # seconds per step
    note: str = ""  # said about the answer as a whole (e.g. the model's answer replaced by extraction)

    def __post_init__(self) -> None:
        self.unsupported = [Unsupported.from_json(u) for u in self.unsupported]

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` shape promised in DESIGN.md (plus a few extra keys)."""
        return {
            "answer": self.text,
            "refused": self.refused,
            # Citations are made for supported sentences only (the others are listed under
            # "unsupported"): "supported" is always true, kept because DESIGN.md's shape has it.
            "citations": [asdict(c) | {"supported": True} for c in self.citations],
            "unsupported": [u.to_json() for u in self.unsupported],
            "question": self.question,
            "note": self.note,
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
        }
