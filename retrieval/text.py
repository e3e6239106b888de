"""Sentence splitting shared by chunking (ingest) and citation verification (answers)."""

from __future__ import annotations

import re

_SENTENCE_END = re.compile(r"(?<=[.!?])[\"”’)\]]*\s+(?=[\"“‘(\[]?[A-Z0-9])")
_ABBREVIATION = re.compile(
    r"(?:\b(?:Dr|Mr|Mrs|Ms|Mx|Prof|St|Sr|Jr|Gov|Sen|Rep|Gen|Col|Lt|Sgt|Capt|Cmdr|Adm|Pres|Rev|Hon|Inc|Ltd|Co|Corp|"
    r"No|Nos|vs|etc|Jan|Feb|Mar|Apr|Aug|Sept|Sep|Oct|Nov|Dec|U\.S|U\.K|U\.N|E\.U|a\.m|p\.m)|\b[A-Z])\.$"
)


def line_sentences(line: str, base: int = 0) -> list[tuple[int, int]]:
    """(start, end) spans of the sentences of one line, shifted by ``base``.

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


def split_sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) spans of the sentences of ``text``; a line break always ends a sentence."""
    spans: list[tuple[int, int]] = []
    for line in re.finditer(r"[^\n]+", text):
        spans.extend(line_sentences(line.group(0), line.start()))
    return spans
