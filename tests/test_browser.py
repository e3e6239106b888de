"""The app in a real browser: ``streamlit run app.py`` as a server, driven by Debian's Chromium
through Playwright. Screenshots go to ``test-artifacts/`` (git-ignored) for a human to look at."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from openai_standin import chat_endpoint

ROOT = Path(__file__).resolve().parent.parent
ARTICLE = ROOT / "corpus" / "us-allies-intelligence-sharing-trump-russia.txt"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]
ANSWER_TIMEOUT_MS = 180_000  # a busy 2-core VM; the first answer also waits for the embedding model

HOSTILE = """---
title: Zorblax <script>alert(1)</script> festival **draws** crowds
outlet: Quux Gazette
published: 2025-03-01
---
The Zorblax lantern festival in Quuxville drew record crowds on Saturday, organisers said.
The Zorblax parade featured <img src=x onerror=alert(1)> giant paper lanterns and **bold** dancers.
"""

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.is_file(),
        reason="/usr/bin/chromium is missing (apt-get install chromium; scripts/test.sh does it in CI)",
    ),
    pytest.mark.skipif(
        importlib.util.find_spec("playwright") is None,
        reason="playwright is not installed (pip install -e '.[dev]')",
    ),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSQA_")}
    env.update(NEWSQA_DATA_DIR=str(data_dir), NEWSQA_BACKEND="extractive", HF_HUB_OFFLINE="1")
    return env


@contextmanager
def _app(folder: Path, env: dict[str, str]) -> Iterator[str]:
    """``streamlit run app.py`` on a free port with ``env``; yields its URL, stops it afterwards."""
    port = _free_port()
    log = (folder / "streamlit.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
            "--server.address", "127.0.0.1", "--server.headless", "true",
        ],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"streamlit exited with {proc.returncode}:\n{(folder / 'streamlit.log').read_text()}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.read().strip() == b"ok":
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("streamlit did not become healthy within 120 s")
            time.sleep(0.5)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=15)
        log.close()


def _build(folder: Path, data_dir: Path, hostile: bool = True) -> None:
    sources = folder / "sources"
    sources.mkdir()
    (sources / ARTICLE.name).write_bytes(ARTICLE.read_bytes())
    if hostile:
        (sources / "zorblax.md").write_text(HOSTILE, encoding="utf-8")
    built = subprocess.run(
        [sys.executable, "-m", "ingest", str(sources), "--json", "--quiet"],
        cwd=ROOT, env=_env(data_dir), capture_output=True, text=True, timeout=600,
    )
    assert built.returncode == 0, built.stderr
    report = json.loads(built.stdout)
    assert report["added"] == (2 if hostile else 1), report


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``streamlit run app.py`` on a free port over an index built here; yields its URL."""
    folder = tmp_path_factory.mktemp("browser")
    data_dir = folder / "data"
    _build(folder, data_dir)
    with _app(folder, _env(data_dir)) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, server: str) -> Iterator[Any]:
    """A fresh browser session (its own Streamlit session) on the app, with alert() trapped."""
    context = browser.new_context(viewport={"width": 1280, "height": 1100})
    page = context.new_page()
    page.dialogs = []  # type: ignore[attr-defined]
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(server)
    page.get_by_test_id("stChatInput").locator("textarea").wait_for(timeout=ANSWER_TIMEOUT_MS)
    _settle(page)
    yield page
    assert page.dialogs == [], f"article text ran script: {page.dialogs}"
    context.close()


def _settle(page: Any) -> None:
    """Wait until the script run is over (no greyed-out stale elements, the sidebar is up to date)."""
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for(
        timeout=ANSWER_TIMEOUT_MS
    )


def _scroll_to(page: Any, element: Any) -> None:
    """Put ``element``'s top just under Streamlit's header."""
    element.evaluate("element => element.scrollIntoView({block: 'start'})")
    page.mouse.move(700, 400)
    page.mouse.wheel(0, -70)
    page.wait_for_timeout(300)


def _shot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path))
    return path


def _ask(page: Any, question: str) -> Any:
    """Type ``question``; wait for the finished answer (its timings caption); return that message."""
    before = page.get_by_test_id("stChatMessage").count()
    box = page.get_by_test_id("stChatInput").locator("textarea")
    box.fill(question)
    box.press("Enter")
    message = page.get_by_test_id("stChatMessage").nth(before + 1)
    message.get_by_text("total", exact=False).last.wait_for(timeout=ANSWER_TIMEOUT_MS)
    _settle(page)
    return message


def test_answer_with_citation_in_the_browser(page: Any) -> None:
    answer = _ask(page, "What did Pete Hegseth reportedly order?")
    assert "Cyber Command" in answer.inner_text()
    assert answer.get_by_text("[1]", exact=True).first.is_visible()

    expander = answer.get_by_test_id("stExpander").filter(has_text="[1]").first
    expander.locator("summary").click()
    highlight = expander.locator(".stMarkdownColoredBackground").first
    highlight.wait_for(state="visible")
    assert "Pete Hegseth reportedly ordered US Cyber Command" in highlight.inner_text()
    _scroll_to(page, answer)
    path = _shot(page, "browser-answer.png")
    assert path.stat().st_size > 10_000


def test_sidebar_reload_and_refusal_in_the_browser(page: Any) -> None:
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_test_id("stMetric").first.wait_for()
    assert "extractive" in sidebar.inner_text()
    # The conversation of the previous test (another session) is listed; reload it.
    saved = sidebar.get_by_role("button", name="What did Pete Hegseth")
    saved.first.wait_for(timeout=30_000)
    _shot(page, "browser-sidebar.png")
    saved.first.click()
    page.get_by_test_id("stChatMessage").filter(has_text="Cyber Command").first.wait_for()
    _settle(page)

    sidebar.get_by_role("button", name="New conversation").click()
    page.wait_for_function("document.querySelectorAll('[data-testid=\"stChatMessage\"]').length === 0")
    _settle(page)
    refusal = _ask(page, "What is the price of bitcoin?")
    assert "don't cover this" in refusal.inner_text()
    closest = refusal.get_by_test_id("stExpander").first
    closest.locator("summary").click()
    closest.get_by_test_id("stMarkdownContainer").first.wait_for(state="visible")
    _scroll_to(page, refusal)
    _shot(page, "browser-refusal.png")


def test_hostile_article_text_is_shown_not_run(page: Any) -> None:
    answer = _ask(page, "What did the Zorblax parade feature?")
    text = answer.inner_text()
    assert "<img src=x onerror=alert(1)>" in text
    assert "**bold**" in text
    assert page.locator("img[src='x']").count() == 0
    answer.get_by_test_id("stExpander").first.locator("summary").click()
    page.wait_for_timeout(500)
    assert "Zorblax <script>alert(1)</script> festival **draws** crowds" in answer.inner_text()
    _shot(page, "browser-hostile.png")
    # page fixture: no alert() dialog was opened


SLOW_REPLY_S = 8  # longer than app.INDEX_WATCH_SECONDS, the sidebar's timed refresh


HEGSETH = "Pete Hegseth reportedly ordered US Cyber Command to halt offensive cyber operations against Russia [1]."


def test_a_slow_answer_is_kept_and_the_follow_up_stays_in_its_conversation(
    browser: Any, tmp_path: Path
) -> None:
    """An answer taking longer than the sidebar's timed refresh is shown, saved, and followed up in the
    same conversation (once seen broken on a loaded machine: the answer was not saved and the
    follow-up opened a new conversation)."""
    data_dir = tmp_path / "data"
    _build(tmp_path, data_dir, hostile=False)
    with chat_endpoint(HEGSETH, delay_s=SLOW_REPLY_S, rewrite="What did the UK say?") as chat_url:
        env = _env(data_dir) | {
            "NEWSQA_BACKEND": "openai", "NEWSQA_OPENAI_BASE_URL": chat_url, "NEWSQA_OPENAI_MODEL": "slow",
        }
        with _app(tmp_path, env) as url:
            context = browser.new_context(viewport={"width": 1280, "height": 1100})
            page = context.new_page()
            page.goto(url)
            page.get_by_test_id("stChatInput").locator("textarea").wait_for(timeout=ANSWER_TIMEOUT_MS)
            _settle(page)
            first = _ask(page, "What did Pete Hegseth reportedly order?")
            assert "Cyber Command" in first.inner_text()
            page.wait_for_timeout(1000 * SLOW_REPLY_S)  # the timed refresh runs meanwhile
            _ask(page, "What did the UK say about it?")
            messages = page.get_by_test_id("stChatMessage")
            assert messages.count() == 4, messages.all_inner_texts()
            assert "Cyber Command" in messages.nth(1).inner_text()
            sidebar = page.get_by_test_id("stSidebar")
            assert sidebar.get_by_role("button", name="What did Pete Hegseth").count() == 1
            assert sidebar.get_by_role("button", name="What did the UK say").count() == 0  # no second conversation
            context.close()


TOKEN = "correct-horse-battery-staple-42"


def test_a_private_page_asks_for_the_token_before_any_article_text(browser: Any, tmp_path: Path) -> None:
    """NEWSQA_ACCESS_TOKEN set: a visitor without it gets the sign-in screen and no article text; the
    token typed in, or given as ?token= (then dropped from the address), opens the chat."""
    data_dir = tmp_path / "data"
    _build(tmp_path, data_dir, hostile=False)
    with _app(tmp_path, _env(data_dir) | {"NEWSQA_ACCESS_TOKEN": TOKEN}) as url:
        # Streamlit refuses an upload request that lacks the XSRF token (server.enableXsrfProtection).
        request = urllib.request.Request(f"{url}/_stcore/upload_file/some-session/some-file", data=b"x",
                                         method="PUT")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 403

        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.goto(url)
        page.get_by_text("This page is private").wait_for(timeout=ANSWER_TIMEOUT_MS)
        _settle(page)
        _shot(page, "browser-sign-in.png")
        text = page.locator("body").inner_text()
        assert "Hegseth" not in text and "Cyber Command" not in text and "Articles" not in text
        assert page.get_by_test_id("stChatInput").count() == 0

        page.get_by_label("Access token").fill("a-wrong-token-of-some-length")
        page.get_by_role("button", name="Sign in").click()
        page.get_by_text("That access token is not valid.").wait_for()
        _settle(page)
        assert page.get_by_test_id("stChatInput").count() == 0

        page.get_by_label("Access token").fill(TOKEN)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_test_id("stChatInput").locator("textarea").wait_for(timeout=ANSWER_TIMEOUT_MS)
        _settle(page)
        assert "Cyber Command" in _ask(page, "What did Pete Hegseth reportedly order?").inner_text()
        context.close()

        # A new browser with the link: signed in, and the token is no longer in the address.
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.goto(f"{url}/?token={TOKEN}")
        page.get_by_test_id("stChatInput").locator("textarea").wait_for(timeout=ANSWER_TIMEOUT_MS)
        _settle(page)
        assert TOKEN not in page.url
        sidebar = page.get_by_test_id("stSidebar")
        assert sidebar.get_by_role("button", name="What did Pete Hegseth").count() == 1  # token holders share
        context.close()
