"""The ``python -m ingest`` command line: help, JSON report, exit codes, bad input named with reasons."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result
from conftest import ROOT, FakeEmbedder, article_text, write_articles
from pdfs import make_pdf

from ingest.cli import main
from retrieval.settings import Settings
from retrieval.store import Embedder

REQUIRED_KEYS = {"added", "updated", "unchanged", "deleted", "failed"}


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def report_of(result: Result) -> dict[str, object]:
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, f"--json must print exactly one line, got: {result.stdout!r}"
    return json.loads(lines[0])


def check_shape(report: dict[str, object]) -> None:
    assert set(report) >= REQUIRED_KEYS
    for key in REQUIRED_KEYS - {"failed"}:
        assert isinstance(report[key], int) and not isinstance(report[key], bool), key
    assert isinstance(report["failed"], list)
    for failure in report["failed"]:  # type: ignore[union-attr]
        assert set(failure) == {"source", "reason"} and all(isinstance(v, str) and v for v in failure.values())


# --- help and usage --------------------------------------------------------------------------------
def test_help_documents_every_option_with_examples() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    text = result.output
    assert "Usage:" in text and "SOURCES..." in text
    for param in main.params:
        if isinstance(param, click.Option):
            assert param.help and len(param.help) > 10, f"{param.name} has no help"
            assert param.opts[0] in text, param.opts[0]
    assert "Examples:" in text
    assert "python -m ingest corpus/" in text and "--sync" in text and "--json" in text
    assert "Exit code 0" in text or "exit code 0" in text.lower()
    assert "4 when the ingest stopped" in " ".join(text.split())
    assert invoke("-h").output == text


def test_no_sources_is_a_usage_error() -> None:
    result = invoke()
    assert result.exit_code == 2
    assert "Missing argument 'SOURCES...'" in result.output


def test_rebuild_and_dry_run_exclude_each_other(tmp_path: Path) -> None:
    write_articles(tmp_path / "news", 1)
    result = invoke(tmp_path / "news", "--rebuild", "--dry-run")
    assert result.exit_code == 2
    assert "--rebuild and --dry-run" in result.output
    assert not (tmp_path / "data").exists()


def test_unknown_option_is_a_usage_error(tmp_path: Path) -> None:
    result = invoke(tmp_path, "--frobnicate")
    assert result.exit_code == 2 and "No such option" in result.output


# --- reports and exit codes ------------------------------------------------------------------------
def test_json_report_and_exit_code_0(
    tmp_path: Path, cli_embedder: Callable[[Embedder], None], fake_embedder: FakeEmbedder
) -> None:
    cli_embedder(fake_embedder)
    write_articles(tmp_path / "news", 3)
    first = invoke(tmp_path / "news", "--json")
    assert first.exit_code == 0, first.output
    report = report_of(first)
    check_shape(report)
    assert {k: report[k] for k in REQUIRED_KEYS} == {
        "added": 3, "updated": 0, "unchanged": 0, "deleted": 0, "failed": []}
    assert report["chunks"] == len(fake_embedder.encoded) > 0
    assert (tmp_path / "data" / "catalog.sqlite3").exists()  # NEWSQA_DATA_DIR was honoured

    again = report_of(invoke(tmp_path / "news", "--json"))
    assert (again["unchanged"], again["chunks"]) == (3, 0)


def test_human_summary_names_failures_on_stderr(
    tmp_path: Path, cli_embedder: Callable[[Embedder], None], fake_embedder: FakeEmbedder
) -> None:
    cli_embedder(fake_embedder)
    write_articles(tmp_path / "news", 2)
    (tmp_path / "news" / "empty.txt").write_text("")
    result = invoke(tmp_path / "news")
    assert result.exit_code == 1
    assert "added 2, updated 0, unchanged 0, deleted 0, failed 1" in result.stdout
    assert str(tmp_path / "data") in result.stdout
    assert f"failed: {tmp_path / 'news' / 'empty.txt'}: the file is empty" in result.stderr


def test_bad_input_is_named_and_the_rest_ingested(
    tmp_path: Path, cli_embedder: Callable[[Embedder], None], embedder: Embedder
) -> None:
    cli_embedder(embedder)
    inbox = tmp_path / "inbox"
    good = write_articles(inbox, 2)
    (inbox / "empty.txt").write_bytes(b"")
    (inbox / "binary.txt").write_bytes(b"GIF89a\x01\x00\x01\x00\x00\xff\x00" + bytes(range(256)))
    (inbox / "mangled.md").write_bytes(b"Budget vote\n\nThe vote was \x81\x8d\x8f\x90\x9d close.\n")
    with (inbox / "huge.txt").open("wb") as handle:
        handle.write(article_text(99).encode())
        handle.truncate(25_000_000)
    (inbox / "dump.jsonl").write_text(
        json.dumps({"id": "d1", "title": "Dump One", "text": "The first record of the dump is fine."}) + "\n"
        + '{"id": "d2", "title": "Dump Two", "text": "cut off\n'
        + json.dumps({"id": "d3", "title": "Dump Three", "text": "The third record is fine too."}) + "\n"
    )
    (inbox / "slides.pptx").write_bytes(b"PK\x03\x04")

    result = invoke(inbox, "--json")
    assert result.exit_code == 1
    report = report_of(result)
    check_shape(report)
    assert report["added"] == len(good) + 2
    reasons = {Path(f["source"]).name: f["reason"] for f in report["failed"]}  # type: ignore[union-attr]
    assert set(reasons) == {"empty.txt", "binary.txt", "mangled.md", "huge.txt", "dump.jsonl"}
    assert reasons["empty.txt"] == "the file is empty"
    assert reasons["binary.txt"].startswith("binary file")
    assert reasons["mangled.md"].startswith("invalid UTF-8 at byte 26")
    assert "25 MB" in reasons["huge.txt"] and "refused" in reasons["huge.txt"]
    assert reasons["dump.jsonl"].startswith("line 2: broken JSON")
    skipped = {Path(f["source"]).name: f["reason"] for f in report["skipped"]}  # type: ignore[attr-defined]
    assert list(skipped) == ["slides.pptx"]  # a type no loader reads: skipped, not failed
    assert skipped["slides.pptx"].startswith("unsupported file type '.pptx'")

    settings = Settings()
    from retrieval.store import Store

    titles = {r["title"] for r in Store(settings, embedder=embedder).catalog._query("SELECT title FROM articles")}
    assert titles == {"Port Alder Story 0: The Harbour Council Decides",
                      "Kessel Story 1: The Harbour Council Decides", "Dump One", "Dump Three"}


def test_dry_run_reports_and_writes_nothing(
    tmp_path: Path, cli_embedder: Callable[[Embedder], None], fake_embedder: FakeEmbedder
) -> None:
    cli_embedder(fake_embedder)
    write_articles(tmp_path / "news", 2)
    result = invoke(tmp_path / "news", "--dry-run")
    assert result.exit_code == 0
    assert result.stdout.startswith("[dry run, nothing written] would be: added 2")
    assert not (tmp_path / "data").exists()
    assert fake_embedder.encoded == []


def test_files_gone_from_a_folder_are_said_without_sync_and_deleted_with_it(
    tmp_path: Path, cli_embedder: Callable[[Embedder], None], fake_embedder: FakeEmbedder
) -> None:
    cli_embedder(fake_embedder)
    paths = write_articles(tmp_path / "news", 3)
    invoke(tmp_path / "news")
    paths[0].unlink()
    result = invoke(tmp_path / "news")
    assert f"1 indexed articles' files are gone from {tmp_path / 'news'}: run with --sync" in result.stdout
    report = report_of(invoke(tmp_path / "news", "--json"))
    assert report["deleted"] == 0 and report["gone"] == {str(tmp_path / "news"): 1}
    assert report_of(invoke(tmp_path / "news", "--json", "--sync"))["deleted"] == 1


def test_data_dir_option_beats_the_environment(
    tmp_path: Path, cli_embedder: Callable[[Embedder], None], fake_embedder: FakeEmbedder
) -> None:
    cli_embedder(fake_embedder)
    write_articles(tmp_path / "news", 1)
    result = invoke(tmp_path / "news", "--data-dir", tmp_path / "elsewhere", "--json")
    assert result.exit_code == 0
    assert (tmp_path / "elsewhere" / "catalog.sqlite3").exists()
    assert not (tmp_path / "data").exists()


def test_index_of_another_model_is_a_clean_error(
    tmp_path: Path, cli_embedder: Callable[[Embedder], None], fake_embedder: FakeEmbedder
) -> None:
    cli_embedder(fake_embedder)
    write_articles(tmp_path / "news", 1)
    invoke(tmp_path / "news")

    class OtherModel(FakeEmbedder):
        @property
        def name(self) -> str:
            return "other-model"

    cli_embedder(OtherModel())
    result = CliRunner().invoke(main, [str(tmp_path / "news")])
    assert result.exit_code == 4  # the ingest stopped (not "some sources failed")
    assert "Error: The index in" in result.output and "--rebuild" in result.output
    assert "Traceback" not in result.output
    assert invoke(tmp_path / "news", "--rebuild", "--json").exit_code == 0


# --- PDF articles ----------------------------------------------------------------------------------
def _pdf_inbox(folder: Path) -> Path:
    folder.mkdir()
    make_pdf(folder / "budget.pdf", [
        ["Kessel Town Budget 2026", "",
         "The town council of Kessel approved a budget of 41 million euros on Thursday, with most of the",
         "new money going to the tram line along the river."],
        ["The second page is about the library. The council cut the library's opening hours on",
         "Sundays to save 80,000 euros a year, a decision the librarians' union called short-sighted."],
    ], title="Kessel Town Budget 2026")
    make_pdf(folder / "scanned-letter.pdf", [[]], image_only=True)
    (folder / "broken.pdf").write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >>\nendobj\n")
    return folder


def test_pdfs_through_the_cli_scans_and_damaged_files_named(
    tmp_path: Path, cli_embedder: Callable[[Embedder], None], fake_embedder: FakeEmbedder
) -> None:
    cli_embedder(fake_embedder)
    inbox = _pdf_inbox(tmp_path / "inbox")
    result = invoke(inbox, "--json")
    assert result.exit_code == 1
    report = report_of(result)
    check_shape(report)
    assert report["added"] == 2  # the budget's two pages
    reasons = {Path(f["source"]).name: f["reason"] for f in report["failed"]}  # type: ignore[union-attr]
    assert set(reasons) == {"scanned-letter.pdf", "broken.pdf"}
    assert reasons["scanned-letter.pdf"].startswith("no text layer")
    assert reasons["broken.pdf"].startswith("not a readable PDF")

    from retrieval.store import Store

    store = Store(Settings(), embedder=fake_embedder)
    rows = store.catalog._query("SELECT title, source, text FROM articles ORDER BY source")
    assert [(r["title"], Path(r["source"]).name) for r in rows] == [
        ("Kessel Town Budget 2026 (p. 1)", "budget.pdf#page=1"),
        ("Kessel Town Budget 2026 (p. 2)", "budget.pdf#page=2"),
    ]
    assert "opening hours on Sundays" in rows[1]["text"]  # the line break inside the sentence is gone
    hits = store.catalog.keyword_search("library opening hours Sundays", 5)
    assert hits and store.catalog.chunks_by_id([hits[0].chunk_id])[hits[0].chunk_id]["title"].endswith("(p. 2)")
    # Unchanged files are skipped on the next run; the failures are named again.
    again = report_of(invoke(inbox, "--json"))
    assert (again["unchanged"], again["added"], len(again["failed"])) == (2, 0, 2)  # type: ignore[arg-type]


@pytest.mark.slow
def test_pdf_answer_cites_its_page_with_the_real_model(
    tmp_path: Path, cli_embedder: Callable[[Embedder], None], embedder: Embedder
) -> None:
    cli_embedder(embedder)
    inbox = _pdf_inbox(tmp_path / "inbox")
    assert invoke(inbox).exit_code == 1  # the two bad PDFs
    from retrieval.cli import cli as retrieval_cli

    result = CliRunner().invoke(retrieval_cli, [
        "ask", "Why did Kessel cut the library's Sunday opening hours?", "--backend", "extractive", "--json"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert not answer["refused"], answer
    assert "80,000 euros" in answer["answer"]
    assert any(c["title"] == "Kessel Town Budget 2026 (p. 2)" and "80,000" in c["quote"] for c in answer["citations"])


# --- the real entry point --------------------------------------------------------------------------
def python_m_ingest(*args: str | Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ingest", *map(str, args)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
    )


def test_python_m_ingest_help() -> None:
    proc = python_m_ingest("--help", timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("Usage: python -m ingest [OPTIONS] SOURCES...")
    assert python_m_ingest(timeout=60).returncode == 2


@pytest.mark.slow
def test_python_m_ingest_runs_with_the_real_model(tmp_path: Path) -> None:
    write_articles(tmp_path / "news", 3)
    (tmp_path / "news" / "broken.json").write_text("{nope")
    proc = python_m_ingest(tmp_path / "news", "--json")
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    check_shape(report)
    assert report["added"] == 3 and [Path(f["source"]).name for f in report["failed"]] == ["broken.json"]
    assert "Traceback" not in proc.stderr
    (tmp_path / "news" / "broken.json").unlink()
    proc = python_m_ingest(tmp_path / "news", "--json", "--sync")
    assert proc.returncode == 0, proc.stderr
    assert {k: v for k, v in json.loads(proc.stdout).items() if k in REQUIRED_KEYS} == {
        "added": 0, "updated": 0, "unchanged": 3, "deleted": 0, "failed": []}


def test_a_source_path_with_brackets_is_no_progress_markup() -> None:
    """`reading news/a[/]b` on the progress bar: rich read "[/]" as a closing tag and the ingest stopped."""
    import io

    from rich.console import Console

    from retrieval.cli_common import progress_bar, progress_callback

    out = io.StringIO()
    with progress_bar(console=Console(file=out, force_terminal=True, width=120)) as bar:
        task = bar.add_task("loading", total=None, stage="ingest")
        progress_callback(bar, task)(0, 0, "reading news/a[/]b[bold]x\x1b[2J")
        bar.refresh()
    assert "a[/]b[bold]x" in out.getvalue()
