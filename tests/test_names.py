"""One thing, several names (retrieval/names.py): "G7" is "Group of 7", "UK" is "British", "the Fed" is "the
Federal Reserve" — in the answer path's name checks (the evidence gate, a follow-up's story, the relation's
neighbourhood) and the claim checker's, without "US" becoming "let us" or France becoming Germany. Real
ingest, Chroma, catalog, embedder and spaCy; the extractive backend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from indexes import build_index, cited, converse, md_article

from retrieval.answer import Assistant
from retrieval.claims import check_bare, check_claim
from retrieval.evidence import coverage, question_ask
from retrieval.followups import followup_search, on_topic
from retrieval.names import definitions, forms, table_forms
from retrieval.search import Filters
from retrieval.settings import Settings
from retrieval.store import Store

AS_OF = Filters(as_of="2026-11-30")


ARTICLES = {
    'td1.md': md_article(
        'Veltrania and Ostrovia sign trade deal', 'Reuters', '2026-11-24', 'https://reuters.example/td1',
        'Veltrania and Ostrovia signed a sweeping trade deal in Medra on Tuesday, cutting tariffs on '
        'grain and steel. Ostrovian farmers said the grain provisions would hurt small producers. '
        'The British government said it would send two trade observers to Medra to monitor the deal.'),
    'uk1.md': md_article(
        'UK says it will raise fuel duty', 'BBC', '2026-11-27', 'https://bbc.example/uk1',
        'The UK said on Friday it would raise fuel duty by three pence a litre from January. Chancellor '
        'Mira Dunmore said the money would fund road repairs across the country.'),
    'g7.md': md_article(
        'Leaders meet in Lake Orvana for G-7 summit', 'AP', '2026-11-26', 'https://ap.example/g7',
        'Leaders of the G-7 gathered in Lake Orvana, Castelia, on Thursday for a two-day summit on '
        'shipping and energy. Prime Minister Aldo Ferran of Castelia hosted the meeting at a lakeside '
        'resort. Chancellor Ines Kovar said the G-7 would set up a fund to protect undersea cables.'),
    'kv1.md': md_article(
        'Kovar defends pension reform', 'Reuters', '2026-11-25', 'https://reuters.example/kv1',
        'Chancellor Ines Kovar said on Wednesday the pension reform would go ahead despite strikes. '
        'Unions said they would hold more protests next month.'),
    'zma.md': md_article(
        'Tanker held off Port Selka', 'Reuters', '2026-11-20', 'https://reuters.example/zma',
        'The Zorbian Maritime Authority (ZMA) was set up in 1990 to police the strait. Its patrol boats '
        'are based in Port Selka. The strait carries a fifth of the region\'s oil. Traffic has doubled '
        'since 2010. On Monday the ZMA seized a tanker carrying 80,000 barrels of crude oil.'),
}


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> Path:
    return build_index(tmp_path_factory, embedder, ARTICLES, backend="extractive")


@pytest.fixture
def assistant(index_dir: Path, embedder: Any) -> Assistant:
    settings = Settings(data_dir=index_dir, backend="extractive")
    return Assistant(settings, store=Store(settings, embedder=embedder))



# --- the table and the text's own definitions ------------------------------------------------------
@pytest.mark.parametrize(("name", "text"), [
    ("UK", "The British government said"),
    ("the uk", "U.K. officials and Britain's envoy"),
    ("United Kingdom", "The UK said"),
    ("group of 7", "at the G-7 summit"),
    ("group of 7", "the Group of Seven met"),
    ("G7", "the Group of 7 met"),
    ("Group of Seven", "the G7 leaders"),
    ("G20", "the Group of Twenty"),
    ("WHO", "The World Health Organization said"),
    ("world health organization", "the WHO said"),
    ("the Fed", "the Federal Reserve held rates"),
    ("federal reserve", "Fed officials said"),
    ("France", "French officials said"),
    ("china", "Chinese state media"),
    ("European Union", "EU ministers"),
    ("United Nations", "the U.N. envoy"),
    ("NATO", "the North Atlantic Treaty Organization"),
    ("north atlantic treaty organization", "Nato allies"),
    ("IMF", "the International Monetary Fund"),
])
def test_a_name_is_found_in_its_other_forms(name: str, text: str) -> None:
    assert forms(name).found(text), (name, text)


@pytest.mark.parametrize(("name", "text"), [
    ("united states", "let us be clear, he told us"),  # the pronoun
    ("world health organization", "Who said it? Who knows."),  # the question word
    ("federal reserve", "voters are fed up"),
    ("uk", "the US said"),  # never each other
    ("us", "the UK said"),
    ("uk", "in British Columbia"),  # a longer place
    ("israeli", "Israel said"),  # a demonym is not its place (the place's demonym is)
    ("france", "Germany said"),
    # a form inside a longer name is another thing: a company, an event, a building, a person
    ("uk", "British Airways said flights would resume"),
    ("uk", "A British Airways spokesman said"),
    ("prc", "China Daily reported on Monday"),
    ("russia", "the Russian Orthodox Church said"),
    ("saudi arabia", "Saudi Aramco raised prices"),
    ("republic of ireland", "leaders of Northern Ireland said"),  # a capitalised word before it
])
def test_false_friends_are_not_forms(name: str, text: str) -> None:
    assert not forms(name).found(text), (name, text)


@pytest.mark.parametrize(("name", "text"), [
    ("uk", "British Prime Minister Keir Starmer said"),  # an office of the country
    ("britain", "the UK Foreign Secretary said"),
    ("china", "The Chinese Foreign Ministry said"),  # a body of it
    ("canada", "The Canadian Security Intelligence Service said"),
    ("united states", "U.S. Cyber Command said"),
    ("israel", "the Israeli Defense Forces said"),
    ("britain", "UK Says It Will Raise Fuel Duty"),  # a headline's capitals name nothing
    ("britain", "Officials in the U.K. Later, the ministry said"),
])
def test_a_form_before_an_office_or_a_body_is_still_a_form(name: str, text: str) -> None:
    assert forms(name).found(text), (name, text)


def test_a_seat_inside_a_longer_name_does_not_speak_for_its_country() -> None:
    assert not forms("taiwan", seats=True).found("Taipei 101 was lit up for the new year")
    assert forms("taiwan", seats=True).found("Taipei said the drills were provocative")
    assert not forms("united states", seats=True).found("The Washington Post reported")


def test_the_table_covers_countries_and_their_demonyms() -> None:
    assert {"Britain", "British", "United Kingdom"} <= table_forms("uk")
    assert {"Ivorian", "Cote d'Ivoire"} <= table_forms("Ivory Coast")
    assert {"Kremlin", "Moscow"} <= table_forms("Russia", seats=True) - table_forms("Russia")
    countries = sum(1 for name in ["Chad", "Bhutan", "Peru", "Fiji", "Latvia", "Oman", "Laos", "Togo", "Mali"]
                    if len(table_forms(name)) > 2)
    assert countries == 9


def test_an_initialism_the_text_defines_or_writes_with_its_name() -> None:
    text = ("On Monday the Federal Reserve (Fed) held rates. The Group of Seven (G7) met. Officials at the "
            "Canada Security Intelligence Service said on Friday that CSIS had shared the files.")
    assert ("federal reserve", "Fed") in definitions(text) and ("group of seven", "G7") in definitions(text)
    assert forms("zorbian maritime authority", "The Zorbian Maritime Authority (ZMA) said.").found("ZMA officials")
    assert forms("CSIS", text).found("Officials at the Canada Security Intelligence Service said")
    # without the text writing the initialism, its initials alone name nothing ("AI" least of all)
    assert not forms("CSIS", "Canada Security Intelligence Service").found("Canada Security Intelligence Service")
    assert not forms("AI", "Amnesty International said. AI is everywhere.").found("Amnesty International said")


# --- the answer path ----------------------------------------------------------------------------
def test_the_evidence_check_reads_the_other_forms() -> None:
    assert coverage(question_ask("What did the UK say about the deal?"), "The British government said")[0] == 1.0
    assert coverage(question_ask("Where was the Group of 7 summit held?"), "At the G-7 summit")[0] == 1.0
    assert coverage(question_ask("What did the WHO say?"), "The World Health Organization said")[0] == 1.0
    assert coverage(question_ask("What did the WHO say?"), "Who knows what the doctors said")[0] == 0.0
    assert coverage(question_ask("What did the UK say?"), "The US said")[0] == 0.0


def test_a_follow_up_on_the_uk_is_answered_by_the_british_government(assistant: Assistant) -> None:
    deal = converse(assistant, ["What is in the Veltrania Ostrovia trade deal?", "What did the UK say about it?"],
                    AS_OF)
    assert not deal[1].refused, deal[1].text
    assert set(cited(deal[1])) == {"td1"} and "British government" in deal[1].text, deal[1].text  # not the fuel duty


def test_the_g7_story_is_found_under_group_of_7(assistant: Assistant) -> None:
    topic = "Which country hosted world leaders at the Group of 7 summit this week?"
    follow_up = "What did Ines Kovar say about it?"
    follow = followup_search(follow_up, [("user", topic)])
    assert follow is not None
    passages = assistant.retrieve(follow.query, AS_OF).passages
    tied = {p.article_id.removesuffix(".md").rsplit("/", 1)[-1]: on
            for p, on in zip(passages, on_topic(follow_up, follow, passages, (), assistant._article_text,
                                                              settings=assistant.settings), strict=True)}
    assert tied.get("g7") is True and tied.get("kv1") is False, tied
    answers = converse(assistant, [topic, follow_up], AS_OF)
    assert not answers[1].refused and set(cited(answers[1])) == {"g7"}, answers[1].text  # not the pension reform


def test_an_initialism_the_passage_defines_stands_for_its_name(assistant: Assistant) -> None:
    # the sentence stating the seizure names only "ZMA"; its definition is four sentences before
    answer = assistant.answer("How many barrels of oil did the Zorbian Maritime Authority seize?", filters=AS_OF)
    assert not answer.refused and "80,000 barrels" in answer.text, answer.text


# --- the claim checker ---------------------------------------------------------------------------
@pytest.mark.parametrize(("claim", "passage", "supported"), [
    ("The G7 agreed to set up a fund.", "The Group of Seven agreed to set up a fund.", True),
    ("The WHO declared an emergency.", "The World Health Organization declared an emergency.", True),
    ("The UK said it would send observers.", "The British government said it would send observers.", True),
    ("France said it would send troops.", "Germany said it would send troops. Spain said nothing.", False),
    ("The UK said it would send observers.", "The US said it would send observers.", False),
    ("The US said it would send observers.", "The UK said it would send observers.", False),
    ("The UK said it would resume flights to Bahrain.", "British Airways said it would resume flights to Bahrain.",
     False),  # a company named after the country is not the country
])
def test_the_claim_checker_reads_other_forms_but_not_other_names(claim: str, passage: str, supported: bool) -> None:
    verdict = check_claim(claim, passage)
    assert verdict.supported is supported, verdict.reason


def test_a_bare_answer_is_named_in_another_form() -> None:
    passage = "Leaders met in Lisbon on Monday. Britain will host the next summit in June."
    question = "Which country will host the next summit?"
    assert check_bare("C) United Kingdom", passage, question=question).supported
    assert not check_bare("C) Germany", passage, question=question).supported
