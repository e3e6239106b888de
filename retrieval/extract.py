"""The extractive answer: the passages' own sentences that best answer a question, scored
(:func:`score_sentences`) and chosen (:func:`choose_sentences`), and the day's first sentences for a
question about a day (:func:`digest`). ``Assistant`` supplies what it caches (sentence vectors, spaCy's
entities, who speaks) and calls these."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np

from retrieval.claims import cite as _cite
from retrieval.claims import is_instruction
from retrieval.dedup import conflicting
from retrieval.evidence import KIND_LABELS, Ask, answer_shape, coverage, offers_answer, stem, term_stems, unmarked
from retrieval.search import parse_day
from retrieval.settings import Settings
from retrieval.text import flat, keyword_terms, split_sentences
from retrieval.types import Passage

# Sentences of an extractive answer at most (fixed by design: a short answer, each sentence cited). The
# tuned weights of the scores are settings: ``extract_term_weight``, ``extract_answer_weight``,
# ``extract_rank_weight``, ``extract_relation_weight``, ``latest_margin``.
EXTRACT_SENTENCES = 3


def passage_sentences(passage: Passage) -> list[tuple[int, int, str]]:
    """(start, end, text) of each sentence of ``passage`` (``retrieval.text.split_sentences``)."""
    return [(s, e, passage.text[s:e]) for s, e in split_sentences(passage.text)]


def typed_answer(question: str) -> bool:
    """Whether the kind of answer ``question`` asks for is judged by spaCy's entities (:data:`KIND_LABELS`)."""
    return answer_shape(question) in KIND_LABELS


def score_sentences(question: str, ask: Ask, sentences: Sequence[Sequence[str]], cosines: np.ndarray,
                    entities: Sequence[Sequence[tuple[str, str]] | None], settings: Settings
                    ) -> list[list[tuple[float, float]]]:
    """(relevance, score) of every sentence of every passage (``sentences[i]``: the i-th ranked
    passage's; ``cosines`` and ``entities``: of each sentence in that order, the entities None unless
    :func:`typed_answer`), for the extractive answer and for choosing what the model reads.

    Relevance: cosine similarity to the question plus ``settings.extract_term_weight`` × the share of
    the question's key terms and names it holds — whether the sentence is about what is asked. Score:
    relevance, plus ``settings.extract_answer_weight`` when it holds something of the kind asked for that
    the question does not name (a person for "who", a number for "how many": spaCy's entities), plus
    ``settings.extract_rank_weight`` / search rank of its passage.
    """
    shape = answer_shape(question)
    asked = term_stems(question) | {stem(w) for name in ask.names for w in name.split()}
    out: list[list[tuple[float, float]]] = []
    k = 0
    for n, group in enumerate(sentences, start=1):
        row = []
        for sentence in group:
            names, terms = coverage(ask, sentence)
            lexical = (terms if ask.terms else 0.0) + (0.5 * names if ask.names else 0.0)
            relevance = float(cosines[k]) + settings.extract_term_weight * lexical
            score = relevance + settings.extract_rank_weight / n
            if offers_answer(sentence, shape, asked, entities[k]):
                score += settings.extract_answer_weight
            row.append((relevance, score))
            k += 1
        out.append(row)
    return out


def answer_sentences(passages: Sequence[Passage]) -> list[list[str]]:
    """The sentences of each passage an extractive answer may quote: of five words or more, no planted
    instruction, on one line, without the article's own citation markers."""
    return [
        [unmarked(flat(s)) for _, _, s in passage_sentences(p) if len(s.split()) >= 5 and not is_instruction(s)]
        for p in passages
    ]


def choose_sentences(sentences: Sequence[Sequence[str]], scored: Sequence[Sequence[tuple[float, float]]],
                     passages: Sequence[Passage], limit: int, settings: Settings, *,
                     stating: dict[int, set[str]], spoken: dict[int, set[str]] | None, latest: bool,
                     as_of: dt.date | None) -> list[tuple[float, int, str]]:
    """The sentences an extractive answer quotes, best first, as (score, passage number, sentence): of
    ``sentences`` (:func:`answer_sentences`) with their ``scored`` (relevance, score), those at least
    ``settings.refusal_threshold`` relevant — of a question about what someone said, only that one's
    (``spoken``) — the ones stating the question's relation (``stating``) up by
    ``settings.extract_relation_weight``; at most ``limit``, no two saying nearly the same; for a question
    for the ``latest`` state of things, those within ``settings.latest_margin`` of the best newest article
    first."""
    candidates: list[tuple[float, int, str]] = []
    for n, (group, row) in enumerate(zip(sentences, scored, strict=True), start=1):
        for sentence, (relevance, score) in zip(group, row, strict=True):
            # Relevance decides whether a sentence may answer at all; the bonuses only order the
            # relevant ones (a name of the asked kind must not carry an off-topic sentence in).
            if spoken is not None and sentence not in spoken.get(n - 1, ()):
                continue
            if relevance >= settings.refusal_threshold:
                if sentence in stating.get(n - 1, ()):
                    score += settings.extract_relation_weight
                candidates.append((score, n, sentence))
    candidates.sort(key=lambda c: -c[0])
    chosen: list[tuple[float, int, str]] = []
    for cand in candidates:
        words = set(keyword_terms(cand[2]))
        # The same words are the same sentence — unless a figure, a date or a "not" differs: then it
        # is another version of the story (an update, a denial), and the reader sees both.
        if any(len(words & set(keyword_terms(c[2]))) / max(1, len(words)) > 0.6
               and not conflicting(c[2], cand[2]) for c in chosen):
            continue
        chosen.append(cand)
        if len(chosen) == limit:
            break
    if chosen and latest:
        # "The latest …": of the sentences nearly as good as the best, the newest article's first (an
        # article dated after ``as_of`` is not news yet: it counts as undated).
        days = [d if (d := parse_day(p.published)) and (as_of is None or d <= as_of) else dt.date.min
                for p in passages]
        lead = [c for c in chosen if c[0] >= chosen[0][0] - settings.latest_margin]
        lead.sort(key=lambda c: days[c[1] - 1], reverse=True)  # stable: equal days keep their scores' order
        chosen = lead + chosen[len(lead):]
    return chosen


_ENDED = ".!?"
_CLOSERS = "\"'”’)]»"


def ended(sentence: str) -> str:
    """``sentence`` ending as a sentence: a heading or a list item the chunk ran into the next sentence
    ("… in Brisbane, Australia" before "The 2026 Winter Olympics will be hosted …") gets a full stop, so
    that its citation ends it and the answer's next sentence is read — and verified — on its own (without
    one, the two were checked as one claim against each other's passage and shown unsupported: 4 of 121
    half-A answers, 7 of 112 half-B, docs/results.md, session 18)."""
    body = sentence.rstrip()
    core = body.rstrip(_CLOSERS)
    if not core or core[-1] in _ENDED:
        return body
    return body.rstrip(":;,–—- ") + "."


def cited_sentences(chosen: Sequence[tuple[float, int, str]] | Sequence[tuple[int, int, str]]) -> str:
    """The extractive answer's text: each chosen sentence, ended (:func:`ended`), with its passage's marker."""
    return " ".join(_cite(ended(sentence), n) for _, n, sentence in chosen)


def digest(passages: Sequence[Passage]) -> str:
    """What happened on a day (``days.asked_days``): the first sentence of each of that day's articles
    (their best-ranked passage), the best-ranked articles first, at most ``EXTRACT_SENTENCES``."""
    first: dict[str, tuple[int, int, str]] = {}  # article -> (start in article, passage number, sentence)
    for n, p in enumerate(passages, start=1):
        sentences = [unmarked(flat(s)) for _, _, s in passage_sentences(p)
                     if len(s.split()) >= 5 and not is_instruction(s)]
        if sentences and (p.article_id not in first or p.start < first[p.article_id][0]):
            first[p.article_id] = (p.start, n, sentences[0])
    chosen = sorted(first.values(), key=lambda f: f[1])[:EXTRACT_SENTENCES]
    return cited_sentences(chosen)
