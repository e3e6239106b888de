""""What did X say?" is answered by X: a quote of someone else near X's name is no answer, in the
extractive backend's choice, in the gate that decides answer or refusal, and in the check of a model's
draft. X speaking through a pronoun, "according to X" or a quotation of several sentences still answers.
Real ingest, Chroma, catalog, embedder and spaCy; a scripted chat model where a model drafts."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from indexes import BUNDLED, build_index
from langchain_core.messages import BaseMessage
from scripted import ChoosingChat, ScriptedChat

from retrieval import answer as answer_module
from retrieval.answer import FALLBACK_NOTE, Assistant
from retrieval.claims import default_checker
from retrieval.settings import Settings
from retrieval.speakers import Asked, _parsed_speaker, asked_speaker, read_speech, same_speaker, spoken_by
from retrieval.store import Store
from retrieval.text import flat, following_up, split_sentences
from retrieval.types import Answer


def _article(title: str, published: str, slug: str, text: str) -> str:
    return f"---\ntitle: {title}\noutlet: Wire\npublished: {published}\nurl: https://wire.example/{slug}\n---\n{text}\n"


ARTICLES = {
    # France is named beside the tariffs, but only Germany's chancellor and analysts speak.
    "steel.md": _article(
        "Europe weighs its answer to Zorbian steel tariffs", "2026-05-04", "steel",
        "Zorbia imposed tariffs of 25 percent on European steel on Monday. German Chancellor Lena Kraus said "
        "the Zorbian steel tariffs were a grave mistake and that Berlin would answer them firmly. The tariffs "
        "are expected to hit steelworks in Lorraine, France, hardest, analysts said. French steel exports to "
        "Zorbia reached 2 billion euros last year."),
    # Ines Varga speaks as "she", then in a quotation of three sentences; the board by "according to".
    "ferry.md": _article(
        "Marrow Island ferry operator cuts winter crossings", "2026-05-05", "ferry",
        "The Marrow Island ferry operator will cut winter crossings from four to two a day from December. "
        "Councillor Ines Varga met the operator's board on Tuesday to protest against the ferry cuts. "
        "\u201cThe island cannot live on two boats a day,\u201d she said after the meeting. "
        "Varga later told reporters: \u201cThe ferry cuts will strand the island all winter. Children will "
        "miss school. Nurses will miss their shifts at the mainland hospital.\u201d "
        "The cuts follow a doubling of fuel costs since spring, according to the Marrow Harbour Board."),
    # An Italian company speaks, then Italy's minister: "Italian leaders" are the minister.
    "cars.md": _article(
        "Veltrian car tariffs hit Italian exporters", "2026-05-07", "cars",
        "Veltria raised its tariffs on imported cars to 40 percent on Thursday. The Italian carmaker Ferrosa "
        "said the Veltrian car tariffs would cost it 300 million euros a year. Exports of Italian cars to "
        "Veltria fell by half last year. Italy's industry minister Carla Rossi said on Friday the Veltrian "
        "car tariffs broke world trade rules."),
    # The analysts and the minister name the same figure; the analysts' sentence is closer to the question.
    "jobs.md": _article(
        "Ostrovia counts the cost of Zorbian tariffs", "2026-05-06", "jobs",
        "Independent analysts said on Tuesday the Zorbian tariffs would cost the northern steel towns 3,000 jobs "
        "by next year. Ostrovia's trade minister Pavel Dunn agreed with them on Wednesday. He told parliament "
        "that 3,000 jobs could go. The steel towns of the north employ about 40,000 people."),
}


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> Path:
    return build_index(tmp_path_factory, embedder, {**ARTICLES, BUNDLED.name: BUNDLED})


@pytest.fixture
def make_assistant(index_dir: Path, embedder: Any) -> Callable[..., Assistant]:
    def make(reply: Callable[[list[BaseMessage]], str] | None = None) -> Assistant:
        settings = Settings(data_dir=index_dir, backend="extractive" if reply is None else "local")
        model = ScriptedChat(reply=reply, calls=[]) if reply is not None else None
        return Assistant(settings, store=Store(settings, embedder=embedder), chat_model=model)

    return make


def _quotes(answer: Answer) -> str:
    return " ".join(c.quote for c in answer.citations)


# --- the extractive backend and the gate -------------------------------------------------------------
def test_a_say_question_is_not_answered_with_someone_elses_words(make_assistant: Callable[..., Assistant]) -> None:
    """France is named next to the tariffs and Germany's chancellor speaks about them: "What did France
    say?" is refused (the articles don't report it), not answered with Kraus's or the analysts' words;
    asked of Germany's chancellor, the same passage answers."""
    assistant = make_assistant()
    france = assistant.answer("What did France say about the Zorbian steel tariffs?")
    assert france.refused, france.text
    assert "Kraus" not in france.text and "analysts" not in france.text
    kraus = assistant.answer("What did Lena Kraus say about the Zorbian steel tariffs?")
    assert not kraus.refused and "grave mistake" in _quotes(kraus), kraus.text
    assert "analysts" not in kraus.text and "Zorbia imposed" not in kraus.text  # her words only
    reacted = assistant.answer("How did Lena Kraus react to the Zorbian steel tariffs?")
    assert not reacted.refused and "grave mistake" in _quotes(reacted), reacted.text
    assert "analysts" not in reacted.text


def test_a_speaker_by_pronoun_according_to_or_a_long_quotation_answers(
    make_assistant: Callable[..., Assistant],
) -> None:
    """Varga speaks as "she" (her name in the sentence before), and in a quotation of three sentences
    whose later ones name nobody; the Harbour Board through "according to". Each answers what it said —
    and only its own sentences are chosen."""
    assistant = make_assistant()
    varga = assistant.answer("What did Ines Varga say about the ferry cuts?")
    assert not varga.refused, varga.text
    assert "two boats a day" in _quotes(varga) and "strand the island" in _quotes(varga), varga.text
    assert "fuel costs" not in varga.text and "operator will cut" not in varga.text  # not what she said
    school = assistant.answer("What did Varga say would happen to children?")
    assert not school.refused and "Children will miss school" in school.text, school.text
    board = assistant.answer("What did the Marrow Harbour Board say about the ferry cuts?")
    assert not board.refused and "fuel costs" in _quotes(board), board.text
    assert "two boats" not in board.text and "strand" not in board.text and "operator will cut" not in board.text


def test_the_bundled_articles_uk_statement_answers_and_hughes_does_not_answer_for_the_uk(
    make_assistant: Callable[..., Assistant],
) -> None:
    """The bundled article: the UK speaks through "A British government spokesperson" (the UK's voice);
    Brian Hughes speaks for the White House. Asked of each, each one's words."""
    assistant = make_assistant()
    uk = assistant.answer("What did the UK say about intelligence sharing with the US?")
    assert not uk.refused and "closest ally" in _quotes(uk), uk.text
    assert "unrivaled" not in uk.text and "Five Eyes nations" not in uk.text and "Your extensive" not in uk.text
    hughes = assistant.answer("What did Brian Hughes say about intelligence sharing?")
    assert not hughes.refused and "unrivaled" in _quotes(hughes), hughes.text
    assert "closest ally" not in hughes.text and "Dr. Reed" not in hughes.text


def test_a_demonym_and_a_group_ask_for_the_country_not_any_of_its_people(
    make_assistant: Callable[..., Assistant],
) -> None:
    """"Italian leaders" are Italy speaking through its offices: its minister's words answer, the Italian
    carmaker's do not."""
    leaders = make_assistant().answer("What did Italian leaders say about the Veltrian car tariffs?")
    assert not leaders.refused and "world trade rules" in _quotes(leaders), leaders.text
    assert "Ferrosa" not in leaders.text and "300 million" not in leaders.text, leaders.text


def test_a_letter_is_supported_by_the_asked_speakers_sentence(index_dir: Path, embedder: Any) -> None:
    """A question listing choices, a model that picks the right letter: the choice is cited with Dunn's own
    sentence, not refused because the analysts' sentence naming the same figure is closer to the question
    (and is no Dunn's); the letter another one said is not verified as his."""
    question = ("What did Pavel Dunn say the Zorbian tariffs would cost the northern steel towns? "
                "Choose one of: A) 3,000 jobs; B) 12,000 jobs.")
    settings = Settings(data_dir=index_dir, backend="local")

    def ask(letter: int) -> Answer:
        model = ChoosingChat(reply=lambda _: "I cannot tell.", calls=[], letter=lambda *_: letter, chosen=[])
        return Assistant(settings, store=Store(settings, embedder=embedder), chat_model=model).answer(question)

    right = ask(0)
    assert right.text.startswith("A) 3,000 jobs") and not right.note, right.text
    assert "3,000 jobs could go" in _quotes(right) and "analysts" not in _quotes(right), right.text
    wrong = ask(1)
    assert not wrong.text.startswith("B)") and "12,000" not in _quotes(wrong), wrong.text


# --- a model's draft -----------------------------------------------------------------------------------
HEGSETH = "What did Pete Hegseth reportedly order?"
HISTORY = [("user", HEGSETH),
           ("assistant", "Pete Hegseth reportedly ordered US Cyber Command to halt offensive operations [1].")]
HUGHES_QUOTE = ("The US has unrivaled intelligence capabilities which is exactly why intelligence sharing "
                "initiatives such as the Five Eyes exist")


def _passage_holding(messages: list[BaseMessage], needle: str) -> int:
    prompt = str(messages[-1].content)
    for m in re.finditer(r'<passage n="(\d+)"[^>]*>(.*?)</passage>', prompt, re.S):
        if needle in " ".join(m.group(2).split()):
            return int(m.group(1))
    raise AssertionError(f"{needle!r} is not in the prompt")


def _drafting(draft: Callable[[int], str], needle: str = "closest ally") -> Callable[[list[BaseMessage]], str]:
    def reply(messages: list[BaseMessage]) -> str:
        if "Follow-up question" in str(messages[-1].content):
            return "What did the UK say about Pete Hegseth's order?"
        return draft(_passage_holding(messages, needle))

    return reply


@pytest.mark.parametrize("draft", [
    lambda n: f"\u201c{HUGHES_QUOTE}.\u201d [{n}]",  # the quote alone, as seen last session
    lambda n: f"A spokesman stated that the US has unrivaled intelligence capabilities, which is why initiatives "
              f"such as the Five Eyes exist [{n}].",
    lambda n: f"The White House said the US has unrivaled intelligence capabilities [{n}].",
])
def test_a_model_quoting_the_white_house_for_the_uk_is_not_verified(
    make_assistant: Callable[..., Assistant], draft: Callable[[int], str],
) -> None:
    """The follow-up "What did the UK say about it?" after Hegseth's order, and a model that drafts the
    White House spokesman's words, citing the passage that holds them and the UK's statement (the one
    the prompt shows): the citation holds the words, but Hughes is not the UK. The
    draft is not shown as verified; the usual fallback answers with the UK's own statement."""
    answer = make_assistant(_drafting(draft)).answer("What did the UK say about it?", HISTORY)
    assert "unrivaled" not in _quotes(answer), answer.text
    assert not answer.refused and answer.note == FALLBACK_NOTE, answer.text
    assert "closest ally" in _quotes(answer), answer.text


def test_a_draft_is_verified_only_where_the_asked_speaker_says_it(make_assistant: Callable[..., Assistant]) -> None:
    """The same conversation, the model drafting the British spokesperson's words: verified, no fallback.
    France never speaks in the steel article: a model citing the analysts' sentence for it is not
    verified, and nothing France said can be extracted instead: refused."""
    reply = _drafting(lambda n: f"A British government spokesperson said the US is the UK's closest ally [{n}].")
    uk = make_assistant(reply).answer("What did the UK say about it?", HISTORY)
    assert not uk.refused and not uk.note and not uk.unsupported, uk.text
    assert "closest ally" in _quotes(uk)
    reply = _drafting(lambda n: f"The tariffs are expected to hit steelworks in Lorraine, France, hardest [{n}].",
                      needle="Lorraine")
    france = make_assistant(reply).answer("What did France say about the Zorbian steel tariffs?")
    assert france.refused, france.text


# --- the parts: who is asked about, who speaks ---------------------------------------------------------
@pytest.mark.parametrize(("question", "speaker"), [
    ("What did the UK say about it?", Asked("UK", official=True)),  # a country: as its offices speak
    ("How did China respond to the tariffs?", Asked("China", acts=True, official=True)),  # what China did answers too
    ("What did Brian Hughes say?", Asked("Brian Hughes")),
    ("What was China's reaction to the tariffs?", Asked("China", acts=True, official=True)),
    ("What did Sony say it will no longer produce for the PlayStation?", Asked("Sony")),
    ("What did the British government announce?", Asked("United Kingdom", official=True)),
    ("What did Italian leaders say about the tariffs?", Asked("Italy", official=True)),  # a demonym and a group
    ("How did Chinese lawmakers respond?", Asked("China", acts=True, official=True)),
    ("What did the Italians say?", Asked("Italians")),
    # A follow-up no model rewrote, as the answer flow builds it: the speaker is the follow-up's own.
    (following_up("What did the UK say about it?", "What did Pete Hegseth reportedly order?"),
     Asked("UK", official=True)),
    ("How many jobs did Pavel Dunn say the tariffs would cost?", Asked("Pavel Dunn")),  # a question word fronted
    ("What did Hughes tell reporters about the deal?", Asked("Hughes")),
    ("Which type of animal did Vice President JD Vance recently add to his official residence?", None),  # a fact
    # No speaker to hold to: none named, a document, the speaker asked for, a fact the verb only frames.
    ("What did officials say?", None),
    ("What did the report say about inflation?", None),
    ("What did the IMF report say about inflation?", None),
    ("Which company announced it is laying off 16,000 employees?", None),
    ("Who said the tariffs were a mistake?", None),
    ("The UK government announced a new smoking ban for people born after which year?", None),
    ("The author of Booker Prize winner Flesh has denied cribbing the plot from which film?", None),
    ("What did Pete Hegseth reportedly order?", None),
    ("what did the UK say about it", Asked("UK", official=True)),  # typed without a question mark
    ("The Air Force also didn't say how the problem was discovered.", None),  # a statement, not a question
])
def test_the_asked_speaker(question: str, speaker: Asked | None) -> None:
    assert asked_speaker(question) == speaker


def test_a_question_without_a_speech_word_is_not_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The speech-word filter before the parse (about 7 ms a question): "Where was Maduro captured?" has
    none, so no parse; each irregular form is one ("told", "wrote", "written", "spoke", "said"), and the
    filtered reading is the parse's (all rtqa and follow-up questions: results.md)."""
    questions = ["What did Hughes tell reporters about the deal?", "What did Hughes write about the deal?",
                 "What has Hughes written about the deal?", "What did Hughes speak about at the summit?",
                 "What has Hughes said about it?", "What did Hughes deny?", "How did Hughes reply?",
                 "What was Hughes's reaction?"]
    expected = [_parsed_speaker(q) for q in questions]
    assert all(e is not None and e.name == "Hughes" for e in expected), expected
    asked_speaker.cache_clear()

    def no_parse() -> None:
        raise AssertionError("parsed")

    monkeypatch.setattr("retrieval.speakers.default_checker", no_parse)
    assert asked_speaker("Where was ousted President Nicolás Maduro captured?") is None
    assert asked_speaker("How many people died in the storm?") is None
    monkeypatch.undo()
    assert [asked_speaker(q) for q in questions] == expected


def test_the_speaker_walk_is_done_once_per_passage(make_assistant: Callable[..., Assistant],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The gate and the extractive choice both ask who speaks in each passage: one walk each."""
    walks: list[int] = []
    real = answer_module.spoken_by

    def counted(*args: Any, **kwargs: Any) -> list[bool]:
        walks.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(answer_module, "spoken_by", counted)
    assistant = make_assistant()
    answer = assistant.answer("What did Lena Kraus say about the Zorbian steel tariffs?")
    assert not answer.refused and "grave mistake" in _quotes(answer), answer.text
    first = len(walks)
    assistant.spoken("What did Lena Kraus say about the Zorbian steel tariffs?", answer.passages)
    assert first and len(walks) == first, (first, len(walks))


def _spoken(asked: Asked, text: str, title: str = "") -> list[tuple[str, bool]]:
    nlp = default_checker().nlp
    sentences = [flat(text[s:e]) for s, e in split_sentences(text)]
    speech = [read_speech(doc) for doc in nlp.pipe(sentences)]
    flags = spoken_by(asked, sentences, speech, read_speech(nlp(title)) if title else None, f"{title}\n{text}")
    return list(zip(sentences, flags, strict=True))


SONY, HUGHES, UK = Asked("Sony"), Asked("Hughes"), Asked("UK", official=True)


@pytest.mark.parametrize(("asked", "text", "expected"), [
    (HUGHES, "Brian Hughes told reporters the deal was dead. Markets fell.", [True, False]),
    (HUGHES, "Brian Hughes wrote on social media that the deal was dead.", [True]),
    (HUGHES, "In a statement, Brian Hughes said the deal was dead.", [True]),
    (HUGHES, "\u201cThe deal is dead,\u201d said Brian Hughes.", [True]),
    (HUGHES, "Brian Hughes, who told reporters the deal was dead, left early.", [True]),  # the clause's noun
    (HUGHES, "Markets fell after a statement by Jo Mills, who said Hughes was wrong.", [False]),
    (SONY, "Analysts, who said the console was dead, met Sony on Monday.", [False]),
    (SONY, "Sony's spokesman said the console would be discontinued.", [True]),
    (SONY, "The console will be discontinued, according to Sony.", [True]),
    (SONY, "The console will be discontinued, according to sources.", [False]),
    (SONY, "Sony met its suppliers on Monday. The company said the console would be discontinued.", [False, True]),
    (SONY, "Sony met its suppliers on Monday. Analysts said the console would be discontinued.", [False, False]),
    (SONY, "Sony's shares fell. Brian Hughes met the board. He said the console was dead.", [False, False, False]),
    (HUGHES, "Hughes said: \u201cThe deal is dead. We will walk away. Nobody wins.\u201d Markets fell.",
     [True, False]),  # the splitter keeps a quotation whole
    (HUGHES, "Hughes met the board. \u201cThe deal is dead. We will walk away.\u201d Markets fell.",
     [False, False, False]),  # a quotation nobody is said to speak
    (HUGHES, "\u201cThe deal is dead,\u201d Hughes said. \u201cWe will walk away.\u201d Markets fell.",
     [True, True, False]),  # the next paragraph's quotation goes on
    (UK, "A British government spokesperson stated: \u201cWe stand by our ally.\u201d", [True]),
    # A longer name holding the asked one (or its other form) is another speaker; a body or an office of it is not.
    (UK, "British Airways said flights would resume.", [False]),
    (UK, "A British Airways spokesman said flights would resume.", [False]),
    (Asked("Taipei"), "Taipei 101 said the fireworks would go ahead.", [False]),
    (Asked("Dick Clark"), "Dick Clark Productions said the show would go on.", [False]),
    (Asked("Las Vegas"), "Steve Grammas, president of the Las Vegas Police Protective Association, said the union "
                         "would sue.", [False]),
    (Asked("Jordan"), "Michael Jordan told reporters the team would be sold.", [False]),
    (UK, "UK Prime Minister Keir Starmer said flights would resume.", [True]),
    (Asked("China"), "The Chinese Foreign Ministry said the tariffs were unfair.", [True]),
    (Asked("White House"), "The White House National Security Council said the deal was dead.", [True]),
    (Asked("Dick Clark"), "Dick Clark said the show would go on.", [True]),
    (HUGHES, "White House spokesman Brian Hughes said the deal was dead.", [True]),  # a surname after a first name
    (HUGHES, "Dr. Reed: Hughes is wrong about the deal.", [False]),
    (Asked("Atlanta"), "Atlanta: A fundraising bash has raised more than $117 million for charities.", [False]),
    (Asked("Las Vegas"), "Regular shootings, like the one at a Las Vegas festival, have sparked calls for change.",
     [False]),  # a thing named after a place does not speak
    (Asked("MTV"), 'Once a cast member on MTV\'s "The Real World," he served in Congress.', [False]),  # a title
    (Asked("California"), 'The agency issued a warning for northern California: "critical fire weather conditions '
                          'are occurring now."', [False]),  # the agency speaks, not California
    (Asked("Canada", official=True), 'The Canada Security Intelligence Service issued a statement: "Canada '
                                     'deeply values its partnership with the United States."', [True]),
    # A country as its offices and bodies speak ("What did Italian leaders say?"): not any of its people.
    (Asked("Italy", official=True), "The Italian carmaker Ferrosa said costs would rise. Italian officials said "
                                    "the tariffs were illegal.", [False, True]),
    (Asked("Italy", official=True), "Italy's industry minister said the tariffs were illegal.", [True]),
    (Asked("Italy", official=True), "Italian fans said the final was a disgrace.", [False]),
    (Asked("China", official=True), "Chinese officials met on Monday. The ministry said the tariffs were unfair.",
     [False, True]),  # "the ministry": the Chinese named before
    (Asked("United Kingdom", official=True), "A British government spokesperson said the ally was trusted.", [True]),
    # A crowd a name only qualifies is someone else; so is a source "familiar with" X's plans.
    (Asked("Trump"), "Trump's critics said the deal was a mistake.", [False]),
    (Asked("China", official=True), "Chinese analysts said the tariffs would slow growth.", [False]),
    (Asked("China", official=True), "The Chinese carmaker BYD said the tariffs would hurt it.", [False]),
    (Asked("China", official=True), "Chinese state media said the tariffs were bullying.", [True]),
    (SONY, "The console will be discontinued, according to a person familiar with Sony's plans.", [False]),
    (HUGHES, "The deal was dead, according to Hughes's critics.", [False]),
    (Asked("Trump"), "Trump's lawyers said the case was baseless.", [True]),  # counsel speaks for its client
    # What X did answers "How did X respond?", not "What did X say?".
    (Asked("China", acts=True, official=True), "China imposed tariffs on US soybeans.", [True]),
    (Asked("China", official=True), "China imposed tariffs on US soybeans.", [False]),
    (Asked("Saudi Arabia", acts=True, official=True), "Several allies, including Saudi Arabia, are reconsidering "
                                                      "intelligence sharing.", [False]),
])
def test_who_speaks_in_a_passage(asked: Asked, text: str, expected: list[bool]) -> None:
    assert [ok for _, ok in _spoken(asked, text)] == expected


def test_the_speaker_match() -> None:
    assert same_speaker("UK", "A British government spokesperson")
    assert same_speaker("the UK", "The United Kingdom")
    assert same_speaker("Brian Hughes", "Hughes", "Brian Hughes, spokesman")
    assert not same_speaker("UK", "The US")
    assert not same_speaker("Usha Vance", "JD Vance")
    assert not same_speaker("France", "German Chancellor Lena Kraus")
