"""Grounded answers: follow-up rewriting, retrieval, the model call (or extraction), citation
parsing and verification, and refusal. ``Assistant.stream`` yields events; ``answer`` returns one
``Answer``."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import math
import re
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from retrieval import prompts
from retrieval.claims import BARE_ANSWER_WORDS, Verdict, default_checker, is_instruction, without_instructions
from retrieval.claims import CHOICE_LABEL as _CHOICE_LABEL
from retrieval.claims import MARKER as _MARKER
from retrieval.claims import META_WORDS as _META_WORDS
from retrieval.claims import TRAILING_MARKERS as _TRAILING_MARKERS
from retrieval.claims import WORDED_MARKER as _WORDED_MARKER
from retrieval.claims import cite as _cite
from retrieval.claims import parse_markers as _parse_markers
from retrieval.dedup import conflicting
from retrieval.errors import EmptyQuestionError
from retrieval.followup_rank import followup_retrieve
from retrieval.names import forms as _name_forms
from retrieval.search import Filters, SearchResult, parse_day, search
from retrieval.settings import Settings
from retrieval.speakers import Asked, Speech, asked_speaker, read_speech, spoken_by
from retrieval.store import Store
from retrieval.text import STOPWORDS, flat, keyword_terms, split_sentences
from retrieval.types import Answer, Citation, Passage, Unsupported

if TYPE_CHECKING:
    from langchain_core.language_models.chat_models import BaseChatModel

History = Sequence[Any]  # (role, content) pairs or {"role", "content"} dicts

_FOLLOWUP_START = re.compile(
    r"^(and|but|also|so|what about|how about|and what|why|what else|is that|was that|did they|does it|"
    r"do they|did he|did she|what did (he|she|they|it)|who else|when was that|where was that)\b",
    re.I,
)
_PRONOUN = re.compile(r"\b(he|she|they|them|his|her|their|it|its|this|that|these|those|there)\b", re.I)
# Pronoun-like words that refer to no earlier turn: "this week", "that day", "is there", "there were".
_NOT_REFERENCE = re.compile(
    r"\b(?:this|that|these|those)\s+(?:past\s+)?(?:week|weekend|month|year|morning|afternoon|evening|day|days|"
    r"weeks|months|years|time|season|spring|summer|autumn|fall|winter|quarter)\b|"
    r"\b(?:is|are|was|were|be|been|will|has|have|had)\s+there\b|\bthere\s+(?:is|are|was|were|be|been|will|has|have|had)\b",
    re.I)


# --- events of a streamed answer -----------------------------------------------------------------
@dataclass
class Retrieved:
    """Sent as soon as retrieval finishes, before the model's first token."""

    question: str  # the standalone question that was searched
    passages: list[Passage]


@dataclass
class Token:
    text: str


@dataclass
class Status:
    """A step the user waits for that is worth naming (e.g. the model loading on first use)."""

    text: str


@dataclass
class Final:
    answer: Answer


Event = Retrieved | Status | Token | Final


# --- helpers --------------------------------------------------------------------------------------
def _history_pairs(history: History) -> list[tuple[str, str]]:
    pairs = []
    for turn in history:
        if isinstance(turn, dict):
            pairs.append((str(turn.get("role", "")), str(turn.get("content", ""))))
        else:
            role, content = turn[0], turn[1]
            pairs.append((str(role), str(content)))
    return pairs


def is_followup(question: str, history: History) -> bool:
    """Whether ``question`` refers back to the conversation: it starts like a follow-up ("And the UK?",
    "What about …", "Why?"), refers with a pronoun ("it", "they", "that storm"), or is a short question
    naming nothing of its own ("Who won?"). Not a follow-up: a question about a day only ("What happened
    yesterday?"), and "this"/"that"/"there" that refer to no turn ("this week", "is there")."""
    if not any(role == "user" for role, _ in _history_pairs(history)):
        return False
    if asked_days(question) is not None:
        return False
    stripped = question.strip()
    if _FOLLOWUP_START.match(stripped) or _PRONOUN.search(_NOT_REFERENCE.sub(" ", question)):
        return True
    if len(question.split()) > FOLLOWUP_WORDS:
        return False
    # Short, and naming nothing ("Who won?"), or only who reacted ("What did France say?") — but "What
    # happened in Gaza?" and "Who is Brian Hughes?" stand alone, whatever came before.
    ask = question_ask(question)
    named = {_stem(w) for name in ask.names for w in name.split()}
    return not ask.names or (not ask.terms - named and bool(_REACTION.search(question)))


# A question of at most this many words that names nothing, or only who reacted, is a follow-up.
FOLLOWUP_WORDS = 5
_REACTION = re.compile(r"\b(say|said|says|think|thinks|react|reacted|respond|responded|comment|commented|"
                       r"do|does|doing|want|wants|plan|plans|decide|decided|reaction|response|stance|position)\b", re.I)


# A follow-up's subject keeps the question that set the topic and at most this many follow-ups after it.
SUBJECT_FOLLOWUPS = 2


def _thread(history: History) -> tuple[str, list[str]]:
    """The question that set the topic a follow-up refers back to (the last one asked that was not a
    follow-up; "" when every question was one) and the follow-ups asked since, oldest first."""
    asked = [content for role, content in _history_pairs(history) if role == "user"]
    follows: list[str] = []
    while asked:
        last = asked.pop()
        if not is_followup(last, [("user", q) for q in asked]):
            return last, follows
        follows.insert(0, last)
    return "", follows


def _subject_of(topic: str, follows: Sequence[str]) -> str:
    """The subject a follow-up refers back to: the question that set the topic and the follow-ups since,
    at most ``SUBJECT_FOLLOWUPS`` of them, the latest kept — so a fourth follow-up still knows the story
    the first question named (no topic: the last ``SUBJECT_FOLLOWUPS + 1`` follow-ups)."""
    if topic:
        return " ".join([topic, *follows[-SUBJECT_FOLLOWUPS:]])
    return " ".join(follows[-SUBJECT_FOLLOWUPS - 1:])


def _subject(history: History) -> str:
    return _subject_of(*_thread(history))


def _previous_cited(history: History) -> list[dict[str, Any]]:
    """The citations of the last assistant answer of ``history`` (none for a refusal; turns given as dicts
    with ``citations``, as the app keeps them: ``{"role": "assistant", "content": …, "citations":
    [{"article_id": …, "published": …}, …]}``)."""
    for turn in reversed(list(history)):
        role = turn.get("role", "") if isinstance(turn, dict) else turn[0]
        if role == "user":
            break
        if role != "assistant":
            continue
        content = str(turn.get("content", "") if isinstance(turn, dict) else turn[1])
        if content.startswith(_REFUSAL_START) or not isinstance(turn, dict):
            return []
        return [c for c in turn.get("citations") or () if isinstance(c, dict)]
    return []


def _previous_days(cited: Sequence[dict[str, Any]]) -> tuple[str, ...]:
    """The publication days (YYYY-MM-DD, sorted) of the articles of ``cited`` (:func:`_previous_cited`)."""
    return tuple(sorted({d.isoformat() for c in cited if (d := parse_day(str(c.get("published") or "")))}))


def _previous_citations(cited: Sequence[dict[str, Any]]) -> frozenset[str]:
    """The article ids of ``cited`` (:func:`_previous_cited`)."""
    return frozenset(str(c.get("article_id")) for c in cited if c.get("article_id"))


# A follow-up asking what came after or before the previous answer's news ("What happened next?", "And the
# day before?"): read in the articles published from its newest cited day on, or up to its oldest.
_AFTER = re.compile(r"\b(next|after that|afterwards?|since then|later|the day after|the following (day|week)|"
                    r"what followed|then what)\b", re.I)
_BEFORE = re.compile(r"\b(before that|the day before|the week before|earlier|previously|beforehand|before then|"
                     r"prior to that|what led to)\b", re.I)


_REFUSAL_START = prompts.REFUSAL.split("{", 1)[0]


@dataclass(frozen=True)
class FollowUp:
    """How a follow-up is searched: its own words plus the subject's key terms (``query``), with
    passages that hold the follow-up's new terms (``new``) ranked up, the more so in the articles the
    previous answer cited (``cited``) (see ``Assistant.retrieve``)."""

    query: str
    new: frozenset[str]  # stems of the follow-up's key terms that the subject does not have
    subject: str
    cited: frozenset[str] = frozenset()  # article ids the previous answer cites
    topic: str = ""  # the question that set the topic (see ``on_topic``)
    # "What happened next?": read only articles published on or after ``after`` (or up to ``before``),
    # leaving out those the previous answer cited (YYYY-MM-DD; "" for none).
    after: str = ""
    before: str = ""

    def window(self, filters: Filters | None) -> Filters | None:
        """``filters`` narrowed to the time the follow-up asks for (None when that leaves no day)."""
        filters = filters or Filters()
        if not (self.after or self.before):
            return filters
        start = max(filter(None, (filters.date_from, self.after)), default="")
        end = min(filter(None, (filters.date_to, self.before)), default="")
        if start and end and start > end:
            return None
        return Filters(filters.outlets, start, end, filters.as_of)


def followup_search(question: str, history: History) -> FollowUp | None:
    """The search for a follow-up question (None when ``question`` is not one): "What did the UK say
    about it?" after "What did Pete Hegseth reportedly order?" searches "What did the UK say about
    it? pete hegseth order", and ranks passages naming the UK first, most of all those of the
    articles the previous answer cited: the answer is the UK's statement on that story rather than
    Hegseth's order again.

    The previous answer's own words are not searched: on rtqa follow-ups (docs/results.md, session 6)
    adding its names lost the right article more often than it found it (an extracted answer quotes
    other stories too); its citations count only where a cited passage holds the new ask."""
    if not is_followup(question, history):
        return None
    topic, follows = _thread(history)
    subject = _subject_of(topic, follows)
    subject_terms = [t for t in keyword_terms(subject) if t not in _GENERIC]
    own = question_ask(question)
    new = frozenset(own.terms - {_stem(t) for t in subject_terms})
    cited = _previous_cited(history)
    days = _previous_days(cited)
    after = days[-1] if days and _AFTER.search(question) and not _BEFORE.search(question) else ""
    before = days[0] if days and _BEFORE.search(question) and not after else ""
    return FollowUp(f"{question} {' '.join(subject_terms)}".strip(), new, subject, _previous_citations(cited),
                    topic, after, before)


def on_topic(question: str, follow: FollowUp, passages: Sequence[Passage], ignore: Sequence[str] = (),
             article_text: Callable[[str], str] | None = None) -> list[bool]:
    """Which ``passages`` belong to the story a follow-up refers to, so that its answer is about that
    story or refused — never another story's words ("What did the UK say about it?" after a question on
    a trade deal is not answered by the UK's fuel duty): an article the previous answer cited, or one
    whose text (``article_text``: the whole article; else the passage with its title) names a name of the
    question that set the topic, one the follow-up does not name itself; a topic naming none: half of
    its key terms (``terms_needed``). All True when the topic asks about nothing (every question was a
    follow-up)."""
    topic = question_ask(follow.topic, ignore) if follow.topic else Ask((), frozenset())
    own = set(question_ask(question, ignore).names)
    # (A qualifier — "Which *AI* company …" — names the kind of answer, not the story.)
    names = [n for n in topic.names
             if n.removeprefix("the ") not in _EVERYWHERE and n not in own and n not in topic.qualifiers]
    if not names and not topic.terms:
        return [True] * len(passages)
    needed = terms_needed(len(topic.terms))
    story = Ask(tuple(names), topic.terms)
    verdicts: dict[str, bool] = {}

    def holds(text: str) -> bool:
        named, terms = coverage(story, text)
        return named > 0 if names else round(terms * len(topic.terms)) >= needed

    tied = []
    for p in passages:
        if p.article_id in follow.cited:
            tied.append(True)
            continue
        if p.article_id not in verdicts:
            verdicts[p.article_id] = holds(f"{p.title}\n{p.text}") or bool(
                article_text and holds(article_text(p.article_id)))
        tied.append(verdicts[p.article_id])
    return tied


def rewrite_keeps(question: str, rewritten: str, history: History) -> bool:
    """Whether a model's standalone ``rewritten`` of the follow-up ``question`` may stand for it: it keeps
    every name the user typed (in any of its forms: "British" for "UK") and names nothing new that neither
    the question nor the conversation named. A rewrite that drops or swaps a name ("What did the UK say
    about it?" rewritten "What did Canada say …?") answers another question."""
    folded, stems = _fold(rewritten), _stems(rewritten)
    if not all(_name_in(name, folded, stems, rewritten) for name in question_ask(question).names):
        return False
    said = "\n".join([*(content for _, content in _history_pairs(history)), question])
    said_folded, said_stems = _fold(said), _stems(said)
    return all(name.removeprefix("the ") in _EVERYWHERE or _name_in(name, said_folded, said_stems, said)
               for name in question_ask(rewritten).names)


def _as_of(store: Store) -> str:
    newest = store.facts().get("newest_published") or ""
    return f" (newest article: {newest[:10]})" if newest else ""


# --- what a question asks about, and whether a passage holds it -------------------------------------
# Words of questions that name no topic: a passage need not contain them to answer.
_GENERIC = frozenset({
    "happened", "happen", "happens", "happening", "tell", "told", "name", "named", "called", "call", "known",
    "describe", "described", "explain", "mean", "means", "role", "latest", "recent", "recently", "currently",
    "current", "today", "yesterday", "new", "reported", "report", "reports", "reporting", "announced",
    "announce", "according", "claim", "claims", "claimed", "suggest", "suggests", "mentioned", "mention",
    "discussed", "discussing", "discuss", "considering", "information", "one", "two", "first", "many",
    "much", "kind", "type", "thing", "things", "people", "person", "someone", "something", "way", "ways",
    "day", "days", "month", "months", "time", "times", "last", "next", "past", "also", "think", "thought",
    "get", "got", "make", "made", "take", "took", "give", "gave", "respond", "responded", "response",
    "react", "reacted", "reaction", "stated", "state", "statement", "comment", "comments", "commented",
    "why", "who", "whose", "how", "said", "saying", "says", "say", "did", "does", "is", "are", "was",
    "following", "ask", "asked", "question", "answer", "ago", "since", "still", "yet", "now", "week",
    "weeks", "year", "years", "whom", "which", "what", "where", "when", "including", "include", "includes",
    "it", "its", "this", "that", "these", "those", "they", "them", "their", "he", "she", "his", "her",
})
_MONTHS_DAYS = frozenset({
    "january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
    "november", "december", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
})
# A capitalised run ("Pete Hegseth", "U.S.", "Watch Series 9", "Nicolás Maduro's", "Group of 7").
_NAME = re.compile(
    r"(?<![\w’'])[A-Z][\w’'.&-]*(?:\s+(?:of|de|del|da|la|le|van|von|der|al|bin|the)?\s*"
    r"[A-Z][\w’'.&-]*|\s+(?:of\s+)?\d[\w.]*)*"
)
_NAME_STOP = frozenset({
    "what", "who", "whom", "whose", "which", "when", "where", "why", "how", "did", "does", "do", "is", "are",
    "was", "were", "has", "have", "had", "will", "would", "can", "could", "should", "the", "a", "an", "in",
    "on", "at", "after", "before", "between", "during", "considering", "according", "and", "but", "or",
    "if", "as", "for", "from", "to", "by", "with", "about", "of", "i", "tell", "me", "please", "give", "list",
    "name", "describe", "explain", "summarize", "summarise", "both", "article", "articles",
    "report", "reports", "news", "yes", "no", "choose", "one",
})


# Markdown / HTML emphasis a question may carry when pasted or typed out of habit ("What did **Putin**
# say?", "<b>…</b>", "> quoted", "# heading"): spaCy reads "**Putin**" as no name, so every check of the
# question (the speaker asked about, its names) is done on the plain words.
_HTML_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>")
_EMPHASIS = re.compile(r"(?<![\w*_`~])[*_`~]{1,3}(?=[^\s*_`~])|(?<=[^\s*_`~])[*_`~]{1,3}(?![\w*_`~])")
_LINE_MARK = re.compile(r"^\s*(?:#{1,6}|>+|[-*+]\s)\s*", re.M)


def plain_question(question: str) -> str:
    """``question`` without Markdown emphasis or code marks, HTML tags and heading / quote / bullet marks:
    "What did **Putin** say?" is "What did Putin say?"."""
    text = _HTML_TAG.sub(" ", question)
    text = _LINE_MARK.sub("", text)
    text = _EMPHASIS.sub("", text)
    return " ".join(text.split())


def _fold(text: str) -> str:
    """Lower case without accents, dots or possessives: "U.S." ~ "US", "Nicolás" ~ "Nicolas"."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = re.sub(r"(?<=\w)['’]s\b", "", text)
    return text.replace(".", "").replace("’", "'")


def _stem(word: str) -> str:
    """A light stem so that "ordered" ~ "order", "sanctions" ~ "sanction" and "organized" ~
    "organizer" (a final "er" goes after the inflection: "murdered" ~ "murder" ~ "murd")."""
    word = _fold(word)
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            word = word[: -len(suffix)]
            break
    if len(word) > 5 and word.endswith("er"):
        word = word[:-2]
    return word


def _stems(text: str) -> set[str]:
    return {_stem(t) for t in keyword_terms(text)}


@dataclass(frozen=True)
class Ask:
    """What a question asks about: the names it mentions and its other key terms (stemmed)."""

    names: tuple[str, ...]  # folded, each a phrase ("pete hegseth")
    terms: frozenset[str]  # stems of the key terms, names' words included
    # Names that describe the thing asked for rather than the story: "Which *Texas* city …", "Which city in
    # the *Midwest* …". The answer's passage names the city ("El Paso, TX"), seldom the qualifier, so
    # these do not count in the evidence check (they still rank sentences).
    qualifiers: frozenset[str] = frozenset()

    @property
    def empty(self) -> bool:
        return not self.names and not self.terms


# The list of alternatives of a multiple-choice question: two or more "A)" labels to the end.
_CHOICES_TAIL = re.compile(r"\s*(?:(?:choose|pick|select) one of:?\s*)?\(?\b[A-J]\)\s.*\b[B-J]\)\s.*$", re.I | re.S)


# Words that make a question name nothing when they are all it holds besides wh-words: "Is it *true*?",
# "Tell me *everything*", "*Summarize* the articles".
_VAGUE = frozenset(_stem(w) for w in (
    "true", "false", "right", "wrong", "correct", "real", "really", "everything", "anything", "something",
    "all", "more", "else", "other", "details", "detail", "summary", "summarize", "summarise", "overview",
    "going", "story", "stories", "topic", "topics", "sure", "exactly", "mean", "meant", "matter", "important",
))


def names_nothing(ask: Ask) -> bool:
    """Whether a question asks about nothing it names: no name, and no key term but vague ones."""
    return not ask.names and ask.terms <= _VAGUE


# Function words of Spanish, French, German, Italian and Portuguese that are no English word a question
# would use ("die", "war", "son", "come" and the like are left out): a question made of them is not English.
_FOREIGN_WORDS = frozenset(_fold(w) for w in (
    "el", "la", "los", "las", "un", "una", "unos", "unas", "que", "qué", "de", "del", "y", "o", "en", "con", "por",
    "para", "sobre", "se", "su", "sus", "al", "lo", "como", "cómo", "cuál", "cuáles", "quién", "quiénes", "dónde",
    "cuándo", "cuánto", "cuántos", "cuántas", "es", "está", "están", "fue", "fueron", "ha", "han", "dijo", "dice",
    "pero", "más", "muy", "entre", "según", "también", "este", "esta", "estos", "estas", "ese", "esa", "porque",
    "ni", "le", "les", "une", "des", "du", "et", "ou", "qui", "quoi", "quel", "quelle", "quels", "quelles", "est",
    "sont", "dans", "avec", "pour", "sur", "par", "pas", "ne", "au", "aux", "ce", "cette", "ces", "il", "elle",
    "ils", "elles", "leur", "comment", "pourquoi", "où", "quand", "combien", "été", "selon", "dit", "der", "das",
    "den", "dem", "ein", "eine", "einen", "einem", "und", "oder", "ist", "sind", "wer", "wie", "wo", "warum",
    "wann", "welche", "welcher", "welches", "haben", "mit", "von", "zu", "zum", "zur", "im", "auf", "für", "über",
    "nicht", "sich", "auch", "bei", "aus", "dass", "gesagt", "hat", "gli", "di", "della", "dei", "delle", "degli",
    "che", "chi", "cosa", "dove", "perché", "quale", "quali", "quanti", "quante", "è", "sono", "hanno", "nel",
    "nella", "nei", "alla", "detto", "os", "um", "uma", "do", "da", "dos", "em", "no", "na", "nos", "quem", "qual",
    "onde", "são", "foi", "disse", "ao", "não"
)) - {"a", "in", "die", "war", "son", "come", "hat", "also", "do", "no", "on", "me", "sin", "dove",
    "chi", "has", "am", "is"}
_WORDS = re.compile(r"[^\W\d_]+")


def not_english(question: str) -> bool:
    """Whether ``question`` reads as another language: at least two function words of Spanish, French,
    German, Italian or Portuguese, and more of them than English stopwords ("What did the mayor of Ciudad
    de México say about El Niño?" is English)."""
    words = [_fold(w) for w in _WORDS.findall(question)]
    foreign = sum(w in _FOREIGN_WORDS for w in words)
    english = sum(w in STOPWORDS or w in _NAME_STOP for w in words)
    return foreign >= 2 and foreign > english


def question_speaker(question: str) -> Asked | None:
    """Whom ``question`` asks about as a speaker ("What did the UK say about it?": :func:`asked_speaker`),
    its listed choices left out; None when it asks about no one's words."""
    return asked_speaker(_CHOICES_TAIL.sub("", question))


def question_ask(question: str, ignore: Sequence[str] = ()) -> Ask:
    """The names and key terms of ``question``; names in ``ignore`` (e.g. outlet names: "a BBC report
    on …" asks about the report's topic, not the BBC) are left out."""
    ignored = {_fold(x).removeprefix("the ").strip() for x in ignore if x}
    # Listed alternatives ("… Choose one of: A) Marigold; B) Bluebell.") are not all asked about: at
    # most one of them is the answer, so only the question before the list must be held.
    question = _CHOICES_TAIL.sub("", question)
    names: list[str] = []
    for match in _NAME.finditer(question):
        words = match.group(0).split()
        first = len(words)
        pos = match.start()  # where words[0] starts
        while words and (words[0].lower().strip(".,") in _NAME_STOP or words[0].lower() in _MONTHS_DAYS):
            if _acronym(words[0]) and not _sentence_start(question, pos):
                break  # "What did the WHO say?": an organisation, not the wh-word
            popped = words.pop(0)
            pos = question.find(words[0], pos + len(popped)) if words else pos
        at = match.start()
        if len(words) == 1 == first and _sentence_start(question, at) and not _proper(question, at):
            continue  # capitalised for its place only: "Tax-filing season has begun. What is …"
        while words and words[-1].lower() in _NAME_STOP and not _acronym(words[-1]):
            words.pop()
        name = _fold(" ".join(words)).strip(" ,.'")
        if len(words) == 1 and _acronym(words[0]) and (name in _NAME_STOP or name in _GENERIC):
            name = words[0].strip(" ,.'")  # kept in capitals: "WHO" is not any "who" (see _name_in)
        if not name or name.isdigit() or name in _MONTHS_DAYS or len(name) < 2:
            continue
        if name.removeprefix("the ") in ignored or any(name in x for x in ignored if len(name) > 3):
            continue
        if name not in names:
            names.append(name)
    terms = frozenset(
        _stem(t) for t in keyword_terms(question)
        if t not in _GENERIC and t not in _MONTHS_DAYS and not (t.isdigit() and len(t) < 3)
        and not any(t in x.split() for x in ignored)
    )
    return Ask(tuple(names), terms, _qualifiers(question, names))


def _qualifiers(question: str, names: Sequence[str]) -> frozenset[str]:
    """The names of ``question`` that qualify the kind of thing it asks for: "which [major] NAME city",
    "which city in [the] NAME" (``_PLACE_NOUNS``, ``_ORG_NOUNS``, ``_PERSON_NOUNS``)."""
    folded = _fold(question)
    kinds = _KIND_NOUNS
    found = set()
    for name in names:
        n = re.escape(name)
        if re.search(rf"\b(?:which|what)\s+(?:[\w-]+\s+)?{n}\s+(?:[\w-]+\s+)?(?:{kinds})\b", folded) or re.search(
                rf"\b(?:which|what)\s+(?:[\w-]+\s+)?(?:{kinds})\s+(?:in|of|from|across)\s+(?:the\s+)?{n}\b", folded):
            found.add(name)
    return frozenset(found)


# One label of a list of choices: "A) ", "(B) ".
_CHOICE_MARK = re.compile(r"(?<![\w(])\(?([A-J])\)\s+")


def listed_choices(question: str) -> tuple[str, list[str]]:
    """The question without its list of choices, and the choices: "Who won? Choose one of: A) Ann;
    B) Bo." gives ("Who won?", ["Ann", "Bo"]). Labels must run A, B, C … (at least two); otherwise the
    question is returned whole with no choices."""
    tail = _CHOICES_TAIL.search(question)
    if not tail:
        return question, []
    marks = list(_CHOICE_MARK.finditer(question, tail.start()))
    if len(marks) < 2 or [m.group(1).upper() for m in marks] != [chr(ord("A") + i) for i in range(len(marks))]:
        return question, []
    ends = [m.start() for m in marks[1:]] + [len(question)]
    choices = [question[m.end():end].strip().rstrip(";,").strip() for m, end in zip(marks, ends, strict=True)]
    choices[-1] = choices[-1].removesuffix(".").strip()
    if not all(choices):
        return question, []
    return question[:tail.start()].strip(), choices


def named_choice(text: str, choices: Sequence[str]) -> int | None:
    """The choice ``text`` names first (whole words, case and accents aside), None if it names none."""
    folded = _fold(text)
    found = []
    for i, choice in enumerate(choices):
        phrase = _fold(choice).strip(" .\"'“”‘’")
        m = re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", folded) if phrase else None
        if m:
            found.append((m.start(), -len(phrase), i))
    return min(found)[2] if found else None


@dataclass(frozen=True)
class ChoiceSupport:
    """The passage sentence that supports a listed choice best (``claims.check_bare``)."""

    choice: int  # index of the choice
    passage: int  # index of the passage
    verdict: Verdict


# Said before a multiple-choice answer decided by the passages rather than taken from the model.
CHOICE_NOTE = "(Of the listed choices, this is the one a passage supports best.)"


# Names that are no evidence of a question's topic in US news (they qualify it: "US taxpayers").
_EVERYWHERE = frozenset({"us", "usa", "united states", "america", "american", "americans"})


def _sentence_start(text: str, at: int) -> bool:
    """Whether position ``at`` of ``text`` starts a sentence (the text's start, or after . ! ? :)."""
    before = text[:at].rstrip()
    return not before or before[-1] in ".!?:"


def _proper(text: str, at: int) -> bool:
    """Whether spaCy reads the word at ``at`` of ``text`` as a proper noun or a named entity (a
    sentence's first word is capitalised either way: "Iran launched …" vs "Scientists found …")."""
    return next((proper for idx, proper in _proper_tokens(text) if idx >= at), False)


@functools.lru_cache(maxsize=256)
def _proper_tokens(text: str) -> tuple[tuple[int, bool], ...]:
    """(offset, proper noun or entity) of each token of ``text`` (a question is asked about several times)."""
    return tuple((t.idx, t.pos_ == "PROPN" or bool(t.ent_type_)) for t in default_checker().nlp(text))


def _acronym(word: str) -> bool:
    """An all-capitals word of two letters or more ("WHO", "IT"): a name, even when it spells a common word."""
    word = word.strip(" ,.'’")
    return len(word) >= 2 and word.isalpha() and word.isupper()


def _name_in(name: str, folded: str, stems: set[str], text: str = "", context: str = "") -> bool:
    """Whether ``name`` (folded) occurs in a folded text: the whole phrase, or at least half of its
    words, the last one (a surname) included; or another form of it (``retrieval.names``: "G7" for
    "group of 7", "British" for "uk", an initialism ``context`` — the text, or the passage ``text`` is
    part of — defines). A demonym is not its place: "Which Israeli officials …" is not held by a passage
    that names Israel in passing (tests/test_answer.py). A name kept in capitals ("WHO") must occur so in
    ``text`` (the text before folding)."""
    if name != name.lower():
        if re.search(rf"(?<![\w.]){re.escape(name)}(?![\w])", text):
            return True
    elif re.search(rf"(?<!\w){re.escape(name)}(?!\w)", folded):
        return True
    if _other_form_in(name, folded, text, context):
        return True
    if name != name.lower():
        return False
    words = [w for w in name.split() if w not in _NAME_STOP]
    if len(words) < 2:
        return False
    found = [_stem(w) in stems for w in words]
    return found[-1] and sum(found) * 2 >= len(words)


def _other_form_in(name: str, folded: str, text: str, context: str = "") -> bool:
    """Whether ``text`` names ``name`` in another form (``retrieval.names``; see ``_name_in``). Not the US
    (``_EVERYWHERE``): no evidence either way, and its other forms ("American", "United States") ranking
    sentences up reordered extraction on US questions (half A: 1 answer gained, 3 lost)."""
    if not text or name.removeprefix("the ") in _EVERYWHERE:
        return False
    return _name_forms(name, context or text).found(text, folded)


@dataclass(frozen=True)
class Evidence:
    """How well the retrieved passages hold what a question asks about."""

    names: float  # share of the question's names found in the passages (1.0 when it names none)
    best_terms: int  # key terms of the question held by the passage that holds the most of them
    terms: int  # key terms of the question
    best: int  # index of that passage (-1: no passage)

    def holds(self) -> bool:
        """Whether the passages hold what the question asks about: most of the names it mentions
        (``NAMES_NEEDED``), and one passage holding at least half of its key terms, counting at most
        ``TERMS_COUNTED`` (long questions describe their topic with many words, and no passage repeats
        them all). A topic mentioned only in passing fails the second test."""
        if self.best < 0:
            return False
        return self.names >= NAMES_NEEDED and self.best_terms >= terms_needed(self.terms)


def terms_needed(terms: int) -> int:
    """Key terms one passage must hold of a question's ``terms``: half of them, counting at most
    ``TERMS_COUNTED`` (``Evidence.holds``, and the rest of a question whose qualifier is waived)."""
    return math.ceil(min(terms, TERMS_COUNTED) / 2)


# Said before an answer made of the passages' own sentences because the model's did not pass the check.
CUT_REASON = "the model's answer was cut off here"
# A reply is read up to the token limit at this many characters a token (English runs at ~4; a reply far
# over it comes from an endpoint that ignores max_tokens).
REPLY_CHARS_PER_TOKEN = 8
FALLBACK_NOTE = "(The model could not answer from the passages; these are the passages' own sentences.)"
# Said to a question that names nothing to look up ("Why?", "Is it true?", "Who said that?" outside a
# conversation): any passage's sentence would be shown as its cited answer.
NAMES_NOTHING = ("Ask about something the articles may cover: name a person, place, organisation or event "
                 "(this question names nothing to look up; to follow up on an answer, ask in the same chat).")
# Said to a question in another language: its function words would pass the evidence check.
NOT_ENGLISH = ("Please ask in English: the articles are searched, and the answers checked, in English "
               "(this question reads as another language).")
# The extractive answer: sentences at most, and the weight of key terms beside cosine similarity.
EXTRACT_SENTENCES = 3
EXTRACT_TERM_WEIGHT = 0.3
# Bonus of a sentence that holds something of the kind asked for that the question does not name.
EXTRACT_ANSWER_WEIGHT = 0.3
# Whether that kind is judged by spaCy's entities ("Which country …": a place it names) when the
# question asks for a person, place, organisation, number or date (else: digits, capitalised words).
EXTRACT_NER = True
# Whether a sentence that asks a question ("Where will the 2026 Winter Olympics be held?", an article's
# subheading) is left out of extractive answers: it repeats the question, it never answers it.
EXTRACT_SKIP_QUESTIONS = False
# Bonus of a sentence of the passage ranked n-th by search: this / n (search judged the whole passage).
EXTRACT_RANK_WEIGHT = 0.05
# Weight of a follow-up's new terms in its search, in rank-1 hits (see Assistant.retrieve).
FOLLOWUP_WEIGHT = 2.0
# Bonus of a passage of an article the previous answer cited, in rank-1 hits, times the share of the
# follow-up's new terms it holds (see Assistant.retrieve).
CITED_WEIGHT = 1.0
# Evidence thresholds, tuned on the even ids of the MultiHop-RAG sample (refusal of null queries
# against refusal of answerable ones) and rtqa-2026: docs/results.md, session 4.
NAMES_NEEDED = 0.6
TERMS_COUNTED = 4


def evidence(ask: Ask, passages: Sequence[Passage]) -> Evidence:
    """Where the passages (text and title) hold the names and key terms of ``ask``."""
    if not passages:
        return Evidence(0.0, 0, len(ask.terms), -1)
    # "most US taxpayers": US news names the US everywhere or nowhere, so it is no evidence either way
    # (it still ranks sentences: Assistant.sentence_scores).
    texts = [f"{p.title}\n{p.text}" for p in passages]
    waived = ask.qualifiers if ask.qualifiers and _rest_held(ask, texts) else frozenset()
    ask = Ask(tuple(n for n in ask.names if n.removeprefix("the ") not in _EVERYWHERE and n not in waived),
              ask.terms)
    covers = [coverage(ask, t) for t in texts]
    best = max(range(len(passages)), key=lambda i: (covers[i][1], covers[i][0], -i))
    names, _ = coverage(ask, "\n".join(texts))
    return Evidence(names, round(covers[best][1] * len(ask.terms)), len(ask.terms), best)


def _rest_held(ask: Ask, texts: Sequence[str]) -> bool:
    """Whether one of ``texts`` holds at least half of the question's key terms that are not words of its
    names ("Which Texas city did Pete Hegseth visit?": "city", "visit"), counting at most
    ``TERMS_COUNTED``. A qualifier is waived only then: a passage that names the story's people but not
    what is asked about them is no answer to "which Texas city", whatever city it names."""
    named = {_stem(w) for n in ask.names for w in re.findall(r"[\w']+", n)}
    rest = Ask((), ask.terms - named)
    if not rest.terms:
        return False
    needed = terms_needed(len(rest.terms))
    return any(round(coverage(rest, t)[1] * len(rest.terms)) >= needed for t in texts)


# --- what a question asks of its names: the relation ------------------------------------------------
# Verbs that name no relation a passage must state ("What did X say?", "What happened?", "Who is X?").
_LIGHT_VERBS = frozenset({
    "be", "have", "do", "say", "tell", "happen", "make", "take", "get", "give", "go", "come", "know", "see",
    "report", "announce", "mention", "describe", "call", "name", "include", "become", "mean", "think",
    "suggest", "claim", "state", "discuss", "consider", "reveal", "note", "indicate", "highlight", "cover",
    "feature", "involve", "relate", "concern", "regard", "refer", "write", "publish", "accord",
})
# Words that keep a verb from stating what a past question presupposes: "Ortiz dismissed rumors that she
# *would* resign", "she did *not* resign" are no answer to "Why did Ortiz resign?".
_UNASSERTED = frozenset({"would", "could", "might", "may", "should", "not", "n't", "never", "rumor", "rumors",
                         "rumour", "rumours", "deny", "denied", "denies"})
_WHY = re.compile(r"^\W*why\b", re.I)
_YES_NO = re.compile(r"^\W*(did|does|do|is|are|was|were|has|have|had|will|would|can|could|should)\b", re.I)
_PREPOSITIONS = frozenset({"in", "at", "from", "for", "to", "into", "across", "near", "within", "outside"})
# Words that date something in a sentence, for "when" questions (besides digits, months and weekdays).
_TIME_WORDS = re.compile(r"\b(today|tonight|tomorrow|yesterday|next|last|this (week|month|year)|spring|summer|"
                         r"autumn|fall|winter|soon|later|earlier|ago|weeks?|months?|years?|decade|century)\b", re.I)
# Sentences before and after the one stating the relation that may hold the question's names ("The plant
# will employ 1,500 workers" two sentences after the one naming the plant in Lordstown).
RELATION_NEIGHBOURS = 2
# Share of the question's names the neighbourhood of the sentence stating the relation must hold (at least one).
RELATION_NAMES_NEEDED = 0.0
# Questions of more words than this are not asked for one relation: a long question ("Which company, covered
# by TechCrunch and The Verge, is accused of …, while …") describes its topic with many clauses, and no one
# sentence states them all (every MultiHop-RAG question has more: requiring its main verb refused 0.38 of
# the answerable ones instead of 0.07, session 14).
RELATION_MAX_WORDS = 20
# A sentence's word (its lemma) states the relation when the embedder puts the two words at least this close
# ("die" ~ "kill" 0.74, "resign" ~ "quit" 0.65, "win" ~ "beat" 0.64; "resign" ~ "dismiss" 0.58, "sell" ~
# "recall" 0.22): news rarely repeats a question's verb. 1 turns it off (the same word only).
RELATION_SIMILARITY = 0.6
# Bonus of an extracted sentence that states the question's relation, in units of sentence score: the
# evidence the answer was allowed on comes first.
EXTRACT_RELATION_WEIGHT = 0.5


@dataclass(frozen=True)
class Relation:
    """What a question asks of its names, which a passage sentence must state ("How many workers will
    the Flint plant employ?": *employ*, near "Flint"; a number in that sentence)."""

    words: frozenset[str]  # stems (and lemmas' stems) of the question's main content word(s)
    lemmas: tuple[str, ...] = ()  # their lemmas, compared with a sentence's by the embedder
    bound: tuple[str, ...] = ()  # folded names that qualify the relation ("in Mexico"): needed near it
    asserted: bool = False  # a past wh-question ("Why did X resign?"): "would resign" is no evidence
    shape: str = "name"  # "number" / "time": the sentence stating the relation must hold one


def _word_forms(word: str, lemma: str) -> frozenset[str]:
    return frozenset({_stem(word), _stem(lemma)})


def _same_word(a: str, b: str) -> bool:
    """Stems of one word: equal, or one a prefix of the other of at least four letters ("resign" ~
    "resignation", "employ" ~ "employees")."""
    if a == b:
        return True
    short, long_ = sorted((a, b), key=len)
    return len(short) >= 4 and long_.startswith(short)


@functools.lru_cache(maxsize=256)
def question_relation(question: str) -> Relation | None:
    """The relation ``question`` asks about: its main verb (or that verb's clause: "How many did X say it
    would cut?" → cut), unless that is a light verb ("say", "happen", "be"). Only questions that ask for a
    number ("how many"), a time ("when"), a reason ("why") or yes or no: any number, date or sentence
    answers those, so the sentence must state what is asked. "Which country …", "Who …" keep the names
    and key terms (:meth:`Evidence.holds`) and the kind of name asked for: against each rtqa question's own
    evidence paragraph, asking their verb too refused 36 of 146 such questions on half A (session 14).
    None as well when the question names no relation or is longer than ``RELATION_MAX_WORDS``.
    spaCy's small model reads "will the plant employ?" with "employ" as a noun: the root counts whatever
    its part of speech."""
    bare = _CHOICES_TAIL.sub("", question).strip()
    if not bare or len(bare.split()) > RELATION_MAX_WORDS:
        return None
    doc = default_checker().nlp(bare)
    sents = list(doc.sents)
    sent = next((s for s in reversed(sents) if "?" in s.text), sents[-1])
    root = sent.root
    heads = [root] + [c for c in root.children if c.dep_ in ("xcomp", "ccomp", "conj") and c.pos_ == "VERB"]
    words: set[str] = set()
    verbs = []
    lemmas: list[str] = []
    for tok in heads:
        lemma = tok.lemma_.lower()
        if tok.pos_ in ("AUX", "PROPN", "PRON", "NUM", "PART") or lemma in _LIGHT_VERBS or tok.lower_ in _GENERIC:
            continue
        if tok is not root and tok.pos_ != "VERB":
            continue
        if len(_stem(tok.lower_)) < 3:
            continue
        words |= _word_forms(tok.lower_, lemma)
        verbs.append(tok)
        lemmas.append(lemma)
    if not words:
        return None
    names = question_ask(question).names
    bound = []
    for tok in sent:
        if tok.dep_ != "pobj" or tok.pos_ != "PROPN" or tok.head.lower_ not in _PREPOSITIONS:
            continue
        attached = tok.head.head
        if attached in verbs or (attached.head in verbs and attached.dep_ in ("dobj", "nsubj", "nsubjpass")):
            folded = _fold(tok.text)
            bound += [n for n in names if folded in n.split() and n.removeprefix("the ") not in _EVERYWHERE]
    past = any(t.lower_ == "did" or t.tag_ == "VBD" for t in sent)
    modal = any(t.lower_ in _UNASSERTED for t in sent)
    asked = sent.text
    asserted = past and not modal and not _YES_NO.match(asked)
    if _answer_shape(asked) not in ("number", "time") and not _YES_NO.match(asked) and not _WHY.match(asked):
        return None  # "Which …", "Who …", "What …": the kind of name asked for already narrows the answer
    return Relation(frozenset(words), tuple(dict.fromkeys(lemmas)), tuple(dict.fromkeys(bound)), asserted,
                    _answer_shape(bare))


def _states_relation(relation: Relation, tokens: Sequence[tuple[str, str, str]], sentence: str, asked: set[str],
                     close: Callable[[str], bool] = lambda _lemma: False) -> bool:
    """Whether a sentence (``tokens``: (lower-cased word, lemma, part of speech)) states ``relation``: one
    of its words, or a verb ``close`` to one (by meaning: "killed" for "die"), not under "would", "not",
    "rumors" … when the question presupposes it, and for a "how many" or "when" question a number or a
    date. Only verbs count by meaning: nouns sit close to too much ("trading" ~ "sell" 0.67)."""
    for k, (word, lemma, pos) in enumerate(tokens):
        forms = _word_forms(word, lemma)
        if not any(_same_word(f, r) for f in forms for r in relation.words) and not (pos == "VERB" and close(lemma)):
            continue
        if relation.asserted and any(w in _UNASSERTED for w, _, _ in tokens[max(0, k - 4):k]):
            continue
        break
    else:
        return False
    if relation.shape == "number":
        return _offers_answer(sentence, "number", asked)
    if relation.shape == "time":
        return _offers_answer(sentence, "time", asked) or bool(_TIME_WORDS.search(sentence))
    return True


_NUMBER_QUESTION = re.compile(r"^\W*(how (many|much|long|old|far|big|large|high)|what (percentage|percent|share|number|"
                              r"amount|price|age)|by how)\b", re.I)
_TIME_QUESTION = re.compile(r"^\W*(when|what (year|date|day|month|time)|in what year|on what (date|day))\b", re.I)
_NUMBER = re.compile(r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|"
                     r"fifty|hundreds?|thousands?|millions?|billions?|trillions?|dozens?|half|scores)\b", re.I)
_CAPITAL = re.compile(r"(?<=[\w,;:’'\"”)] )[A-Z][\w’'.&-]+")


# "Which country …", "In which state …", "Which automaker …": the kind of name asked for, by the noun
# after "which"/"what" (or "who"/"where"), as spaCy entity labels.
_PLACE_NOUNS = ("country", "countries", "state", "states", "city", "cities", "territory", "region", "nation",
                "island", "province", "capital", "county", "continent", "town", "place", "location", "stadium",
                "arena", "venue", "airport", "landmark", "building")
_ORG_NOUNS = ("company", "companies", "automaker", "carmaker", "airline", "carrier", "league", "team", "club",
              "university", "college", "firm", "brand", "retailer", "network", "organization", "organisation",
              "agency", "bank", "party", "group", "startup", "manufacturer", "maker", "giant", "chain",
              "platform", "outlet", "publication", "newspaper", "broadcaster", "union", "court", "school")
_PERSON_NOUNS = ("person", "president", "leader", "singer", "artist", "actor", "actress", "player", "athlete",
                 "senator", "governor", "official", "ceo", "executive", "minister", "star", "rapper", "author",
                 "director", "coach", "judge", "musician", "celebrity", "lawmaker", "politician", "founder",
                 "figure", "billionaire", "candidate", "comedian", "host", "member", "pope", "king", "queen")
_KIND_NOUNS = "|".join(re.escape(n) for n in (*_PLACE_NOUNS, *_ORG_NOUNS, *_PERSON_NOUNS))  # a regex alternation
_KIND_LABELS = {
    "place": frozenset({"GPE", "LOC", "FAC"}),
    "org": frozenset({"ORG", "NORP", "PRODUCT"}),
    "person": frozenset({"PERSON"}),
    "number": frozenset({"CARDINAL", "QUANTITY", "MONEY", "PERCENT"}),
    "time": frozenset({"DATE", "TIME"}),
}


def _which_noun(question: str) -> str | None:
    """The kind of name a "which …"/"what …" question asks for, by the noun nearest after "which": in
    "In which country did the Pope …" it is "country", not "Pope"; None when no listed noun follows within
    three words."""
    best: tuple[int, int, str] | None = None
    for kind, nouns in (("person", _PERSON_NOUNS), ("place", _PLACE_NOUNS), ("org", _ORG_NOUNS)):
        words = "|".join(nouns)
        for m in re.finditer(rf"\b(?:which|what)\s+((?:[\w’'-]+\s+){{0,3}}?)(?:{words})\b", question, re.I):
            found = (len(m.group(1).split()), m.start(), kind)
            best = found if best is None or found < best else best
    return best[2] if best else None


def _answer_shape(question: str) -> str:
    """What kind of answer ``question`` asks for: "number", "time", "person", "place", "org" (a name of
    that kind, for spaCy's entities) or "name" (anything else: a capitalised name will do)."""
    if _NUMBER_QUESTION.search(question):
        return "number"
    if _TIME_QUESTION.search(question):
        return "time"
    if re.match(r"^\W*[Ww]ho\s+(is|was|are|were)\s+[A-Z]", question):
        return "name"  # "Who is Brian Hughes?" asks what the person is, not for a person
    if re.match(r"^\W*(who|whom)\b", question, re.I):
        return "person"
    if re.match(r"^\W*where\b", question, re.I):
        return "place"
    return _which_noun(question) or "name"


def _offers_answer(
    sentence: str, shape: str, asked: set[str], entities: Sequence[tuple[str, str]] | None = None
) -> bool:
    """Whether ``sentence`` holds a candidate answer of that ``shape`` the question does not already name:
    a number, a date, or a name inside the sentence; with ``entities`` ((text, spaCy label) pairs of the
    sentence), a name of the kind asked for ("Which country …": a place)."""
    labels = _KIND_LABELS.get(shape)
    if entities is not None and labels is not None:
        return any(
            label in labels and not ({_stem(w) for w in re.findall(r"[\w']+", _fold(text))} <= asked)
            for text, label in entities
        )
    if shape == "number":
        return bool(_NUMBER.search(sentence))
    if shape == "time":
        return bool(re.search(r"\d|\b(" + "|".join(_MONTHS_DAYS) + r")\b", sentence, re.I))
    return any(_stem(m.group(0)) not in asked for m in _CAPITAL.finditer(sentence))


def _is_question(sentence: str) -> bool:
    """Whether ``sentence`` asks a question (ends with "?", quotes and brackets aside)."""
    return sentence.rstrip().rstrip("\"'”’)]").endswith("?")


def coverage(ask: Ask, text: str) -> tuple[float, float]:
    """(share of the ask's names, share of its key terms) that ``text`` contains."""
    folded = _fold(text)
    stems = {_stem(w) for w in re.findall(r"[\w']+", folded)}
    held = [n for n in ask.names if _name_in(n, folded, stems, text)]
    names = len(held) / len(ask.names) if ask.names else 1.0
    # A name held in another form holds its words as key terms too ("uk" in "The British government said").
    named = {_stem(w) for n in held if not {_stem(w) for w in n.split()} <= stems
             and _other_form_in(n, folded, text) for w in n.split()}
    terms = len(ask.terms & (stems | named)) / len(ask.terms) if ask.terms else 1.0
    return names, terms


# --- questions about a day, and relative days in old articles -----------------------------------------
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
# of it that uses a relative time ("… resigned yesterday (published 2023-05-02) [1].").
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
# The sentences of an extractive answer to such a question that score within this of the best are ordered
# newest article first (see ``Assistant.extract_candidates``).
LATEST_MARGIN = 0.4


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


# --- the service ----------------------------------------------------------------------------------
class Assistant:
    """Holds the store and the chat model (both loaded once) and answers questions."""

    def __init__(
        self,
        settings: Settings,
        store: Store | None = None,
        chat_model: BaseChatModel | None = None,
        backend: str | None = None,
    ) -> None:
        self.settings = settings
        self.store = store or Store(settings)
        self.backend = backend or settings.backend
        self._chat_model = chat_model
        self._model_lock = threading.Lock()
        self._sentence_cache: dict[str, np.ndarray] = {}
        self._entity_cache: dict[str, list[tuple[str, str]]] = {}
        self._lemma_cache: dict[str, list[tuple[str, str, str]]] = {}
        self._speech_cache: dict[str, Speech] = {}
        self._spoken_cache: dict[tuple[Asked, str, str], list[tuple[int, int, str, bool]]] = {}
        self._cache_lock = threading.Lock()

    @property
    def chat_model(self) -> BaseChatModel | None:
        """The LLM of the configured backend (None for ``extractive``), created on first use."""
        if self._chat_model is None and self.backend != "extractive":
            with self._model_lock:
                if self._chat_model is None:
                    from retrieval.backends import get_chat_model

                    self._chat_model = get_chat_model(self.settings, self.backend)
        return self._chat_model

    def stats(self) -> dict[str, Any]:
        return self.store.stats()

    def warm_up(self) -> None:
        """Load now what the first question would otherwise wait for: the embedder, the index files,
        what verification loads on first use, and the answer model with the system prompt read
        (llama.cpp keeps it for every later prompt). For a background thread at start (the page
        does that); each step that fails is left for the first question to report."""
        question = "What happened this week?"
        with contextlib.suppress(Exception):
            passages = self.retrieve(question).passages  # embedder, Chroma, keyword index
            if passages:
                self.verify("Warm up sentence about the news [1].", passages[:1], question)
        with contextlib.suppress(Exception):
            model = self.chat_model
            if model is not None and callable(getattr(model, "load", None)):  # in-process: worth it
                model.invoke([("system", prompts.SYSTEM), ("user", "Hi")], max_tokens=1)

    # --- steps ------------------------------------------------------------------------------------
    def rewrite(self, question: str, history: History) -> str:
        """A standalone version of a follow-up question (the question itself otherwise)."""
        if not is_followup(question, history):
            return question
        pairs = _history_pairs(history)
        model = self.chat_model
        if model is not None:
            # Earlier answers quote articles: as inert as the passages themselves.
            convo = "\n".join(f"{role}: {prompts.untrusted(content[:400])}" for role, content in pairs[-4:])
            try:
                # Same system message as the answer prompt: llama.cpp keeps that prefix evaluated.
                reply = model.invoke(
                    [("system", prompts.SYSTEM), ("user", prompts.REWRITE.format(history=convo, question=question))]
                )
                text = str(getattr(reply, "content", reply)).strip().splitlines()
                rewritten = text[0].strip().strip('"') if text else ""
                if (3 <= len(rewritten) <= 300 and prompts.NOT_IN_ARTICLES not in rewritten
                        and rewrite_keeps(question, rewritten, pairs)):
                    return rewritten
            except Exception:
                pass
        return f"{question} (following up on: {_subject(history)})"

    def _embed_sentences(self, sentences: Sequence[str]) -> np.ndarray:
        """Vectors of ``sentences``; a bounded cache shared by every session (thread-safe)."""
        if not sentences:
            return np.zeros((0, self.store.embedder.dimension), dtype=np.float32)
        with self._cache_lock:
            found = {s: self._sentence_cache[s] for s in sentences if s in self._sentence_cache}
        todo = [s for s in dict.fromkeys(sentences) if s not in found]
        if todo:
            fresh = dict(zip(todo, self.store.embedder.encode(todo), strict=True))
            found.update(fresh)
            with self._cache_lock:
                if len(self._sentence_cache) + len(fresh) > 20_000:
                    self._sentence_cache.clear()
                self._sentence_cache.update(fresh)
        return np.stack([found[s] for s in sentences])

    def _parsed(self, sentences: Sequence[str], cache: dict[str, Any], read: Callable[[Any], Any]) -> list[Any]:
        """``read(doc)`` of each sentence's parse — the claim checker's, which every reader of a sentence
        shares (:meth:`ClaimChecker.docs`) — cached per sentence in ``cache`` like the vectors."""
        with self._cache_lock:
            found = {s: cache[s] for s in sentences if s in cache}
        todo = [s for s in dict.fromkeys(sentences) if s not in found]
        if todo:
            fresh = {s: read(doc) for s, doc in zip(todo, default_checker().docs(todo), strict=True)}
            found.update(fresh)
            with self._cache_lock:
                if len(cache) + len(fresh) > 20_000:
                    cache.clear()
                cache.update(fresh)
        return [found[s] for s in sentences]

    def _entities(self, sentences: Sequence[str]) -> list[list[tuple[str, str]]]:
        """spaCy's named entities ((text, label) pairs) of each sentence."""
        return self._parsed(sentences, self._entity_cache, lambda doc: [(e.text, e.label_) for e in doc.ents])

    def _lemmas(self, sentences: Sequence[str]) -> list[list[tuple[str, str, str]]]:
        """(lower-cased word, lemma, part of speech) of each token of each sentence (spaCy's tagger and
        lemmatizer; the full parse is shared with the other readers of the sentence)."""
        return self._parsed(
            sentences, self._lemma_cache,
            lambda doc: [(t.lower_, t.lemma_.lower(), t.pos_) for t in doc if not t.is_punct],
        )

    def _speech(self, sentences: Sequence[str]) -> list[Speech]:
        """Who speaks in each sentence (:func:`retrieval.speakers.read_speech`: spaCy's parse and entities)."""
        return self._parsed(sentences, self._speech_cache, read_speech)

    def _spoken_flags(self, speaker: Asked, passage: Passage) -> list[tuple[int, int, str, bool]]:
        """Each sentence of ``passage`` — (start, end, text on one line, whether it answers what
        ``speaker`` said: :func:`retrieval.speakers.spoken_by`), cached: the gate, the extractive choice
        and the check of a draft each ask (the walk costs ~4 ms for six passages, once parsed)."""
        cached = (speaker, passage.title, passage.text)
        with self._cache_lock:
            if cached in self._spoken_cache:
                return self._spoken_cache[cached]
        spans = [(s, e, flat(t)) for s, e, t in self._passage_sentences(passage)]
        spans = spans or [(0, len(passage.text), flat(passage.text))]
        speech = self._speech([passage.title, *(t for _, _, t in spans)])
        flags = spoken_by(speaker, [t for _, _, t in spans], speech[1:], speech[0], f"{passage.title}\n{passage.text}")
        out = [(s, e, t, ok) for (s, e, t), ok in zip(spans, flags, strict=True)]
        with self._cache_lock:
            if len(self._spoken_cache) >= 2_000:
                self._spoken_cache.clear()
            self._spoken_cache[cached] = out
        return out

    def spoken(self, question: str, passages: Sequence[Passage]) -> dict[int, set[str]] | None:
        """For a question about what someone said or how they reacted (:func:`asked_speaker`: "What did
        the UK say about it?"), the passage sentences that answer it — that one speaks in them, or does
        what they state — by passage index (sentences as one line, unmarked); None for other questions.
        A quote of someone else near the name is no answer, however well it matches the question."""
        speaker = question_speaker(question)
        if speaker is None:
            return None
        found: dict[int, set[str]] = {}
        for i, p in enumerate(passages):
            said = {unmarked(t) for _, _, t, ok in self._spoken_flags(speaker, p) if ok}
            if said:
                found[i] = said
        return found

    def _says(self, speaker: Asked, passage: Passage, verdict: Verdict, claim: str) -> bool:
        """Whether the passage sentence a verified ``claim`` rests on (of the verdict's span, the one
        sharing most of its words) answers what ``speaker`` said."""
        terms = {_stem(t) for t in keyword_terms(claim)}
        inside = [(len(terms & {_stem(t) for t in keyword_terms(text)}), ok)
                  for s, e, text, ok in self._spoken_flags(speaker, passage) if s < verdict.end and e > verdict.start]
        return bool(inside) and max(inside, key=lambda x: x[0])[1]

    def _close_words(self, relation: Relation, lemmas: set[str]) -> set[str]:
        """Of ``lemmas``, those the embedder puts within ``RELATION_SIMILARITY`` of a relation's lemma."""
        words = sorted(w for w in lemmas if len(w) >= 3 and w.isalpha() and w not in _LIGHT_VERBS)
        if RELATION_SIMILARITY >= 1 or not words or not relation.lemmas:
            return set()
        vectors = self._embed_sentences(words)
        asked = self._embed_sentences(list(relation.lemmas))
        best = (vectors @ asked.T).max(axis=1)
        return {w for w, score in zip(words, best, strict=True) if score >= RELATION_SIMILARITY}

    def relation_support(self, question: str, ask: Ask, passages: Sequence[Passage]) -> dict[int, set[str]] | None:
        """The passage sentences that state what ``question`` asks of its names (:func:`question_relation`),
        by passage index (sentences as one line): a sentence holding the relation's word, whose
        neighbourhood (``RELATION_NEIGHBOURS`` sentences either side, and the title) names at least one of
        the question's names (``RELATION_NAMES_NEEDED`` of them) and every name qualifying the relation
        ("in Mexico"); for "how many" a number in that sentence, for "when" a date. None when the
        question names no relation (``holds_answer`` then asks only for the names and key terms).
        A question about what someone said is answered only by that one's sentences (:meth:`spoken`):
        with no relation, those are the support."""
        relation = question_relation(question)
        spoken = self.spoken(question, passages)
        if relation is None:
            return spoken
        texts = [f"{p.title}\n{p.text}" for p in passages]
        waived = ask.qualifiers if ask.qualifiers and _rest_held(ask, texts) else frozenset()
        names = [n for n in ask.names if n.removeprefix("the ") not in _EVERYWHERE and n not in waived]
        needed = max(1, math.ceil(RELATION_NAMES_NEEDED * len(names))) if names else 0
        bound = [n for n in relation.bound if n not in waived]
        asked = _stems(question) | {_stem(w) for name in ask.names for w in name.split()}
        found: dict[int, set[str]] = {}
        split = [[flat(s) for _, _, s in self._passage_sentences(p)] or [flat(p.text)] for p in passages]
        lemmas = self._lemmas([s for sentences in split for s in sentences])
        close = self._close_words(relation, {lemma for tokens in lemmas for _, lemma, pos in tokens if pos == "VERB"})
        k = 0
        for i, (p, sentences) in enumerate(zip(passages, split, strict=True)):
            for j, sentence in enumerate(sentences):
                tokens = lemmas[k]
                k += 1
                if not _states_relation(relation, tokens, sentence, asked, close.__contains__):
                    continue
                around = "\n".join([p.title, *sentences[max(0, j - RELATION_NEIGHBOURS):j + RELATION_NEIGHBOURS + 1]])
                folded = _fold(around)
                stems = {_stem(w) for w in re.findall(r"[\w']+", folded)}
                context = texts[i]
                if sum(_name_in(n, folded, stems, around, context) for n in names) < needed:
                    continue
                if not all(_name_in(n, folded, stems, around, context) for n in bound):
                    continue
                if spoken is not None and unmarked(sentence) not in spoken.get(i, ()):
                    continue
                found.setdefault(i, set()).add(unmarked(sentence))
        return found

    def _passage_sentences(self, passage: Passage) -> list[tuple[int, int, str]]:
        return [(s, e, passage.text[s:e]) for s, e in split_sentences(passage.text)]

    def focus(self, question: str, passages: Sequence[Passage], ask: Ask | None = None) -> list[str]:
        """The text of each passage to show the model ("" for a passage left out), in passage order.

        Sentences are ranked by :meth:`sentence_scores` (what the extractive answer ranks by: about the
        question, and holding the kind of thing it asks for). With ``settings.context_tokens`` > 0,
        sentences are chosen until that many (estimated) tokens are spent, headers of the passages
        shown included: first the best sentence of each passage, most promising passage first (its
        best sentence's score, plus a bonus for its search rank: search judged the whole passage),
        then the best remaining ones across all passages, at most ``context_sentences`` per passage,
        then neighbours of chosen sentences (a pronoun's antecedent, a number's context). Every token
        here delays the first answer token on a CPU. With 0: the ``context_sentences`` best sentences
        of every passage.
        """
        passages = [without_instructions(p) for p in passages]  # planted instructions never reach the model
        limit = self.settings.context_sentences
        budget = self.settings.context_tokens
        split = [self._passage_sentences(p) or [(0, len(p.text), p.text)] for p in passages]
        scored = self.sentence_scores(
            question, ask or question_ask(question), [[text for _, _, text in sentences] for sentences in split]
        )
        scores = [np.array([score for _, score in row], dtype=np.float32) for row in scored]
        if budget <= 0:
            return [
                p.text if len(sentences) <= limit
                else " … ".join(sentences[j][2] for j in sorted(np.argsort(-score)[:limit].tolist()))
                for p, sentences, score in zip(passages, split, scores, strict=True)
            ]
        chosen: list[set[int]] = [set() for _ in split]
        ranked = sorted(
            ((float(score[j]), i, j) for i, score in enumerate(scores) for j in range(len(score))), reverse=True
        )
        spent = 0
        titled: set[str] = set()  # articles with a passage shown: their title is in the prompt once

        def header(i: int) -> int:  # what showing passage i costs besides its sentences
            return 0 if chosen[i] else _header_tokens(passages[i], passages[i].article_id not in titled)

        # Every passage's best sentence first, the most promising passages first: the best sentence's
        # score plus a bonus for the search rank (search judged the whole passage, with its title).
        promise = [float(score.max()) + RANK_BONUS / (i + 1) for i, score in enumerate(scores)]
        for i in sorted(range(len(scores)), key=lambda i: -promise[i]):
            j = int(np.argmax(scores[i]))
            cost = _estimate_tokens(split[i][j][2]) + header(i)
            if spent + cost <= budget:
                chosen[i].add(j)
                titled.add(passages[i].article_id)
                spent += cost
        for _, i, j in ranked:  # then the best sentences, across all passages
            if j in chosen[i]:
                continue
            # A passage's first sentence also pays for its header (source, date, title: ~30 tokens).
            cost = _estimate_tokens(split[i][j][2]) + header(i)
            if len(chosen[i]) < limit and spent + cost <= budget:
                chosen[i].add(j)
                titled.add(passages[i].article_id)
                spent += cost
        for _, i, j in ranked:  # then the neighbours of chosen ones, best first, while the budget lasts
            cost = _estimate_tokens(split[i][j][2])
            if j not in chosen[i] and {j - 1, j + 1} & chosen[i] and spent + cost <= budget:
                chosen[i].add(j)
                spent += cost
        texts = []
        for p, sentences, keep in zip(passages, split, chosen, strict=True):
            if len(keep) == len(sentences):
                texts.append(p.text.strip())
                continue
            pieces: list[str] = []
            for j in sorted(keep):
                if pieces and j - 1 not in keep:
                    pieces.append("…")
                pieces.append(sentences[j][2])
            texts.append(" ".join(pieces))
        return texts

    def _similarity(self, text: str, texts: Sequence[str]) -> list[float]:
        """Cosines of ``text`` to ``texts`` (the embedder; sentence vectors cached)."""
        if not texts:
            return []
        vec = self._embed_sentences([text])[0]
        return [float(x) for x in self._embed_sentences(list(texts)) @ vec]

    def _support(self, claim: str, passage: Passage, question: str = "") -> Verdict:
        """Whether ``passage`` states ``claim`` (an answer to ``question``), with the supporting span (see
        ``retrieval.claims``)."""
        return default_checker().check(
            claim, passage.text, similarity=self._similarity, title=passage.title, outlet=passage.outlet,
            published=passage.published, threshold=self.settings.support_threshold,
            sentences=self._passage_sentences(passage) or [(0, len(passage.text), passage.text)],
            question=question,
            # Extracted answers are the passages' own words (at times a heading run into the sentence of the
            # next chunk): the checks of words a model adds are for a model's sentences.
            judge_words=self.backend != "extractive",
        )

    def _short_support(self, answer: str, question: str, passage: Passage, speaker: Asked | None = None) -> Verdict:
        """Support for a bare answer (up to BARE_ANSWER_WORDS words): the passage sentence that names all
        of its words and figures and best matches the question; never an instruction planted in it. For a
        question about what ``speaker`` said ("What did Dunn say it would cost? A) …"), only that one's
        sentences (:meth:`_spoken_flags`): another's naming the choice neither supports nor rivals it."""
        sentences = self._passage_sentences(passage) or [(0, len(passage.text), passage.text)]
        if speaker is not None:
            said = {(s, e) for s, e, _, ok in self._spoken_flags(speaker, passage) if ok}
            sentences = [x for x in sentences if (x[0], x[1]) in said]
            if not sentences:
                return Verdict(False, 0.0, 0, 0, f"the passage does not have {speaker.name} say this")
        return default_checker().check_bare(
            answer, passage.text, question=question, similarity=self._similarity, sentences=sentences,
            kinds=_KIND_LABELS.get(_answer_shape(question), frozenset()),
        )

    def choice_support(self, question: str, choices: Sequence[str], passages: Sequence[Passage]
                       ) -> list[ChoiceSupport]:
        """For each of ``choices`` that a passage supports as the answer to ``question`` (the question
        without its list: the other choices named in the same passage may be rivals), the best-scoring
        support: the bare-answer check of :meth:`verify` (a sentence names it; none of that passage closer
        to the question names another thing of the kind asked), its score how close that sentence is to
        the question and the choice."""
        found = []
        speaker = question_speaker(question)  # "What did X say …?": X's sentences only
        for c, choice in enumerate(choices):
            held = [ChoiceSupport(c, i, verdict) for i, p in enumerate(passages)
                    if (verdict := self._short_support(choice, question, p, speaker)).supported]
            if held:  # the best score; the better-ranked passage of two alike
                found.append(max(held, key=lambda s: (s.verdict.score, -s.passage)))
        return found

    def decide_choice(self, question: str, passages: Sequence[Passage], answer: Answer) -> Answer | None:
        """For a question listing choices: the answer naming the choice the passages support best (see
        :meth:`choice_support`), cited with that sentence — or None to keep ``answer``: it already names
        that choice (the model's own words, not a fallback), the question lists no choices, no passage
        supports any of them, or (``settings.choice_evidence == "unsupported"``) a passage supports the
        choice ``answer`` names."""
        bare, choices = listed_choices(question)
        if not choices:
            return None
        supports = self.choice_support(bare, choices, passages)
        if not supports:
            return None
        best = max(supports, key=lambda s: (s.verdict.score, -s.choice))
        named = None if answer.refused or answer.note else named_choice(answer.text, choices)
        if named == best.choice:
            return None
        if self.settings.choice_evidence == "unsupported" and any(s.choice == named for s in supports):
            return None  # the model's own choice holds up
        chosen = self._cited_choice(question, bare, best.choice, choices[best.choice], best.passage, passages)
        if chosen is None:
            return None
        chosen.text = f"{CHOICE_NOTE} {chosen.text}"
        chosen.note = CHOICE_NOTE
        return chosen

    def _cited_choice(self, question: str, bare: str, index: int, choice: str, passage: int,
                      passages: Sequence[Passage]) -> Answer | None:
        """The verified answer "B) 40,000 euros [n]." naming choice ``index`` and citing ``passages[passage]``
        (checked against ``bare``, the question without its list), or None if it does not pass."""
        answer = self.verify(f"{chr(ord('A') + index)}) {choice} [{passage + 1}].", passages, bare)
        if answer.refused or answer.unsupported:
            return None
        answer.question = question
        return answer

    def letter_answer(self, model: Any, messages: Sequence[tuple[str, str]], question: str,
                      passages: Sequence[Passage]) -> Answer | None:
        """For a question listing choices and a model whose reply can be constrained (``model.choose``:
        the local backend): the letter the model picks after reading the same prompt as for an answer
        plus ``prompts.CHOICE_LETTER``, answered as "B) 40,000 euros [n]." and cited with the passage
        sentence that supports that choice (:meth:`choice_support`) — or None: the question lists no
        choices, the model's reply was no letter, or no passage supports the choice it picked (then it
        answers in its own words, as for any question)."""
        bare, choices = listed_choices(question)
        if not choices:
            return None
        role, user = messages[-1]
        labels = [chr(ord("A") + i) for i in range(len(choices))]  # listed_choices allows A-J in order
        picked = model.choose([*messages[:-1], (role, user + prompts.CHOICE_LETTER)], labels)
        if picked is None:
            return None
        support = self.choice_support(bare, [choices[picked]], passages)
        if not support:
            return None
        return self._cited_choice(question, bare, picked, choices[picked], support[0].passage, passages)

    # --- answering --------------------------------------------------------------------------------
    def retrieve(
        self, question: str, filters: Filters | None = None, boost: frozenset[str] = frozenset(),
        cited: frozenset[str] = frozenset(), k: int | None = None,
    ) -> SearchResult:
        """The passages for ``question``; with ``boost`` (stems of a follow-up's new terms), passages
        holding them rank higher: up to ``FOLLOWUP_WEIGHT`` rank-1 hits for holding all of them; with
        ``cited`` (article ids the previous answer cited: what "it" refers to), their passages gain up
        to ``CITED_WEIGHT`` more, by the share of the new terms they hold (a cited passage without the
        new ask is the previous answer again). A reranked search keeps no places for the best dense
        matches (``settings.dense_reserve``): a follow-up's query mixes the new ask with the subject's
        words, and its best dense match is often the subject alone (docs/results.md, session 6). ``k``: how
        many passages (default ``settings.k``)."""
        reranker = None
        if boost or cited:
            bonus = FOLLOWUP_WEIGHT / self.settings.rrf_k
            cited_bonus = CITED_WEIGHT / self.settings.rrf_k

            def reranker(_query: str, passages: Sequence[Passage]) -> list[float]:
                scores = []
                for p in passages:
                    new = len(boost & _stems(f"{p.title} {p.text}")) / len(boost) if boost else 1.0
                    score = p.score + (bonus * new if boost else 0.0)
                    if p.article_id in cited:
                        score += cited_bonus * new
                    scores.append(score)
                return scores

        return search(self.store, question, k=k or self.settings.k, filters=filters, reranker=reranker,
                      dense_reserve=reranker is None)

    def stream(
        self, question: str, history: History = (), filters: Filters | None = None
    ) -> Iterator[Event]:
        """Events: ``Retrieved`` (sources, before any token), ``Status``, ``Token`` (as generated), ``Final``."""
        started = time.perf_counter()
        timings: dict[str, float] = {}
        question = plain_question(question)
        if not question:
            raise EmptyQuestionError("the question is empty: ask something about the ingested articles")

        if not_english(question):
            yield Retrieved(question, [])
            yield Final(Answer(text=NOT_ENGLISH, refused=True, question=question,
                               timings={"total": time.perf_counter() - started}))
            return

        t = time.perf_counter()
        follow = followup_search(question, history)
        standalone = self.rewrite(question, history) if follow else question
        timings["rewrite"] = time.perf_counter() - t

        # A follow-up searches its own words plus the subject's, its new terms weighted up; the
        # question the answer step reads is the standalone one.
        # A question about a day only ("What happened yesterday?") reads that day's articles.
        days = asked_days(question) if follow is None else None
        # The time a follow-up ("What happened next?") or a day question asks about may lie outside the
        # filters' dates: then no article may answer.
        window: Filters | None = filters or Filters()
        if follow is not None:
            window = follow.window(filters)
        elif days is not None:
            window = day_filters(filters, days)
        if window is None:
            timings["total"] = time.perf_counter() - started
            yield Retrieved(standalone, [])
            note = days_outside_note(filters or Filters(), days) if days is not None else ""
            yield Final(self._refusal(standalone, [], timings, filters, note=note))
            return
        if follow is not None:  # spread over the story's articles; "what happened next" leaves the cited ones out
            result = followup_retrieve(self, follow, window)
        elif days is not None:
            result = self.retrieve(standalone, window)
        elif (day := topic_day(question)) is not None and (that_day := day_filters(filters, day)) is not None and (
                self.holds_answer(self.ask_of(question, None, (found := self.retrieve(standalone, that_day)).passages),
                                  found.passages, found.best_similarity)):
            result = found  # "… in Kessel yesterday?": that day's articles, when they hold it (else all days)
        elif asks_latest(question):
            newest = self.store.facts().get("newest_published") or ""
            result = self.retrieve(standalone, latest_filters(filters, newest))
        else:
            result = self.retrieve(standalone, filters)
        timings["retrieve"] = result.timings.get("retrieve", 0.0)
        passages = result.passages
        yield Retrieved(standalone, passages)

        if follow is not None:  # a follow-up is answered from its story, or refused
            passages = self.of_story(question, follow, passages)
        ask = self.ask_of(question, follow, passages)
        if follow is None and days is None and names_nothing(ask) and not asks_latest(question):
            # "Why?", "Is it true?" with no conversation to refer to: the nearest sentences would be shown
            # as its verified answer.
            timings["total"] = time.perf_counter() - started
            yield Final(Answer(text=NAMES_NOTHING, refused=True, passages=list(passages), question=standalone,
                               timings=timings))
            return
        # What the question asks of its names, stated near them — a follow-up's too ("How many died in that
        # storm?" needs a sentence saying who died, as the same question asked alone does).
        support = self.relation_support(question, ask, passages) if not ask.empty else None
        if not (passages if days is not None else self.holds_answer(ask, passages, result.best_similarity, support)):
            timings["total"] = time.perf_counter() - started
            yield Final(self._refusal(standalone, passages, timings, filters))
            return

        if self._chat_model is None and self.backend != "extractive":
            yield Status(f"Loading the {self.backend} answer model (first question only)…")
        model = self.chat_model
        lettered: Answer | None = None
        cut = ""  # the unfinished end of a model's answer that was cut off, left out

        def extract() -> str:  # the passages' own sentences: the day's first ones for a question about a day
            if days is not None:
                return self._digest(passages)
            return self._extract(standalone, passages, ask, support, as_of=(filters or Filters()).as_of_day)

        if model is None:
            t = time.perf_counter()
            text = extract()
            timings["generate"] = time.perf_counter() - t
            timings["first_token"] = time.perf_counter() - started
            if text:
                yield Token(text)
        else:
            t = time.perf_counter()
            messages = self.build_messages(standalone, passages, (filters or Filters()).as_of_day, ask)
            timings["prompt"] = time.perf_counter() - t
            reading = f"Reading {messages[-1][1].count('<passage ')} passages…"
            if self.settings.choice_letter and listed_choices(standalone)[1] and hasattr(model, "choose"):
                yield Status(f"{reading[:-1]} to pick one of the listed choices…")
                t = time.perf_counter()
                lettered = self.letter_answer(model, messages, standalone, passages)
                timings["choice"] = time.perf_counter() - t
        if lettered is not None:
            text = lettered.text
            timings["first_token"] = time.perf_counter() - started
            yield Token(text)
        elif model is not None:
            t = time.perf_counter()
            parts: list[str] = []
            finish: str | None = None
            length, cap = 0, self.settings.max_tokens * REPLY_CHARS_PER_TOKEN
            for chunk in _tick_until_first(model.stream(messages), reading):
                if isinstance(chunk, Status):  # the wait for the first word, second by second
                    yield chunk
                    continue
                finish = (getattr(chunk, "response_metadata", None) or {}).get("finish_reason") or finish
                piece = str(chunk.content) if hasattr(chunk, "content") else str(chunk)
                if not piece:
                    continue
                if not parts:
                    timings["first_token"] = time.perf_counter() - started
                parts.append(piece)
                yield Token(piece)
                length += len(piece)
                if length > cap:
                    finish = "length"  # an endpoint ignoring max_tokens: read no further (a 171 k reply took minutes)
                    break
            text = "".join(parts)[:cap]
            timings["generate"] = time.perf_counter() - t
            # Cut off: at the token limit, or a stream that ended without saying why (a dropped
            # connection). Its last words may be a quote's prefix ("… 300 troops a [1]") and pass the check.
            if finish == "length" or (finish is None and self.backend == "openai"):
                text, cut = finished(text)

        t = time.perf_counter()
        final = lettered or self.verify(text, passages, standalone)
        if cut:
            final.unsupported.append(Unsupported(cut, CUT_REASON))
        if final.refused and model is not None:
            # The model refused, or no sentence of its answer passed the check, although the passages
            # hold what the question asks about: the passages' own verified sentences, never less.
            extracted = extract()
            fallback = self.verify(extracted, passages, standalone) if extracted else final
            if not fallback.refused:
                fallback.text = f"{FALLBACK_NOTE} {fallback.text}"
                fallback.note = FALLBACK_NOTE
                final = fallback
                yield Token(f"\n\n{final.text}")
        if self.settings.choice_evidence != "off":
            # A question listing choices: the choice a passage supports best, whatever the model chose.
            chosen = self.decide_choice(standalone, passages, final)
            if chosen is not None:
                final = chosen
                yield Token(f"\n\n{final.text}")
        timings["verify"] = time.perf_counter() - t
        timings["total"] = time.perf_counter() - started
        final.timings = timings
        if final.refused:
            final = self._refusal(standalone, passages, timings, filters)
        yield Final(dated(final, (filters or Filters()).as_of_day))

    def of_story(self, question: str, follow: FollowUp, passages: Sequence[Passage]) -> list[Passage]:
        """The ``passages`` a follow-up may be answered from: those of its story (:func:`on_topic`; the
        passages' outlet names are no topic)."""
        outlets = sorted({p.outlet for p in passages if p.outlet})
        tied = on_topic(question, follow, passages, outlets, self._article_text)
        return [p for p, on in zip(passages, tied, strict=True) if on]

    def _article_text(self, article_id: str) -> str:
        """An article's title and whole text ("" when it cannot be read)."""
        try:
            row = self.store.article(article_id)
        except Exception:  # e.g. removed by an ingest since the search: judged by its passage alone
            return ""
        return f"{row['title']}\n{row['text']}" if row is not None else ""

    def ask_of(self, question: str, follow: FollowUp | None, passages: Sequence[Passage]) -> Ask:
        """What ``question`` asks about (a follow-up: its own new ask, or its subject's when it has none
        of its own, e.g. "Why?"); outlet names are no topic ("a BBC report on …")."""
        outlets = {p.outlet for p in passages if p.outlet} | set(self.store.facts().get("outlets") or ())
        ask = question_ask(question, sorted(outlets))
        if follow is not None and ask.empty:
            ask = question_ask(f"{question} {follow.subject}", sorted(outlets))
        return ask

    def holds_answer(self, ask: Ask, passages: Sequence[Passage], best_similarity: float,
                     support: dict[int, set[str]] | None = None) -> bool:
        """Whether to answer: the passages hold the question's names and key terms (see
        :meth:`Evidence.holds`) and, when the question names a relation, a sentence states it near them
        (``support``: :meth:`relation_support`); a question with none ("What happened?") falls back on
        the best passage's cosine similarity (``settings.refusal_threshold``)."""
        if not passages:
            return False
        if ask.empty:
            return best_similarity >= self.settings.refusal_threshold
        return evidence(ask, passages).holds() and (support is None or bool(support))

    def answer(self, question: str, history: History = (), filters: Filters | None = None) -> Answer:
        final: Answer | None = None
        for event in self.stream(question, history, filters):
            if isinstance(event, Final):
                final = event.answer
        assert final is not None
        return final

    def build_messages(
        self, question: str, passages: Sequence[Passage], today: dt.date | None = None, ask: Ask | None = None
    ) -> list[tuple[str, str]]:
        """System and user messages; ``today`` is the day the news is read as of (default: today).

        Passages keep their numbers (the answer cites them as ``[n]``); one with nothing worth
        showing (see :meth:`focus`) is left out of the prompt.
        """
        blocks = []
        titled: set[str] = set()  # an article's title is shown with its first passage only
        for n, (p, text) in enumerate(zip(passages, self.focus(question, passages, ask), strict=True), start=1):
            if not text:
                continue
            outlet, published = _attr(p.outlet or "unknown outlet"), _attr(p.published[:10] or "undated")
            source = (
                prompts.SOURCE_AGAIN.format(outlet=outlet, published=published) if p.article_id in titled
                else prompts.SOURCE.format(outlet=outlet, published=published, title=_title(p))
            )
            titled.add(p.article_id)
            blocks.append(prompts.PASSAGE.format(n=n, source=source, text=prompts.untrusted(text)))
        user = prompts.USER.format(
            today=(today or dt.date.today()).isoformat(), passages="\n".join(blocks), question=question
        )
        return [("system", prompts.SYSTEM), ("user", user)]

    def sentence_scores(
        self, question: str, ask: Ask, sentences: Sequence[Sequence[str]]
    ) -> list[list[tuple[float, float]]]:
        """(relevance, score) of every sentence of every passage (``sentences[i]``: the i-th ranked
        passage's), for the extractive answer and for choosing what the model reads.

        Relevance: cosine similarity to the question plus ``EXTRACT_TERM_WEIGHT`` × the share of the
        question's key terms and names it holds — whether the sentence is about what is asked. Score:
        relevance, plus ``EXTRACT_ANSWER_WEIGHT`` when it holds something of the kind asked for that the
        question does not name (a person for "who", a number for "how many": spaCy's entities), plus
        ``EXTRACT_RANK_WEIGHT`` / search rank of its passage.
        """
        flat_list = [s for group in sentences for s in group]
        if not flat_list:
            return [[] for _ in sentences]
        query_vec = self.store.embedder.encode([question])[0]
        shape = _answer_shape(question)
        asked = _stems(question) | {_stem(w) for name in ask.names for w in name.split()}
        typed = EXTRACT_NER and shape in _KIND_LABELS
        cosines = self._embed_sentences(flat_list) @ query_vec
        entities = self._entities(flat_list) if typed else [None] * len(flat_list)
        out: list[list[tuple[float, float]]] = []
        k = 0
        for n, group in enumerate(sentences, start=1):
            row = []
            for sentence in group:
                names, terms = coverage(ask, sentence)
                lexical = (terms if ask.terms else 0.0) + (0.5 * names if ask.names else 0.0)
                relevance = float(cosines[k]) + EXTRACT_TERM_WEIGHT * lexical
                score = relevance + EXTRACT_RANK_WEIGHT / n
                if _offers_answer(sentence, shape, asked, entities[k]):
                    score += EXTRACT_ANSWER_WEIGHT
                row.append((relevance, score))
                k += 1
            out.append(row)
        return out

    def _extract(self, question: str, passages: Sequence[Passage], ask: Ask | None = None,
                 support: dict[int, set[str]] | None = None, as_of: dt.date | None = None) -> str:
        """The extractive backend: the passages' sentences that best answer ``question``, each cited.

        A sentence scores its cosine similarity to the question plus the share of the question's key
        terms (``ask``) and names it holds; whole sentences only, shown on one line, never fragments
        (see ``retrieval.text``), at most ``EXTRACT_SENTENCES``, no two saying nearly the same. The
        sentences that state the question's relation (``support``: the evidence the answer was allowed
        on, :meth:`relation_support`) gain ``EXTRACT_RELATION_WEIGHT``.
        """
        chosen = self.extract_candidates(question, passages, ask, EXTRACT_SENTENCES, support, as_of)
        return " ".join(_cite(sentence, n) for _, n, sentence in chosen)

    def _digest(self, passages: Sequence[Passage]) -> str:
        """What happened on a day (:func:`asked_days`): the first sentence of each of that day's articles
        (their best-ranked passage), the best-ranked articles first, at most ``EXTRACT_SENTENCES``."""
        first: dict[str, tuple[int, int, str]] = {}  # article -> (start in article, passage number, sentence)
        for n, p in enumerate(passages, start=1):
            sentences = [unmarked(flat(s)) for _, _, s in self._passage_sentences(p)
                         if len(s.split()) >= 5 and not is_instruction(s)]
            if sentences and (p.article_id not in first or p.start < first[p.article_id][0]):
                first[p.article_id] = (p.start, n, sentences[0])
        chosen = sorted(first.values(), key=lambda f: f[1])[:EXTRACT_SENTENCES]
        return " ".join(_cite(sentence, n) for _, n, sentence in chosen)

    def extract_candidates(self, question: str, passages: Sequence[Passage], ask: Ask | None = None,
                           limit: int = EXTRACT_SENTENCES, support: dict[int, set[str]] | None = None,
                           as_of: dt.date | None = None) -> list[tuple[float, int, str]]:
        """The sentences :meth:`_extract` answers with, best first, as (score, passage number, sentence):
        at most ``limit``, no two saying nearly the same (``benchmarks/model_reading_lab.py`` reads more)."""
        ask = ask or question_ask(question)
        stating = support or {}
        spoken = self.spoken(question, passages)  # a question about what someone said: their sentences only
        sentences = [
            [
                unmarked(flat(s)) for _, _, s in self._passage_sentences(p)
                if len(s.split()) >= 5 and not is_instruction(s) and not (EXTRACT_SKIP_QUESTIONS and _is_question(s))
            ]
            for p in passages
        ]
        candidates: list[tuple[float, int, str]] = []
        for n, (group, scored) in enumerate(zip(sentences, self.sentence_scores(question, ask, sentences),
                                                strict=True), start=1):
            for sentence, (relevance, score) in zip(group, scored, strict=True):
                # Relevance decides whether a sentence may answer at all; the bonuses only order the
                # relevant ones (a name of the asked kind must not carry an off-topic sentence in).
                if spoken is not None and sentence not in spoken.get(n - 1, ()):
                    continue
                if relevance >= self.settings.refusal_threshold:
                    if sentence in stating.get(n - 1, ()):
                        score += EXTRACT_RELATION_WEIGHT
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
        if chosen and asks_latest(question):
            # "The latest …": of the sentences nearly as good as the best, the newest article's first (an
            # article dated after ``as_of`` is not news yet: it counts as undated).
            days = [d if (d := parse_day(p.published)) and (as_of is None or d <= as_of) else dt.date.min
                    for p in passages]
            lead = [c for c in chosen if c[0] >= chosen[0][0] - LATEST_MARGIN]
            lead.sort(key=lambda c: days[c[1] - 1], reverse=True)  # stable: equal days keep their scores' order
            chosen = lead + chosen[len(lead):]
        return chosen

    def verify(self, text: str, passages: Sequence[Passage], question: str) -> Answer:
        """Resolve ``[n]`` markers, check each cited sentence against its passages (``retrieval.claims``:
        facts, names, polarity, speakers; instructions planted in articles never count), renumber.
        A sentence no passage states is kept and listed in ``unsupported`` with the reason."""
        text = text.strip()
        if not text or prompts.NOT_IN_ARTICLES in text:
            return Answer(text=text, refused=True, passages=list(passages), question=question)
        text = _WORDED_MARKER.sub(r"[\1]", text)
        text = _TRAILING_MARKERS.sub(lambda m: f"{m.group(2)}{m.group(1)}", text)
        threshold = self.settings.support_threshold
        # "What did the UK say?": a sentence resting on someone else's words does not answer it.
        speaker = question_speaker(question)
        # One citation per quoted span, not per passage: two sentences resting on two sentences of one
        # passage get two numbers, so each [n] opens the very words its sentence rests on.
        citations: dict[tuple[int, int, int], Citation] = {}  # (passage index, span) -> citation
        order: list[tuple[int, int, int]] = []
        out_sentences: list[str] = []
        unsupported: list[Unsupported] = []
        spans = _verdicts_apart(text, split_sentences(text) or [(0, len(text))])
        for s, e in spans:
            sentence = " ".join(text[s:e].split())
            cited = [n for m in _MARKER.finditer(sentence) for n in _parse_markers(m.group(1))]
            valid = [n - 1 for n in dict.fromkeys(cited) if 1 <= n <= len(passages)]
            claim = _MARKER.sub("", sentence).strip()
            claim = re.sub(r"\s+([.,;:!?])", r"\1", claim)
            bare = _CHOICE_LABEL.sub("", claim)
            words = len(bare.split())
            terms = set(keyword_terms(claim))
            if terms and terms <= _META_WORDS:
                # About the passages, not the news ("This can be found in passage [6]."): small models
                # add such sentences, cited or not; they claim nothing, so they are neither shown nor checked.
                continue
            found: dict[int, Verdict] = {}  # a short claim's support, when a passage states it
            if words < 3 and not (valid and keyword_terms(bare)):
                said = _VERDICT.sub("", bare)
                if said != bare and not set(keyword_terms(said)) - _CONNECTIVES:
                    # A bare verdict ("No.", "Yes [1]."): no fact the claims checker compares, and a small
                    # model's verdict may contradict the very sentence it cites: not shown, the sentences
                    # after it answer.
                    continue
                if said != bare or set(keyword_terms(bare)) - _CONNECTIVES:
                    # A short claim ("Hegseth resigned.", "Yes, permanently."): checked like any other,
                    # uncited, it must be one a passage states.
                    good = _repoint(passages, valid, functools.partial(self._support, claim), threshold + 0.1,
                                    found) if said == bare else []
                    if not good:
                        unsupported.append(Unsupported(claim, VERDICT_REASON if said != bare
                                                       else _why(cited, valid, found)))
                        out_sentences.append(claim)
                        continue
                    valid = good
                elif claim:  # nothing to check ("-", "However,", "In short:")
                    out_sentences.append(claim)
                    continue
                else:
                    continue
            verdicts: dict[int, Verdict] = found
            if words >= 3:
                verdicts.update({i: self._support(claim, passages[i], question) for i in valid})
            good = [i for i in valid if i in verdicts and verdicts[i].supported]
            if not good and valid and words <= BARE_ANSWER_WORDS:
                # A bare answer ("Iran [2].", "C) Davos, Switzerland [1]."): supported where a sentence of
                # the cited passage names it.
                for i in valid:
                    short = self._short_support(claim, question, passages[i], speaker)
                    if short.supported or i not in verdicts:
                        verdicts[i] = short
                good = [i for i in valid if verdicts[i].supported]
                if not good:
                    # A small model often cites the wrong number ("Switzerland [1]" when passage 2 says
                    # it): point at the passage whose sentence names it and best matches the question.
                    good = _repoint(passages, valid, functools.partial(self._short_support, claim, question,
                                                                       speaker=speaker), threshold + 0.1, verdicts)
            if not good and words >= 3:
                # The cited passage does not state it: point at the one that does, if any.
                good = _repoint(passages, valid, functools.partial(self._support, claim, question=question),
                                threshold + 0.1, verdicts)
            if good and speaker is not None:
                good = [i for i in good if self._says(speaker, passages[i], verdicts[i], claim)]
                if not good:
                    unsupported.append(Unsupported(claim, f"the passage does not have {speaker.name} say this"))
                    out_sentences.append(claim)
                    continue
            if not good:
                unsupported.append(Unsupported(claim, _why(cited, valid, verdicts)))
                out_sentences.append(claim)
                continue
            numbers = []
            for i in good:
                verdict = verdicts[i]
                qs, qe = verdict.start, verdict.end
                key = (i, qs, qe)
                if key not in citations:
                    p = passages[i]
                    order.append(key)
                    citations[key] = Citation(
                        n=len(order), article_id=p.article_id, title=p.title, url=p.url,
                        published=p.published, outlet=p.outlet, quote=p.text[qs:qe],
                        start=p.start + qs, end=p.start + qe, support=round(verdict.score, 3),
                        copies=list(p.copies),
                    )
                else:
                    citations[key].support = round(max(citations[key].support, verdict.score), 3)
                numbers.append(citations[key].n)
            out_sentences.append(_cite(claim, *numbers))
        refused = not citations
        return Answer(
            text=" ".join(out_sentences).strip(),
            citations=[citations[key] for key in order],
            refused=refused,
            passages=list(passages),
            unsupported=unsupported,
            question=question,
        )

    def _refusal(self, question: str, passages: Sequence[Passage], timings: dict[str, float],
                 filters: Filters | None = None, note: str = "") -> Answer:
        text = (prompts.REFUSAL if passages else prompts.REFUSAL_NOTHING).format(as_of=_as_of(self.store))
        why = note or (filtered_refusal_note(filters, passages, self.store.facts())
                       if filters and filters.restricts else "")
        return Answer(
            text=f"{text} {why}" if why else text,
            refused=True,
            passages=list(passages),
            question=question,
            timings=timings,
            note=why,
        )


def filtered_refusal_note(filters: Filters, passages: Sequence[Passage], facts: dict[str, Any]) -> str:
    """Why a refusal under ``filters`` may be the filters' doing, and the way out: the command line's
    ``--outlet/--since/--until`` and the page's sidebar filters alike."""
    newest = parse_day(facts.get("newest_published") or "")
    # (The catalog's newest leaves out dates after tomorrow — typos, planted dates — which a search under
    # the filter may still find: then the note must not say there is none.)
    found = [d for p in passages if (d := parse_day(p.published)) is not None]
    if (filters.date_from and newest is not None and dt.date.fromisoformat(filters.date_from) > newest
            and not any(d >= dt.date.fromisoformat(filters.date_from) for d in found)):
        return (f"No ingested article is published on or after {filters.date_from} (newest article: "
                f"{newest.isoformat()}): use an earlier start date, or ingest newer articles.")
    if not passages:
        return f"No ingested article is {filters.describe()}: widen or drop the filters."
    return (f"Only articles {filters.describe()} were searched, not all {facts.get('articles', 0)} "
            "in the index: widen or drop the filters.")


def _tick_until_first(items: Iterator[Any], label: str, every: float = 1.0) -> Iterator[Any]:
    """``items``, preceded by ``Status("<label> N s")`` every ``every`` seconds until the first item
    comes (a CPU model reads its prompt for seconds before its first token). Only the first item is
    fetched on a helper thread; the rest are pulled here, so closing this generator stops ``items``."""
    box: list[Any] = []
    done = threading.Event()

    def first() -> None:
        try:
            box.append((True, next(items)))
        except BaseException as exc:  # StopIteration included: re-raised (or ended) below
            box.append((False, exc))
        done.set()

    started = time.perf_counter()
    threading.Thread(target=first, name="newsqa-first-token", daemon=True).start()
    while not done.wait(every):
        yield Status(f"{label} {time.perf_counter() - started:.0f} s")
    ok, value = box[0]
    if not ok:
        if isinstance(value, StopIteration):
            return
        raise value
    yield value
    yield from items


# Bonus of the first-ranked passage when the prompt budget is shared out (1/rank of it for the others),
# in units of sentence score (see Assistant.sentence_scores).
RANK_BONUS = 0.1
# Words of a title shown in a passage's header.
TITLE_WORDS = 10


def _estimate_tokens(text: str) -> int:
    """Tokens of English news text for the Qwen/Llama tokenizers, roughly (≈4 characters each)."""
    return len(text) // 4 + 1


def _repoint(passages: Sequence[Passage], cited: Sequence[int], check: Callable[[Passage], Verdict], bar: float,
             verdicts: dict[int, Verdict]) -> list[int]:
    """``[i]``: the passage, among those not ``cited``, that ``check`` finds supports a sentence best,
    with a score of at least ``bar`` (its verdict is put in ``verdicts``); ``[]`` when none does."""
    others = {i: check(p) for i, p in enumerate(passages) if i not in cited}
    held = [i for i, v in others.items() if v.supported and v.score >= bar]
    if not held:
        return []
    best = max(held, key=lambda i: others[i].score)
    verdicts[best] = others[best]
    return [best]


# A verdict opening a sentence ("No.", "Yes, permanently.", "Correct:"), and the words of a short sentence
# that claim nothing ("However,", "In short:", "To sum up:").
_VERDICT = re.compile(r"^(?:yes|no|nope|yeah|true|false|correct|incorrect|right|wrong|indeed|not really|"
                      r"not quite|not exactly|absolutely|exactly|partly|partially)\b[\s.,;:!]*", re.I)
_CONNECTIVES = frozenset({
    "however", "short", "summary", "brief", "sum", "overall", "meanwhile", "additionally", "also", "still",
    "notably", "first", "second", "third", "finally", "briefly", "note", "answer", "sources", "source",
    "though", "although", "instead", "moreover", "furthermore", "conclusion", "update", "background",
})
VERDICT_REASON = "a yes/no verdict is no fact a passage can be checked against: read the cited sentences"
# "No. Defense Secretary …": the splitter reads "No." as the abbreviation of "number" (not before a digit).
_VERDICT_HEAD = re.compile(r"(?:Yes|No)[.!](?=\s+[A-Z])")


def _verdicts_apart(text: str, spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """``spans`` with a leading "Yes." / "No." verdict split off the sentence it opens."""
    out = []
    for s, e in spans:
        lead = len(text[s:e]) - len(text[s:e].lstrip())
        head = _VERDICT_HEAD.match(text, s + lead, e)
        if head and head.end() < e:
            out += [(s, head.end()), (head.end(), e)]
        else:
            out.append((s, e))
    return out


def _why(cited: Sequence[int], valid: Sequence[int], verdicts: dict[int, Verdict]) -> str:
    """The reason shown for an unsupported sentence: the cited passage's, else what is missing."""
    for i in valid:
        if i in verdicts and verdicts[i].reason:
            return verdicts[i].reason
    if not cited:
        return "it cites no passage, and none states it"
    if not valid:
        return "it cites a passage that was not given, and none states it"
    return "the cited passage does not state this"


def _title(passage: Passage) -> str:
    return _attr(" ".join(passage.title.split()[:TITLE_WORDS]))


def _header_tokens(passage: Passage, titled: bool = True) -> int:
    """Estimated tokens of a passage's block around its text: tags, number, outlet, date (Qwen reads each
    digit as a token) and, for an article's first passage shown (``titled``), its title."""
    return 22 + _estimate_tokens(f"{passage.outlet} {_title(passage) if titled else ''}")


def finished(text: str) -> tuple[str, str]:
    """(the whole sentences of ``text``, its unfinished end): a sentence ends with . ! ? or … (closing
    quotes, brackets and citation markers may follow). An answer ending mid-sentence was cut off."""
    text = _TRAILING_MARKERS.sub(lambda m: f"{m.group(2)}{m.group(1)}", text)  # "… done. [1]": "… done [1]."
    spans = split_sentences(text)
    if not spans:
        return "", text.strip()
    start, end = spans[-1]
    last = _MARKER.sub("", text[start:end]).rstrip().rstrip("\"”’')] ")
    if last.endswith((".", "!", "?", "…")):
        return text.strip(), ""
    return text[:start].strip(), " ".join(text[start:].split())


def unmarked(sentence: str) -> str:
    """A passage's sentence without the citation markers its article wrote ("… inspectors [2] on Friday"):
    quoted in an answer, they would be read as the answer's own and cite a passage the article chose."""
    return " ".join(_WORDED_MARKER.sub(" ", _MARKER.sub(" ", sentence)).split()).replace(" .", ".").replace(" ,", ",")


def _attr(value: str) -> str:
    """An article's field (outlet, title) as a passage tag's attribute: inert, one line, no double quote."""
    return prompts.untrusted(value).replace('"', "'").replace("\n", " ")[:200]


def answer(
    question: str,
    history: History = (),
    filters: Filters | None = None,
    *,
    settings: Settings | None = None,
    assistant: Assistant | None = None,
    on_token: Callable[[str], None] | None = None,
) -> Answer:
    """One grounded answer. Pass an ``Assistant`` to reuse loaded models across calls; ``on_token``
    sees the model's text as it is generated (before verification: the answer may differ)."""
    assistant = assistant or Assistant(settings or Settings())
    if on_token is None:
        return assistant.answer(question, history, filters)
    final: Answer | None = None
    for event in assistant.stream(question, history, filters):
        if isinstance(event, Token):
            on_token(event.text)
        elif isinstance(event, Final):
            final = event.answer
    assert final is not None
    return final
