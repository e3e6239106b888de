"""Syndicated copies and updated stories: a wire story run by several outlets is shown once, naming
every outlet that carried it; an update that changes a figure, a date or a "not" is another version,
never collapsed into the first. Real index (Chroma + catalog, the real embedder), the real search,
the extractive answer, the CLI through its entry point and the page through AppTest."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from indexes import build_index, cli_env, md_article
from streamlit.testing.v1 import AppTest

from retrieval.answer import Assistant
from retrieval.conversations import answer_from_record, answer_to_record
from retrieval.dedup import conflicting
from retrieval.search import Filters, cite_original, search
from retrieval.settings import Settings
from retrieval.store import Store
from retrieval.types import Copy, Passage

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")

WIRE = ("DETROIT (Reuters) - Halvorsen Motors is recalling about 120,000 Tundra Fox sport utility vehicles in the "
        "United States because a faulty brake hose can leak fluid, the road safety agency said on Tuesday. "
        "Owners will be notified by letter from January, and dealers will replace the hose free of charge.")
UPDATE = WIRE.replace("120,000", "180,000")


ARTICLES = {
    "reuters.md": md_article("Halvorsen recalls Tundra Fox SUVs over brake hoses", "Reuters", "2026-11-24",
                             "https://wire.example/halvorsen-recall", WIRE),
    "yahoo.md": md_article("Halvorsen recalls Tundra Fox SUVs over brake hoses", "Yahoo Finance", "2026-11-24",
                           "https://finance.example/halvorsen-recall", WIRE),
    "star.md": md_article("Brake hose fault: Halvorsen calls back SUVs", "Toronto Star", "2026-11-25",
                          "https://star.example/halvorsen", WIRE),
    "update.md": md_article("UPDATE 1-Halvorsen expands recall", "Reuters", "2026-11-26",
                            "https://wire.example/halvorsen-recall-update", UPDATE),
    "garden.md": md_article("Allotment holders win water rights", "Valley Times", "2026-10-02",
                            "https://valley.example/allotments",
                            "Allotment holders in the valley won the right to draw water from the old canal, the "
                            "council said, ending a dispute that had lasted three summers."),
}
QUESTION = "How many Tundra Fox vehicles is Halvorsen Motors recalling?"


@pytest.mark.parametrize(("a", "b", "expected"), [
    ("Officials said she will run for governor next year, aides said.",
     "Officials said she will not run for governor next year, aides said.", True),  # a "not" added
    ("The attack left 3 people dead and the suspect was arrested on Friday.",
     "The attack left 5 people dead and the suspect was arrested on Friday.", True),  # a figure replaced
    ("The bank held its rate at 3.5% in March, the governor told reporters.",
     "The bank held its rate at 3.5% in June, the governor told reporters.", True),  # a month replaced
    ("The council met on Monday and approved the budget, the mayor said.",
     "The council met on Thursday and approved the budget, the mayor said.", True),  # a weekday replaced
    (WIRE, WIRE, False),
    ("Kestrel is recalling 120,000 vehicles, the company said, adding more.",
     "Kestrel is recalling about 120,000 vehicles, the company said on Tuesday, adding more.", False),  # details
    ("LONDON (Reuters) - " + WIRE, WIRE + " More on this story later today, with reactions.", False),  # cut
])
def test_conflicting_finds_a_changed_fact_not_an_added_detail(a: str, b: str, expected: bool) -> None:
    assert conflicting(a, b) is expected
    assert conflicting(b, a) is expected


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> Path:
    return build_index(tmp_path_factory, embedder, ARTICLES, backend="extractive")


@pytest.fixture
def store(index_dir: Path, embedder: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    for name in list(os.environ):
        if name.startswith("NEWSQA_"):
            monkeypatch.delenv(name)
    store = Store(Settings(data_dir=index_dir, backend="extractive"), embedder=embedder)
    yield store
    store.catalog.close()


def test_copies_collapse_with_their_outlets_and_an_update_stays(store: Store) -> None:
    passages = search(store, QUESTION, k=6).passages
    recall = [p for p in passages if "Tundra Fox" in p.text]
    figures = sorted("180,000" in p.text for p in recall)
    assert figures == [False, True], [(p.outlet, p.text[:60]) for p in recall]  # the update is its own passage
    first = next(p for p in recall if "120,000" in p.text)
    carried = {first.outlet, *(c.outlet for c in first.copies)}
    assert carried == {"Reuters", "Yahoo Finance", "Toronto Star"}, first.copies
    assert all(isinstance(c, Copy) and c.url.startswith("https://") and c.published for c in first.copies)
    assert len(set(first.duplicates)) == 2 and first.article_id not in first.duplicates  # the other two copies


def test_the_answer_gives_both_versions_and_names_who_carried_it(store: Store) -> None:
    answer = Assistant(store.settings, store=store).answer(QUESTION)
    assert not answer.refused, answer.text
    assert "120,000" in answer.text and "180,000" in answer.text, answer.text  # not one version hidden
    old = next(c for c in answer.citations if "120,000" in c.quote)
    new = next(c for c in answer.citations if "180,000" in c.quote)
    assert new.published[:10] == "2026-11-26" and new.outlet == "Reuters"  # each version with its date
    assert {c.outlet for c in old.copies} | {old.outlet} == {"Reuters", "Yahoo Finance", "Toronto Star"}
    assert not new.copies
    # what --json prints and a saved conversation keeps
    data = answer.to_json()
    listed = next(c for c in data["citations"] if "120,000" in c["quote"])
    assert {c["outlet"] for c in listed["copies"]} == {c.outlet for c in old.copies}
    again = answer_from_record(json.loads(json.dumps(answer_to_record(answer))))
    assert [c.copies for c in again.citations] == [c.copies for c in answer.citations]
    assert all(isinstance(c, Copy) for cit in again.citations for c in cit.copies)


def test_ask_prints_the_other_outlets(index_dir: Path, tmp_path: Path) -> None:
    env = cli_env(index_dir)
    run = subprocess.run([sys.executable, "-m", "retrieval", "ask", QUESTION], capture_output=True, text=True,
                         env=env, cwd=tmp_path, timeout=300)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    at = next(i for i, x in enumerate(lines) if "also carried by:" in x)
    source = next(x for x in reversed(lines[:at]) if x.lstrip().startswith("["))  # "[2] Title (Outlet, day)"
    named = source + lines[at]
    for outlet, day in (("Reuters", "2026-11-24"), ("Yahoo Finance", "2026-11-24"), ("Toronto Star", "2026-11-25")):
        assert f"{outlet} ({day})" in lines[at] or f"({outlet}, {day})" in source, named


def test_the_page_names_the_copies_under_the_citation(index_dir: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    shutil.copytree(index_dir, data)
    for name in list(os.environ):
        if name.startswith("NEWSQA_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("NEWSQA_DATA_DIR", str(data))
    monkeypatch.setenv("NEWSQA_BACKEND", "extractive")
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.chat_input[0].set_value(QUESTION).run()
    assert not at.exception, [e.value for e in at.exception]
    message = [m for m in at.chat_message if m.name == "assistant"][-1]
    captions = [c.value for e in message.expander for c in e.caption]
    carried = [c for c in captions if c.startswith("Also carried by:")]
    assert len(carried) == 1, captions
    links = {"Reuters": "https://wire.example/halvorsen-recall", "Yahoo Finance": "https://finance.example/halvorsen-recall",
             "Toronto Star": "https://star.example/halvorsen"}
    shown = [outlet for outlet, url in links.items() if f"[{outlet}]({url})" in carried[0]]
    assert len(shown) == 2, carried  # the two copies besides the cited one, each a link to its article


def test_copies_line_is_escaped_and_links_only_to_the_web(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NEWSQA_DATA_DIR", str(tmp_path / "never-created"))
    spec = importlib.util.spec_from_file_location("newsqa_app_copies_check", APP)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    line = module.copies_markdown([
        Copy("a", "**Wire** [x](javascript:alert(1))", "", "javascript:alert(1)", ""),
        Copy("b", "", "Headline", "https://www.site.example/p", "2026-01-02T10:00:00"),
    ])
    assert "](javascript" not in line and "\\*\\*Wire" in line
    assert "[site\\.example](https://www.site.example/p) (2026\\-01\\-02)" in line, line  # no outlet: the site


def test_a_copy_has_one_name_on_the_page_and_in_the_terminal() -> None:
    # The terminal named an outlet-less copy by its whole URL where the page used its site: one label now.
    assert Copy("a", "Reuters", "T", "https://www.reuters.com/x").label == "Reuters"
    assert Copy("b", "", "Headline", "https://www.site.example/p?q=1").label == "site.example"
    assert Copy("c", "", "A " + "very " * 30 + "long headline").label.endswith("…")
    assert len(Copy("c", "", "A " + "very " * 30 + "long headline").label) <= 60
    assert Copy("d").label == "another article"


# --- the original of a syndicated story ------------------------------------------------------------
# The wire's own story, re-run a day and two days later, and once undated: as of the last re-run's day,
# freshness ranks the newest re-run first, but the reader is given the wire original as the source.
STRIKE = ("ROTTERDAM (Reuters) - Dockworkers at the port of Veldhaven will strike for 48 hours from Thursday after "
          "pay talks with the port authority broke down, the union said on Monday, halting container traffic at "
          "one of Europe's busiest harbours. The authority said it regretted the walkout and would keep talking.")
RERUNS = {
    "reuters.md": md_article("Veldhaven dockworkers to strike for 48 hours", "Reuters", "2026-11-24",
                             "https://wire.example/veldhaven-strike", STRIKE),
    "yahoo.md": md_article("Veldhaven dockworkers to strike for 48 hours", "Yahoo Finance", "2026-11-25",
                           "https://finance.example/veldhaven-strike", STRIKE),
    "star.md": md_article("Port strike: Veldhaven dockworkers walk out", "Toronto Star", "2026-11-26",
                          "https://star.example/veldhaven", STRIKE),
    "digest.md": f"---\ntitle: Veldhaven strike\noutlet: Harbour Digest\nurl: https://digest.example/v\n---\n{STRIKE}\n",
    "garden.md": ARTICLES["garden.md"],
}
STRIKE_QUESTION = "How long will the Veldhaven dockworkers strike?"
STRIKE_DAY = "2026-11-26"


@pytest.fixture(scope="module")
def reruns_dir(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> Path:
    return build_index(tmp_path_factory, embedder, RERUNS, backend="extractive")


def test_the_original_is_cited_though_a_re_run_ranks_first(reruns_dir: Path, embedder: Any,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("NEWSQA_"):
            monkeypatch.delenv(name)
    store = Store(Settings(data_dir=reruns_dir, backend="extractive"), embedder=embedder)
    try:
        as_of = Filters(as_of=STRIKE_DAY)
        raw = [p for p in search(store, STRIKE_QUESTION, k=6, filters=as_of, collapse=False).passages
               if "Veldhaven" in p.text]
        assert raw[0].outlet != "Reuters", "a re-run must rank first, or this proves nothing"
        shown = search(store, STRIKE_QUESTION, k=6, filters=as_of).passages
        story = [p for p in shown if "Veldhaven" in p.text]
        assert len(story) == 1, [(p.outlet, p.text[:40]) for p in shown]  # one story, shown once
        cited = story[0]
        assert (cited.outlet, cited.published[:10], cited.url) == ("Reuters", "2026-11-24",
                                                                    "https://wire.example/veldhaven-strike")
        assert cited.text == store.chunks_by_id([cited.chunk_id])[cited.chunk_id]["text"]  # its own passage
        # the others, complete, earliest first; the undated one last, never cited in place of a dated one
        assert [(c.outlet, c.published[:10]) for c in cited.copies] == [
            ("Yahoo Finance", "2026-11-25"), ("Toronto Star", "2026-11-26"), ("Harbour Digest", "")]
        # the story keeps the place and the scores its best-ranked copy earned
        assert shown.index(cited) == next(i for i, p in enumerate(shown) if p.article_id == cited.article_id)
        assert cited.score == raw[0].score and cited.similarity == raw[0].similarity
        # as of today the same: the original is cited whichever copy ranks first
        today = next(p for p in search(store, STRIKE_QUESTION, k=6).passages if "Veldhaven" in p.text)
        assert today.outlet == "Reuters" and len(today.copies) == 3
    finally:
        store.catalog.close()


def test_ask_prints_the_original_as_the_source(reruns_dir: Path, tmp_path: Path) -> None:
    env = cli_env(reruns_dir)
    run = subprocess.run([sys.executable, "-m", "retrieval", "ask", STRIKE_QUESTION, "--as-of", STRIKE_DAY],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    at = next(i for i, x in enumerate(lines) if "also carried by:" in x)
    source = next(x for x in reversed(lines[:at]) if x.lstrip().startswith("["))
    assert source.rstrip().endswith("(Reuters, 2026-11-24)"), run.stdout
    assert "https://wire.example/veldhaven-strike" in lines[at - 1], run.stdout
    assert lines[at].split("also carried by: ")[1] == (
        "Yahoo Finance (2026-11-25), Toronto Star (2026-11-26), Harbour Digest"), run.stdout


def _passage(article: str, published: str, score: float = 0.0, text: str = STRIKE) -> Passage:
    return Passage(chunk_id=f"{article}:0", article_id=article, text=text, start=0, end=len(text),
                   outlet=article.title(), published=published, score=score, similarity=score / 10,
                   dense_rank=int(10 - score), keyword_rank=None)


def test_cite_original_picks_the_earliest_dated_copy() -> None:
    best = _passage("star", "2026-11-26", 9)
    later = [_passage("yahoo", "2026-11-25", 8), _passage("undated", "", 7), _passage("reuters", "2026-11-24", 6)]
    cited = cite_original(best, later)
    assert cited.article_id == "reuters" and cited.chunk_id == "reuters:0"
    assert (cited.score, cited.similarity, cited.dense_rank) == (9, 0.9, 1)  # the group's place
    assert cited.duplicates == ["yahoo", "star", "undated"]  # earliest first, undated last
    # an undated best-ranked copy gives way to a dated one; a dated one never to an undated one
    assert cite_original(_passage("undated", "", 9), [_passage("star", "2026-11-26", 8)]).article_id == "star"
    assert cite_original(_passage("star", "2026-11-26", 9), [_passage("undated", "", 8)]).article_id == "star"
    # the original repeats the best-ranked copy's words and came out within a week before it: a restatement
    # of the story, or the same text years earlier (an evergreen or misdated page), is listed, not cited
    other = "Veldhaven's dockers stop work; the port authority regrets it and ships wait at anchor outside."
    assert cite_original(best, [_passage("wsj", "2026-11-24", 8, other)]).article_id == "star"
    assert cite_original(best, [_passage("old", "2026-11-18", 8), _passage("y", "2026-11-20", 7)]).article_id == "y"
    assert cite_original(best, [_passage("old", "2023-11-20", 8)]).duplicates == ["old"]
    # the same day: the earlier time when each gives one, else the better rank
    assert cite_original(_passage("a", "2026-11-24T18:00:00", 9),
                         [_passage("b", "2026-11-24T06:30:00", 8)]).article_id == "b"
    assert cite_original(_passage("a", "2026-11-24T18:00:00", 9), [_passage("b", "2026-11-24", 8)]).article_id == "a"
    # another chunk of the best-ranked article is no copy; alone, a passage is cited as it is
    alone = cite_original(best, [Passage(chunk_id="star:1", article_id="star", text=STRIKE, start=0, end=1)])
    assert alone.chunk_id == "star:0" and not alone.copies
    # an original stating another fact than one of the copies is not cited for them: the best-ranked stays
    # (here the best-ranked copy gives no duration; one copy says 72 hours, the original 48)
    vague = _passage("star", "2026-11-26", 9, STRIKE.replace(" for 48 hours", ""))
    odd = _passage("yahoo", "2026-11-25", 8, STRIKE.replace("48 hours", "72 hours"))
    assert not conflicting(vague.text, odd.text) and conflicting(STRIKE, odd.text)
    assert cite_original(vague, [odd, _passage("reuters", "2026-11-24", 6)]).article_id == "star"
    assert cite_original(vague, [_passage("reuters", "2026-11-24", 6)]).article_id == "reuters"
