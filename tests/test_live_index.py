"""One live index: the page (``AppTest``) and ``ask`` keep answering while ``python -m ingest`` runs in
another process, embedded or through a real ``chroma run`` server; two writers take turns.

Real processes throughout: the app runs in this process with the real embedding model, ingests run as
``python -m ingest`` subprocesses, the server is ``chroma run``. Answers come from the extractive
backend (a real answer path without an LLM).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import ROOT, FakeEmbedder, check_index, close_store, write_articles
from streamlit.testing.v1 import AppTest
from test_ingest_server import chroma_server  # noqa: F401  (a fixture)

from ingest.pipeline import ingest
from retrieval.settings import Settings
from retrieval.store import SERVER_RECORD, Store, local_server

APP = str(ROOT / "app.py")
TIMEOUT = 240  # seconds per script run: the first one loads the embedding model on a busy 2-core VM

BRIDGE = """---
title: Zephyrine Bridge reopens in Oakhaven
outlet: Oakhaven Courier
published: 2026-03-04
url: https://courier.example/zephyrine-bridge
---
The Zephyrine Bridge in Oakhaven reopened to traffic on Tuesday after a fourteen-month repair, the city
council said. The repair of the Zephyrine Bridge cost 31 million euros, paid from the regional roads fund.
Commuters had used a ferry across the Oak river while the bridge was closed.
"""
BRIDGE_UPDATED = BRIDGE.replace("31 million euros", "44 million euros, well over the first estimate")
OBSERVATORY = """---
title: Quillmore observatory finds a new comet
outlet: Sky Weekly
published: 2026-03-05
---
Astronomers at the Quillmore observatory discovered a new comet on Monday night, the observatory said.
The comet, named Quillmore-7, will be visible with binoculars in the northern sky during April.
"""
BRIDGE_Q = "How much did the repair of the Zephyrine Bridge cost?"
COMET_Q = "What did astronomers at the Quillmore observatory discover?"


# --- helpers ---------------------------------------------------------------------------------------
def run_env(data_dir: Path, chroma_url: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSQA_")}
    env.update(NEWSQA_DATA_DIR=str(data_dir), NEWSQA_BACKEND="extractive", HF_HUB_OFFLINE="1",
               PYTHONPATH=str(ROOT))
    if chroma_url:
        env["NEWSQA_CHROMA_URL"] = chroma_url
    return env


def cli_ingest(data_dir: Path, *args: str, chroma_url: str | None = None) -> dict[str, object]:
    """``python -m ingest ARGS --json`` in its own process; its report."""
    done = subprocess.run(
        [sys.executable, "-m", "ingest", *args, "--json", "--quiet"],
        cwd=ROOT, env=run_env(data_dir, chroma_url), capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, object] = json.loads(done.stdout)
    return report


def use_env(monkeypatch: pytest.MonkeyPatch, data_dir: Path, chroma_url: str | None = None) -> None:
    for name in list(os.environ):
        if name.startswith("NEWSQA_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("NEWSQA_DATA_DIR", str(data_dir))
    monkeypatch.setenv("NEWSQA_BACKEND", "extractive")
    if chroma_url:
        monkeypatch.setenv("NEWSQA_CHROMA_URL", chroma_url)


def new_app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def unescape(markdown: str) -> str:
    return re.sub(r"\\(.)", r"\1", markdown.replace("  \n", "\n")).replace("\u2060", "")


def ask(at: AppTest, question: str) -> tuple[str, list[str]]:
    """Ask in the open page; (everything the answer shows, its expander labels). Fails on any error."""
    at.chat_input[0].set_value(question).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [unescape(e.value) for e in at.error]
    message = [m for m in at.chat_message if m.name == "assistant"][-1]
    texts = [unescape(el.value) for el in (*message.markdown, *message.info, *message.warning, *message.caption)]
    return " ".join(texts), [unescape(e.label) for e in message.expander]


def sidebar_count(at: AppTest, label: str) -> int:
    metric = next(m for m in at.sidebar.metric if m.label == label)
    return int(str(metric.value).replace(",", ""))


def assert_cites(at: AppTest, question: str, title: str, fact: str) -> None:
    text, labels = ask(at, question)
    assert fact in text, text
    assert any(label.startswith("[") and title in label for label in labels), labels


def assert_gone(at: AppTest, question: str, title: str, fact: str) -> None:
    text, labels = ask(at, question)
    assert fact not in text, text
    assert not any(title in label for label in labels), labels


def live_loop(at: AppTest, data_dir: Path, news: Path, chroma_url: str | None) -> None:
    """The everyday loop against a page that is already open: add, update, delete from a terminal."""
    # Another article arrives (the page's index is not empty now).
    (news / "observatory.md").write_text(OBSERVATORY, encoding="utf-8")
    assert cli_ingest(data_dir, str(news), chroma_url=chroma_url)["added"] == 1
    assert_cites(at, COMET_Q, "Quillmore observatory finds a new comet", "Quillmore-7")
    at.run()
    assert sidebar_count(at, "Articles") == 2

    # An article is edited: the answer quotes the new text.
    (news / "bridge.md").write_text(BRIDGE_UPDATED, encoding="utf-8")
    assert cli_ingest(data_dir, str(news), chroma_url=chroma_url)["updated"] == 1
    assert_cites(at, BRIDGE_Q, "Zephyrine Bridge reopens in Oakhaven", "44 million euros")

    # An article is deleted (--sync): it disappears from answers and from the counts.
    (news / "observatory.md").unlink()
    assert cli_ingest(data_dir, str(news), "--sync", chroma_url=chroma_url)["deleted"] == 1
    assert_gone(at, COMET_Q, "Quillmore observatory", "Quillmore-7")
    assert sidebar_count(at, "Articles") == 1
    assert_cites(at, BRIDGE_Q, "Zephyrine Bridge reopens in Oakhaven", "44 million euros")


# --- the page and a terminal, embedded Chroma --------------------------------------------------------
@pytest.mark.slow
def test_page_started_on_an_empty_index_answers_after_a_terminal_ingest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir, news = tmp_path / "data", tmp_path / "news"
    news.mkdir()
    use_env(monkeypatch, data_dir)
    at = new_app()
    assert "No articles are indexed yet" in " ".join(unescape(i.value) for i in at.info)

    (news / "bridge.md").write_text(BRIDGE, encoding="utf-8")
    assert cli_ingest(data_dir, str(news))["added"] == 1
    at.run()  # the page's next run (any click, or its index watch) sees the articles
    assert not at.exception and sidebar_count(at, "Articles") == 1
    assert_cites(at, BRIDGE_Q, "Zephyrine Bridge reopens in Oakhaven", "31 million euros")
    live_loop(at, data_dir, news, None)


@pytest.mark.slow
def test_page_started_on_a_non_empty_index_sees_new_updated_and_deleted_articles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir, news = tmp_path / "data", tmp_path / "news"
    news.mkdir()
    (news / "bridge.md").write_text(BRIDGE, encoding="utf-8")
    assert cli_ingest(data_dir, str(news))["added"] == 1
    use_env(monkeypatch, data_dir)
    at = new_app()
    assert sidebar_count(at, "Articles") == 1
    assert_cites(at, BRIDGE_Q, "Zephyrine Bridge reopens in Oakhaven", "31 million euros")
    live_loop(at, data_dir, news, None)


# --- the same through a real ``chroma run`` server -------------------------------------------------
@pytest.mark.slow
def test_page_ask_and_ingest_through_a_chroma_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chroma_server: str  # noqa: F811
) -> None:
    data_dir, news = tmp_path / "data", tmp_path / "news"
    news.mkdir()
    use_env(monkeypatch, data_dir, chroma_server)
    at = new_app()
    assert "No articles are indexed yet" in " ".join(unescape(i.value) for i in at.info)

    (news / "bridge.md").write_text(BRIDGE, encoding="utf-8")
    assert cli_ingest(data_dir, str(news), chroma_url=chroma_server)["added"] == 1
    at.run()
    assert sidebar_count(at, "Articles") == 1
    assert_cites(at, BRIDGE_Q, "Zephyrine Bridge reopens in Oakhaven", "31 million euros")
    live_loop(at, data_dir, news, chroma_server)
    assert not (data_dir / "chroma").exists(), "server mode wrote an embedded Chroma"

    # ``ask`` in a terminal answers from the server too.
    done = subprocess.run(
        [sys.executable, "-m", "retrieval", "ask", BRIDGE_Q, "--json"],
        cwd=ROOT, env=run_env(data_dir, chroma_server), capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert "44 million euros" in answer["answer"]
    assert answer["citations"][0]["title"] == "Zephyrine Bridge reopens in Oakhaven"


@pytest.mark.slow
def test_the_server_recorded_in_the_data_dir_is_used_by_every_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chroma_server: str  # noqa: F811
) -> None:
    """What ``scripts/run.sh`` does: a server on the data dir's vectors, its address in the data dir;
    the CLI, ``ask`` and the page find it without NEWSQA_CHROMA_URL."""
    data_dir, news = tmp_path / "data", tmp_path / "news"
    news.mkdir()
    data_dir.mkdir()
    pid = int((tmp_path / "chroma-server.pid").read_text())
    (data_dir / SERVER_RECORD).write_text(json.dumps({"url": chroma_server, "pid": pid}))
    assert local_server(data_dir) == chroma_server

    (news / "bridge.md").write_text(BRIDGE, encoding="utf-8")
    assert cli_ingest(data_dir, str(news))["added"] == 1
    assert not (data_dir / "chroma").exists(), "the CLI opened embedded Chroma beside the server"
    stats = subprocess.run(
        [sys.executable, "-m", "retrieval", "stats", "--json"],
        cwd=ROOT, env=run_env(data_dir), capture_output=True, text=True, timeout=300,
    )
    assert stats.returncode == 0, stats.stderr
    facts = json.loads(stats.stdout)
    assert (facts["chroma"], facts["articles"], facts["vectors"] > 0) == (chroma_server, 1, True)

    use_env(monkeypatch, data_dir)
    at = new_app()
    assert_cites(at, BRIDGE_Q, "Zephyrine Bridge reopens in Oakhaven", "31 million euros")
    assert not (data_dir / "chroma").exists()

    # A record whose process is gone is stale: embedded Chroma again.
    (data_dir / SERVER_RECORD).write_text(json.dumps({"url": chroma_server, "pid": 2**22 + 12345}))
    assert local_server(data_dir) is None


# --- two writers -----------------------------------------------------------------------------------
HOLD_LOCK = """
import sys
from retrieval.settings import Settings
from retrieval.store import Store
with Store(Settings()).write_lock():
    print("holding", flush=True)
    sys.stdin.read()  # until the test closes our stdin
"""


def hold_lock(data_dir: Path) -> subprocess.Popen[str]:
    """Another process holding the index's writer lock until its stdin is closed."""
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK], cwd=ROOT, env=run_env(data_dir),
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
    return holder


def release(holder: subprocess.Popen[str]) -> None:
    assert holder.stdin is not None
    holder.stdin.close()


def test_a_second_writer_waits_and_says_for_whom(tmp_path: Path, settings: Settings) -> None:
    holder = hold_lock(settings.data_dir)
    try:
        write_articles(tmp_path / "news", 2)
        messages: list[str] = []
        store = Store(settings, embedder=FakeEmbedder())
        threading.Timer(2.0, release, (holder,)).start()
        started = time.monotonic()
        report = ingest([str(tmp_path / "news")], settings, store=store, on_wait=messages.append)
        assert time.monotonic() - started > 1.5  # it waited for the holder ...
        assert messages == [f"waiting for another ingest (pid {holder.pid}) to finish…"]
        assert holder.wait(timeout=30) == 0 and report.added == 2  # ... and went on once it let go
        check_index(store)
        close_store(store)
    finally:
        holder.kill()
        holder.wait()


def test_the_cli_says_it_waits_for_another_ingest(tmp_path: Path, settings: Settings) -> None:
    holder = hold_lock(settings.data_dir)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "ingest", str(tmp_path / "nothing-here"), "--dry-run"],
            cwd=ROOT, env=run_env(settings.data_dir), capture_output=True, text=True, timeout=120,
        )
        assert "waiting" not in done.stderr, "a dry run writes nothing and must not wait"
        write_articles(tmp_path / "news", 1)
        cli = subprocess.Popen(
            [sys.executable, "-m", "ingest", str(tmp_path / "news"), "--json"],
            cwd=ROOT, env=run_env(settings.data_dir), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        assert cli.stderr is not None
        lines = [cli.stderr.readline() for _ in range(1)]
        while "waiting" not in lines[-1] and lines[-1] and len(lines) < 50:
            lines.append(cli.stderr.readline())
        assert f"[ingest] waiting for another ingest (pid {holder.pid}) to finish…" in lines[-1], lines
        assert cli.poll() is None, "it waits"
        release(holder)
        out, err = cli.communicate(timeout=300)
        assert cli.returncode == 0, err
        assert json.loads(out)["added"] == 1
    finally:
        holder.kill()
        holder.wait()


WRITER = """
import sys
sys.path.insert(0, sys.argv[2])
from conftest import FakeEmbedder
from ingest.pipeline import ingest
from retrieval.settings import Settings
from retrieval.store import Store
report = ingest([sys.argv[1]], Settings(), store=Store(Settings(), embedder=FakeEmbedder()))
print(report.added + report.updated, flush=True)
"""


def test_writers_in_two_processes_and_a_reader_keep_one_consistent_index(tmp_path: Path, settings: Settings) -> None:
    """Two ingests of different folders at once, in two processes, while this process keeps
    searching through one long-lived store: both finish, every question is answered, nothing is
    lost or duplicated."""
    from retrieval.search import search

    a, b = tmp_path / "a", tmp_path / "b"
    write_articles(a, 30)
    write_articles(b, 30, start=100)
    reader = Store(settings, embedder=FakeEmbedder())
    write_articles(tmp_path / "seed", 1, start=500)
    ingest([str(tmp_path / "seed")], settings, store=reader)
    search(reader, "Port Alder harbour council")  # the reader's view is now open (and will go stale)

    tests_dir = str(Path(__file__).parent)
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(folder), tests_dir], cwd=ROOT,
                         env=run_env(settings.data_dir), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for folder in (a, b)
    ]
    errors: list[BaseException] = []
    answered = 0
    stop = threading.Event()

    def keep_asking() -> None:
        nonlocal answered
        while not stop.is_set():
            try:
                search(reader, "Officials said the decision would cost thousand euros", k=5)
                answered += 1
            except BaseException as exc:  # any failure is the finding
                errors.append(exc)
                return

    threads = [threading.Thread(target=keep_asking) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        outputs = [p.communicate(timeout=300) for p in procs]
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert out.strip() == "30"
    assert not errors, errors
    assert answered > 0
    assert reader.reopened > 0, "the reader's view never went stale: the test proves nothing"
    by_article = check_index(reader)
    assert len(by_article) == 61
    assert reader.stats()["vectors"] == sum(len(v) for v in by_article.values())
    close_store(reader)


def test_generation_moves_with_every_committed_write(settings: Settings, tmp_path: Path) -> None:
    store = Store(settings, embedder=FakeEmbedder())
    assert store.catalog.generation() == 0
    write_articles(tmp_path / "news", 3)
    ingest([str(tmp_path / "news")], settings, store=store)
    assert store.catalog.generation() == 3
    again = ingest([str(tmp_path / "news")], settings, store=store)
    assert again.unchanged == 3 and store.catalog.generation() == 3  # nothing written, nothing moved
    (tmp_path / "news" / "story-000.txt").unlink()
    ingest([str(tmp_path / "news")], settings, store=store, sync=True)
    assert store.catalog.generation() == 4
    assert store.reopened == 0, "a store's own writes never make it reopen its view"
    ingest([str(tmp_path / "news")], settings, store=store, rebuild=True)
    assert store.catalog.generation() == 5 + 2
    assert store.stats()["generation"] == 7
    close_store(store)


@pytest.mark.slow
def test_run_sh_server_helper_starts_once_records_and_stops(tmp_path: Path) -> None:
    """``python -m retrieval.chroma_server`` as scripts/run.sh uses it: one server per data dir."""
    data_dir = tmp_path / "data"
    helper = [sys.executable, "-m", "retrieval.chroma_server"]
    first = subprocess.run([*helper, "start"], cwd=ROOT, env=run_env(data_dir), capture_output=True, text=True,
                           timeout=120)
    assert first.returncode == 0, first.stderr
    url, pid, state = first.stdout.split()
    try:
        assert state == "started" and url.startswith("http://127.0.0.1:")
        assert local_server(data_dir) == url
        again = subprocess.run([*helper, "start"], cwd=ROOT, env=run_env(data_dir), capture_output=True,
                               text=True, timeout=120)
        assert again.stdout.split() == [url, pid, "running"], "a second page reuses the running server"
        (tmp_path / "news").mkdir()
        (tmp_path / "news" / "bridge.md").write_text(BRIDGE, encoding="utf-8")
        report = cli_ingest(data_dir, str(tmp_path / "news"))
        assert (report["added"], report["chroma"]) == (1, url)
    finally:
        stopped = subprocess.run([*helper, "stop", pid], cwd=ROOT, env=run_env(data_dir), capture_output=True,
                                 text=True, timeout=60)
    assert stopped.returncode == 0, stopped.stderr
    assert not (data_dir / SERVER_RECORD).exists()
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid), 0)
    # Without the server, the same index opens embedded, with the vectors the server wrote.
    report = cli_ingest(data_dir, str(tmp_path / "news"))
    assert (report["unchanged"], report["chroma"]) == (1, "")
    stats = subprocess.run([sys.executable, "-m", "retrieval", "stats", "--json"], cwd=ROOT, env=run_env(data_dir),
                           capture_output=True, text=True, timeout=120)
    facts = json.loads(stats.stdout)
    assert facts["vectors"] == facts["chunks"] > 0 and facts["chroma"] == str(data_dir / "chroma")
