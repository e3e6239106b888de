"""Grounded answers: follow-up rewriting, retrieval, the model call (or extraction), citation
parsing and verification, and refusal. ``Assistant.stream`` yields events; ``answer`` returns one
``Answer``."""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from retrieval import prompts
from retrieval.catalog import keyword_terms
from retrieval.search import Filters, SearchResult, search
from retrieval.settings import Settings
from retrieval.store import Store
from retrieval.text import split_sentences
from retrieval.types import Answer, Citation, Passage

if TYPE_CHECKING:
    from langchain_core.language_models.chat_models import BaseChatModel

History = Sequence[Any]  # (role, content) pairs or {"role", "content"} dicts

_MARKER = re.compile(r"\[(\d+(?:\s*[,;–-]\s*\d+)*)\]")
# Markers written after the sentence's final punctuation ("… vehicles. [1]"): they belong to it.
_TRAILING_MARKERS = re.compile(rf"([.!?])((?:\s*{_MARKER.pattern})+)")
_FOLLOWUP_START = re.compile(
    r"^(and|but|also|so|what about|how about|and what|why|what else|is that|was that|did they|does it|"
    r"do they|did he|did she|what did (he|she|they|it)|who else|when was that|where was that)\b",
    re.I,
)
# Words of sentences about the passages rather than the news ("This is supported by passage.",
# "As stated in the articles above."): a sentence made of these and stopwords alone claims nothing.
_META_WORDS = frozenset({
    "passage", "passages", "article", "articles", "source", "sources", "text", "texts", "excerpt",
    "excerpts", "provided", "given", "above", "below", "stated", "states", "state", "mentioned",
    "mentions", "mention", "supported", "supports", "support", "seen", "shown", "shows", "show",
    "according", "based", "evidence", "evidenced", "information", "cited", "cites", "quoted",
    "quote", "quotes", "indicated", "indicates", "following",
})
_PRONOUN = re.compile(r"\b(he|she|they|them|his|her|their|it|its|this|that|these|those|there)\b", re.I)


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
    if not any(role == "user" for role, _ in _history_pairs(history)):
        return False
    words = question.split()
    return bool(_FOLLOWUP_START.match(question.strip()) or _PRONOUN.search(question) or len(words) <= 4)


def _parse_markers(group: str) -> list[int]:
    numbers: list[int] = []
    for part in re.split(r"\s*[,;]\s*", group):
        if re.match(r"^\d+\s*[–-]\s*\d+$", part):
            a, b = (int(x) for x in re.split(r"\s*[–-]\s*", part))
            numbers.extend(range(a, min(b, a + 10) + 1))
        elif part.strip().isdigit():
            numbers.append(int(part))
    return numbers


def _as_of(store: Store) -> str:
    newest = store.catalog.stats().get("newest_published") or ""
    return f" (newest article: {newest[:10]})" if newest else ""


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

    # --- steps ------------------------------------------------------------------------------------
    def rewrite(self, question: str, history: History) -> str:
        """A standalone version of a follow-up question (the question itself otherwise)."""
        if not is_followup(question, history):
            return question
        pairs = _history_pairs(history)
        model = self.chat_model
        if model is not None:
            convo = "\n".join(f"{role}: {content[:400]}" for role, content in pairs[-4:])
            try:
                # Same system message as the answer prompt: llama.cpp keeps that prefix evaluated.
                reply = model.invoke(
                    [("system", prompts.SYSTEM), ("user", prompts.REWRITE.format(history=convo, question=question))]
                )
                text = str(getattr(reply, "content", reply)).strip().splitlines()
                rewritten = text[0].strip().strip('"') if text else ""
                if 3 <= len(rewritten) <= 300 and prompts.NOT_IN_ARTICLES not in rewritten:
                    return rewritten
            except Exception:
                pass
        previous = [content for role, content in pairs if role == "user"][-1]
        return f"{question} (following up on: {previous})"

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

    def _passage_sentences(self, passage: Passage) -> list[tuple[int, int, str]]:
        return [(s, e, passage.text[s:e]) for s, e in split_sentences(passage.text)]

    def focus(self, passage: Passage, query_vec: np.ndarray, query_terms: set[str], limit: int = 3) -> str:
        """The passage's sentences most relevant to the question, in their original order."""
        sentences = self._passage_sentences(passage)
        if len(sentences) <= limit:
            return passage.text
        vecs = self._embed_sentences([s for _, _, s in sentences])
        scores = vecs @ query_vec + 0.1 * np.array(
            [len(query_terms & set(keyword_terms(s))) for _, _, s in sentences]
        )
        keep = sorted(np.argsort(-scores)[:limit])
        return " … ".join(sentences[i][2] for i in keep)

    def _support(self, claim: str, passage: Passage) -> tuple[float, int, int]:
        """How well ``passage`` supports ``claim`` (0..1) and the best supporting span in the passage."""
        sentences = self._passage_sentences(passage) or [(0, len(passage.text), passage.text)]
        claim_vec = self._embed_sentences([claim])[0]
        vecs = self._embed_sentences([s for _, _, s in sentences])
        cos = vecs @ claim_vec
        claim_terms = set(keyword_terms(claim))
        best_i = int(np.argmax(cos))
        # Also consider two adjacent sentences together (claims often merge them).
        passage_terms = set(keyword_terms(passage.text))
        lexical = len(claim_terms & passage_terms) / len(claim_terms) if claim_terms else 0.0
        score = 0.6 * float(cos[best_i]) + 0.4 * lexical
        s, e, _ = sentences[best_i]
        return min(1.0, max(0.0, score)), s, e

    def _short_support(self, answer: str, question: str, passage: Passage) -> tuple[float, int, int]:
        """Support for a bare answer (up to BARE_ANSWER_WORDS words): the passage sentence that names all
        of its words and best matches the question (0.6 × cosine to question + answer, + 0.4); 0.0 when no
        sentence names it."""
        terms = set(keyword_terms(_CHOICE_LABEL.sub("", answer)))
        sentences = self._passage_sentences(passage) or [(0, len(passage.text), passage.text)]
        naming = [(s, e, text) for s, e, text in sentences if terms and terms <= set(keyword_terms(text))]
        if not naming:
            return 0.0, 0, 0
        claim_vec = self._embed_sentences([f"{question} {answer}"])[0]
        cos = self._embed_sentences([text for _, _, text in naming]) @ claim_vec
        best = int(np.argmax(cos))
        s, e, _ = naming[best]
        return min(1.0, max(0.0, 0.6 * float(cos[best]) + 0.4)), s, e

    # --- answering --------------------------------------------------------------------------------
    def retrieve(self, question: str, filters: Filters | None = None) -> SearchResult:
        return search(self.store, question, k=self.settings.k, filters=filters)

    def stream(
        self, question: str, history: History = (), filters: Filters | None = None
    ) -> Iterator[Event]:
        """Events: ``Retrieved`` (sources, before any token), ``Status``, ``Token`` (as generated), ``Final``."""
        started = time.perf_counter()
        timings: dict[str, float] = {}
        question = question.strip()
        if not question:
            raise ValueError("the question is empty")

        t = time.perf_counter()
        standalone = self.rewrite(question, history)
        timings["rewrite"] = time.perf_counter() - t

        result = self.retrieve(standalone, filters)
        timings["retrieve"] = result.timings.get("retrieve", 0.0)
        passages = result.passages
        yield Retrieved(standalone, passages)

        if not passages or result.best_similarity < self.settings.refusal_threshold:
            timings["total"] = time.perf_counter() - started
            yield Final(self._refusal(standalone, passages, timings))
            return

        if self._chat_model is None and self.backend != "extractive":
            yield Status(f"Loading the {self.backend} answer model (first question only)…")
        model = self.chat_model
        if model is None:
            t = time.perf_counter()
            text = self._extract(standalone, passages)
            timings["generate"] = time.perf_counter() - t
            timings["first_token"] = time.perf_counter() - started
            if text:
                yield Token(text)
        else:
            t = time.perf_counter()
            messages = self.build_messages(standalone, passages, (filters or Filters()).as_of_day)
            timings["prompt"] = time.perf_counter() - t
            t = time.perf_counter()
            parts: list[str] = []
            for chunk in model.stream(messages):
                piece = str(chunk.content) if hasattr(chunk, "content") else str(chunk)
                if not piece:
                    continue
                if not parts:
                    timings["first_token"] = time.perf_counter() - started
                parts.append(piece)
                yield Token(piece)
            text = "".join(parts)
            timings["generate"] = time.perf_counter() - t

        t = time.perf_counter()
        final = self.verify(text, passages, standalone)
        timings["verify"] = time.perf_counter() - t
        timings["total"] = time.perf_counter() - started
        final.timings = timings
        if final.refused:
            final = self._refusal(standalone, passages, timings)
        yield Final(final)

    def answer(self, question: str, history: History = (), filters: Filters | None = None) -> Answer:
        final: Answer | None = None
        for event in self.stream(question, history, filters):
            if isinstance(event, Final):
                final = event.answer
        assert final is not None
        return final

    def build_messages(
        self, question: str, passages: Sequence[Passage], today: dt.date | None = None
    ) -> list[tuple[str, str]]:
        """System and user messages; ``today`` is the day the news is read as of (default: today)."""
        query_vec = self.store.embedder.encode([question])[0]
        terms = set(keyword_terms(question))
        blocks = []
        for n, p in enumerate(passages, start=1):
            text = self.focus(p, query_vec, terms, self.settings.context_sentences)
            text = text.replace("</passage>", "</ passage>")
            blocks.append(
                prompts.PASSAGE.format(
                    n=n,
                    outlet=_attr(p.outlet or "unknown outlet"),
                    published=_attr(p.published[:10] or "undated"),
                    title=_attr(" ".join(p.title.split()[:14])),
                    text=text,
                )
            )
        user = prompts.USER.format(
            today=(today or dt.date.today()).isoformat(), passages="\n".join(blocks), question=question
        )
        return [("system", prompts.SYSTEM), ("user", user)]

    def _extract(self, question: str, passages: Sequence[Passage]) -> str:
        """The extractive backend: the best supporting sentences of the passages, each cited."""
        query_vec = self.store.embedder.encode([question])[0]
        terms = set(keyword_terms(question))
        candidates: list[tuple[float, int, str]] = []
        for n, p in enumerate(passages, start=1):
            sentences = [s for _, _, s in self._passage_sentences(p) if len(s.split()) >= 5]
            if not sentences:
                continue
            vecs = self._embed_sentences(sentences)
            for sentence, vec in zip(sentences, vecs, strict=True):
                overlap = len(terms & set(keyword_terms(sentence))) / max(1, len(terms))
                candidates.append((float(vec @ query_vec) + 0.3 * overlap, n, sentence))
        candidates.sort(key=lambda c: -c[0])
        chosen: list[tuple[float, int, str]] = []
        for cand in candidates:
            if cand[0] < self.settings.refusal_threshold:
                break
            words = set(keyword_terms(cand[2]))
            if any(len(words & set(keyword_terms(c[2]))) / max(1, len(words)) > 0.6 for c in chosen):
                continue
            chosen.append(cand)
            if len(chosen) == 3:
                break
        return " ".join(_cite(sentence, n) for _, n, sentence in chosen)

    def verify(self, text: str, passages: Sequence[Passage], question: str) -> Answer:
        """Resolve ``[n]`` markers, check each cited sentence against its passages, renumber."""
        text = text.strip()
        if not text or prompts.NOT_IN_ARTICLES in text:
            return Answer(text=text, refused=True, passages=list(passages), question=question)
        text = _TRAILING_MARKERS.sub(lambda m: f"{m.group(2)}{m.group(1)}", text)
        threshold = self.settings.support_threshold
        citations: dict[int, Citation] = {}  # passage index -> citation
        order: list[int] = []
        out_sentences: list[str] = []
        unsupported: list[str] = []
        spans = split_sentences(text) or [(0, len(text))]
        for s, e in spans:
            sentence = text[s:e]
            cited = [n for m in _MARKER.finditer(sentence) for n in _parse_markers(m.group(1))]
            valid = [n - 1 for n in dict.fromkeys(cited) if 1 <= n <= len(passages)]
            claim = _MARKER.sub("", sentence).strip()
            claim = re.sub(r"\s+([.,;:!?])", r"\1", claim)
            bare = _CHOICE_LABEL.sub("", claim)
            words = len(bare.split())
            terms = set(keyword_terms(claim))
            if not cited and terms and terms <= _META_WORDS:
                continue  # about the passages, not the news (small models add such sentences): drop it
            if words < 3 and not (valid and keyword_terms(bare)):  # nothing to check ("-", "Yes, but")
                if claim:
                    out_sentences.append(claim)
                continue
            scored = {i: self._support(claim, passages[i]) for i in range(len(passages))} if words >= 3 else {}
            good = [i for i in valid if i in scored and scored[i][0] >= threshold]
            if not good and valid and words <= BARE_ANSWER_WORDS:
                # A bare answer ("Iran [2].", "C) Davos, Switzerland [1]."): supported where a sentence of
                # the cited passage names it.
                scored.update({i: self._short_support(claim, question, passages[i]) for i in valid})
                good = [i for i in valid if scored[i][0] >= threshold]
            if not good and words >= 3:
                # The cited passage does not support it: point at the one that does, if any.
                best = max(scored, key=lambda i: scored[i][0])
                if scored[best][0] >= threshold + 0.1:
                    good = [best]
            if not good:
                unsupported.append(claim)
                out_sentences.append(claim)
                continue
            numbers = []
            for i in good:
                score, qs, qe = scored[i]
                if i not in citations:
                    p = passages[i]
                    order.append(i)
                    citations[i] = Citation(
                        n=len(order), article_id=p.article_id, title=p.title, url=p.url,
                        published=p.published, outlet=p.outlet, quote=p.text[qs:qe],
                        start=p.start + qs, end=p.start + qe, supported=True, support=round(score, 3),
                    )
                else:
                    citations[i].support = round(max(citations[i].support, score), 3)
                numbers.append(citations[i].n)
            out_sentences.append(_cite(claim, *numbers))
        refused = not citations
        return Answer(
            text=" ".join(out_sentences).strip(),
            citations=[citations[i] for i in order],
            refused=refused,
            passages=list(passages),
            unsupported=unsupported,
            question=question,
        )

    def _refusal(self, question: str, passages: Sequence[Passage], timings: dict[str, float]) -> Answer:
        return Answer(
            text=prompts.REFUSAL.format(as_of=_as_of(self.store)),
            refused=True,
            passages=list(passages),
            question=question,
            timings=timings,
        )


# Up to this many words, a cited answer may be a bare phrase rather than a sentence ("Davos, Switzerland").
BARE_ANSWER_WORDS = 6
# "B) " before a multiple-choice answer.
_CHOICE_LABEL = re.compile(r"^\s*\(?[A-J]\)\s*")


def _cite(sentence: str, *numbers: int) -> str:
    """``sentence`` with its markers (``[1][3]``) before its final punctuation, the way models are asked to cite."""
    body = sentence.rstrip()
    tail = ""
    if body and body[-1] in ".!?":
        body, tail = body[:-1], body[-1]
    return f"{body} {''.join(f'[{n}]' for n in numbers)}{tail}"


def _attr(value: str) -> str:
    return value.replace('"', "'").replace("\n", " ")[:200]


def answer(
    question: str,
    history: History = (),
    filters: Filters | None = None,
    *,
    settings: Settings | None = None,
    assistant: Assistant | None = None,
) -> Answer:
    """One grounded answer. Pass an ``Assistant`` to reuse loaded models across calls."""
    assistant = assistant or Assistant(settings or Settings())
    return assistant.answer(question, history, filters)
