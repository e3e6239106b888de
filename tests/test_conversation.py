"""Conversations and time, as a reader uses them (the sceptic's audit of session 15): a follow-up is answered
from the story it refers to or refused, and passes the same relation check as a question asked alone; a
question about a day stays one mid-conversation; a long chain of follow-ups keeps its topic; "the latest"
leads with the newest figure; filters that leave none of the days asked are said; "what happened next"
reads what came after. Real ingest, Chroma, catalog and embedder; the extractive backend."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from indexes import build_index, cited, cli_env, converse, md_article

from retrieval.answer import Assistant, Retrieved
from retrieval.days import asks_latest, dated, day_filters, topic_day
from retrieval.followups import FollowUp, followup_search, is_followup, on_topic
from retrieval.search import Filters
from retrieval.settings import Settings
from retrieval.store import Store
from retrieval.types import Answer, Citation, Passage

AS_OF = Filters(as_of="2026-11-30")


ARTICLES = {
    'br1.md': md_article(
        'Kessel Harbor Bridge to close for repairs', 'Reuters', '2026-03-10', 'https://reuters.example/br1',
        'The Kessel Harbor Bridge will close for repairs for six weeks starting Monday, city officials '
        'said. The closure will divert about 40,000 vehicles a day onto the ring road, the transport '
        'department said. Engineers found corrosion in two support cables during an inspection in '
        'February.'),
    'br2.md': md_article(
        'Kessel Harbor Bridge closure extended', 'Reuters', '2026-03-24', 'https://reuters.example/br2',
        'The closure of the Kessel Harbor Bridge has been extended to ten weeks, city officials said on '
        'Tuesday. Engineers found more corrosion in the support cables than expected, the transport '
        'department said. Commuters have complained about long delays on the ring road.'),
    'br3.md': md_article(
        'Kessel Harbor Bridge reopens early', 'BBC', '2026-04-15', 'https://bbc.example/br3',
        'The Kessel Harbor Bridge reopened on Wednesday after repairs finished ahead of schedule, city '
        'officials said. The bridge had been closed for five weeks while engineers replaced two corroded '
        'support cables. Traffic on the ring road returned to normal within hours, the transport '
        'department said.'),
    'td1.md': md_article(
        'Veltrania and Ostrovia sign trade deal', 'Reuters', '2026-11-24', 'https://reuters.example/td1',
        'Veltrania and Ostrovia signed a sweeping trade deal in Medra on Tuesday, cutting tariffs on '
        'grain and steel. The British Foreign Office said the deal would strengthen stability in the '
        'region and welcomed the tariff cuts. France said it would study the terms of the agreement '
        "before commenting further. Ostrovian farmers' unions said the grain provisions would hurt small "
        'producers.'),
    'td2.md': md_article(
        'Protests in Medra a day after trade deal', 'AP', '2026-11-25', 'https://ap.example/td2',
        'A day after the Veltrania-Ostrovia trade deal was signed, thousands of farmers protested in '
        'Medra on Wednesday. Police said about 8,000 people marched to the parliament building. The '
        'British government said it would send two trade observers to Medra next month.'),
    'uk1.md': md_article(
        'UK says it will raise fuel duty', 'BBC', '2026-11-27', 'https://bbc.example/uk1',
        'The UK said on Friday it would raise fuel duty by three pence a litre from January. Chancellor '
        'Mira Dunmore said the money would fund road repairs across the country. Motoring groups said the'
        ' rise would hit rural drivers hardest.'),
    'mar1.md': md_article(
        'Amara Toure wins Lisbon marathon', 'AP', '2026-11-22', 'https://ap.example/mar1',
        'Kenyan runner Amara Toure won the Lisbon marathon on Sunday in two hours and five minutes. Toure'
        ' beat the defending champion by forty seconds in cool and windy conditions. About 30,000 runners'
        ' took part in the race, organisers said.'),
    'may1.md': md_article(
        'Kessel mayor resigns', 'Reuters', '2025-06-02', 'https://reuters.example/may1',
        'The mayor of Kessel, Jonas Brandt, resigned yesterday after an audit found irregularities in the'
        " city's housing fund, the council said. Brandt denied any wrongdoing and said he was stepping "
        "down to protect the city's reputation. Deputy mayor Lena Hoff will lead the city until an "
        'election in the autumn.'),
    'cc1.md': md_article(
        'Kessel council votes on budget', 'Reuters', '2026-03-12', 'https://reuters.example/cc1',
        'The Kessel city council voted on Thursday to approve a budget of 120 million euros for next '
        'year. The council also decided to freeze parking fees in the old town.'),
    'cc2.md': md_article(
        'Kessel council bans cars from old town', 'BBC', '2026-05-14', 'https://bbc.example/cc2',
        'The Kessel city council decided on Thursday to ban private cars from the old town from '
        'September. Shop owners said the decision would drive customers away.'),
    'y1.md': md_article(
        'Storm Brisa hits Kessel coast', 'AP', '2026-11-29', 'https://ap.example/y1',
        'Storm Brisa brought winds of 130 kilometres an hour to the Kessel coast on Sunday, cutting power'
        ' to 20,000 homes. Ferries between Kessel and the islands were cancelled for the day.'),
    'fut1.md': md_article(
        'Kessel election result', 'Reuters', '2027-02-10', 'https://reuters.example/fut1',
        'Lena Hoff won the Kessel mayoral election yesterday with 54 percent of the vote, officials said.'
        ' Hoff promised to reopen the housing fund inquiry.'),
    'el1.md': md_article(
        'Kessel mayoral race tightens before election', 'BBC', '2026-10-01', 'https://bbc.example/el1',
        'Polls show Lena Hoff and Piet Vos tied before the Kessel mayoral election on October 18. Vos '
        'promised to build 5,000 new homes if elected.'),
    'el2.md': md_article(
        'Piet Vos wins Kessel mayoral election', 'BBC', '2026-10-19', 'https://bbc.example/el2',
        'Piet Vos won the Kessel mayoral election on Sunday with 51 percent of the vote, officials said. '
        'Vos said his first act would be a review of the housing fund.'),
    'tp1.md': md_article(
        'Teachers protest over pay in Kessel', 'AP', '2026-11-28', 'https://ap.example/tp1',
        "About 2,000 teachers protested in Kessel on Friday over pay, the teachers' union said. The union"
        ' said it would strike in January if the city did not raise salaries.'),
    'wp1.md': md_article(
        'Kessel water price rises', 'Reuters', '2026-06-01', 'https://reuters.example/wp1',
        'The Kessel water price rises to 2 euros per cubic metre from July, the Kessel water utility said'
        ' on Monday. The utility said the Kessel water price had not changed for five years.'),
    'wp2.md': md_article(
        'Utility raises tariff again', 'BBC', '2026-09-14', 'https://bbc.example/wp2',
        'The Kessel utility raised its tariff again on Monday, to 2.40 euros per cubic metre, citing the '
        'cost of new pipes. Households will see the new rate on their October bills.'),
    't0.md': md_article(
        'Kessel ferries resume', 'AP', '2026-11-30', 'https://ap.example/t0',
        'Ferries between Kessel and the islands resumed on Monday morning after Storm Brisa passed, the '
        'port authority said. Power was restored to most homes overnight.'),
}


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> Path:
    return build_index(tmp_path_factory, embedder, ARTICLES, backend="extractive")


@pytest.fixture
def assistant(index_dir: Path, embedder: Any) -> Assistant:
    settings = Settings(data_dir=index_dir, backend="extractive")
    return Assistant(settings, store=Store(settings, embedder=embedder))



@pytest.mark.parametrize(("question", "expected"), [
    ("What did France say?", True),  # who reacted, nothing more: about the story before
    ("And the UK?", True),
    ("Who won?", True),
    ("How many died in that storm?", True),
    ("What did they say?", True),
    ("What happened in Gaza?", False),  # a topic of its own
    ("Who is Brian Hughes?", False),  # who someone is, whatever came before
    ("How many people died in Storm Brisa this week?", False),  # "this week" refers to no turn
    ("Is there a ceasefire in Gaza?", False),  # nor does "is there"
    ("What happened yesterday?", False),  # a day, not a topic: never a follow-up
])
def test_what_counts_as_a_follow_up(question: str, expected: bool) -> None:
    assert is_followup(question, [("user", "What is in the Veltrania Ostrovia trade deal?")]) is expected


def test_a_follow_up_passes_the_check_a_question_alone_does(assistant: Assistant) -> None:
    alone = assistant.answer("How many people died in Storm Brisa?", filters=AS_OF)
    assert alone.refused  # the storm cut power to 20,000 homes: no one is said to have died
    follow = converse(assistant, ["What did Storm Brisa do to the Kessel coast?",
                                  "How many people died in that storm?"], AS_OF)
    assert not follow[0].refused and follow[1].refused, follow[1].text
    explicit = converse(assistant, ["Who won the Lisbon marathon?", "How many people died in Storm Brisa this week?"],
                        AS_OF)
    assert explicit[1].refused and "runners" not in explicit[1].text, explicit[1].text


def test_a_follow_up_is_answered_from_its_story_or_refused(assistant: Assistant) -> None:
    after_refusal = converse(assistant, ["What did the Zorbian parliament decide about fishing quotas?",
                                         "What did the UK say about it?"], AS_OF)
    assert after_refusal[0].refused and after_refusal[1].refused, after_refusal[1].text  # not the UK's fuel duty
    deal = converse(assistant, ["What is in the Veltrania Ostrovia trade deal?", "What did the UK say about it?"],
                    AS_OF)
    assert "uk1" not in cited(deal[1]) and "fuel duty" not in deal[1].text, deal[1].text
    # …and answered from the deal's articles, which quote the British government: a refusal is no pass.
    assert not deal[1].refused and cited(deal[1]) and set(cited(deal[1])) <= {"td1", "td2"}, deal[1].text
    assert "British" in deal[1].text, deal[1].text


def test_the_topic_survives_a_chain_of_follow_ups(assistant: Assistant) -> None:
    questions = ["What is in the Veltrania Ostrovia trade deal?", "What did France say?", "And the UK?",
                 "And the farmers?", "How many people protested?"]
    search = followup_search(questions[-1], [("user", q) for q in questions[:-1]])
    assert search is not None and "veltrania" in search.query.lower()
    last = converse(assistant, questions, AS_OF)[-1]
    assert "tp1" not in cited(last), last.text  # not the teachers' protest in Kessel
    assert not last.refused and cited(last)[0] == "td2", last.text  # "thousands of farmers protested in Medra"


def test_a_day_question_mid_conversation_reads_that_day(assistant: Assistant) -> None:
    answers = converse(assistant, ["Who won the Lisbon marathon?", "What happened yesterday?"], AS_OF)
    days = {c.published[:10] for c in answers[1].citations}
    assert days == {"2026-11-29"}, answers[1].text


def test_a_day_outside_the_filters_is_refused_and_said(assistant: Assistant) -> None:
    assert day_filters(Filters(date_from="2026-11-30", as_of="2026-11-30"), (1, 1)) is None
    narrowed = day_filters(Filters(date_from="2026-11-01", as_of="2026-11-30"), (6, 0))
    assert narrowed is not None and (narrowed.date_from, narrowed.date_to) == ("2026-11-24", "2026-11-30")
    answer = assistant.answer("What happened yesterday?", filters=Filters(date_to="2026-03-20", as_of="2026-11-30"))
    assert answer.refused and not answer.citations
    assert "2026-11-29" in answer.note and "outside the filters" in answer.note, answer.note


def test_the_latest_figure_comes_first(assistant: Assistant) -> None:
    assert asks_latest("What is the latest Kessel water price?") and not asks_latest("What is the Kessel water price?")
    for as_of in ("2026-11-30", "2026-09-15"):
        answer = assistant.answer("What is the latest Kessel water price?", filters=Filters(as_of=as_of))
        assert cited(answer)[:2] == ["wp2", "wp1"], answer.text  # 2.40 euros (September) before 2 (June)
        assert answer.text.index("2.40") < answer.text.index("2 euros"), answer.text


def test_a_topic_on_a_day_reads_that_day_first(assistant: Assistant) -> None:
    assert topic_day("What happened in Kessel yesterday?") == (1, 1)
    assert topic_day("What happened yesterday?") is None  # a day question: asked_days
    assert topic_day("What was the most popular name last year?") is None  # when it happened, not when reported
    assert topic_day("The mother of “Today” anchor Savannah Guthrie disappeared in which state?") is None  # a show
    answer = assistant.answer("What happened in Kessel yesterday?", filters=AS_OF)
    assert {c.published[:10] for c in answer.citations} == {"2026-11-29"}, answer.text


def test_what_happened_next_is_read_in_the_articles_after_the_last_answer(assistant: Assistant) -> None:
    question = "What did Storm Brisa do to the Kessel coast?"
    first = assistant.answer(question, filters=AS_OF)
    assert cited(first)[0] == "y1", first.text
    storm = first.citations[0]  # the storm's article (2026-11-29), as the page keeps an answer citing it alone
    history = [{"role": "user", "content": question},
               {"role": "assistant", "content": "Storm Brisa cut power to 20,000 homes [1].",
                "citations": [{"article_id": storm.article_id, "published": storm.published}]}]
    then = assistant.answer("What happened next?", history, AS_OF)
    # The ferries resumed the next day after the storm (t0): answered from it, not the storm's article again.
    assert not then.refused and cited(then)[0] == "t0" and "y1" not in cited(then), then.text
    # Nothing on the storm was published before it: "the day before" is refused, not the storm again.
    before = assistant.answer("And the day before?", history, AS_OF)
    assert before.refused and not before.citations, before.text


def test_what_happened_next_with_nothing_on_the_story_after_it_is_refused(assistant: Assistant) -> None:
    # The first answers cite other stories too (the mayor's: the election and the teachers' protest of
    # 2026-11-28; the storm's: the water price of 2026-06-01): after the newest (or before the oldest) of
    # them, no article is about the story — the storm in Kessel is not what followed the mayor's resignation.
    for first, then in (("Why did the mayor of Kessel resign?", "What happened next?"),
                        ("What did Storm Brisa do to the Kessel coast?", "And the day before?")):
        a, b = converse(assistant, [first, then], AS_OF)
        assert not a.refused
        assert b.refused and not b.citations, b.text
    search = followup_search("What happened next?", [
        {"role": "user", "content": "Why did the mayor of Kessel resign?"},
        {"role": "assistant", "content": "…", "citations": [{"article_id": "may1", "published": "2025-06-02"}]}])
    assert search is not None and search.after == "2025-06-02" and not search.before
    window = search.window(AS_OF)
    assert window is not None and window.date_from == "2025-06-02"


def test_a_relative_time_in_an_article_dated_after_the_as_of_day_is_dated() -> None:
    answer = Answer(text="Lena Hoff won the Kessel mayoral election yesterday, officials said [1].",
                    citations=[Citation(1, "fut1", "Kessel election result", "", "2027-02-10", "Reuters", "q", 0, 1)])
    assert "(published 2027-02-10)" in dated(answer, dt.date(2026, 11, 30)).text


def test_a_filtered_refusal_does_not_deny_the_article_it_lists(index_dir: Path, tmp_path: Path) -> None:
    env = cli_env(index_dir)
    question = "What did farmers say about the Veltrania trade deal?"
    run = subprocess.run([sys.executable, "-m", "retrieval", "ask", question, "--since", "2027-01-01", "--json"],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    out = json.loads(run.stdout)
    assert out["refused"], out
    # The search under the filter found the article dated 2027-02-10 (a typo or a planted date, which the
    # catalog's "newest article" leaves out): the note must not say there is no such article.
    assert "No ingested article is published on or after 2027-01-01" not in out["answer"], out["answer"]
    assert "Only articles published on or after 2027-01-01 were searched" in out["answer"], out["answer"]


def test_a_qualifier_is_not_the_story() -> None:
    # "Which AI company …": "AI" says what kind of answer is asked for; the story is the stock market debut.
    follow = FollowUp("q", frozenset(), "", topic="Which AI company may be headed for the biggest stock market debut?")
    passage = Passage("c", "a", "SpaceX and Anthropic prepare the biggest public-market debut in U.S. history.",
                      0, 80, title="Beware the ghosts of IPOs past")
    assert on_topic("What did the SEC say about it?", follow, [passage], settings=Settings()) == [True]


def test_ask_reads_a_follow_up_after_earlier_questions(index_dir: Path, tmp_path: Path) -> None:
    env = cli_env(index_dir)

    def ask(*args: str) -> tuple[int, dict[str, Any]]:
        run = subprocess.run([sys.executable, "-m", "retrieval", "ask", *args, "--as-of", "2026-11-30", "--json"],
                             capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
        return run.returncode, json.loads(run.stdout)

    code, out = ask("And the farmers?", "--after", "What is in the Veltrania Ostrovia trade deal?")
    assert code == 0 and not out["refused"], out["answer"]
    assert "farmers" in out["answer"] and all("Medra" in c["quote"] or "Ostrovia" in c["quote"] or "farmers"
                                              in c["quote"] for c in out["citations"]), out["answer"]
    code, out = ask("What did the UK say about it?", "--after",
                    "What did the Zorbian parliament decide about fishing quotas?")
    assert code == 3 and out["refused"], out["answer"]  # not the UK's fuel duty: another story


# A story told by a long explainer (the article the first answer cites) and a short report of who said what.
DAM = {
    'dam1.md': md_article(
        'The Medra dam project explained', 'Reuters', '2026-11-20', 'https://reuters.example/dam1',
        'The Medra dam will block the Tarn river north of Medra and flood the valley behind it. The dam is '
        'meant to supply power to half of Ostrovia, the energy ministry said, and fishermen on the Tarn river '
        'will lose part of their fishing grounds.\n\n'
        'Construction of the Medra dam starts in spring and takes six years. Fishermen and farmers in the '
        'valley will be paid for their land and their boats, the ministry said.\n\n'
        'The Medra dam costs 4 billion euros, paid by the state power company. Fishermen downstream of the '
        'dam will see the Tarn river run lower in summer, engineers said.\n\n'
        'The Medra dam reservoir will be 30 kilometres long. Fishermen may fish in the reservoir with a '
        'permit, the ministry said.\n\n'
        'Villages in the Tarn valley will be moved before the Medra dam is filled. Fishermen from those '
        'villages will be offered homes in Medra.'),
    'dam2.md': md_article(
        'Fishermen protest against the Medra dam', 'AP', '2026-11-21', 'https://ap.example/dam2',
        'Fishermen on the Tarn river protested against the Medra dam on Saturday. "The dam will end river '
        'fishing here for good," said Iker Sola, who leads the fishermen\'s cooperative.'),
    'fuel.md': md_article(
        'Ostrovia raises fuel duty', 'BBC', '2026-11-22', 'https://bbc.example/fuel',
        'Ostrovia will raise fuel duty from January, the finance ministry said. Fishermen said the rise would '
        'cost them dearly.'),
}


@pytest.fixture(scope="module")
def dam_dir(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> Path:
    # Short chunks: the explainer is five passages, each naming the fishermen in passing.
    return build_index(tmp_path_factory, embedder, DAM, backend="extractive", chunk_tokens=64)


def test_a_follow_up_reads_the_story_across_its_articles(dam_dir: Path, embedder: Any) -> None:
    # "What did the fishermen say about it?" after an answer citing the explainer: before, the explainer's
    # passages (each naming the fishermen, each ranked up as the cited article's) filled the first places and
    # the fishermen's own statement came after them; now each article's best passage comes first.
    settings = Settings(data_dir=dam_dir, backend="extractive")
    assistant = Assistant(settings, store=Store(settings, embedder=embedder))
    ids = {a.removesuffix(".md").rsplit("/", 1)[-1]: a for a in assistant.store.catalog.done_article_ids()}
    history = [{"role": "user", "content": "What is the Medra dam project?"},
               {"role": "assistant", "content": "The Medra dam will block the Tarn river north of Medra [1].",
                "citations": [{"article_id": ids["dam1"], "published": "2026-11-20"}]}]
    retrieved = next(e for e in assistant.stream("What did the fishermen say about it?", history, AS_OF)
                     if isinstance(e, Retrieved))
    first = [p.article_id for p in retrieved.passages[:3]]
    assert ids["dam1"] in first and ids["dam2"] in first, first
    assert len(retrieved.passages) == settings.k, retrieved.passages  # still k passages: more of the explainer
    answer = assistant.answer("What did the fishermen say about it?", history, AS_OF)
    assert not answer.refused and "dam2" in cited(answer), answer.text
