"""``python -m retrieval`` through its entry point: ask (text and --json), stats, help, errors."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from indexes import build_index
from openai_standin import chat_endpoint
from test_answer import INJECTED, OTHER_OUTLET

from retrieval.cli import cli

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ROOT / "corpus" / "us-allies-intelligence-sharing-trump-russia.txt"


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> Path:
    return build_index(tmp_path_factory, embedder, {BUNDLED.name: BUNDLED})


def test_every_command_has_help() -> None:
    runner = CliRunner()
    top = runner.invoke(cli, ["--help"])
    assert top.exit_code == 0 and "Examples" in top.output
    for name, command in cli.commands.items():
        assert command.help and len(command.help) > 20, f"command {name} has no help text"
        result = runner.invoke(cli, [name, "--help"])
        assert result.exit_code == 0, result.output
        for param in command.params:
            if param.param_type_name == "option":
                assert getattr(param, "help", None), f"{name} {param.opts} has no help"


def test_ask_json_shape_through_the_module_entry_point(index_dir: Path) -> None:
    env = {**os.environ, "NEWSQA_DATA_DIR": str(index_dir), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "retrieval", "ask", "What did Pete Hegseth reportedly order?",
         "--backend", "extractive", "--json"],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert {"answer", "refused", "citations", "timings"} <= data.keys()
    assert data["refused"] is False and "Cyber Command" in data["answer"]
    citation = data["citations"][0]
    assert {"n", "article_id", "title", "url", "published", "outlet", "quote", "start", "end",
            "supported"} <= citation.keys()
    assert citation["n"] == 1 and citation["supported"] is True
    assert citation["end"] - citation["start"] == len(citation["quote"])


def test_ask_text_output_and_refusal_exit_code(index_dir: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(cli, ["ask", "What did Canada's intelligence service say?", "--backend", "extractive",
                             "--data-dir", str(index_dir)])
    assert ok.exit_code == 0, ok.output
    assert "Sources:" in ok.output and "[1]" in ok.output
    refused = runner.invoke(cli, ["ask", "Who won the football world cup final?", "--backend", "extractive",
                                  "--data-dir", str(index_dir), "--json"])
    assert refused.exit_code == 3
    assert json.loads(refused.output)["refused"] is True


HOSTILE_TERMINAL = """---
title: Vellmoor ferry cancelled\x1b]0;HACKED TITLE\x07\rOFFICIAL: all safe (verified)
outlet: Coastal \x1b[31mGazette
published: 2026-03-02
---
The Vellmoor ferry service was cancelled on Monday \x1b[2J\x1b[H because of a storm, the operator said.
The operator said the \x1b]8;;https://evil.example\x1b\\Vellmoor ferry\x1b]8;;\x1b\\ would sail again on Friday.
"""


def test_ask_prints_nothing_that_acts_on_the_terminal(
    tmp_path_factory: pytest.TempPathFactory, embedder: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An index written before ingest dropped control characters: escape sequences (clear screen,
    window title, OSC 8 links) and carriage returns in its articles are not printed by `ask`."""
    with monkeypatch.context() as old_ingest:
        old_ingest.setattr("ingest.chunking.printable", lambda text: text)
        data = build_index(tmp_path_factory, embedder, {"ferry.md": HOSTILE_TERMINAL})
    result = CliRunner().invoke(cli, ["ask", "Why was the Vellmoor ferry service cancelled?", "--backend",
                                      "extractive", "--data-dir", str(data)])
    assert result.exit_code == 0, result.output
    assert "storm" in result.output and "Vellmoor ferry cancelled" in result.output
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", result.output), repr(result.output)


def test_ask_on_an_empty_index_explains_how_to_ingest(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["ask", "anything?", "--backend", "extractive", "--data-dir",
                                      str(tmp_path / "empty")])
    assert result.exit_code == 1
    assert "python -m ingest" in result.output
    result = CliRunner().invoke(cli, ["ask", "anything?", "--backend", "extractive", "--data-dir",
                                      str(tmp_path / "empty"), "--json"])
    assert result.exit_code == 1 and "python -m ingest" in json.loads(result.stdout)["error"]


def test_reading_commands_on_a_mistyped_data_dir_say_so_and_create_nothing(tmp_path: Path) -> None:
    """`stats` / `ask` created an empty index at a mistyped path ("articles: 0"; scripts/run.sh would then
    ingest corpus/ there), `evaluate --skip-ingest` blamed "embedding model None"."""
    typo = tmp_path / "typo"
    runner = CliRunner()
    for args in (["stats"], ["ask", "What did Canada say?", "--backend", "extractive"],
                 ["evaluate", str(tmp_path), "--skip-ingest"]):
        result = runner.invoke(cli, [*args, "--data-dir", str(typo)])
        assert result.exit_code == 1 and f"No index at {typo.resolve()}" in result.output, (args, result.output)
        assert "embedding model None" not in result.output and "Traceback" not in result.output
        assert not typo.exists(), args
    result = runner.invoke(cli, ["stats", "--json", "--data-dir", str(typo)])
    data = json.loads(result.stdout)
    assert result.exit_code == 1 and data["exists"] is False and data["articles"] == 0 and "No index" in data["error"]


def test_ask_refuses_an_index_of_another_embedding_format_naming_the_setting(
    index_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`ingest` refused it; `ask` searched with int8 vectors against float ones, silently."""
    monkeypatch.setenv("NEWSQA_EMBEDDING_DTYPE", "onnx-int8")
    result = CliRunner().invoke(cli, ["ask", "What did Canada say?", "--backend", "extractive",
                                      "--data-dir", str(index_dir), "--json"])
    assert result.exit_code == 1, result.output
    error = json.loads(result.stdout)["error"]
    assert "--rebuild" in error and "set NEWSQA_EMBEDDING_DTYPE back" in error, error


@pytest.mark.parametrize(("variable", "value", "says"), [
    ("NEWSQA_K", "abc", "NEWSQA_K='abc': Input should be a valid integer"),
    ("NEWSQA_K", "0", "NEWSQA_K='0': Input should be greater than or equal to 1 (default: 6)"),
    ("NEWSQA_UPLOADS", "yes", "NEWSQA_UPLOADS='yes'"),
    ("NEWSQA_DATA_DIR", "", "NEWSQA_DATA_DIR='': is empty"),
    ("NEWSQA_MODEL_CACHE_DIR", "", "NEWSQA_MODEL_CACHE_DIR='': is empty"),
    ("NEWSQA_COLLECTION", "x", "NEWSQA_COLLECTION='x': must be 3-512"),
    ("NEWSQA_EMBEDDING_MODEL", "/no/such/model", "NEWSQA_EMBEDDING_MODEL='/no/such/model': no such folder"),
])
def test_a_bad_setting_is_named_as_its_variable_by_every_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, says: str
) -> None:
    """A wrong NEWSQA_* value ended every command in a pydantic traceback naming the field ("k"); an empty
    path made the current folder the index (or the model cache); bad names and paths gave bare Python errors."""
    from ingest.cli import main as ingest_main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(variable, value)
    (tmp_path / "ds").mkdir()
    for command, args in ((cli, ["stats"]), (cli, ["ask", "What did Canada say?", "--backend", "extractive"]),
                          (cli, ["evaluate", str(tmp_path / "ds")]), (ingest_main, [str(BUNDLED)])):
        result = CliRunner().invoke(command, args)
        assert result.exit_code == 2 and says in result.output, (args, result.output)
        assert "Traceback" not in result.output and "errors.pydantic.dev" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]  # nothing written in the current folder


def test_a_data_dir_that_is_a_file_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    result = CliRunner().invoke(cli, ["stats", "--data-dir", str(afile)])
    assert result.exit_code == 2 and "NEWSQA_DATA_DIR" in result.output and "is a file, not a folder" in result.output
    monkeypatch.setenv("NEWSQA_MODEL_CACHE_DIR", str(afile / "cache"))
    result = CliRunner().invoke(cli, ["prepare"])
    assert result.exit_code == 2 and "NEWSQA_MODEL_CACHE_DIR" in result.output, result.output


def test_a_misspelt_setting_is_warned_about_with_the_close_name(
    index_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSQA_DATA_DRI", "/my/index")
    monkeypatch.setenv("NEWSQA_WHEEL_CACHE", "/tmp/wheels")  # scripts/setup.sh's: no warning
    result = CliRunner().invoke(cli, ["stats", "--json", "--data-dir", str(index_dir)])
    assert result.exit_code == 0
    assert "NEWSQA_DATA_DRI is no newsqa setting" in result.stderr and "did you mean NEWSQA_DATA_DIR?" in result.stderr
    assert "WHEEL" not in result.stderr and json.loads(result.stdout)["articles"] == 1


def test_bad_date_is_a_usage_error(index_dir: Path) -> None:
    result = CliRunner().invoke(cli, ["ask", "What did Canada say?", "--backend", "extractive", "--since",
                                      "yesterday", "--data-dir", str(index_dir)])
    assert result.exit_code == 2 and "YYYY-MM-DD" in result.output


def test_stats_json(index_dir: Path) -> None:
    result = CliRunner().invoke(cli, ["stats", "--json", "--data-dir", str(index_dir)])
    assert result.exit_code == 0
    facts = json.loads(result.output)
    assert facts["articles"] == 1 and facts["chunks"] == facts["vectors"] > 10
    assert facts["keyword_engine"] == "tantivy"  # the ingest built the keyword engine's files


def test_stats_text_shows_times_and_outlets_for_people(index_dir: Path) -> None:
    """"last_ingest: 1796090672.0077727" and "outlets: ['usatoday.com']" were internals."""
    result = CliRunner().invoke(cli, ["stats", "--data-dir", str(index_dir)])
    assert result.exit_code == 0, result.output
    lines = {k.strip(): v.strip() for k, v in (line.split(":", 1) for line in result.output.splitlines())}
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", lines["last_ingest"]), lines
    assert "[" not in lines["outlets"] and lines["outlets"], lines


# One true and one false sentence (Hegseth gave the order, not Canada).
TRUE_AND_FALSE = ("Pete Hegseth reportedly ordered US Cyber Command to halt offensive cyber operations against "
                  "Russia [1]. Canada ordered US Cyber Command to halt offensive cyber operations against Russia [1].")


def test_ask_text_output_names_the_reason_of_an_unsupported_sentence(
    index_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with chat_endpoint(TRUE_AND_FALSE) as url:
        monkeypatch.setenv("NEWSQA_OPENAI_BASE_URL", url)
        result = CliRunner().invoke(cli, ["ask", "What did Pete Hegseth reportedly order?", "--backend", "openai",
                                          "--data-dir", str(index_dir)])
    assert result.exit_code == 0, result.output
    flagged = [line for line in result.output.splitlines() if "not supported by the cited passages" in line]
    assert len(flagged) == 1 and "Canada ordered" in flagged[0], result.output
    assert re.search(r"not supported by the cited passages \(.+\): Canada", flagged[0]), flagged[0]


@pytest.mark.parametrize("finish", ["length", None])
def test_an_answer_cut_off_is_not_passed_whole(index_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                               finish: str | None) -> None:
    """At the token limit, or when the stream just stops, the last words are a prefix of a true sentence
    ("… to halt offensive [1]") and passed the check as verified: the unfinished sentence is left out
    and named."""
    cut = TRUE_AND_FALSE.split(" Canada")[0] + " Pete Hegseth reportedly ordered US Cyber Command to halt [1]"
    with chat_endpoint(cut, finish=finish) as url:
        monkeypatch.setenv("NEWSQA_OPENAI_BASE_URL", url)
        result = CliRunner().invoke(cli, ["ask", "What did Pete Hegseth reportedly order?", "--backend", "openai",
                                          "--data-dir", str(index_dir), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["answer"].endswith("against Russia [1].") and data["answer"].count("[1]") == 1, data["answer"]
    assert data["unsupported"] == [{"sentence": "Pete Hegseth reportedly ordered US Cyber Command to halt [1]",
                                    "reason": "the model's answer was cut off here"}], data["unsupported"]


def test_an_endless_reply_is_read_only_up_to_the_token_limit(index_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An endpoint ignoring max_tokens sent 171,000 characters: `ask` took 55 s and listed ~3,000
    unsupported sentences. The reply is read up to the limit and its unfinished end left out."""
    endless = TRUE_AND_FALSE.split(" Canada")[0] + " The moon orbits Saturn [1]." * 5000
    monkeypatch.setenv("NEWSQA_MAX_TOKENS", "64")
    with chat_endpoint(endless) as url:
        monkeypatch.setenv("NEWSQA_OPENAI_BASE_URL", url)
        result = CliRunner().invoke(cli, ["ask", "What did Pete Hegseth reportedly order?", "--backend", "openai",
                                          "--data-dir", str(index_dir), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["answer"].startswith("Pete Hegseth reportedly ordered") and len(data["answer"]) < 64 * 8
    assert 1 <= len(data["unsupported"]) <= 20


def test_a_trickling_or_silent_model_server_is_bounded_by_the_request_timeout(
    index_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """NEWSQA_REQUEST_TIMEOUT bounded each read only: a server sending one character every 0.5 s kept `ask`
    for ~20 minutes, a silent one cost twice the timeout. It bounds the whole reply now: what came in time
    is the answer, cut off; nothing at all is an error naming the setting."""
    import time

    monkeypatch.setenv("NEWSQA_REQUEST_TIMEOUT", "3")
    question = ["ask", "What did Pete Hegseth reportedly order?", "--backend", "openai", "--data-dir", str(index_dir)]
    with chat_endpoint(TRUE_AND_FALSE, drip_s=0.25) as url:  # ~50 s for the whole reply
        monkeypatch.setenv("NEWSQA_OPENAI_BASE_URL", url)
        started = time.monotonic()
        result = CliRunner().invoke(cli, [*question, "--json"])
        took = time.monotonic() - started
    assert took < 20, took
    assert result.exit_code in (0, 3) and "Traceback" not in result.output, result.output
    assert "Canada ordered" not in json.loads(result.output)["answer"]  # the reply's end never came
    with chat_endpoint(TRUE_AND_FALSE, delay_s=30) as url:  # accepts, says nothing
        monkeypatch.setenv("NEWSQA_OPENAI_BASE_URL", url)
        result = CliRunner().invoke(cli, question)
        from retrieval.backends import get_chat_model
        from retrieval.settings import Settings

        model = get_chat_model(Settings(backend="openai"))
        assert model is not None
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            list(model.stream([("user", "Hi")]))
        took = time.monotonic() - started
    assert took < 4.5, took  # one timeout, not a retry's second one
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert "sent no answer within 3 s (NEWSQA_REQUEST_TIMEOUT)" in result.output, result.output


@pytest.mark.parametrize("drip_s", [0.0, 0.001])
def test_a_reasoning_models_think_block_is_not_the_answer(
    index_dir: Path, monkeypatch: pytest.MonkeyPatch, drip_s: float
) -> None:
    """deepseek-r1 / qwen3 send "<think>…</think>" first: it was shown as the answer, each reasoning sentence
    listed as unsupported. Left out, whole or streamed a character at a time."""
    true = TRUE_AND_FALSE.split(" Canada")[0]
    reply = f"<think>\nThe user asks about Hegseth. Passage 1 says he ordered it. I should cite it.\n</think>\n\n{true}"
    with chat_endpoint(reply, drip_s=drip_s) as url:
        monkeypatch.setenv("NEWSQA_OPENAI_BASE_URL", url)
        result = CliRunner().invoke(cli, ["ask", "What did Pete Hegseth reportedly order?", "--backend", "openai",
                                          "--data-dir", str(index_dir), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["answer"] == true and data["unsupported"] == [], data


def test_without_thinking_takes_out_a_leading_block_only() -> None:
    from retrieval.backends import without_thinking

    assert without_thinking("<think>hmm</think>\n\nAnswer [1].") == "Answer [1]."
    assert without_thinking("  <think>ran out of tokens while thinking") == ""
    assert without_thinking("Answer <think>x</think> [1].") == "Answer <think>x</think> [1]."


def test_a_model_server_or_chroma_server_that_is_down_is_named_not_a_traceback(
    index_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conftest import closed_port

    model = f"http://127.0.0.1:{closed_port()}/v1"
    monkeypatch.setenv("NEWSQA_OPENAI_BASE_URL", model)
    monkeypatch.setenv("NEWSQA_REQUEST_TIMEOUT", "5")
    result = CliRunner().invoke(cli, ["ask", "What did Pete Hegseth reportedly order?", "--backend", "openai",
                                      "--data-dir", str(index_dir)])
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert f"cannot reach the answer model at {model}" in result.output and "NEWSQA_OPENAI_BASE_URL" in result.output
    # Under --json a script reading stdout gets JSON, as from `ingest --json`.
    result = CliRunner().invoke(cli, ["ask", "What did Pete Hegseth reportedly order?", "--backend", "openai",
                                      "--data-dir", str(index_dir), "--json"])
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    assert data["refused"] is None and f"cannot reach the answer model at {model}" in data["error"]

    server = f"http://127.0.0.1:{closed_port()}"
    monkeypatch.setenv("NEWSQA_CHROMA_URL", server)
    result = CliRunner().invoke(cli, ["stats", "--data-dir", str(index_dir)])
    assert result.exit_code == 1 and f"the Chroma server at {server}" in result.output, result.output
    assert "NEWSQA_CHROMA_URL" in result.output


def test_failures_are_explained_with_the_folder_and_the_fix() -> None:
    import sqlite3

    from retrieval.errors import explain
    from retrieval.settings import Settings

    settings = Settings(data_dir=Path("/srv/news-index"))
    read_only = explain(sqlite3.OperationalError("unable to open database file"), settings)
    assert "/srv/news-index" in read_only and "NEWSQA_DATA_DIR" in read_only
    full = explain(RuntimeError("Error in compaction: database or disk is full"), settings)
    assert "/srv/news-index" in full and "is full" in full
    assert "NEWSQA_OPENAI_API_KEY" in explain(ValueError("... setting the OPENAI_API_KEY environment variable"),
                                              settings)
    assert explain(KeyError("x"), settings) == "KeyError: 'x'"
    # With a Chroma server set, a TypeError of newsqa's own code is not blamed on the server (it was).
    try:
        len(3)  # type: ignore[arg-type]
    except TypeError as exc:
        ours = explain(exc, settings, "http://127.0.0.1:8000")
    assert ours.startswith("TypeError:") and "Chroma" not in ours, ours


# Two small dated articles from two outlets, for the filters (test_answer's: the ferry one also carries
# a planted instruction, which never shows).
FERRY, APPLES = INJECTED, OTHER_OUTLET
FERRY_QUESTION = "What did the harbour council approve?"


@pytest.fixture(scope="module")
def outlets_dir(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> Path:
    return build_index(tmp_path_factory, embedder, {"ferry.md": FERRY, "apples.md": APPLES})


def ask_extractive(data_dir: Path, question: str, *flags: str) -> Any:
    return CliRunner().invoke(cli, ["ask", question, "--backend", "extractive", "--data-dir", str(data_dir),
                                    *flags])


@pytest.mark.parametrize("question", ["", "   "])
def test_empty_question_is_a_usage_error_without_traceback(index_dir: Path, question: str) -> None:
    result = ask_extractive(index_dir, question)
    assert result.exit_code == 2, result.output
    assert "QUESTION is empty" in result.output
    assert "Traceback" not in result.output and not isinstance(result.exception, ValueError)


@pytest.mark.parametrize("flag", ["--since", "--until", "--as-of"])
@pytest.mark.parametrize("value", ["2026-03-01xyz", "20260301", "2026-03-01T"])
def test_date_with_anything_after_the_day_is_a_usage_error(outlets_dir: Path, flag: str, value: str) -> None:
    result = ask_extractive(outlets_dir, FERRY_QUESTION, flag, value)
    assert result.exit_code == 2, result.output
    assert "YYYY-MM-DD" in result.output and repr(value) in result.output and flag in result.output


def test_a_complete_iso_timestamp_still_filters_by_its_day(outlets_dir: Path) -> None:
    result = ask_extractive(outlets_dir, FERRY_QUESTION, "--since", "2026-03-01T08:00:00Z", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["citations"][0]["outlet"] == "Coastal Gazette"


def test_reversed_date_range_is_a_usage_error(outlets_dir: Path) -> None:
    result = ask_extractive(outlets_dir, FERRY_QUESTION, "--since", "2026-05-01", "--until", "2026-01-01")
    assert result.exit_code == 2, result.output
    assert "--since 2026-05-01 is after --until 2026-01-01" in result.output


def test_outlet_matches_whatever_its_case(outlets_dir: Path) -> None:
    result = ask_extractive(outlets_dir, FERRY_QUESTION, "--outlet", "coastal GAZETTE", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["refused"] is False and {c["outlet"] for c in data["citations"]} == {"Coastal Gazette"}


def test_outlet_the_index_does_not_hold_is_a_usage_error_naming_those_it_holds(outlets_dir: Path) -> None:
    result = ask_extractive(outlets_dir, FERRY_QUESTION, "--outlet", "Nope", "--json")
    assert result.exit_code == 2, result.output
    assert "'Nope'" in result.output and "Coastal Gazette" in result.output and "Valley Times" in result.output


def test_unknown_outlet_error_names_the_first_twenty_outlets() -> None:
    from retrieval.cli import resolve_outlets

    known = [f"Outlet {i}" for i in range(25)]
    assert resolve_outlets(["outlet 3", "OUTLET 3", "Outlet 7"], known) == ("Outlet 3", "Outlet 7")
    with pytest.raises(click.BadParameter) as caught:
        resolve_outlets(["Nope"], known)
    message = caught.value.format_message()
    assert "Outlet 19" in message and "Outlet 20" not in message and "and 5 more" in message


def test_outlet_is_found_by_a_word_of_its_name(outlets_dir: Path) -> None:
    result = ask_extractive(outlets_dir, FERRY_QUESTION, "--outlet", "coastal", "--json")
    assert result.exit_code == 0, result.output
    assert {c["outlet"] for c in json.loads(result.output)["citations"]} == {"Coastal Gazette"}


@pytest.mark.parametrize(
    ("asked", "meant"),
    [
        ("Reuters", ("Reuters: UK News", "Reuters - Business News")),  # an outlet's feeds as older versions named them
        ("reuters: uk news", ("Reuters: UK News",)),
        ("guardian", ("The Guardian",)),  # a whole word of one name
        ("bbc", ("BBC News",)),
        ("The G", ("The Guardian",)),  # a unique prefix of the name
        ("reuters h", ("Reuters Health",)),
        ("sky", ("Sky News", "sky news")),  # one name in two spellings
    ],
)
def test_outlet_filter_forgives_case_sections_words_and_prefixes(asked: str, meant: tuple[str, ...]) -> None:
    from retrieval.cli import resolve_outlets

    known = ["The Guardian", "Reuters: UK News", "Reuters - Business News", "BBC News", "Sky News", "sky news",
             "Reuters Health", "The Times"]
    assert resolve_outlets([asked], known) == meant
    with pytest.raises(click.BadParameter) as caught:  # a prefix of a word inside a name is no match
        resolve_outlets(["Gua"], known)
    assert "no article from 'Gua'; its outlets are: The Guardian, Reuters: UK News" in caught.value.format_message()


@pytest.mark.parametrize(("asked", "candidates"), [("news", "BBC News, Sky News"), ("the", "The Guardian, The Times")])
def test_an_outlet_word_several_names_hold_is_a_usage_error_naming_them(asked: str, candidates: str) -> None:
    from retrieval.cli import resolve_outlets

    with pytest.raises(click.BadParameter) as caught:
        resolve_outlets([asked], ["The Guardian", "BBC News", "Sky News", "The Times"])
    message = caught.value.format_message()
    assert f"{asked!r} could mean several outlets" in message and candidates in message


def test_refusal_after_the_newest_article_says_so(outlets_dir: Path) -> None:
    result = ask_extractive(outlets_dir, FERRY_QUESTION, "--since", "2099-01-01", "--json")
    assert result.exit_code == 3, result.output
    data = json.loads(result.output)
    assert data["refused"] is True and data["citations"] == []
    for text in (data["note"], data["answer"]):
        assert "on or after 2099-01-01" in text and "newest article: 2026-03-02" in text


def test_refusal_under_an_outlet_filter_names_the_filter(outlets_dir: Path) -> None:
    result = ask_extractive(outlets_dir, FERRY_QUESTION, "--outlet", "Valley Times")
    assert result.exit_code == 3, result.output
    assert "Only articles from Valley Times were searched" in result.output
    before = ask_extractive(outlets_dir, FERRY_QUESTION, "--until", "2020-01-01", "--json")
    assert before.exit_code == 3, before.output
    assert "No ingested article is published on or before 2020-01-01" in json.loads(before.output)["note"]
