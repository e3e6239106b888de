"""Honest "the articles don't say" (issue 13): a question is answered only where a passage sentence states
what it asks of its names (the relation), near them; a question about a day reads that day's articles;
an old article's "yesterday" is dated. Hand-written articles, a real index, the extractive backend and a
scripted model."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from indexes import build_index
from scripted import ScriptedChat

from retrieval import prompts
from retrieval.answer import FALLBACK_NOTE, NAMES_NOTHING, NOT_ENGLISH, Assistant
from retrieval.days import asked_days
from retrieval.evidence import not_english, question_ask, question_relation
from retrieval.search import Filters
from retrieval.settings import Settings
from retrieval.store import Store


def _article(title: str, outlet: str, published: str, *paragraphs: str) -> str:
    """A markdown article with front matter, one paragraph a line."""
    head = f"---\ntitle: {title}\noutlet: {outlet}\npublished: {published}\n---\n"
    return head + "\n\n".join(paragraphs) + "\n"


RECALL = _article(
    "Pellworth Motors recalls 64,000 Tundrel vans over steering fault", "Harbour Wire", "2026-03-09",
    "Pellworth Motors is recalling about 64,000 Tundrel delivery vans in Canada because a steering "
    "joint can loosen, the transport regulator said on Monday.",
    "The vans were built between 2022 and 2024 at the company's plant in Halvard, Ontario, according "
    "to the filing.",
    "Pellworth said it knew of three minor crashes linked to the fault. Dealers will replace the "
    "joint free of charge, and owners will be told by letter from April.",
    "Shares of Pellworth fell 3.4 percent in morning trading.",
)

PLANT = _article(
    "Pellworth chief says battery plant in Dunmere on schedule", "Valley Ledger", "2026-03-05",
    "Pellworth Motors chief executive Mara Quist said on Thursday that the company's new battery "
    "plant in Dunmere remains on schedule.",
    "Quist brushed off talk that she would resign after a hard year, telling investors she was "
    "staying to finish the plan.",
    "The plant will employ about 2,300 workers at full output, the company has said. Quist gave no "
    "opening date.",
)

STORM = _article(
    "Ice storm cuts power across Brackley", "Northern Post", "2026-03-10",
    "An ice storm cut power to 42,000 homes across Brackley early on Tuesday, the utility Brackley "
    "Grid said. Crews hope to restore most lines by Wednesday.",
)

MEASLES = _article(
    "WHO warns of measles rise", "Northern Post", "2026-03-09",
    "The WHO said on Monday that measles cases in the region tripled this winter and urged parents "
    "to vaccinate children. Who is most at risk is unclear, the agency added.",
)

OLD = _article(
    "Harbour master quits", "Coastal Gazette", "2023-05-02",
    "Harbour master Ottilie Brandt resigned yesterday after a dispute with the port council over "
    "dredging costs.",
)

AS_OF = Filters(as_of="2026-03-10")


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> Path:
    return build_index(tmp_path_factory, embedder, {"recall.md": RECALL, "plant.md": PLANT, "storm.md": STORM,
                                                    "measles.md": MEASLES, "old.md": OLD})


@pytest.fixture
def make_assistant(index_dir: Path, embedder: Any) -> Callable[..., Assistant]:
    def make(reply: str | None = None) -> Assistant:
        settings = Settings(data_dir=index_dir, backend="extractive" if reply is None else "local")
        model = ScriptedChat(reply=lambda _m: reply, calls=[]) if reply is not None else None
        return Assistant(settings, store=Store(settings, embedder=embedder), chat_model=model)

    return make


def test_the_relation_a_question_asks_about() -> None:
    """The main verb, whatever spaCy calls it ("will the plant employ?" parses "employ" as a noun); a light
    verb ("say", "happen") names none; a name after a preposition qualifies the relation."""
    words = Settings().relation_max_words
    assert question_relation("How many workers will the Dunmere plant employ?", words).words == {"employ"}
    assert question_relation("What did the WHO say?", words) is None
    assert question_relation("Which town did Pellworth build the Tundrel vans in?", words) is None  # the kind asked
    assert question_relation("What happened today?", words) is None
    mexico = question_relation("Did Pellworth recall the Tundrel vans in Mexico?", words)
    assert mexico is not None and mexico.bound == ("mexico",) and not mexico.asserted
    resign = question_relation("Why did Pellworth chief Mara Quist resign?", words)
    assert resign is not None and resign.asserted  # a past wh-question presupposes it happened


@pytest.mark.parametrize("question", [
    "How many Tundrel vans did Pellworth sell last year?",  # the relation (sell) is stated nowhere
    "How many workers will the Halvard plant employ?",  # employ is said of the Dunmere plant
    "How much will the steering recall cost Pellworth?",  # no cost anywhere: counts are no answer
    "When will the Pellworth Dunmere plant open?",  # "no opening date": the relation without a date
    "Did Pellworth Motors recall the Tundrel vans in Mexico?",  # the recall is in Canada
    "Why did Pellworth chief Mara Quist resign?",  # a false premise: she "would resign" only in talk
])
def test_a_neighbouring_fact_is_no_answer(make_assistant: Callable[..., Assistant], question: str) -> None:
    answer = make_assistant().answer(question, filters=AS_OF)
    assert answer.refused and "don't cover" in answer.text, answer.text


@pytest.mark.parametrize(("question", "needle"), [
    ("How many workers will the Dunmere plant employ?", "2,300 workers"),
    ("How many Tundrel vans is Pellworth recalling?", "64,000"),
    ("Did Pellworth recall the Tundrel vans in Canada?", "in Canada"),
    ("How much did Pellworth shares fall?", "3.4 percent"),
])
def test_the_sentence_stating_the_relation_answers(
    make_assistant: Callable[..., Assistant], question: str, needle: str,
) -> None:
    answer = make_assistant().answer(question, filters=AS_OF)
    assert not answer.refused, answer.text
    assert needle in answer.citations[0].quote, answer.text


def test_the_tuned_thresholds_are_read_from_the_settings(
    index_dir: Path, embedder: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The gate's tuned thresholds are settings (``NEWSQA_…``: what ``evaluate`` and the benchmarks'
    ``--set`` / ``--variant`` reach), not module constants: the recall in Mexico, refused for its relation
    by default (the recall is in Canada), passes when no question is asked for a relation, and is refused
    again when every name it asks about must be held."""
    question = "Did Pellworth Motors recall the Tundrel vans in Mexico?"

    def ask(**env: float) -> bool:
        for name, value in env.items():
            monkeypatch.setenv(f"NEWSQA_{name.upper()}", str(value))
        settings = Settings(data_dir=index_dir, backend="extractive")
        return Assistant(settings, store=Store(settings, embedder=embedder)).answer(question, filters=AS_OF).refused

    assert ask()
    assert not ask(relation_max_words=5)
    assert ask(relation_max_words=5, names_needed=1.0)


def test_a_model_saying_not_in_articles_is_overridden_only_when_a_passage_states_it(
    make_assistant: Callable[..., Assistant],
) -> None:
    """The fallback after an honest NOT_IN_ARTICLES uses the same evidence as the gate: no sentence says
    what Pellworth sold, so the refusal stands (and the model is not even asked); where the plant's
    workforce is stated, the fallback answers with that sentence first."""
    assistant = make_assistant(prompts.NOT_IN_ARTICLES)
    sold = assistant.answer("How many Tundrel vans did Pellworth sell last year?", filters=AS_OF)
    assert sold.refused and not sold.note, sold.text
    assert not assistant.chat_model.calls  # type: ignore[union-attr]
    employ = assistant.answer("How many workers will the Dunmere plant employ?", filters=AS_OF)
    assert not employ.refused and employ.note == FALLBACK_NOTE, employ.text
    assert "2,300 workers" in employ.citations[0].quote


def test_a_question_about_a_day_reads_that_days_articles(make_assistant: Callable[..., Assistant]) -> None:
    """"What happened today?" names no topic: it is answered with the first sentences of the articles of
    the as-of day (yesterday's for "yesterday"), not refused on the cosine threshold."""
    assert asked_days("What happened today?") == (0, 0)
    assert asked_days("What's the news yesterday?") == (1, 1)
    assert asked_days("What happened to Pellworth today?") is None
    today = make_assistant().answer("What happened today?", filters=AS_OF)
    assert not today.refused, today.text
    assert {c.published[:10] for c in today.citations} == {"2026-03-10"}
    assert "ice storm" in today.text
    yesterday = make_assistant().answer("What happened yesterday?", filters=AS_OF)
    assert not yesterday.refused, yesterday.text
    assert {c.published[:10] for c in yesterday.citations} == {"2026-03-09"}


def test_an_acronym_is_a_name_even_when_it_spells_a_wh_word(make_assistant: Callable[..., Assistant]) -> None:
    """"WHO" in mid-question is the organisation; it must be held in capitals ("Who is most at risk" is no
    mention of it)."""
    assert question_ask("What did the WHO say?").names == ("WHO",)
    assert question_ask("Who said what?").names == ()
    answer = make_assistant().answer("What did the WHO say?", filters=AS_OF)
    assert not answer.refused, answer.text
    assert "measles" in answer.citations[0].quote


def test_an_old_articles_yesterday_is_dated(make_assistant: Callable[..., Assistant]) -> None:
    """A 2023 article's "resigned yesterday" is not the reader's yesterday: the answer says when."""
    answer = make_assistant().answer("Who resigned yesterday?", filters=AS_OF)
    assert not answer.refused, answer.text
    assert "resigned yesterday" in answer.text and "(published 2023-05-02)" in answer.text, answer.text
    fresh = make_assistant().answer("How much did Pellworth shares fall?", filters=Filters(as_of="2026-03-10"))
    assert "(published" not in fresh.text


@pytest.mark.parametrize("question", ["Why?", "Is it true?", "Who said that?", "Tell me everything."])
def test_a_question_that_names_nothing_is_asked_what_about(
    make_assistant: Callable[..., Assistant], question: str,
) -> None:
    """Outside a conversation, "Why?" or "Is it true?" was answered with the nearest sentence, cited and
    verified (audit s17 #2): the user is asked to name what the question is about."""
    answer = make_assistant().answer(question, filters=AS_OF)
    assert answer.refused and not answer.citations, answer.text
    assert answer.text == NAMES_NOTHING


SPANISH = _article(
    "El Super Bowl 60 comienza esta noche en Santa Clara", "Noticias Hoy", "2026-03-08",
    "Está previsto que el Super Bowl 60 comience a las 18:30 h ET en Santa Clara, con el himno nacional de "
    "Estados Unidos antes del saque inicial.",
    "Miles de aficionados de Canadá y de Estados Unidos viajaron a California para ver el partido, que se "
    "transmitirá en más de 180 países.",
)


def test_a_question_in_another_language_is_not_answered_on_its_function_words(
    tmp_path_factory: pytest.TempPathFactory, embedder: Any,
) -> None:
    """"¿Qué dijo el gobierno británico?" passed the evidence check on "el", "que", "de" and "Qué" (a
    capitalised word) and was answered with a Spanish article's Super Bowl sentences (audit s17 #5): it is
    refused, saying the articles are searched in English; an English question naming "El Niño" is not."""
    assert not_english("¿Qué dijo Canadá sobre el intercambio de inteligencia con Estados Unidos?")
    assert not_english("Qu'est-ce que le gouvernement a dit?")
    assert not not_english("What did the mayor of Ciudad de México say about El Niño?")
    assert not not_english("Who won the Copa del Rey final in La Liga?")
    index = build_index(tmp_path_factory, embedder, {"es.md": SPANISH, "storm.md": STORM})
    settings = Settings(data_dir=index, backend="extractive")
    assistant = Assistant(settings, store=Store(settings, embedder=embedder))
    answer = assistant.answer("¿Qué dijo el gobierno de Canadá sobre el partido?", filters=AS_OF)
    assert answer.refused and not answer.citations, answer.text
    assert answer.text == NOT_ENGLISH
    assert not assistant.answer("How many homes did the ice storm cut power to?", filters=AS_OF).refused
