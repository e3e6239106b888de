"""Who says what: the speaker a question asks about ("What did the UK say about it?", "How did China
respond?") and who speaks in each sentence of a passage, so that a question about what someone said is
answered by that one's words, not by a quote of whoever else speaks near the name.

A passage sentence's speaker is the subject of its speech verb ("Hughes said", "said Hughes", "X's
spokesman told reporters", "in a statement, X said"), the object of "according to", the speaker of a
quotation going on from the sentence before, or — for "he said", "the ministry said" — the last named
speaker of the sentences before it (else the names around it and the title). A sentence where nobody
speaks answers only when the asked speaker is its subject ("China imposed retaliatory tariffs" for "How did
China respond?"). Who matches whom is :func:`same_speaker`'s business alone (aliases, surnames), so name
variants can be added there.

Everything reads spaCy's parse (the claim checker's pipeline, loaded once); nothing happens at import.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from retrieval.claims import _Hay, default_checker, interview_speaker, name_in
from retrieval.names import blank_longer, demonym_country, is_country, official, voice
from retrieval.text import bare_followup

if TYPE_CHECKING:
    from spacy.tokens import Doc, Span, Token

# Verbs by which someone says something, or reacts in words ("How did China respond?" — "China condemned
# the move"): their subject speaks.
SAY_VERBS = frozenset({
    "say", "state", "announce", "tell", "claim", "warn", "add", "note", "argue", "insist", "deny", "confirm",
    "write", "explain", "declare", "assert", "acknowledge", "admit", "predict", "accuse", "allege", "emphasize",
    "emphasise", "stress", "vow", "pledge", "promise", "threaten", "urge", "reveal", "testify", "tweet", "post",
    "comment", "respond", "reply", "react", "suggest", "contend", "maintain", "mention", "disclose", "concede",
    "caution", "remark", "affirm", "reaffirm", "reiterate", "criticize", "criticise", "condemn", "denounce",
    "slam", "welcome", "praise", "dismiss", "reject", "call", "demand", "ask", "describe", "report", "signal",
    "indicate", "complain", "protest", "question", "counter", "rebuff", "retort", "decline", "refuse", "vote",
    "propose", "recommend", "advise", "inform", "notify", "brief", "hail", "blast", "rebuke", "speak",
})
# A question's speaker is asked about only with these (what it said, how it responded); "Which company
# announced …" asks for the speaker instead, and "X announced a ban for people born after which year?"
# asks a fact (see :func:`asked_speaker`).
_WH = frozenset({"what", "how", "which", "whom"})
# What a question asks of its speaker when what that one did answers too.
_ACTS = frozenset({"respond", "react", "reaction", "response"})
# Nouns for what a speaker said ("What was China's reaction?").
_REACTION_NOUNS = frozenset({"reaction", "response", "statement", "stance", "position", "message", "comment",
                             "view", "answer", "reply", "verdict", "warning", "explanation", "announcement"})
# A question whose speaker is a document ("What did the report say?", "What did the IMF report say?"):
# no person or body to match, no constraint.
_DOCUMENT_NOUNS = frozenset({
    "report", "study", "survey", "poll", "statement", "letter", "memo", "paper", "filing", "document", "data",
    "figure", "article", "book", "post", "video", "ad", "advert", "lawsuit", "complaint", "ruling", "order",
    "bill", "law", "plan", "proposal", "analysis", "review", "audit", "research", "finding", "guidance",
    "release", "forecast", "story", "headline", "message", "note", "email", "tweet", "website", "page",
    "investigation", "inquiry", "indictment", "decision", "judgment", "judgement", "agreement",
})
# Nameless subjects that are not anaphoric: nobody in particular, never the asked speaker ("analysts said").
_CROWDS = frozenset({
    "analyst", "expert", "critic", "source", "observer", "people", "resident", "witness", "economist",
    "researcher", "scientist", "investor", "trader", "activist", "opponent", "supporter", "commentator",
    "reporter", "journalist", "study", "report", "poll", "survey", "data", "figure", "some", "many", "other",
    "others", "someone", "everyone", "nobody", "i", "we", "you", "one", "person", "user", "fan", "voter",
    "doctor", "lawyer", "attorney", "diplomat", "insider", "member", "worker", "employee",
})
# Of the crowds, who speak for the one named with them ("Trump's lawyers said").
_COUNSEL = frozenset({"lawyer", "attorney"})
# Nameless subjects that stand for someone named before ("the ministry said", "the company said"): the
# sentences before tell who. Other nameless subjects of a speech verb are not speakers ("the concerns
# suggest …").
SPEAKER_NOUNS = frozenset({
    "spokesman", "spokeswoman", "spokesperson", "ministry", "government", "administration", "office",
    "department", "agency", "company", "firm", "group", "organization", "organisation", "council",
    "commission", "committee", "embassy", "president", "minister", "official", "leader", "chief", "ceo",
    "secretary", "statement", "team", "club", "league", "party", "campaign", "military", "army", "country",
    "nation", "state", "city", "family", "palace", "union", "bank", "board", "authority", "regulator",
    "spokespeople", "representative", "director", "chairman", "chair", "founder", "star", "singer", "actor",
    "actress", "player", "coach", "governor", "mayor", "prime", "premier", "chancellor", "king", "queen",
    "prince", "princess", "pope", "manager", "executive", "boss", "brand", "maker", "automaker", "carmaker",
    "retailer", "airline", "studio", "network", "broadcaster", "publisher", "school", "university", "court",
    "judge", "prosecutor", "police", "force", "regime", "kremlin", "cabinet", "parliament", "congress",
    "senator", "lawmaker", "lawmakers", "legislature", "federation", "association", "foundation", "institute",
    "author", "writer", "artist", "rapper", "band", "host", "media", "medium",
})
_OWNING = frozenset({"of", "for", "at", "from", "with"})  # "spokesman for X", "an official at X"
_NAME_LABELS = frozenset({"PERSON", "ORG", "GPE", "NORP", "LOC", "FAC"})
_QUOTES = "\"“”"
_RELATIVE = frozenset({"who", "that", "which"})  # a relative clause's subject: the noun it hangs from
# Words inside quotation marks, at least, for a quotation with no speech verb to be someone's statement
# ("X issued a statement: “…”") rather than a phrase in scare quotes ("its “America First” policy").
QUOTE_WORDS = 6
# Sentences before a "he said" / "the ministry said" searched for a named speaker.
ANTECEDENT_SENTENCES = 3


@dataclass(frozen=True)
class Asked:
    """Whom a question asks about what they said: "What did the UK say about it?" → UK."""

    name: str  # as the question names it ("UK", "Brian Hughes"), a demonym's country ("Italy")
    acts: bool = False  # "How did China respond?": what China did answers too ("China imposed tariffs")
    official: bool = False  # "Italian leaders": the country as its offices and bodies speak, not "the Italian carmaker"


@dataclass(frozen=True)
class Speech:
    """Who speaks in one sentence, as spaCy parses it (before looking at the sentences around it)."""

    speakers: tuple[str, ...] = ()  # named speakers' phrases ("A British government spokesperson")
    nameless: bool = False  # a speaker with no name that is nobody in particular ("analysts said")
    anaphoric: str = ""  # "he said" ("person"), "the ministry said" ("any"): who, the sentences before tell
    subject: str = ""  # the named subject of its main verb ("China imposed …"): for "How did X respond?"
    names: tuple[tuple[str, str], ...] = ()  # (name, spaCy label) outside quotation marks: antecedents
    interview: bool = False  # it starts with its speaker's name and a colon ("Dr. Reed: …")

    @property
    def speaks(self) -> bool:
        return bool(self.speakers or self.nameless or self.anaphoric)


def _named(tok: Token) -> bool:
    return tok.pos_ == "PROPN" or tok.ent_type_ in _NAME_LABELS


def _phrase(tok: Token) -> list[Token]:
    """The words of the noun phrase ``tok`` heads that say who it is: its modifiers, appositions ("Brian
    Hughes, spokesman for the White House") and "of/for/at/from" phrases, not relative clauses ("X, who
    met UK officials, said") nor "like/including/in …" ("Regular shootings, like the one in Las Vegas")."""
    out = [tok]
    for c in tok.children:
        if c.dep_ in ("relcl", "acl", "advcl") or (c.dep_ == "prep" and c.lower_ not in _OWNING):
            continue
        out += _phrase(c)
    return sorted(out, key=lambda t: t.i)


def _who(subj: Token) -> list[Token] | None:
    """The phrase naming who speaks as ``subj`` (:func:`_phrase`), when it names someone: a name ("Hughes"),
    a speaker with a name in it ("A British government spokesperson", "One of Trump's lawyers, Jay
    Sekulow", "Trump's lawyers"); None otherwise: a crowd a name only qualifies is not the named one
    ("Trump's critics", "Chinese analysts"), nor a thing named after someone ("Regular shootings, like …
    in Las Vegas, have sparked calls for change")."""
    words = _phrase(subj)
    if not any(_named(w) for w in words):
        return None
    lemma = subj.lemma_.lower()
    if _named(subj) or lemma in SPEAKER_NOUNS or lemma in _COUNSEL or any(
            c.dep_ == "appos" and _named(c) for c in subj.children):
        return words
    return None


def _subject(verb: Token) -> Token | None:
    """The subject of ``verb``, or of the verb it hangs from ("…, adding: …", "issued a statement saying
    …", "declined to comment")."""
    for _ in range(4):
        for child in verb.children:
            if child.dep_ in ("nsubj", "agent"):
                if child.dep_ == "agent":  # "was told by X": the agent's object speaks
                    return next((c for c in child.children if c.dep_ == "pobj"), None)
                return child
        if verb.dep_ not in ("xcomp", "conj", "advcl", "acl", "dobj", "pobj", "prep", "ccomp") or verb.head is verb:
            return None
        verb = verb.head
    return None


def _inside_quotes(doc: Doc | Span) -> set[int]:
    """Token indices inside quotation marks (curly or straight)."""
    inside: set[int] = set()
    open_ = False
    for t in doc:
        if t.text in _QUOTES:
            open_ = t.text == "“" or (t.text == '"' and not open_)
            continue
        if open_:
            inside.add(t.i)
    return inside


def _longest_quote(doc: Doc | Span, inside: set[int]) -> int:
    """Words of the longest quotation in ``doc`` (a title in quotation marks is short)."""
    longest = run = 0
    for t in doc:
        if t.i in inside:
            run += t.is_alpha
            longest = max(longest, run)
        else:
            run = 0
    return longest


def read_speech(doc: Doc | Span) -> Speech:
    """Who speaks in a parsed sentence (see :class:`Speech`)."""
    inside = _inside_quotes(doc)
    speakers: list[str] = []
    nameless = False
    anaphoric = ""
    for t in doc:
        if t.i in inside or t.pos_ != "VERB" or t.lemma_.lower() not in SAY_VERBS:
            continue
        subj = _subject(t)
        if subj is None:
            continue
        if subj.lower_ in _RELATIVE and t.dep_ == "relcl" and t.head.pos_ in ("PROPN", "NOUN"):
            subj = t.head  # "Brian Hughes, who told reporters …": the one the clause is about speaks
        words = _who(subj)
        if words:
            speakers.append(" ".join(w.text for w in words))
        elif subj.lemma_.lower() in _CROWDS and subj.lower_ not in ("it", "they"):
            nameless = True  # "Trump's critics said", "Chinese analysts said": someone, not the one named
        elif any(_named(w) for w in _phrase(subj)):
            continue  # a thing named after someone does not speak ("a Las Vegas festival")
        elif subj.lower_ in ("he", "she"):
            anaphoric = anaphoric or "person"
        elif subj.lower_ in ("it", "they") or (
                subj.lemma_.lower() in SPEAKER_NOUNS
                and not any(c.dep_ == "det" and c.lower_ in ("a", "an", "some", "many", "several", "other")
                            for c in subj.children)):
            anaphoric = "any"
        elif subj.lemma_.lower() in _CROWDS or subj.lemma_.lower() in SPEAKER_NOUNS or subj.pos_ == "PRON":
            nameless = True  # "analysts said", "a spokesperson said", "we said"
        # else: no one speaks ("the concerns suggest …")
    for t in doc:  # "according to X"
        if t.lower_ == "according" and t.i + 1 < len(doc) and t.doc[t.i + 1].lower_ == "to":
            for obj in (c for c in t.doc[t.i + 1].children if c.dep_ == "pobj"):
                words = _phrase(obj)
                if obj.lemma_.lower() in _CROWDS and obj.lemma_.lower() not in _COUNSEL and not _named(obj):
                    nameless = True  # "according to a person familiar with Sony's plans", "… Hughes's critics"
                elif any(_named(w) for w in words):  # "according to a Palm Beach County marriage license" too
                    speakers.append(" ".join(w.text for w in words))
                elif obj.pos_ == "PRON" or (obj.lemma_.lower() in SPEAKER_NOUNS and any(
                        c.lower_ in ("the", "its", "his", "her", "their") for c in obj.children)):
                    anaphoric = anaphoric or ("person" if obj.lower_ in ("him", "her") else "any")
                else:
                    nameless = True
    names: list[tuple[str, str]] = []
    run: list[Token] = []
    for t in [*doc, None]:
        if t is not None and _named(t) and t.i not in inside:
            run.append(t)
        elif run:
            names.append((" ".join(w.text for w in run), next((w.ent_type_ for w in run if w.ent_type_), "")))
            run = []
    root = doc.root if hasattr(doc, "root") else next(iter(doc.sents)).root
    if not (speakers or nameless or anaphoric) and _longest_quote(doc, inside) >= QUOTE_WORDS:
        # "X issued a statement: “…”": the main verb's subject speaks (not any name in the sentence: "The
        # agency issued a warning for northern California: “…”" is not California's)
        subj = next((c for c in root.children if c.dep_ == "nsubj" and c.i not in inside), None)
        words = _who(subj) if subj is not None else None
        if words:
            speakers.append(" ".join(w.text for w in words))
        elif subj is not None and (subj.lower_ in ("he", "she", "it", "they") or subj.lemma_.lower() in SPEAKER_NOUNS):
            anaphoric = "person" if subj.lower_ in ("he", "she") else "any"
    interviewed = interview_speaker(doc)  # "" for a dateline ("Atlanta: A fundraising bash …")
    if interviewed:  # "Dr. Reed: …" in an interview: all of it is theirs
        speakers, nameless, anaphoric = [interviewed], False, ""
    subject = next((_actor(c, head=True) for c in root.children if c.dep_ == "nsubj"), "")
    return Speech(tuple(speakers), nameless, anaphoric, subject, tuple(names), bool(interviewed))


def _actor(subj: Token, head: bool = False) -> str:
    """The name of who acts as the subject ``subj``: a name ("Saudi Arabia"), or a body named by its
    modifiers ("the British government", "China's foreign ministry": "British", "China", with ``head``
    "British government", "China 's ministry"); "" for anything else ("US allies, including Saudi Arabia":
    not Saudi Arabia's act)."""
    if _named(subj):
        words = [w for w in subj.subtree
                 if w.i <= subj.i and (w is subj or (w.dep_ in ("compound", "poss") and _named(w)))]
        return " ".join(w.text for w in words)
    if subj.lemma_.lower() not in SPEAKER_NOUNS:
        return ""
    named = [w for c in subj.children if c.dep_ in ("compound", "poss", "amod", "nmod") for w in c.subtree if _named(w)]
    return " ".join([*(w.text for w in named), *([subj.text] if head and named else [])])


# Forms of the speech verbs and reaction nouns no stem of theirs begins (spaCy's lemmatizer's exceptions).
_IRREGULAR = ("said", "told", "wrote", "written", "spoke", "spoken")


@functools.cache
def _speech_word() -> re.Pattern[str]:
    """Any word :func:`asked_speaker` can read as a speech verb or a reaction noun: a stem of one ("stat"
    of "stated", "deni" of "denied", "call" of "called") or an irregular form ("said", "told")."""
    stems = set(_IRREGULAR)
    for word in SAY_VERBS | _REACTION_NOUNS:
        stems |= {word, word[:-1] if word.endswith("e") else word, word[:-1] + "i" if word.endswith("y") else word}
    return re.compile(rf"\b(?:{'|'.join(sorted(map(re.escape, stems)))})", re.I)


@functools.lru_cache(maxsize=256)
def asked_speaker(question: str) -> Asked | None:
    """The speaker ``question`` asks about, as named in it ("UK", "Brian Hughes", "China"), when it asks
    what that one said or how it reacted: "What did the UK say about it?", "How did China respond?" (what
    China did answers that one too: ``acts``),
    "What did Sony say it will no longer produce?", "What was China's reaction?". None for a question
    that asks for the speaker ("Which company announced …?"), names none ("What did officials say?"),
    asks about a document ("What did the report say?") or asks a fact the speech verb only frames ("The
    UK announced a ban for people born after which year?"). Only a question is read (a sentence with a
    question mark, or opening with "what", "how" …); a rewritten follow-up's "(following up on: …)" not."""
    bare = bare_followup(question)  # the speaker is the follow-up's own
    if not bare or not _speech_word().search(bare):
        return None  # no speech word: no parse (about 7 ms)
    return _parsed_speaker(bare)


def _parsed_speaker(bare: str) -> Asked | None:
    """:func:`asked_speaker` of a question with its "(following up on: …)" left out, read from spaCy's parse."""
    doc = default_checker().nlp(bare)
    for sent in doc.sents:
        if "?" not in sent.text and sent[0].lower_ not in _WH:
            continue  # a statement ("The Air Force did not say how …"), not a question
        for t in sent:
            subj: Token | None = None
            acts = t.lemma_.lower() in _ACTS
            if (t.pos_ == "VERB" or t.dep_ == "ROOT") and t.lemma_.lower() in SAY_VERBS:  # "announce": a NOUN ROOT
                asks = any(
                    (c.dep_ in ("dobj", "attr", "dative", "oprd") and c.lower_ in _WH)
                    or (c.dep_ == "advmod" and c.lower_ == "how")
                    or (c.dep_ in ("ccomp", "xcomp") and any(x.lower_ in _WH and x.dep_ != "det" for x in c.subtree))
                    for c in t.children)
                subj = next((c for c in t.children if c.dep_ in ("nsubj", "nsubjpass")), None)
                if not asks and subj is not None:
                    # a question word fronted before "did X say" that the parse hangs elsewhere, asking
                    # what X's words say ("How many jobs did Dunn say the tariffs would cost?") or what X
                    # spoke about ("What did Hughes tell reporters about?"); not a fact X's act is about
                    # ("Which type of animal did Vance add to his residence?": no clause said)
                    aux = next((c for c in t.children if c.dep_ == "aux" and c.i < subj.i), None)
                    wh = next((w for w in sent if aux is not None and w.i < aux.i and w.lower_ in _WH), None)
                    asks = wh is not None and (
                        any(c.dep_ in ("ccomp", "xcomp") for c in t.children)
                        or (wh.dep_ == "pobj" and wh.head.head.i == t.i))
                if not asks:
                    subj = None
            elif t.lemma_.lower() in _REACTION_NOUNS and t.dep_ in ("nsubj", "attr") and t.head.lemma_ == "be" and any(
                    c.lower_ == "what" for c in t.head.children):
                subj = next((c for c in t.children if c.dep_ == "poss"), None)  # "What was China's reaction?"
            if subj is None:
                continue
            words = _phrase(subj)
            if any(w.lower_ in ("who", "which", "what", "whose") for w in words):
                return None  # the speaker is what is asked
            if subj.lemma_.lower() in _DOCUMENT_NOUNS:
                return None
            name = _actor(subj)  # "the UK", "China's foreign ministry"; not "the author of “Flesh”"
            country = demonym_country(name) if not _named(subj) and voice(subj.lower_) else None
            if country:  # "Italian leaders": Italy as its offices speak, not any Italian
                return Asked(country, acts, official=True)
            # a country speaks as its offices and bodies do: "What did China say?" is not answered by
            # "The Chinese carmaker BYD said"
            return Asked(name, acts, official=is_country(name)) if name else None
    return None


def same_speaker(asked: str, speaker: str, context: str = "", official_only: bool = False) -> bool:
    """Whether ``speaker`` (a phrase naming who speaks: "A British government spokesperson", "Hughes")
    is ``asked`` (as a question names it: "UK", "Brian Hughes"): the name or an alias of it in the
    phrase ("British" for the UK), or its surname, the rest of the name in ``context`` (the passage) —
    not as part of a longer name, another speaker ("British Airways", "Dick Clark Productions", "Taipei
    101": :func:`retrieval.names.blank_longer`). ``official_only``: ``asked`` is a country as its offices and
    bodies speak (:func:`retrieval.names.official`: "Italian officials", not "the Italian carmaker")."""
    if official_only:
        return official(asked, speaker)
    shown = blank_longer(asked, speaker, seats=True)
    near = _Hay([shown])
    return bool(shown.strip()) and name_in(asked, near, _Hay([shown, context]))


def spoken_by(asked: Asked, sentences: Sequence[str], speech: Sequence[Speech], title: Speech | None = None,
              context: str = "") -> list[bool]:
    """For each of a passage's ``sentences`` (``speech``: :func:`read_speech` of each), whether it
    answers what ``asked`` said: ``asked`` speaks in it (itself, by "according to", as the "he"/"the
    ministry" of a sentence before, or in a quotation going on), or — for "How did X respond?" — nobody
    speaks and X is its subject. ``title``: the passage's title's, for a "the company said" with no name
    before it."""
    who: list[list[str] | None] = []  # each sentence's speakers after resolution (None: nobody speaks)
    open_quote = interview = False
    for j, (text, s) in enumerate(zip(sentences, speech, strict=True)):
        speakers: list[str] = list(s.speakers)
        if s.anaphoric:
            speakers += _antecedent(j, who, speech, title, s.anaphoric == "person")
        stripped = text.lstrip()
        if not s.speaks and j > 0 and (open_quote or interview or (
                stripped[:1] in _QUOTES and any(q in sentences[j - 1] for q in _QUOTES))):
            speakers = list(who[j - 1] or [])  # the quotation (or the interview's answer) goes on: its speaker's
        interview = s.interview or (interview and not s.speaks)
        who.append(speakers if s.speaks or speakers else None)
        for ch in text:
            if ch in _QUOTES:
                open_quote = ch == "“" or (ch == '"' and not open_quote)
    out = []
    for s, said_by in zip(speech, who, strict=True):
        if said_by is None:
            out.append(asked.acts and bool(s.subject) and same_speaker(asked.name, s.subject, context, asked.official))
        else:
            out.append(any(same_speaker(asked.name, sp, context, asked.official) for sp in said_by))
    return out


def _antecedent(j: int, who: Sequence[list[str] | None], speech: Sequence[Speech], title: Speech | None,
                person: bool) -> list[str]:
    """Who "he" (``person``) or "the ministry" of sentence ``j`` is: the last named speaker of the
    sentences before (at most ``ANTECEDENT_SENTENCES``); else, for "he", the last person named in the
    sentences before or the title, and for "the ministry" any name in the two sentences before, the
    sentence itself and the title."""
    for k in range(j - 1, max(-1, j - 1 - ANTECEDENT_SENTENCES), -1):
        named = [sp for sp in who[k] or () if sp]
        if named:
            return named
    before = [*(title.names if title is not None else ()),
              *(n for k in range(max(0, j - 2), j + 1) for n in speech[k].names)]
    if person:
        people = [n for n, label in before if label == "PERSON"]
        return people[-1:]
    return [n for n, _ in before]

