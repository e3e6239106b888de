"""``python -m retrieval`` through its entry point: ask (text and --json), stats, help, errors."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from indexes import build_index
from openai_standin import chat_endpoint

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


def test_ask_on_an_empty_index_explains_how_to_ingest(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["ask", "anything?", "--backend", "extractive", "--data-dir",
                                      str(tmp_path / "empty")])
    assert result.exit_code == 1
    assert "python -m ingest" in result.output


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
