"""What a question asks about and whether passages hold it: its names and key terms (:class:`Ask`,
:func:`question_ask`), the evidence gate (:func:`evidence`, :func:`evidence_names`), the relation a
sentence must state ("How many workers will the plant employ?": :func:`question_relation`,
:func:`relation_sentences`), the kind of answer asked for (:func:`answer_shape`), and the questions
refused before any search (:func:`names_nothing`, :func:`not_english`)."""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from retrieval.choices import CHOICES_TAIL
from retrieval.claims import MARKER as _MARKER
from retrieval.claims import WORDED_MARKER as _WORDED_MARKER
from retrieval.claims import default_checker
from retrieval.names import everywhere, fold
from retrieval.names import forms as _name_forms
from retrieval.settings import Settings
from retrieval.speakers import Asked, asked_speaker
from retrieval.text import STOPWORDS, keyword_terms
from retrieval.types import Passage

# Words of questions that name no topic: a passage need not contain them to answer.
GENERIC = frozenset({
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


def stem(word: str) -> str:
    """A light stem so that "ordered" ~ "order", "sanctions" ~ "sanction" and "organized" ~
    "organizer" (a final "er" goes after the inflection: "murdered" ~ "murder" ~ "murd")."""
    word = fold(word)
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            word = word[: -len(suffix)]
            break
    if len(word) > 5 and word.endswith("er"):
        word = word[:-2]
    return word


def term_stems(text: str) -> set[str]:
    return {stem(t) for t in keyword_terms(text)}


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


# Words that make a question name nothing when they are all it holds besides wh-words: "Is it *true*?",
# "Tell me *everything*", "*Summarize* the articles".
_VAGUE = frozenset(stem(w) for w in (
    "true", "false", "right", "wrong", "correct", "real", "really", "everything", "anything", "something",
    "all", "more", "else", "other", "details", "detail", "summary", "summarize", "summarise", "overview",
    "going", "story", "stories", "topic", "topics", "sure", "exactly", "mean", "meant", "matter", "important",
))


def names_nothing(ask: Ask) -> bool:
    """Whether a question asks about nothing it names: no name, and no key term but vague ones."""
    return not ask.names and ask.terms <= _VAGUE


# Function words of Spanish, French, German, Italian and Portuguese that are no English word a question
# would use ("die", "war", "son", "come" and the like are left out): a question made of them is not English.
_FOREIGN_WORDS = frozenset(fold(w) for w in (
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
    words = [fold(w) for w in _WORDS.findall(question)]
    foreign = sum(w in _FOREIGN_WORDS for w in words)
    english = sum(w in STOPWORDS or w in _NAME_STOP for w in words)
    return foreign >= 2 and foreign > english


def question_speaker(question: str) -> Asked | None:
    """Whom ``question`` asks about as a speaker ("What did the UK say about it?": :func:`asked_speaker`),
    its listed choices left out; None when it asks about no one's words."""
    return asked_speaker(CHOICES_TAIL.sub("", question))


def question_ask(question: str, ignore: Sequence[str] = ()) -> Ask:
    """The names and key terms of ``question``; names in ``ignore`` (e.g. outlet names: "a BBC report
    on …" asks about the report's topic, not the BBC) are left out."""
    ignored = {fold(x).removeprefix("the ").strip() for x in ignore if x}
    # Listed alternatives ("… Choose one of: A) Marigold; B) Bluebell.") are not all asked about: at
    # most one of them is the answer, so only the question before the list must be held.
    question = CHOICES_TAIL.sub("", question)
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
        name = fold(" ".join(words)).strip(" ,.'")
        if len(words) == 1 and _acronym(words[0]) and (name in _NAME_STOP or name in GENERIC):
            name = words[0].strip(" ,.'")  # kept in capitals: "WHO" is not any "who" (see has_name)
        if not name or name.isdigit() or name in _MONTHS_DAYS or len(name) < 2:
            continue
        if name.removeprefix("the ") in ignored or any(name in x for x in ignored if len(name) > 3):
            continue
        if name not in names:
            names.append(name)
    terms = frozenset(
        stem(t) for t in keyword_terms(question)
        if t not in GENERIC and t not in _MONTHS_DAYS and not (t.isdigit() and len(t) < 3)
        and not any(t in x.split() for x in ignored)
    )
    return Ask(tuple(names), terms, _qualifiers(question, names))


def _qualifiers(question: str, names: Sequence[str]) -> frozenset[str]:
    """The names of ``question`` that qualify the kind of thing it asks for: "which [major] NAME city",
    "which city in [the] NAME" (``_PLACE_NOUNS``, ``_ORG_NOUNS``, ``_PERSON_NOUNS``)."""
    folded = fold(question)
    kinds = _KIND_NOUNS
    found = set()
    for name in names:
        n = re.escape(name)
        if re.search(rf"\b(?:which|what)\s+(?:[\w-]+\s+)?{n}\s+(?:[\w-]+\s+)?(?:{kinds})\b", folded) or re.search(
                rf"\b(?:which|what)\s+(?:[\w-]+\s+)?(?:{kinds})\s+(?:in|of|from|across)\s+(?:the\s+)?{n}\b", folded):
            found.add(name)
    return frozenset(found)


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


def has_name(name: str, folded: str, stems: set[str], text: str = "", context: str = "") -> bool:
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
    found = [stem(w) in stems for w in words]
    return found[-1] and sum(found) * 2 >= len(words)


def _other_form_in(name: str, folded: str, text: str, context: str = "") -> bool:
    """Whether ``text`` names ``name`` in another form (``retrieval.names``; see ``has_name``). Not the US
    (:func:`retrieval.names.everywhere`): no evidence either way, and its other forms ("American", "United
    States") ranking sentences up reordered extraction on US questions (half A: 1 answer gained, 3 lost)."""
    if not text or everywhere(name):
        return False
    return _name_forms(name, context or text).found(text, folded)


@dataclass(frozen=True)
class Evidence:
    """How well the retrieved passages hold what a question asks about."""

    names: float  # share of the question's names found in the passages (1.0 when it names none)
    best_terms: int  # key terms of the question held by the passage that holds the most of them
    terms: int  # key terms of the question
    best: int  # index of that passage (-1: no passage)

    def holds(self, settings: Settings) -> bool:
        """Whether the passages hold what the question asks about: most of the names it mentions
        (``settings.names_needed``), and one passage holding at least half of its key terms, counting at
        most ``settings.terms_counted`` (long questions describe their topic with many words, and no
        passage repeats them all). A topic mentioned only in passing fails the second test."""
        if self.best < 0:
            return False
        return (self.names >= settings.names_needed
                and self.best_terms >= terms_needed(self.terms, settings.terms_counted))


def terms_needed(terms: int, counted: int) -> int:
    """Key terms one passage must hold of a question's ``terms``: half of them, counting at most ``counted``
    (``settings.terms_counted``: ``Evidence.holds``, the rest of a question whose qualifier is waived, a
    follow-up's story)."""
    return math.ceil(min(terms, counted) / 2)


def evidence(ask: Ask, passages: Sequence[Passage], settings: Settings) -> Evidence:
    """Where the passages (text and title) hold the names and key terms of ``ask``."""
    if not passages:
        return Evidence(0.0, 0, len(ask.terms), -1)
    texts = [f"{p.title}\n{p.text}" for p in passages]
    ask = Ask(evidence_names(ask, texts, settings)[0], ask.terms)
    covers = [coverage(ask, t) for t in texts]
    best = max(range(len(passages)), key=lambda i: (covers[i][1], covers[i][0], -i))
    names, _ = coverage(ask, "\n".join(texts))
    return Evidence(names, round(covers[best][1] * len(ask.terms)), len(ask.terms), best)


def _rest_held(ask: Ask, texts: Sequence[str], counted: int) -> bool:
    """Whether one of ``texts`` holds at least half of the question's key terms that are not words of its
    names ("Which Texas city did Pete Hegseth visit?": "city", "visit"), counting at most ``counted``
    (``settings.terms_counted``). A qualifier is waived only then: a passage that names the story's people but not
    what is asked about them is no answer to "which Texas city", whatever city it names."""
    named = {stem(w) for n in ask.names for w in re.findall(r"[\w']+", n)}
    rest = Ask((), ask.terms - named)
    if not rest.terms:
        return False
    needed = terms_needed(len(rest.terms), counted)
    return any(round(coverage(rest, t)[1] * len(rest.terms)) >= needed for t in texts)


def evidence_names(ask: Ask, texts: Sequence[str], settings: Settings, *, waive_qualifiers: bool = False
                   ) -> tuple[tuple[str, ...], frozenset[str]]:
    """The names of ``ask`` that passages (``texts``) must hold, and the qualifiers waived — the one rule of
    the evidence gate (:func:`evidence`), the relation's support (:func:`relation_sentences`) and a
    follow-up's story (``retrieval.followups.on_topic``):

    - not the US (:func:`retrieval.names.everywhere`): "most US taxpayers": US news names the US everywhere
      or nowhere, so it is no evidence either way (it still ranks sentences: ``extract.score_sentences``);
    - not a qualifier ("Which *Texas* city …": :attr:`Ask.qualifiers`) when one of ``texts`` holds the rest
      of the question (:func:`_rest_held`) — or always, with ``waive_qualifiers``: ``on_topic`` asks
      whether a passage belongs to the story of a question already answered, and the qualifier named the
      kind of answer, not the story (its passages are the follow-up's, not the topic question's, so there
      is no rest of that question to hold)."""
    waived = ask.qualifiers if ask.qualifiers and (
        waive_qualifiers or _rest_held(ask, texts, settings.terms_counted)) else frozenset()
    return tuple(n for n in ask.names if not everywhere(n) and n not in waived), waived


# --- what a question asks of its names: the relation ------------------------------------------------
# Verbs that name no relation a passage must state ("What did X say?", "What happened?", "Who is X?").
LIGHT_VERBS = frozenset({
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
# will employ 1,500 workers" two sentences after the one naming the plant in Lordstown). Fixed by design
# (not tuned). The tuned thresholds of the relation are settings: ``relation_max_words`` (a long question
# describes its topic with many clauses, and no one sentence states them all) and ``relation_similarity``
# (news rarely repeats a question's verb: "die" ~ "kill" 0.74, "win" ~ "beat" 0.64, "sell" ~ "recall" 0.22).
RELATION_NEIGHBOURS = 2


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
    return frozenset({stem(word), stem(lemma)})


def _same_word(a: str, b: str) -> bool:
    """Stems of one word: equal, or one a prefix of the other of at least four letters ("resign" ~
    "resignation", "employ" ~ "employees")."""
    if a == b:
        return True
    short, long_ = sorted((a, b), key=len)
    return len(short) >= 4 and long_.startswith(short)


@functools.lru_cache(maxsize=256)
def question_relation(question: str, max_words: int) -> Relation | None:
    """The relation ``question`` asks about: its main verb (or that verb's clause: "How many did X say it
    would cut?" → cut), unless that is a light verb ("say", "happen", "be"). Only questions that ask for a
    number ("how many"), a time ("when"), a reason ("why") or yes or no: any number, date or sentence
    answers those, so the sentence must state what is asked. "Which country …", "Who …" keep the names
    and key terms (:meth:`Evidence.holds`) and the kind of name asked for: against each rtqa question's own
    evidence paragraph, asking their verb too refused 36 of 146 such questions on half A (session 14).
    None as well when the question names no relation or is longer than ``max_words``
    (``settings.relation_max_words``).
    spaCy's small model reads "will the plant employ?" with "employ" as a noun: the root counts whatever
    its part of speech."""
    bare = CHOICES_TAIL.sub("", question).strip()
    if not bare or len(bare.split()) > max_words:
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
        if tok.pos_ in ("AUX", "PROPN", "PRON", "NUM", "PART") or lemma in LIGHT_VERBS or tok.lower_ in GENERIC:
            continue
        if tok is not root and tok.pos_ != "VERB":
            continue
        if len(stem(tok.lower_)) < 3:
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
            folded = fold(tok.text)
            bound += [n for n in names if folded in n.split() and not everywhere(n)]
    past = any(t.lower_ == "did" or t.tag_ == "VBD" for t in sent)
    modal = any(t.lower_ in _UNASSERTED for t in sent)
    asked = sent.text
    asserted = past and not modal and not _YES_NO.match(asked)
    if answer_shape(asked) not in ("number", "time") and not _YES_NO.match(asked) and not _WHY.match(asked):
        return None  # "Which …", "Who …", "What …": the kind of name asked for already narrows the answer
    return Relation(frozenset(words), tuple(dict.fromkeys(lemmas)), tuple(dict.fromkeys(bound)), asserted,
                    answer_shape(bare))


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
        return offers_answer(sentence, "number", asked)
    if relation.shape == "time":
        return offers_answer(sentence, "time", asked) or bool(_TIME_WORDS.search(sentence))
    return True


def relation_sentences(question: str, relation: Relation, ask: Ask, passages: Sequence[Passage],
                       split: Sequence[Sequence[str]], lemmas: Sequence[Sequence[tuple[str, str, str]]],
                       close: Callable[[str], bool], spoken: dict[int, set[str]] | None, settings: Settings
                       ) -> dict[int, set[str]]:
    """The sentences of ``passages`` that state ``relation`` (:func:`_states_relation`), by passage index
    (unmarked, on one line): ``split`` holds each passage's sentences, ``lemmas`` their tokens (in that
    order), ``close`` whether a verb's lemma is near the relation's by meaning. A sentence counts where its
    neighbourhood (``RELATION_NEIGHBOURS`` sentences either side, and the title) names at least one of the
    names a passage must hold (:func:`evidence_names`) and every name qualifying the relation ("in
    Mexico"); of a question about what someone said (``spoken``: that one's sentences), only those."""
    texts = [f"{p.title}\n{p.text}" for p in passages]
    names, waived = evidence_names(ask, texts, settings)
    bound = [n for n in relation.bound if n not in waived]
    asked = term_stems(question) | {stem(w) for name in ask.names for w in name.split()}
    found: dict[int, set[str]] = {}
    k = 0
    for i, (p, sentences) in enumerate(zip(passages, split, strict=True)):
        for j, sentence in enumerate(sentences):
            tokens = lemmas[k]
            k += 1
            if not _states_relation(relation, tokens, sentence, asked, close):
                continue
            around = "\n".join([p.title, *sentences[max(0, j - RELATION_NEIGHBOURS):j + RELATION_NEIGHBOURS + 1]])
            folded = fold(around)
            stems = {stem(w) for w in re.findall(r"[\w']+", folded)}
            context = texts[i]
            if names and not any(has_name(n, folded, stems, around, context) for n in names):
                continue
            if not all(has_name(n, folded, stems, around, context) for n in bound):
                continue
            if spoken is not None and unmarked(sentence) not in spoken.get(i, ()):
                continue
            found.setdefault(i, set()).add(unmarked(sentence))
    return found


def unmarked(sentence: str) -> str:
    """A passage's sentence without the citation markers its article wrote ("… inspectors [2] on Friday"):
    quoted in an answer, they would be read as the answer's own and cite a passage the article chose."""
    return " ".join(_WORDED_MARKER.sub(" ", _MARKER.sub(" ", sentence)).split()).replace(" .", ".").replace(" ,", ",")


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
KIND_LABELS = {
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


def answer_shape(question: str) -> str:
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


def offers_answer(
    sentence: str, shape: str, asked: set[str], entities: Sequence[tuple[str, str]] | None = None
) -> bool:
    """Whether ``sentence`` holds a candidate answer of that ``shape`` the question does not already name:
    a number, a date, or a name inside the sentence; with ``entities`` ((text, spaCy label) pairs of the
    sentence), a name of the kind asked for ("Which country …": a place)."""
    labels = KIND_LABELS.get(shape)
    if entities is not None and labels is not None:
        return any(
            label in labels and not ({stem(w) for w in re.findall(r"[\w']+", fold(text))} <= asked)
            for text, label in entities
        )
    if shape == "number":
        return bool(_NUMBER.search(sentence))
    if shape == "time":
        return bool(re.search(r"\d|\b(" + "|".join(_MONTHS_DAYS) + r")\b", sentence, re.I))
    return any(stem(m.group(0)) not in asked for m in _CAPITAL.finditer(sentence))


def folded_words(text: str) -> tuple[str, set[str]]:
    """``text`` folded (``names.fold``) and the stems of its words: what :func:`coverage` reads of a text."""
    folded = fold(text)
    return folded, {stem(w) for w in re.findall(r"[\w']+", folded)}


def coverage(ask: Ask, text: str, words: tuple[str, set[str]] | None = None) -> tuple[float, float]:
    """(share of the ask's names, share of its key terms) that ``text`` contains; ``words``: its
    :func:`folded_words`, when the caller keeps them for many asks."""
    folded, stems = words or folded_words(text)
    held = [n for n in ask.names if has_name(n, folded, stems, text)]
    names = len(held) / len(ask.names) if ask.names else 1.0
    # A name held in another form holds its words as key terms too ("uk" in "The British government said").
    named = {stem(w) for n in held if not {stem(w) for w in n.split()} <= stems
             and _other_form_in(n, folded, text) for w in n.split()}
    terms = len(ask.terms & (stems | named)) / len(ask.terms) if ask.terms else 1.0
    return names, terms
