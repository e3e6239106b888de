"""Typed records that cross layer boundaries: articles, chunks, passages, citations, answers."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


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
    dup_of: str = ""  # id of an earlier chunk of the same article it nearly repeats, "" if none


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
    duplicates: list[str] = field(default_factory=list)  # article ids whose near-copies were collapsed


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
    supported: bool = True
    support: float = 0.0  # support score of the sentences citing it (0..1)


@dataclass
class Answer:
    """What the app and the CLI render: the answer text, its verified citations and timings."""

    text: str
    citations: list[Citation] = field(default_factory=list)
    refused: bool = False
    passages: list[Passage] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)  # answer sentences no cited passage supports
    question: str = ""  # the standalone (rewritten) question that was searched
    timings: dict[str, float] = field(default_factory=dict)  # seconds per step

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` shape promised in DESIGN.md (plus a few extra keys)."""
        return {
            "answer": self.text,
            "refused": self.refused,
            "citations": [asdict(c) for c in self.citations],
            "unsupported": self.unsupported,
            "question": self.question,
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
        }
