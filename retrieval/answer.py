"""Grounded answers: the ``Assistant`` orchestrates follow-up rewriting (``retrieval.followups``),
retrieval, the evidence gate (``retrieval.evidence``), the model call or extraction (``retrieval.extract``),
a listed choice (``retrieval.choices``), citation parsing and verification, and refusal; it caches what
it reads of sentences (vectors, spaCy's parses, who speaks). ``Assistant.stream`` yields events;
``answer`` returns one ``Answer``."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from retrieval import prompts
from retrieval.choices import CHOICE_NOTE, ChoiceSupport, listed_choices, named_choice
from retrieval.claims import BARE_ANSWER_WORDS, Verdict, default_checker, without_instructions
from retrieval.claims import CHOICE_LABEL as _CHOICE_LABEL
from retrieval.claims import MARKER as _MARKER
from retrieval.claims import META_WORDS as _META_WORDS
from retrieval.claims import TRAILING_MARKERS as _TRAILING_MARKERS
from retrieval.claims import WORDED_MARKER as _WORDED_MARKER
from retrieval.claims import cite as _cite
from retrieval.claims import parse_markers as _parse_markers
from retrieval.days import asked_days, asks_latest, dated, day_filters, days_outside_note, latest_filters, topic_day
from retrieval.errors import EmptyQuestionError
from retrieval.evidence import (
    KIND_LABELS,
    LIGHT_VERBS,
    Ask,
    Relation,
    answer_shape,
    evidence,
    names_nothing,
    not_english,
    question_ask,
    question_relation,
    question_speaker,
    relation_sentences,
    stem,
    term_stems,
    unmarked,
)
from retrieval.extract import (
    EXTRACT_SENTENCES,
    answer_sentences,
    choose_sentences,
    cited_sentences,
    digest,
    passage_sentences,
    score_sentences,
    typed_answer,
)
from retrieval.followups import (
    FollowUp,
    History,
    followup_retrieve,
    followup_search,
    history_pairs,
    is_followup,
    on_topic,
    rewrite_keeps,
    with_subject,
)
from retrieval.search import Filters, SearchResult, parse_day, search
from retrieval.settings import Settings
from retrieval.speakers import Asked, Speech, read_speech, spoken_by
from retrieval.store import Store
from retrieval.text import flat, keyword_terms, split_sentences
from retrieval.types import Answer, Citation, Passage, Unsupported

if TYPE_CHECKING:
    from langchain_core.language_models.chat_models import BaseChatModel


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


def _as_of(store: Store) -> str:
    newest = store.facts().get("newest_published") or ""
    return f" (newest article: {newest[:10]})" if newest else ""


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


# Said before an answer made of the passages' own sentences because the model's did not pass the check.
CUT_REASON = "the model's answer was cut off here"
# A reply is read up to the token limit at this many characters a token (English runs at ~4; a reply far
# over it comes from an endpoint that ignores max_tokens). Fixed by design, like the other constants here.
REPLY_CHARS_PER_TOKEN = 8
FALLBACK_NOTE = "(The model could not answer from the passages; these are the passages' own sentences.)"
# Said to a question that names nothing to look up ("Why?", "Is it true?", "Who said that?" outside a
# conversation): any passage's sentence would be shown as its cited answer.
NAMES_NOTHING = ("Ask about something the articles may cover: name a person, place, organisation or event "
                 "(this question names nothing to look up; to follow up on an answer, ask in the same chat).")
# Said to a question in another language: its function words would pass the evidence check.
NOT_ENGLISH = ("Please ask in English: the articles are searched, and the answers checked, in English "
               "(this question reads as another language).")
# Entries a per-sentence cache of an ``Assistant`` holds (vectors, parses) before it is cleared whole.
SENTENCE_CACHE = 20_000


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
        pairs = history_pairs(history)
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
        return with_subject(question, history)

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
                if len(self._sentence_cache) + len(fresh) > SENTENCE_CACHE:
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
                if len(cache) + len(fresh) > SENTENCE_CACHE:
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
        spans = [(s, e, flat(t)) for s, e, t in passage_sentences(passage)]
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
        terms = {stem(t) for t in keyword_terms(claim)}
        inside = [(len(terms & {stem(t) for t in keyword_terms(text)}), ok)
                  for s, e, text, ok in self._spoken_flags(speaker, passage) if s < verdict.end and e > verdict.start]
        return bool(inside) and max(inside, key=lambda x: x[0])[1]

    def _close_words(self, relation: Relation, lemmas: set[str]) -> set[str]:
        """Of ``lemmas``, those the embedder puts within ``settings.relation_similarity`` of a relation's lemma."""
        words = sorted(w for w in lemmas if len(w) >= 3 and w.isalpha() and w not in LIGHT_VERBS)
        if self.settings.relation_similarity >= 1 or not words or not relation.lemmas:
            return set()
        vectors = self._embed_sentences(words)
        asked = self._embed_sentences(list(relation.lemmas))
        best = (vectors @ asked.T).max(axis=1)
        return {w for w, score in zip(words, best, strict=True) if score >= self.settings.relation_similarity}

    def relation_support(self, question: str, ask: Ask, passages: Sequence[Passage]) -> dict[int, set[str]] | None:
        """The passage sentences that state what ``question`` asks of its names (:func:`question_relation`),
        by passage index (sentences as one line: :func:`retrieval.evidence.relation_sentences`, read with
        this assistant's cached lemmas and word vectors). None when the question names no relation
        (``holds_answer`` then asks only for the names and key terms). A question about what someone said
        is answered only by that one's sentences (:meth:`spoken`): with no relation, those are the support."""
        relation = question_relation(question, self.settings.relation_max_words)
        spoken = self.spoken(question, passages)
        if relation is None:
            return spoken
        split = [[flat(s) for _, _, s in passage_sentences(p)] or [flat(p.text)] for p in passages]
        lemmas = self._lemmas([s for sentences in split for s in sentences])
        close = self._close_words(relation, {lemma for tokens in lemmas for _, lemma, pos in tokens if pos == "VERB"})
        return relation_sentences(question, relation, ask, passages, split, lemmas, close.__contains__, spoken,
                                  self.settings)

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
        split = [passage_sentences(p) or [(0, len(p.text), p.text)] for p in passages]
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

    def _support(self, claim: str, passage: Passage, question: str = "", extracted: bool = False) -> Verdict:
        """Whether ``passage`` states ``claim`` (an answer to ``question``), with the supporting span (see
        ``retrieval.claims``). An ``extracted`` claim is the passages' own words (:meth:`verify`)."""
        return default_checker().check(
            claim, passage.text, similarity=self._similarity, title=passage.title, outlet=passage.outlet,
            published=passage.published, threshold=self.settings.support_threshold,
            sentences=passage_sentences(passage) or [(0, len(passage.text), passage.text)],
            question=question,
            # Extracted sentences are the passages' own words (at times a heading run into the sentence after
            # it, of another passage): the checks of words a model adds are for a model's sentences.
            judge_words=not extracted,
        )

    def _short_support(self, answer: str, question: str, passage: Passage, speaker: Asked | None = None) -> Verdict:
        """Support for a bare answer (up to BARE_ANSWER_WORDS words): the passage sentence that names all
        of its words and figures and best matches the question; never an instruction planted in it. For a
        question about what ``speaker`` said ("What did Dunn say it would cost? A) …"), only that one's
        sentences (:meth:`_spoken_flags`): another's naming the choice neither supports nor rivals it."""
        sentences = passage_sentences(passage) or [(0, len(passage.text), passage.text)]
        if speaker is not None:
            said = {(s, e) for s, e, _, ok in self._spoken_flags(speaker, passage) if ok}
            sentences = [x for x in sentences if (x[0], x[1]) in said]
            if not sentences:
                return Verdict(False, 0.0, 0, 0, f"the passage does not have {speaker.name} say this")
        return default_checker().check_bare(
            answer, passage.text, question=question, similarity=self._similarity, sentences=sentences,
            kinds=KIND_LABELS.get(answer_shape(question), frozenset()),
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
        # Written here, not by a model: the choice is the asker's words, and a sentence of the passage names
        # all of them (``choice_support``): no words a model added to judge.
        answer = self.verify(f"{chr(ord('A') + index)}) {choice} [{passage + 1}].", passages, bare, extracted=True)
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
        holding them rank higher: up to ``settings.followup_weight`` rank-1 hits for holding all of them; with
        ``cited`` (article ids the previous answer cited: what "it" refers to), their passages gain up
        to ``settings.cited_weight`` more, by the share of the new terms they hold (a cited passage without the
        new ask is the previous answer again). A reranked search keeps no places for the best dense
        matches (``settings.dense_reserve``): a follow-up's query mixes the new ask with the subject's
        words, and its best dense match is often the subject alone (docs/results.md, session 6). ``k``: how
        many passages (default ``settings.k``)."""
        reranker = None
        if boost or cited:
            bonus = self.settings.followup_weight / self.settings.rrf_k
            cited_bonus = self.settings.cited_weight / self.settings.rrf_k

            def reranker(_query: str, passages: Sequence[Passage]) -> list[float]:
                scores = []
                for p in passages:
                    new = len(boost & term_stems(f"{p.title} {p.text}")) / len(boost) if boost else 1.0
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
                return digest(passages)
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
        final = lettered or self.verify(text, passages, standalone, extracted=model is None)
        if cut:
            final.unsupported.append(Unsupported(cut, CUT_REASON))
        if final.refused and model is not None:
            # The model refused, or no sentence of its answer passed the check, although the passages
            # hold what the question asks about: the passages' own verified sentences, never less.
            extracted = extract()
            fallback = self.verify(extracted, passages, standalone, extracted=True) if extracted else final
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
        tied = on_topic(question, follow, passages, outlets, self._article_text, settings=self.settings)
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
        return evidence(ask, passages, self.settings).holds(self.settings) and (support is None or bool(support))

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
        passage's), for the extractive answer and for choosing what the model reads
        (:func:`retrieval.extract.score_sentences`, with this assistant's cached vectors and entities)."""
        flat_list = [s for group in sentences for s in group]
        if not flat_list:
            return [[] for _ in sentences]
        query_vec = self.store.embedder.encode([question])[0]
        cosines = self._embed_sentences(flat_list) @ query_vec
        entities = self._entities(flat_list) if typed_answer(question) else [None] * len(flat_list)
        return score_sentences(question, ask, sentences, cosines, entities, self.settings)

    def _extract(self, question: str, passages: Sequence[Passage], ask: Ask | None = None,
                 support: dict[int, set[str]] | None = None, as_of: dt.date | None = None) -> str:
        """The extractive backend: the passages' sentences that best answer ``question``, each cited.

        A sentence scores its cosine similarity to the question plus the share of the question's key
        terms (``ask``) and names it holds; whole sentences only, shown on one line, never fragments
        (see ``retrieval.text``), at most ``EXTRACT_SENTENCES``, no two saying nearly the same. The
        sentences that state the question's relation (``support``: the evidence the answer was allowed
        on, :meth:`relation_support`) gain ``EXTRACT_RELATION_WEIGHT`` (``retrieval.extract``).
        """
        chosen = self.extract_candidates(question, passages, ask, EXTRACT_SENTENCES, support, as_of)
        return cited_sentences(chosen)

    def extract_candidates(self, question: str, passages: Sequence[Passage], ask: Ask | None = None,
                           limit: int = EXTRACT_SENTENCES, support: dict[int, set[str]] | None = None,
                           as_of: dt.date | None = None) -> list[tuple[float, int, str]]:
        """The sentences :meth:`_extract` answers with, best first, as (score, passage number, sentence):
        at most ``limit``, no two saying nearly the same (:func:`retrieval.extract.choose_sentences`;
        ``benchmarks/model_reading_lab.py`` reads more)."""
        ask = ask or question_ask(question)
        spoken = self.spoken(question, passages)  # a question about what someone said: their sentences only
        sentences = answer_sentences(passages)
        return choose_sentences(sentences, self.sentence_scores(question, ask, sentences), passages, limit,
                                self.settings, stating=support or {}, spoken=spoken, latest=asks_latest(question),
                                as_of=as_of)

    def verify(self, text: str, passages: Sequence[Passage], question: str, *, extracted: bool = False) -> Answer:
        """Resolve ``[n]`` markers, check each cited sentence against its passages (``retrieval.claims``:
        facts, names, polarity, speakers; instructions planted in articles never count), renumber.
        A sentence no passage states is kept and listed in ``unsupported`` with the reason. ``extracted``:
        ``text`` is the passages' own sentences (the extractive answer, whichever backend shows it), not
        judged word by word; a model's sentences are."""
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
                    good = _repoint(passages, valid, functools.partial(self._support, claim, extracted=extracted),
                                    threshold + 0.1, found) if said == bare else []
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
                verdicts.update({i: self._support(claim, passages[i], question, extracted) for i in valid})
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
                good = _repoint(passages, valid, functools.partial(self._support, claim, question=question,
                                                                   extracted=extracted), threshold + 0.1, verdicts)
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
# in units of sentence score (see Assistant.sentence_scores). Fixed by design (not tuned).
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
