"""The ``evaluate`` command end to end on a tiny synthetic dataset: real ingest, the real embedder,
real Chroma and the keyword index in ``tmp_path``, driven through click's ``CliRunner``."""

from __future__ import annotations

import json
import math
import re
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from retrieval.cli import cli
from retrieval.eval_data import WEEK_SPLIT, Question, half_of, load_dataset
from retrieval.eval_metrics import article_ranking, contains, mentions, percentile, pick_choice
from retrieval.store import Embedder, Store
from retrieval.types import Copy, Passage

# The command tests load the real model and build real indexes.
cli_test = pytest.mark.usefixtures("_session_embedder")

# Invented articles: each fact below appears in exactly one of them.
ARTICLES = [
    ("a1", "Harbor town opens floating library",
     "The coastal town of Quillmouth opened a floating library on a converted ferry named the Marigold. "
     "The library holds about four thousand books and docks at a different pier every week. "
     "Volunteers run the reading room, and children can borrow books with a paper ticket."),
    ("a2", "Glacier researchers record fastest retreat",
     "Researchers on the Vessbreen glacier measured a retreat of 212 meters over one summer. "
     "The team used drones and stakes drilled into the ice. "
     "The station leader said meltwater lakes had formed earlier than in any previous season."),
    ("a3", "City council approves tram extension",
     "The city council of Dornhalt voted to extend the tram line to the airport. "
     "Construction of the nine kilometre extension is planned to start in the spring. "
     "Opponents argued that buses would have been cheaper, but the vote passed easily."),
    ("a4", "Bakery wins national bread prize",
     "A small bakery called Ovenbird won the national bread prize for its rye sourdough. "
     "The owner, Talia Brennock, bakes every loaf in a wood-fired oven built by her grandfather. "
     "The jury praised the crust and the deep flavor of the loaf."),
    ("a5", "Chess prodigy takes regional title",
     "Eleven-year-old Oskar Lindqvell won the regional chess championship without losing a game. "
     "In the final round he defeated the defending champion with a rook endgame. "
     "His coach said he trains for two hours after school every day."),
    ("a6", "Museum returns carved mask",
     "The Northvale Museum returned a carved wooden mask to the island community of Tessaly. "
     "The mask had been in the museum's storage rooms for nearly ninety years. "
     "Elders from the island attended the handover ceremony in the museum's main hall."),
    ("a7", "Rail strike ends after talks",
     "Train drivers ended a three-day strike after overnight talks with the rail operator. "
     "The agreement includes a pay rise and new rules for rest periods between shifts. "
     "Commuters faced crowded buses while the trains stood still."),
    ("a8", "Observatory spots new comet",
     "Astronomers at the Keldra Observatory spotted a new comet moving toward the inner solar system. "
     "The comet will be visible with binoculars in late autumn, they said. "
     "It was found in images taken for a survey of near-Earth asteroids."),
]

QUESTIONS: list[dict[str, Any]] = [
    {"id": "q1", "date": "2030-03-01", "question": "What is the name of the ferry that became a floating library?",
     "choices": ["Marigold", "Bluebell", "Seahorse", "Compass"], "answer": "Marigold", "answer_index": 0,
     "gold_article_ids": ["a1"], "search_article_ids": ["a3", "a1"]},
    {"id": "q2", "date": "2030-03-01", "question": "How far did the Vessbreen glacier retreat in one summer?",
     "choices": ["90 meters", "212 meters", "1 kilometre", "45 meters"], "answer": "212 meters",
     "answer_index": 1, "gold_article_ids": ["a2"], "search_article_ids": ["a2"]},
    {"id": "q3", "date": "2030-03-08", "question": "Which bakery won the national bread prize?",
     "choices": ["Crumbhouse", "Ovenbird", "Loafly", "Millstone"], "answer": "Ovenbird", "answer_index": 1,
     "gold_article_ids": ["a4"], "search_article_ids": ["a4", "a7"]},
    {"id": "q4", "date": "2030-03-08", "question": "Who won the regional chess championship without losing a game?",
     "choices": ["Oskar Lindqvell", "Talia Brennock", "Mira Sond", "Jon Vale"], "answer": "Oskar Lindqvell",
     "answer_index": 0, "gold_article_ids": ["a5"], "search_article_ids": ["a5"]},
    {"id": "q5", "date": "2030-03-15", "question": "To which island community did the Northvale Museum return a mask?",
     "choices": ["Orkell", "Tessaly", "Brinmoor", "Vask"], "answer": "Tessaly", "answer_index": 1,
     "gold_article_ids": ["a6"], "search_article_ids": ["a6"]},
    {"id": "q6", "date": "2030-03-15", "question": "Where will the Dornhalt tram line be extended to?",
     "choices": ["the harbor", "the stadium", "the airport", "the university"], "answer": "airport",
     "answer_index": 2, "gold_article_ids": ["a3"], "search_article_ids": ["a3"]},
    # Unanswerable: no article says anything about it.
    {"id": "q7", "date": "2030-03-22", "question": "Which team won the underwater hockey world cup?",
     "choices": ["Team A", "Team B", "Team C", "Team D"], "answer": "Team C", "answer_index": 2,
     "gold_article_ids": [], "search_article_ids": []},
]


def _write_dataset(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    with (root / "articles.jsonl").open("w", encoding="utf-8") as f:
        for aid, title, text in ARTICLES:
            record = {"id": aid, "url": f"https://news.example/{aid}", "title": title,
                      "published": "2030/02/27", "authors": [], "text": text}
            f.write(json.dumps(record) + "\n")
    with (root / "questions.jsonl").open("w", encoding="utf-8") as f:
        for q in QUESTIONS:
            f.write(json.dumps({"source": "TEST", "evidence": "", **q}) + "\n")
    return root


@pytest.fixture
def _session_embedder(monkeypatch: pytest.MonkeyPatch, embedder: Embedder) -> None:
    """The command opens its index with the session's real embedder (one model load for all tests).

    conftest.py's autouse ``_isolate`` already clears NEWSQA_* and points NEWSQA_DATA_DIR at tmp_path.
    """
    monkeypatch.setattr("retrieval.store.Store",
                        lambda settings, embedder=embedder: Store(settings, embedder=embedder))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write_dataset(tmp_path_factory.mktemp("dataset"))


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("index")


def _run(args: list[str]) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["evaluate", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# --- the command ---------------------------------------------------------------------------------


@pytest.mark.slow
@cli_test
def test_retrieval_metrics(dataset: Path, index_dir: Path) -> None:
    report = _run([str(dataset), "--json", "--data-dir", str(index_dir)])

    assert report["counts"]["questions"] == 7
    assert report["counts"]["answerable"] == 6
    assert report["counts"]["retrieval_evaluated"] == 6
    assert report["counts"]["articles_indexed"] == 8
    assert report["index"]["ingest"]["added"] == 8
    # Read as of each question's date, in the index as it was then (all articles here are older).
    assert report["as_of"] | {"rule": ""} == {"from": "2030-03-01", "to": "2030-03-22", "used_for_filtering": True,
                                              "used_for_recency": True, "margin_days": 2, "rule": ""}
    assert report["limit"] is None
    for prefix in ("", "dense.", "keyword.", "nocollapse.", "undated.", "choices."):
        for key in ("answer_hits@1", "answer_hits@3", "answer_hits@5", "answer_hits@10", "article_hits@1",
                    "article_mrr@10", "retrieval_p50_ms", "retrieval_p95_ms"):
            assert f"{prefix}{key}" in report, f"{prefix}{key} missing"
        hits = [report[f"{prefix}answer_hits@{d}"] for d in (1, 3, 5, 10)]
        assert hits == sorted(hits) and all(0 <= h <= 1 for h in hits)
        assert 0 <= report[f"{prefix}article_mrr@10"] <= 1
        assert 0 < report[f"{prefix}retrieval_p50_ms"] <= report[f"{prefix}retrieval_p95_ms"]
    # Every answer sits in one distinctive article: hybrid search must rank it first.
    assert report["answer_hits@1"] == 1.0
    assert report["article_mrr@10"] == 1.0
    # The dataset's own reference ranking is scored too: q1's gold is second, the rest first.
    assert report["reference_search.article_hits@1"] == pytest.approx(5 / 6, abs=1e-3)
    assert report["reference_search.article_mrr@10"] == pytest.approx((5 + 0.5) / 6, abs=1e-3)
    assert report["settings"]["k"] == 6 and report["settings"]["rrf_k"] == 60
    assert report["settings"]["keyword_engine"] == "tantivy"  # evaluate's own ingest built its files
    assert set(report["timings"]) >= {"ingest_s", "retrieval_s", "answers_s", "total_s"}
    assert "answer_contains_gold" not in report  # only with --answers


@pytest.mark.slow
@cli_test
def test_rerun_reuses_the_index_and_limit_counts_answerable(dataset: Path, index_dir: Path) -> None:
    report = _run([str(dataset), "--json", "--data-dir", str(index_dir), "--limit", "2", "--k", "5"])
    assert report["index"]["ingest"]["unchanged"] == 8 and report["index"]["ingest"]["added"] == 0
    assert report["counts"]["retrieval_evaluated"] == 2 and len(report["limit"]["ids"]) == 2
    assert report["k"] == 5 and "article_mrr@5" in report and "answer_hits@10" not in report


@pytest.mark.slow
@cli_test
def test_half_keeps_one_half_of_the_questions(dataset: Path, index_dir: Path) -> None:
    report = _run([str(dataset), "--json", "--data-dir", str(index_dir), "--half", "odd"])
    # q1, q3, q5 and the unanswerable q7 end in an odd number.
    assert report["half"] == "odd"
    assert report["counts"]["questions"] == 4 and report["counts"]["retrieval_evaluated"] == 3
    later = _run([str(dataset), "--json", "--data-dir", str(index_dir), "--skip-ingest", "--half", "B", "--limit", "2"])
    # Dated 2030: all after the split.
    assert later["counts"]["questions"] == 7 and later["counts"]["retrieval_evaluated"] == 2


def test_half_of_splits_by_news_week_or_id_parity() -> None:
    def q(qid: str, date: str = "") -> Question:
        return Question(id=qid, question="?", answer="", date=date)

    assert half_of(q("20260424_3"), "A") and not half_of(q("20260424_3"), "B")
    assert half_of(q(f"{WEEK_SPLIT}_0"), "A")  # the split week is the last of half A
    assert half_of(q("20260508_2"), "B") and half_of(q("20260508_2"), "even")
    assert half_of(q("n17", "2026-06-02"), "B") and half_of(q("n17", "2026-06-02"), "odd")
    assert half_of(q("n18", "2026-01-02"), "A")
    with pytest.raises(ValueError, match="unknown half"):
        half_of(q("n1"), "C")


@pytest.mark.slow
@cli_test
def test_answers_with_the_extractive_backend(dataset: Path, tmp_path: Path) -> None:
    details = tmp_path / "details.jsonl"
    # No --data-dir: a throw-away index.
    report = _run([str(dataset), "--json", "--answers", "--backend", "extractive", "--details", str(details)])
    assert report["index"]["temporary"] is True
    assert report["backend"] == "extractive"
    assert report["counts"]["answers"] == 6  # answerable ones (the dataset has no null-type questions)
    for key in ("answer_contains_gold", "mc_accuracy", "citation_supported_rate"):
        assert 0 <= report[key] <= 1, key
    # The extractive backend quotes the one article that holds each answer.
    assert report["answer_contains_gold"] >= 5 / 6
    assert report["mc_accuracy"] >= 5 / 6
    lines = [json.loads(line) for line in details.read_text().splitlines()]
    assert {line["id"] for line in lines} == {f"q{i}" for i in range(1, 7)}
    assert all("answer" in line and "hybrid.hit_rank" in line for line in lines)
    # Each answer names the articles it cites (what a follow-up refers back to): the gold one when
    # the answer holds the gold answer, none when it refused.
    gold = {q["id"]: q["gold_article_ids"][0] for q in QUESTIONS if q["gold_article_ids"]}
    right = [line for line in lines if line["contains_gold"]]
    assert right and all(gold[line["id"]] in line["cited"] for line in right)
    assert all(line["cited"] == [] for line in lines if line["refused"])


@pytest.mark.slow
@cli_test
def test_evidence_only_dataset_builds_its_own_index(tmp_path: Path) -> None:
    """MultiHop-RAG layout: no articles.jsonl, evidence lists in the questions, null queries."""
    root = tmp_path / "mh"
    root.mkdir()
    rows = []
    by_id = {aid: (title, text) for aid, title, text in ARTICLES}
    for q in QUESTIONS[:6]:
        aid = q["gold_article_ids"][0]
        title, text = by_id[aid]
        first, second = text.split(". ")[:2]
        rows.append({"id": q["id"], "question": q["question"], "answer": q["answer"],
                     "type": "inference_query", "evidence": [
                         {"title": title, "source": "Example News", "url": f"https://news.example/{aid}",
                          "published_at": "2030-02-27T10:00:00+00:00", "fact": first + "."},
                         {"title": title, "source": "Example News", "url": f"https://news.example/{aid}",
                          "published_at": "2030-02-27T10:00:00+00:00", "fact": second + "."}]})
    rows.append({"id": "n1", "question": QUESTIONS[6]["question"], "answer": "Insufficient information.",
                 "type": "null_query", "evidence": []})
    (root / "questions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))

    dataset = load_dataset(root)
    assert len(dataset.evidence_articles) == 6 and dataset.articles_file is None
    assert sum(q.is_null for q in dataset.questions) == 1

    report = _run([str(root), "--json", "--answers", "--backend", "extractive"])
    assert report["counts"]["articles_indexed"] == 6
    assert report["counts"]["answerable"] == 6 and report["counts"]["null_questions"] == 1
    assert report["answer_hits@10"] >= report["answer_hits@1"] > 0
    assert report["article_mrr@10"] > 0.8
    assert not any(key.startswith("choices.") for key in report), "no question has choices to search with"
    assert "answer_contains_gold.inference_query" in report
    assert 0 <= report["refusal_rate"] <= 1 and report["counts"]["answers.null_query"] == 1


@pytest.mark.slow
@cli_test
def test_gold_only_in_a_sentence_flagged_unsupported_is_not_a_right_answer(
    dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reply citing one true sentence and adding the gold figure uncited (flagged "not supported" to the
    reader) counted as containing the gold answer: only the verified sentences count now; the old figure
    stays as answer_contains_gold_any_text."""
    from openai_standin import chat_endpoint

    reply = ("Researchers on the Vessbreen glacier used drones and stakes drilled into the ice [1]. "
             "The glacier retreated 212 meters and the comet was named Marigold.")
    details = tmp_path / "details.jsonl"
    with chat_endpoint(reply) as url:
        monkeypatch.setenv("NEWSQA_OPENAI_BASE_URL", url)
        report = _run([str(dataset), "--data-dir", str(tmp_path / "idx"), "--answers", "--backend", "openai",
                       "--no-retrieval", "--limit", "2", "--json", "--details", str(details)])
    rows = {row["id"]: row for row in map(json.loads, details.read_text().splitlines())}
    assert "212 meters" in rows["q2"]["answer"] and rows["q2"]["contains_gold_any_text"] is True
    assert rows["q2"]["contains_gold"] is False, rows["q2"]
    assert report["answer_contains_gold"] == 0 and report["answer_contains_gold_any_text"] > 0


def test_a_details_folder_missing_or_a_model_server_down_stops_the_run_before_it_starts(
    dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both ended a whole run (an hour on rtqa with a model) in a traceback, the report lost."""
    from conftest import closed_port

    runner = CliRunner()
    missing = tmp_path / "no-such-folder" / "details.jsonl"
    result = runner.invoke(cli, ["evaluate", str(dataset), "--json", "--details", str(missing)])
    assert result.exit_code == 2 and "does not exist" in result.output and "--details" in result.output, result.output
    assert not missing.parent.exists()
    model = f"http://127.0.0.1:{closed_port()}/v1"
    monkeypatch.setenv("NEWSQA_OPENAI_BASE_URL", model)
    result = runner.invoke(cli, ["evaluate", str(dataset), "--answers", "--backend", "openai", "--no-retrieval",
                                 "--json"])
    assert result.exit_code == 1 and not result.stdout, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert f"cannot reach the answer model at {model}" in result.output and "NEWSQA_OPENAI_BASE_URL" in result.output


def test_usage_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["evaluate", str(tmp_path)])
    assert result.exit_code == 2 and "questions.jsonl" in result.output
    result = runner.invoke(cli, ["evaluate", str(tmp_path), "--skip-ingest"])
    assert result.exit_code == 2 and "--data-dir" in result.output
    assert "answer_hits@1" in runner.invoke(cli, ["evaluate", "--help"]).output


# --- the pieces ----------------------------------------------------------------------------------


def test_matching_rules() -> None:
    assert contains("Stocks fell in NEW YORK on Monday", "new york")
    assert contains("the Venezuelan army", "Venezuela")  # the retrieval rule is a plain substring
    assert mentions("It did not say.", "no") is False  # the answer rule wants whole words
    assert mentions("No, it did not.", "no")
    assert mentions("The reply was: insufficient information", "Insufficient information.")
    # Quotes around a title are not part of the answer; quotes inside it are.
    assert mentions("Sinners won best picture.", "“Sinners”")
    assert mentions('The film "Sinners" won.', "“Sinners”")
    assert not mentions("The sinner won.", "“Sinners”")
    assert mentions("The Handmaid's Tale ended.", "“The Handmaid’s Tale”")


def test_pick_choice() -> None:
    def never(text: str, choices: Any) -> list[float]:
        raise AssertionError("similarity should not be needed")

    assert pick_choice("The ferry was the Marigold [1].", ["Bluebell", "Marigold"], never) == 1
    assert pick_choice("Bluebell first, then Marigold.", ["Marigold", "Bluebell"], never) == 1
    assert pick_choice("It was a yellow flower.", ["Rock", "Marigold"], lambda t, c: [0.1, 0.7]) == 1
    assert pick_choice("", ["a", "b"], never) is None


def test_article_ranking_and_percentile() -> None:
    def passage(cid: str, aid: str, dups: list[str] | None = None) -> Passage:
        return Passage(chunk_id=cid, article_id=aid, text="", start=0, end=0, copies=[Copy(d) for d in dups or []])

    ranked = [passage("1", "x"), passage("2", "x", ["z"]), passage("3", "y")]
    assert article_ranking(ranked) == ["x", "y"]
    assert article_ranking(ranked, credit_duplicates=True) == ["x", "z", "y"]
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([5], 95) == 5
    assert math.isnan(percentile([], 50))  # no values: no number that could pass for a latency


@pytest.mark.slow
@cli_test
def test_ranking_lab_replays_the_search_and_compares_settings(
    dataset: Path, index_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """benchmarks/ranking_lab.py on the index evaluate built: its ranking agrees with the command's
    (every answer first), the paired comparison counts every question, and bad fields are refused."""
    import importlib.util
    import sys

    _run([str(dataset), "--json", "--data-dir", str(index_dir), "--limit", "1"])  # the index exists
    path = Path(__file__).parents[1] / "benchmarks" / "ranking_lab.py"
    spec = importlib.util.spec_from_file_location("ranking_lab", path)
    assert spec and spec.loader
    lab = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "ranking_lab", lab)
    spec.loader.exec_module(lab)
    base = ["ranking_lab.py", str(dataset), "--data-dir", str(index_dir)]
    monkeypatch.setattr(sys, "argv", [*base, "--set", "rrf_k=60", "--against", "recency_weight=0"])
    lab.main()
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("baseline  {'recency_weight': 0.0}:") and "article_mrr@10 1.000" in lines[0]
    assert lines[1].startswith("candidate {'rrf_k': 60.0}:") and "answer_hits@1 1.000" in lines[1]
    assert lines[2].endswith("better 0, worse 0, same 6")
    monkeypatch.setattr(sys, "argv", [*base, "--set", "no_such_field=1"])
    with pytest.raises(SystemExit, match="no_such_field"):
        lab.main()

    # Two indexes of the same articles, chunked differently: the baseline comes from the other one.
    small = index_dir.parent / "small-chunks"
    monkeypatch.setenv("NEWSQA_CHUNK_TOKENS", "40")
    _run([str(dataset), "--json", "--data-dir", str(small), "--limit", "1"])
    monkeypatch.delenv("NEWSQA_CHUNK_TOKENS")
    with closing(sqlite3.connect(small / "catalog.sqlite3")) as a, \
            closing(sqlite3.connect(index_dir / "catalog.sqlite3")) as b:
        count = "SELECT count(*) FROM chunks"
        assert a.execute(count).fetchone()[0] > b.execute(count).fetchone()[0], "40-piece chunks are more"
    monkeypatch.setattr(sys, "argv", [*base, "--against-data-dir", str(small)])
    lab.main()
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"baseline  defaults [{small}]:") and "article_mrr@10" in lines[0]
    assert lines[1].startswith("candidate defaults:") and "article_mrr@10 1.000" in lines[1]
    counts = re.search(r"better (\d+), worse (\d+), same (\d+)$", lines[2])
    assert counts and sum(map(int, counts.groups())) == 6


@pytest.mark.slow
@cli_test
def test_sentence_lab_replays_the_search_and_scores_sentences(
    dataset: Path, index_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """benchmarks/sentence_lab.py over fusion_lab.py's cached candidates of the index evaluate built: its
    ``product`` order is ``search()``'s (no collapse) question by question, each passage's sentences are
    encoded once, and a second stage of weight 0 — or one that only swaps passages of one article — leaves
    article MRR where it was."""
    import pickle
    import sys

    import benchmarks.fusion_lab as fusion
    import benchmarks.sentence_lab as lab
    from retrieval.evaluate import as_of
    from retrieval.search import search
    from retrieval.settings import Settings

    _run([str(dataset), "--json", "--data-dir", str(index_dir), "--limit", "1"])  # the index exists
    questions = load_dataset(dataset).answerable
    pools, rows = fusion.gather(index_dir, questions)
    cache = tmp_path / "pools.pkl"
    cache.write_bytes(pickle.dumps(([vars(p) for p in pools], rows)))
    settings = Settings(data_dir=index_dir)
    store = Store(settings)
    for q, pool in zip(questions, pools, strict=True):
        table = fusion.describe(pool, rows, q, settings, 6)
        product = lab.Product(table, pool, rows, settings, 6)
        shown = table.ranking(product.scores(product.order), 6, round(6 * settings.dense_reserve))
        mine = [table.ids[j] for j in shown]
        found = search(store, q.question, k=6, filters=as_of(q), collapse=False).passages
        assert mine == [p.chunk_id for p in found], q.id

    base = ["sentence_lab.py", str(dataset), "--data-dir", str(index_dir), "--cache", str(cache), "--k", "6"]
    monkeypatch.setattr(sys, "argv", [*base, "encode", "--top", "10", "--variant", "plain", "win2"])
    lab.main()
    plain = pickle.loads(cache.with_name("pools.sent-plain.pkl").read_bytes())
    assert len(plain) == len(rows) and all(v.shape == (3, 384) for v in plain.values()), "3 sentences an article"
    assert all(v.shape == (2, 384) for v in pickle.loads(cache.with_name("pools.sent-win2.pkl").read_bytes()).values())
    monkeypatch.setattr(sys, "argv", [*base, "grid", "--method", "rrf", "article", "--feature", "max", "win2",
                                      "--top", "6", "--weight", "0", "1"])
    lab.main()
    out = capsys.readouterr().out
    assert "half A (" in out and "product article_rr 1.000" in out
    for cell in ("rrf max top 6 w 0.0", "article max top 6 w 1.0", "article win2 top 6 w 1.0"):
        block = out.split(f"== {cell}\n")[1].split("\n==")[0]
        assert "article_rr +0.000 ± 0.000 (0+/0−)" in block, cell
    assert "== rrf win2 top 6 w 1.0" in out


def test_sentence_lab_units() -> None:
    """The units sentence_lab.py embeds: sentences of at least MIN_CHARS (a dateline alone is not one),
    "title: sentence", windows of two adjacent sentences."""
    import benchmarks.sentence_lab as lab

    row = {"title": "Tram extension", "text": "OSLO (AP).\nThe council voted to extend the tram line.\n"
                                                "Work starts in the spring, the mayor said on Monday."}
    assert lab.units(row, "plain") == ["The council voted to extend the tram line.",
                                       "Work starts in the spring, the mayor said on Monday."]
    assert lab.units(row, "title")[0] == "Tram extension: The council voted to extend the tram line."
    assert lab.units(row, "win2") == ["The council voted to extend the tram line. "
                                      "Work starts in the spring, the mayor said on Monday."]
    assert lab.units({"title": "", "text": "Short."}, "plain") == ["Short."]
