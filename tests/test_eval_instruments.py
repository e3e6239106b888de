"""The measuring instruments themselves (session 18's audit, /tmp/s18/h3/findings.md): how answers are
matched and multiple-choice picks are counted, which questions ``--limit`` and ``--half`` keep, the "as
of" cut, what ``--details`` carries, and ``benchmarks/week_halves.py``'s pairing of answer runs. The
command runs through its entry point on a real index (real embedder, Chroma and keyword index in
``tmp_path``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from retrieval.cli import cli
from retrieval.eval_data import Question, cut_day, half_of, spread
from retrieval.eval_metrics import (
    BY_ONE_NAME,
    BY_ORDER,
    BY_SIMILARITY,
    answers_gold,
    choose,
    first_hit,
    mentions,
    percentile,
    pick_choice,
)
from retrieval.evaluate import as_of, verified_text
from retrieval.store import Embedder, Store
from retrieval.types import Answer, Citation, Passage, Unsupported

cli_test = pytest.mark.usefixtures("_session_embedder")


@pytest.fixture
def _session_embedder(monkeypatch: pytest.MonkeyPatch, embedder: Embedder) -> None:
    monkeypatch.setattr("retrieval.store.Store",
                        lambda settings, embedder=embedder: Store(settings, embedder=embedder))


def _run(args: list[str]) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["evaluate", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _never(text: str, choices: Any) -> list[float]:
    raise AssertionError("no similarity needed: a choice is named")


# --- matching answers ------------------------------------------------------------------------------


def test_the_answers_own_markers_and_date_notes_are_not_its_words() -> None:
    """rtqa 20260703_18 (gold "1") counted as answered through "[1]"; 20260227_4's pick "2" came from "[2]"."""
    assert not mentions("One president was born on the Fourth of July (Calvin Coolidge in 1872) [1].", "1")
    assert not mentions("The talks resume [2]. Others disagreed [3, 4].", "2")
    assert not mentions("There are 27 amendments (published 2023-04-25) [1].", "25")
    assert mentions("There are 27 amendments (published 2023-04-25) [1].", "27")
    assert not mentions("He cited [Passage 3] twice.", "3")
    mc = "Russia invaded Ukraine [1]. An unprecedented assault [2]. Four years after the invasion [3]."
    assert pick_choice(mc, ["5", "2", "3", "4"], lambda t, c: [0.9, 0.0, 0.0, 0.0]) == 0  # by similarity, not "[2]"


def test_a_number_is_not_found_inside_a_longer_number() -> None:
    for text, gold in (("Each child gets a $1,000,000 grant.", "$1,000"), ("Amazon cut 16,000 jobs.", "16"),
                       ("About 2.5 million lost power.", "2"), ("Gas reached $4.42 a gallon.", "$4"),
                       ("Amazon cut 16,000 jobs.", "000")):
        assert not mentions(text, gold), (text, gold)
    assert mentions("Amazon cut 16,000 jobs.", "16,000")
    assert mentions("It rose to 16. Then it fell.", "16")  # a full stop ends the number
    assert mentions("Gas cost $4, then $5.", "$4")
    assert pick_choice("Amazon is cutting 16,000 jobs.", ["14", "16", "30", "16,000"], _never) == 3


def test_answer_hits_count_whole_words_only() -> None:
    def p(text: str) -> Passage:
        return Passage(chunk_id="c", article_id="a", text=text, start=0, end=len(text))

    assert first_hit([p("The conflict in Gaza entered its third year.")], "NFL") is None
    assert first_hit([p("Published January 8, 2026. Shares rose 40% in 1872.")], "2") is None
    assert first_hit([p("Coolidge was born on July 4, 1872 [1].")], "1") is None
    assert first_hit([p("The conflict."), p("The NFL season opened.")], "NFL") == 2


def test_a_yes_no_gold_is_answered_by_the_verdict_the_answer_opens_with() -> None:
    """MultiHop-RAG: every comparison / temporal answer credited was an incidental "no" ("no doubt")."""
    assert not answers_gold("England will no doubt be looking to echo 2003 [1].", "no")
    assert not answers_gold("Yes [1]. No one disputes the deal.", "no")
    assert answers_gold("No, the two reports disagree [1].", "no")
    assert answers_gold("“Yes.” Both outlets agree [2].", "Yes")
    assert answers_gold("B) No — the dates differ.", "no")
    assert answers_gold("The ferry was the Marigold [1].", "Marigold")  # other golds: the word rule


def test_verified_text_removes_the_flagged_sentence_itself() -> None:
    cite = Citation(n=1, article_id="a1", title="t", url="u", published="2026-03-01", outlet="o", quote="q",
                    start=0, end=1)
    answer = Answer(text="The Iranian foreign minister met officials in Geneva [1]. Iran",
                    citations=[cite], unsupported=[Unsupported("Iran", "no passage says it")])
    shown = verified_text(answer)
    assert "Iranian" in shown and not mentions(shown, "Iran")
    answer = Answer(text="Talks began in Geneva [1]. Iran struck first [2]. Iran struck first, Oman said [1].",
                    citations=[cite], unsupported=[Unsupported("Iran struck first.", "x")])
    assert " ".join(verified_text(answer).split()) == "Talks began in Geneva [1]. Iran struck first, Oman said [1]."


# --- multiple choice ---------------------------------------------------------------------------------


def test_a_pick_says_how_it_was_made() -> None:
    choices = ["Meta", "Microsoft", "OpenAI", "Palantir"]
    one = choose("Publishers sued Meta [1].", choices, _never)
    assert (one.index, one.how) == (0, BY_ONE_NAME) and one.named(0) and not one.named(1)
    two = choose("Authors sued Meta and OpenAI [1].", choices, _never)
    assert (two.index, two.how) == (0, BY_ORDER) and not two.named(0)
    none = choose("Publishers sued a tech giant [1].", choices, lambda t, c: [0.9, 0.1, 0.1, 0.1])
    assert (none.index, none.how) == (0, BY_SIMILARITY) and not none.named(0)
    # A choice found only inside a longer choice is not named by the answer.
    nested = choose("Donald Trump signed it.", ["Trump", "Donald Trump", "Biden"], _never)
    assert (nested.index, nested.how) == (1, BY_ONE_NAME)


# --- which questions ----------------------------------------------------------------------------------


def _q(qid: str, date: str = "", **kw: Any) -> Question:
    return Question(id=qid, question="?", answer="x", gold=("a",), date=date, **kw)


def test_an_undated_question_belongs_to_no_week_half() -> None:
    q = _q("42")
    assert not half_of(q, "A") and not half_of(q, "B")
    assert half_of(q, "even")


def test_spread_takes_every_weeks_share_in_order() -> None:
    qs = [_q(f"202605{d:02d}_{i}") for d in (8, 15, 22, 29) for i in range(5)]
    chosen = spread(qs, 4)
    assert len(chosen) == 4 and len({q.id[:8] for q in chosen}) == 4
    assert chosen == sorted(chosen, key=qs.index) and spread(qs, 4) == chosen  # file order, deterministic
    assert spread(qs, 50) == qs


def test_the_cut_keeps_the_question_date_plus_the_margin_and_never_passes_the_quiz_day() -> None:
    assert cut_day(_q("20260109_3", "2026-01-08")) == "2026-01-09"  # the quiz's day comes first
    assert cut_day(_q("20260703_12", "2026-06-30")) == "2026-07-02"  # date + 2 days
    assert cut_day(_q("n1", "2026-06-30")) == "2026-07-02"
    assert cut_day(_q("n1")) == ""
    f = as_of(_q("20260109_3", "2026-01-08"))
    assert (f.as_of, f.date_to) == ("2026-01-08", "2026-01-09") and f.restricts
    assert as_of(_q("20260109_3", "2026-01-08"), cut=False).date_to == ""


# --- the command --------------------------------------------------------------------------------------

ARTICLES = [
    ("early", "2030-02-27", "Kessel council approves a ferry timetable",
     "The Kessel council approved a new ferry timetable on Tuesday. The timetable adds two crossings a day to "
     "Port Alder, the harbour master said."),
    ("late", "2030-03-20", "Kessel ferry timetable scrapped",
     "The Kessel council scrapped the ferry timetable it approved last month. The ferry timetable to Port Alder "
     "will return to one crossing a day, the council said."),
    ("bridge", "2030-03-05", "Dunmore opens a footbridge",
     "Dunmore opened a footbridge over the river on Monday. The footbridge cost about 400,000 euros."),
]


def _dataset(root: Path, questions: list[dict[str, Any]]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "articles.jsonl").write_text("".join(
        json.dumps({"id": aid, "url": f"https://news.example/{aid}", "title": title, "published": day,
                    "authors": [], "text": text}) + "\n" for aid, day, title, text in ARTICLES))
    (root / "questions.jsonl").write_text("".join(json.dumps(q) + "\n" for q in questions))
    return root


@pytest.mark.slow
@cli_test
def test_the_index_is_read_as_of_each_questions_date(tmp_path: Path) -> None:
    """An article published after the question's date (+ the margin) is not searchable unless --no-as-of-cut."""
    root = _dataset(tmp_path / "ds", [
        {"id": "q1", "date": "2030-03-01", "question": "What did the Kessel council scrap?",
         "answer": "ferry timetable", "gold_article_ids": ["late"]},
        {"id": "q2", "date": "2030-03-25", "question": "What did the Kessel council scrap?",
         "answer": "ferry timetable", "gold_article_ids": ["late"]},
    ])
    index = tmp_path / "idx"
    cut = tmp_path / "cut.jsonl"
    report = _run([str(root), "--json", "--data-dir", str(index), "--details", str(cut)])
    assert report["as_of"]["used_for_filtering"] is True and report["as_of"]["margin_days"] == 2
    rows = {r["id"]: r for r in map(json.loads, cut.read_text().splitlines())}
    assert rows["q1"]["hybrid.article_rank"] is None and rows["q1"]["as_of_to"] == "2030-03-03"
    assert rows["q2"]["hybrid.article_rank"] is not None
    whole = tmp_path / "whole.jsonl"
    report = _run([str(root), "--json", "--data-dir", str(index), "--skip-ingest", "--no-as-of-cut",
                   "--details", str(whole)])
    assert report["as_of"]["used_for_filtering"] is False
    assert all(r["hybrid.article_rank"] for r in map(json.loads, whole.read_text().splitlines()))


@pytest.mark.slow
@cli_test
def test_limit_spreads_over_the_weeks_and_details_recompute_the_report(tmp_path: Path) -> None:
    """--limit 2 of a half whose first questions are all of one week asks both weeks, the same questions
    for retrieval and answers, names them; each details row holds what every figure is computed from."""
    questions = []
    for day, art, question, answer in (("20300305", "early", "What did the Kessel council approve?", "ferry timetable"),
                                       ("20300312", "bridge", "What did Dunmore open over the river?", "footbridge")):
        for i in range(3):
            questions.append({"id": f"{day}_{i}", "date": f"{day[:4]}-{day[4:6]}-{day[6:]}", "question": question,
                              "answer": answer, "choices": [answer, "a tram line"], "answer_index": 0,
                              "gold_article_ids": [art]})
    root = _dataset(tmp_path / "ds", questions)
    details = tmp_path / "d.jsonl"
    report = _run([str(root), "--json", "--limit", "2", "--half", "B", "--answers", "--backend", "extractive",
                   "--details", str(details)])
    rows = [json.loads(line) for line in details.read_text().splitlines()]
    ids = [r["id"] for r in rows]
    assert report["limit"]["ids"] == ids and len({i[:8] for i in ids}) == 2
    assert report["counts"]["retrieval_evaluated"] == report["counts"]["answers"] == 2
    assert all("answer" in r and "hybrid.article_rank" in r for r in rows)
    n = len(rows)
    assert report["article_recall@10"] == pytest.approx(sum(r["hybrid.recall"] for r in rows) / n, abs=1e-4)
    assert report["article_mrr@10_with_copies"] == pytest.approx(
        sum(1 / r["hybrid.article_rank_with_copies"] for r in rows if r["hybrid.article_rank_with_copies"]) / n,
        abs=1e-4)
    assert report["retrieval_p50_ms"] == pytest.approx(percentile([r["hybrid.ms"] for r in rows], 50), abs=0.11)
    assert report["answer_p50_s"] == pytest.approx(percentile([r["answer_s"] for r in rows], 50), abs=1e-3)
    assert all(r["hit_counted"] is True for r in rows)
    # Multiple choice: both figures, and the shares of the ways picks were made.
    assert report["mc_named_accuracy"] == pytest.approx(sum(r["mc_named"] for r in rows) / n, abs=1e-4)
    assert report["mc_named_accuracy"] <= report["mc_accuracy"]
    shares = [report[f"mc_by_{how}"] for how in ("one_name", "order", "similarity")] + [report["mc_refused"]]
    assert sum(shares) == pytest.approx(1.0)


def test_half_a_of_an_undated_dataset_says_so(tmp_path: Path) -> None:
    root = _dataset(tmp_path / "ds", [{"id": "7", "question": "What did Dunmore open?", "answer": "footbridge",
                                       "gold_article_ids": ["bridge"]}])
    result = CliRunner().invoke(cli, ["evaluate", str(root), "--json", "--half", "A"])
    assert result.exit_code == 1 and "no week" in result.output and "leaves no question" in result.output


# --- week_halves.py -----------------------------------------------------------------------------------


def test_week_halves_pairs_answer_runs_and_warns_about_unpaired_ids(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import benchmarks.week_halves as wh

    root = tmp_path / "ds"
    root.mkdir()
    qs = [{"id": f"20260109_{i}", "date": "2026-01-08", "question": f"Q{i}?", "answer": "Paris",
           "choices": ["Paris", "Rome"], "answer_index": 0, "gold_article_ids": ["a1"]} for i in range(6)]
    qs.append({"id": "42", "question": "Undated?", "answer": "Paris", "gold_article_ids": ["a1"]})
    (root / "questions.jsonl").write_text("".join(json.dumps(q) + "\n" for q in qs))

    def row(i: int, right: bool, text: str, refused: bool = False) -> str:
        return json.dumps({"id": f"20260109_{i}", "contains_gold": right, "contains_gold_any_text": right,
                           "refused": refused, "mc_picked": 0 if right else 1, "mc_answer": text}) + "\n"

    run, base = tmp_path / "run.jsonl", tmp_path / "base.jsonl"
    # The run gains 3 questions; its right picks name Paris alone. The baseline (an older file: no mc_named)
    # names both choices in its 2 right picks, so none of its picks counts as named.
    run.write_text("".join(row(i, i < 5, "Paris [1]." if i < 5 else "Rome [1].") for i in range(6))
                   + json.dumps({"id": "42"}) + "\n")
    base.write_text("".join(row(i, i < 2, "Paris or Rome [1]." if i < 2 else "Rome [1].", refused=i == 4)
                            for i in range(5)))
    assert wh.main([str(root), str(run), str(base), "--json"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    pairs = report["A"]["vs_baseline"]
    assert pairs["contains_gold"].startswith("+0.600") and "better 3, worse 0, n 5" in pairs["contains_gold"]
    assert "better 3, worse 0, n 5" in pairs["mc_right"]
    assert "better 5, worse 0, n 5" in pairs["mc_named"]
    assert "contains_gold_any_text" in pairs
    refused = pairs["refused_when_answerable"]
    assert refused.startswith("-0.200") and "better 1, worse 0" in refused  # fewer refusals is better
    assert report["A"]["mc_named_accuracy"]["mean"] == pytest.approx(5 / 6, abs=1e-3)
    assert report["only_in_run"] == 2 and report["only_in_baseline"] == 0 and report["no_half"] == 1
    assert "only in the run" in captured.err and "no week" in captured.err
