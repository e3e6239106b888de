"""Follow-up questions: whether a question refers back to the conversation (:func:`is_followup`), the
subject it refers to, how it is searched (:func:`followup_search`, :class:`FollowUp` and its time window
for "What happened next?"), which passages belong to its story (:func:`on_topic`), and whether a model's
standalone rewrite may stand for it (:func:`rewrite_keeps`)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from retrieval import prompts
from retrieval.days import asked_days
from retrieval.evidence import (
    GENERIC,
    Ask,
    coverage,
    evidence_names,
    has_name,
    question_ask,
    stem,
    term_stems,
    terms_needed,
)
from retrieval.names import everywhere, fold
from retrieval.search import Filters, SearchResult, parse_day
from retrieval.settings import Settings
from retrieval.text import following_up, keyword_terms
from retrieval.types import Passage

if TYPE_CHECKING:
    from retrieval.answer import Assistant

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


def history_pairs(history: History) -> list[tuple[str, str]]:
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
    if not any(role == "user" for role, _ in history_pairs(history)):
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
    named = {stem(w) for name in ask.names for w in name.split()}
    return not ask.names or (not ask.terms - named and bool(_REACTION.search(question)))


# A question of at most this many words that names nothing, or only who reacted, is a follow-up (fixed by
# design, like SUBJECT_FOLLOWUPS; the follow-up search's tuned weights are settings: followup_weight, cited_weight).
FOLLOWUP_WORDS = 5
_REACTION = re.compile(r"\b(say|said|says|think|thinks|react|reacted|respond|responded|comment|commented|"
                       r"do|does|doing|want|wants|plan|plans|decide|decided|reaction|response|stance|position)\b", re.I)


# A follow-up's subject keeps the question that set the topic and at most this many follow-ups after it.
SUBJECT_FOLLOWUPS = 2


def _thread(history: History) -> tuple[str, list[str]]:
    """The question that set the topic a follow-up refers back to (the last one asked that was not a
    follow-up; "" when every question was one) and the follow-ups asked since, oldest first."""
    asked = [content for role, content in history_pairs(history) if role == "user"]
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


def with_subject(question: str, history: History) -> str:
    """The follow-up ``question`` with the subject it refers back to, as the standalone question when no
    model rewrites it: "Why? (following up on: Why did the mayor resign?)" (``retrieval.text.following_up``)."""
    return following_up(question, _subject(history))


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
    subject_terms = [t for t in keyword_terms(subject) if t not in GENERIC]
    own = question_ask(question)
    new = frozenset(own.terms - {stem(t) for t in subject_terms})
    cited = _previous_cited(history)
    days = _previous_days(cited)
    after = days[-1] if days and _AFTER.search(question) and not _BEFORE.search(question) else ""
    before = days[0] if days and _BEFORE.search(question) and not after else ""
    return FollowUp(f"{question} {' '.join(subject_terms)}".strip(), new, subject, _previous_citations(cited),
                    topic, after, before)


@dataclass(frozen=True)
class Story:
    """What ties a text to the story a follow-up refers to (:func:`story_of`): a name of the question that
    set the topic, one the follow-up does not name itself; a topic naming none: half of its key terms."""

    ask: Ask
    needed: int  # key terms a text must hold when the topic names nothing (``terms_needed``)

    def holds(self, text: str, words: tuple[str, set[str]] | None = None) -> bool:
        """Whether ``text`` (its ``evidence.folded_words`` when the caller keeps them) is of the story."""
        named, terms = coverage(self.ask, text, words)
        return named > 0 if self.ask.names else round(terms * len(self.ask.terms)) >= self.needed


def story_of(question: str, follow: FollowUp, settings: Settings, ignore: Sequence[str] = ()) -> Story | None:
    """The :class:`Story` the follow-up ``question`` refers to; None when its topic asks about nothing (every
    question was a follow-up): then every text is of it."""
    topic = question_ask(follow.topic, ignore) if follow.topic else Ask((), frozenset())
    own = set(question_ask(question, ignore).names)
    # (A qualifier — "Which *AI* company …" — names the kind of answer, not the story.)
    names = [n for n in evidence_names(topic, (), settings, waive_qualifiers=True)[0] if n not in own]
    if not names and not topic.terms:
        return None
    return Story(Ask(tuple(names), topic.terms), terms_needed(len(topic.terms), settings.terms_counted))


def on_topic(question: str, follow: FollowUp, passages: Sequence[Passage], ignore: Sequence[str] = (),
             article_text: Callable[[str], str] | None = None, *, settings: Settings) -> list[bool]:
    """Which ``passages`` belong to the story a follow-up refers to (:func:`story_of`), so that its answer is
    about that story or refused — never another story's words ("What did the UK say about it?" after a
    question on a trade deal is not answered by the UK's fuel duty): an article the previous answer cited,
    or one whose text (``article_text``: the whole article; else the passage with its title) holds the
    story. All True when the topic asks about nothing."""
    story = story_of(question, follow, settings, ignore)
    if story is None:
        return [True] * len(passages)
    verdicts: dict[str, bool] = {}
    tied = []
    for p in passages:
        if p.article_id in follow.cited:
            tied.append(True)
            continue
        if p.article_id not in verdicts:
            verdicts[p.article_id] = story.holds(f"{p.title}\n{p.text}") or bool(
                article_text and story.holds(article_text(p.article_id)))
        tied.append(verdicts[p.article_id])
    return tied


def rewrite_keeps(question: str, rewritten: str, history: History) -> bool:
    """Whether a model's standalone ``rewritten`` of the follow-up ``question`` may stand for it: it keeps
    every name the user typed (in any of its forms: "British" for "UK") and names nothing new that neither
    the question nor the conversation named. A rewrite that drops or swaps a name ("What did the UK say
    about it?" rewritten "What did Canada say …?") answers another question."""
    folded, stems = fold(rewritten), term_stems(rewritten)
    if not all(has_name(name, folded, stems, rewritten) for name in question_ask(question).names):
        return False
    said = "\n".join([*(content for _, content in history_pairs(history)), question])
    said_folded, said_stems = fold(said), term_stems(said)
    return all(everywhere(name) or has_name(name, said_folded, said_stems, said)
               for name in question_ask(rewritten).names)


# --- the passages a follow-up reads -------------------------------------------------------------------------
# A follow-up's search (``Assistant.retrieve`` with the new terms ranked up, and the previously cited articles
# ranked up the more: what "it" refers to) often filled its first places with one article's passages — "What
# did Caracas say about it?" after Maduro's capture read six passages of the article the first answer quoted,
# while another article of the story, where the Venezuelan government's reaction is, waited at place 15. So a
# follow-up is searched deeper (``settings.followup_depth`` places, the same candidates) and each article's
# best passage comes before any article's second (docs/results.md, session 18).


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
    the best ``settings.followup_depth`` spread over their articles (:func:`spread`); "What happened next?" (or before)
    leaves out the articles the previous answer cited."""
    k = assistant.settings.k
    result = assistant.retrieve(follow.query, window, boost=follow.new, cited=follow.cited,
                                k=max(k, assistant.settings.followup_depth))
    passages = result.passages
    if follow.after or follow.before:  # what came next (or before) is not what was cited already
        passages = [p for p in passages if p.article_id not in follow.cited]
    result.passages = spread(passages, k)
    return result
