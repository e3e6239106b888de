"""The Streamlit app through ``AppTest``: a real Chroma index, the real ``ingest()`` and the
extractive backend (a real answer path without an LLM)."""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from indexes import build_index
from markdown_it import MarkdownIt
from streamlit.testing.v1 import AppTest

from ingest.loaders import SUPPORTED
from retrieval.conversations import LOCAL_OWNER
from retrieval.settings import Settings
from retrieval.store import Embedder

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
ARTICLE = ROOT / "corpus" / "us-allies-intelligence-sharing-trump-russia.txt"
TIMEOUT = 240  # seconds per script run: the first one loads the embedding model on a busy 2-core VM

GARDENING = """---
title: Tomato growers brace for a wet summer
outlet: Gardening Weekly
published: 2025-06-02
url: https://gardening.example/tomatoes-wet-summer
---
Tomato growers in the valley are preparing for an unusually wet summer, the regional growers'
association said on Monday. Heavy rain splits ripening fruit and spreads blight, so many growers are
moving their plants under plastic tunnels and spacing them further apart to let the leaves dry.
The association recommends mulching with straw and watering at the base of the plant in the morning.
"""

HOSTILE = """---
title: Zorblax <script>alert(1)</script> festival **draws** crowds
outlet: Quux <b>Gazette</b>
published: 2025-03-01
url: javascript:alert(1)
---
The Zorblax lantern festival in Quuxville drew record crowds on Saturday, organisers said.
The Zorblax parade featured <img src=x onerror=alert(1)> giant paper lanterns and **bold** dancers, \
the organisers reported.
Ticket sales for the Zorblax festival raised $x$ dollars for <script>alert(1)</script> the town's library fund.
"""


def _clean_newsqa_env(mp: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("NEWSQA_"):
            mp.delenv(name)


@pytest.fixture(scope="module")
def built_index(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Path:
    """One index per module (bundled article + a gardening article of another outlet), copied per test.

    Built with the real ``ingest()`` and the real embedding model (conftest's session ``embedder``).
    """
    return build_index(tmp_path_factory, embedder, {ARTICLE.name: ARTICLE, "gardening.md": GARDENING},
                       backend="extractive")


@pytest.fixture
def data_dir(built_index: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the index; the app's ``Settings()`` sees it through the environment."""
    target = tmp_path / "data"
    shutil.copytree(built_index, target)
    _use(monkeypatch, target)
    return target


def _use(monkeypatch: pytest.MonkeyPatch, data: Path) -> None:
    _clean_newsqa_env(monkeypatch)
    monkeypatch.setenv("NEWSQA_DATA_DIR", str(data))
    monkeypatch.setenv("NEWSQA_BACKEND", "extractive")


def new_app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def ask(at: AppTest, question: str) -> AppTest:
    at.chat_input[0].set_value(question).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


@functools.cache
def app_module() -> Any:
    """app.py as a module (it does no work at import), for its helpers."""
    spec = importlib.util.spec_from_file_location("newsqa_app_helpers", APP)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


md_unescape = app_module().md_unescape  # the literal text of page markdown


def assistant_texts(at: AppTest, index: int = -1) -> list[str]:
    """The markdown of the ``index``-th assistant message (answer, captions, alerts), unescaped."""
    messages = [m for m in at.chat_message if m.name == "assistant"]
    message = messages[index]
    return [md_unescape(el.value) for el in message.markdown] + [
        md_unescape(el.value) for el in (*message.info, *message.warning, *message.caption)
    ]


def expander_labels(at: AppTest, index: int = -1) -> list[str]:
    messages = [m for m in at.chat_message if m.name == "assistant"]
    return [md_unescape(e.label) for e in messages[index].expander]


def all_markdown(at: AppTest) -> list[Any]:
    """Every element whose body Streamlit renders as markdown."""
    return [
        *at.markdown, *at.caption, *at.info, *at.warning, *at.error, *at.success,
    ]


# --- tests -----------------------------------------------------------------------------------------
def test_conversation_with_follow_up_and_citations(data_dir: Path) -> None:
    at = new_app()
    assert at.title[0].value == "Ask the news"
    ask(at, "What did Pete Hegseth reportedly order?")

    first = " ".join(assistant_texts(at))
    assert "Cyber Command" in first
    labels = expander_labels(at)
    assert labels and labels[0].startswith("[1] US Allies Re-evaluate Intelligence sharing")
    # The citation expander shows the quoted span highlighted inside the article text.
    messages = [m for m in at.chat_message if m.name == "assistant"]
    cited = messages[-1].expander[0]
    body = cited.markdown[0].value
    assert ":orange-background[" in body
    highlighted = md_unescape(body.split(":orange-background[", 1)[1].split("]", 1)[0])
    assert "Pete Hegseth reportedly ordered US Cyber Command" in highlighted
    # Text around the quote comes from the article itself.
    assert "Cybersecurity" in md_unescape(body)
    # [1] in the answer is visibly marked as a citation.
    answer_md = messages[-1].markdown[0].value
    assert "Russia\\.:blue-background[\\[1\\]]" in answer_md  # after the full stop
    # Timings under the answer.
    assert any("retrieval" in t and "total" in t for t in assistant_texts(at))

    ask(at, "And what did Canada say?")
    second = " ".join(assistant_texts(at))
    assert "Canada deeply values its partnership" in second
    assert "Searched for:" in second  # the follow-up was rewritten with the conversation
    assert any(label.startswith("[1] ") for label in expander_labels(at))
    # Both exchanges are on screen, in order.
    roles = [m.name for m in at.chat_message]
    assert roles == ["user", "assistant", "user", "assistant"]


def test_unrelated_question_is_refused_with_closest_passages(data_dir: Path) -> None:
    at = new_app()
    ask(at, "What is the price of bitcoin?")
    messages = [m for m in at.chat_message if m.name == "assistant"]
    assert messages[-1].info, "a refusal is shown as st.info"
    assert "don't cover this" in md_unescape(messages[-1].info[0].value)
    labels = expander_labels(at)
    assert labels, "closest passages are offered"
    assert all("similarity" in label for label in labels)
    assert not any(label.startswith("[1]") for label in labels)  # nothing is cited


def test_outlet_filter_applies(data_dir: Path) -> None:
    at = new_app()
    outlets = at.sidebar.multiselect(key="filter_outlets")
    assert "Gardening Weekly" in outlets.options
    outlets.select("Gardening Weekly").run()
    ask(at, "What did Pete Hegseth reportedly order?")
    text = " ".join(assistant_texts(at))
    assert "Cyber Command" not in text
    messages = [m for m in at.chat_message if m.name == "assistant"]
    assert messages[-1].info, "nothing in the chosen outlet covers it: a refusal"
    assert all("Tomato growers" in label for label in expander_labels(at))
    assert "only articles from Gardening Weekly" in text
    # The refusal says the filter may be why, and how out (not "ingest more articles" alone).
    refusal = md_unescape(messages[-1].info[0].value)
    assert "Only articles from Gardening Weekly were searched" in refusal and "widen or drop the filters" in refusal

    # A date range before every dated article leaves no source at all.
    outlets.unselect("Gardening Weekly")
    import datetime as dt

    at.sidebar.date_input(key="filter_to").set_value(dt.date(2001, 1, 1)).run()
    ask(at, "What did Pete Hegseth reportedly order?")
    last = [m for m in at.chat_message if m.name == "assistant"][-1]
    refusal = md_unescape(last.info[0].value) if last.info else ""
    assert "No ingested article is" in refusal and "published on or before 2001-01-01" in refusal, refusal
    assert expander_labels(at) == []


def test_conversation_is_saved_and_reloaded(data_dir: Path) -> None:
    at = new_app()
    assert any("conversations will be listed here" in c.value for c in at.sidebar.caption)
    ask(at, "What did Pete Hegseth reportedly order?")
    at.run()  # the next rerun (any interaction) lists it in the sidebar
    assert any("What did Pete Hegseth" in md_unescape(b.label) for b in at.sidebar.button)

    # A new session (as after a restart: everything is read back from SQLite).
    fresh = new_app()
    assert not fresh.chat_message
    buttons = [b for b in fresh.sidebar.button if "What did Pete Hegseth" in md_unescape(b.label)]
    assert len(buttons) == 1
    buttons[0].click().run()
    assert not fresh.exception
    assert [m.name for m in fresh.chat_message] == ["user", "assistant"]
    assert "Cyber Command" in " ".join(assistant_texts(fresh))
    assert expander_labels(fresh)[0].startswith("[1] ")
    # The reloaded conversation continues: a follow-up uses its history.
    ask(fresh, "And what did Canada say?")
    assert "Canada deeply values" in " ".join(assistant_texts(fresh))

    # "New conversation" empties the chat; the saved one stays listed.
    fresh.sidebar.button[0].click().run()
    assert not fresh.chat_message
    assert [b for b in fresh.sidebar.button if "What did Pete Hegseth" in md_unescape(b.label)]


def test_a_conversation_deleted_in_another_tab_goes_on_as_a_new_one(data_dir: Path) -> None:
    """Tab B keeps asking after tab A deleted B's conversation: the exchange is saved (no "could not be
    saved" on every question from then on), in a new conversation that holds what B shows."""
    from retrieval.conversations import Conversations

    at = new_app()
    ask(at, "What did Pete Hegseth reportedly order?")
    store = Conversations(data_dir / "conversations.sqlite3")
    [first] = store.list(owner=LOCAL_OWNER)
    store.delete(first.id, owner=LOCAL_OWNER)  # tab A
    ask(at, "And what did Canada say?")
    assert not at.exception and not at.warning, [w.value for w in at.warning]
    assert any("deleted in another tab" in i.value for i in at.info)
    [again] = store.list(owner=LOCAL_OWNER)
    assert again.id != first.id
    assert [m.role for m in store.load(again.id, owner=LOCAL_OWNER)] == ["user", "assistant", "user", "assistant"]
    ask(at, "What did the UK say?")  # and the next question is saved there too
    assert not at.warning and len(store.load(again.id, owner=LOCAL_OWNER)) == 6


def test_a_saved_citation_says_when_its_article_has_changed(data_dir: Path) -> None:
    """A conversation reopened after its article was edited: the citation no longer matches the current
    text, and the expander says so instead of showing the old quote as if the article still said it."""
    import sqlite3
    from contextlib import closing

    at = new_app()
    ask(at, "What did Pete Hegseth reportedly order?")
    with closing(sqlite3.connect(data_dir / "catalog.sqlite3")) as db, db:
        db.execute("UPDATE articles SET text = replace(text, 'to halt offensive', 'to pause offensive')")
    fresh = new_app()
    [button] = [b for b in fresh.sidebar.button if "What did Pete Hegseth" in md_unescape(b.label)]
    button.click().run()
    cited = [m for m in fresh.chat_message if m.name == "assistant"][-1].expander[0]
    captions = [md_unescape(c.value) for c in cited.caption]
    assert any("has changed since this answer" in c for c in captions), captions


def test_a_question_sent_as_the_index_empties_is_said_not_dropped(data_dir: Path) -> None:
    """An ingest --rebuild empties the index between the page's render and the question's send: the
    page says the question was not asked (and shows it), rather than losing it without a word."""
    from retrieval.settings import Settings
    from retrieval.store import Store

    at = new_app()
    store = Store(Settings(data_dir=data_dir))
    store.reset()  # what --rebuild does first
    at.chat_input[0].set_value("What did Canada say about intelligence sharing?").run()
    assert not at.exception
    warnings = [md_unescape(w.value) for w in at.warning]
    asked = "What did Canada say about intelligence sharing?"
    assert any("was not asked" in w and asked in w for w in warnings), warnings
    assert any("No articles are indexed yet" in i.value for i in at.info)


def test_a_chroma_server_that_is_down_leaves_the_page_usable(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole page was replaced by "cannot be opened: Connection refused" (no history, no sidebar, no
    chat input, and no word of which server or what to do): now the error names the server and the
    fix, the catalog's own facts are shown, and a question gets the same explanation inline."""
    from conftest import closed_port

    url = f"http://127.0.0.1:{closed_port()}"
    monkeypatch.setenv("NEWSQA_CHROMA_URL", url)
    at = new_app()
    errors = " ".join(e.value for e in at.error).replace("\\", "").replace("\u2060", "")
    assert "cannot be read right now" in errors and url in errors and "NEWSQA_CHROMA_URL" in errors, errors
    assert at.sidebar.metric[0].value == "2" and at.chat_input, "the page is not usable"
    at.chat_input[0].set_value("What did Pete Hegseth reportedly order?").run()
    assert not at.exception
    answered = [e.value for e in at.error if "Could not answer" in e.value]
    assert answered and "NEWSQA_CHROMA_URL" in answered[0].replace("\\", ""), answered


def test_empty_index_shows_how_to_ingest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _use(monkeypatch, tmp_path / "empty")
    at = new_app()
    assert not at.error
    assert any("No articles are indexed yet" in i.value for i in at.info)
    assert any(c.value == "python -m ingest corpus/" for c in at.code)
    assert at.file_uploader(key="upload-files-main")
    assert at.chat_input[0].disabled


def test_upload_ingests_and_hostile_text_stays_literal(data_dir: Path) -> None:
    at = new_app()
    uploader = at.file_uploader(key="upload-files-sidebar")
    assert set(uploader.allowed_type) == SUPPORTED  # every type the loaders read (.rss and .markdown too)
    uploader.set_value(("zorblax.md", HOSTILE.encode(), "text/markdown"))
    at.sidebar.form_submit_button[0].click().run()
    assert not at.exception
    report = [s.value for s in at.success]
    assert report and "added 1" in report[0] and "failed 0" in report[0], report
    assert (data_dir / "uploads" / "zorblax.md").is_file()
    assert at.sidebar.metric[0].value == "3"  # articles

    ask(at, "What did the Zorblax parade feature?")
    texts = " ".join(assistant_texts(at))
    assert "<img src=x onerror=alert(1)>" in texts  # shown as literal text...
    assert "**bold**" in texts
    labels = expander_labels(at)
    assert any("Zorblax <script>alert(1)</script> festival **draws** crowds" in label for label in labels)
    messages = [m for m in at.chat_message if m.name == "assistant"]
    answer_md = messages[-1].markdown[0].value
    assert "\\<img src\\=x" in answer_md  # ...because it is escaped in the markdown sent to the browser
    # The javascript: URL is never made a link.
    assert "javascript" not in " ".join(e.value for e in all_markdown(at))

    # Ask about the sentence with the script tag and the dollar signs as well.
    ask(at, "How much money did Zorblax ticket sales raise for the library fund?")
    assert "$x$ dollars for <script>alert(1)</script>" in " ".join(assistant_texts(at))

    # Nothing is rendered as HTML, and every markdown body renders to HTML without tags from articles.
    md = MarkdownIt("commonmark", {"html": True})
    bodies = [e.value for e in all_markdown(at)]
    bodies += [e.label for e in at.expander]
    for el in all_markdown(at):
        assert not getattr(el.proto, "allow_html", False), el.value  # alerts (info, warning) have no such field
    for body in bodies:
        html = md.render(body)
        assert "<script" not in html and "<img" not in html and "<b>" not in html, body
        assert "<strong>" not in html or "Zorblax" not in body, body  # **bold** stays literal
    for body in bodies:
        assert "$x$" not in body  # LaTeX delimiters are escaped (\$x\$)
    assert not at.html  # no st.html anywhere


def test_answer_errors_show_a_message_not_a_traceback(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The openai backend pointed at a port where nothing listens: the answer fails after retrieval.
    monkeypatch.setenv("NEWSQA_BACKEND", "openai")
    monkeypatch.setenv("NEWSQA_OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("NEWSQA_REQUEST_TIMEOUT", "5")
    at = new_app()
    at.chat_input[0].set_value("What did Pete Hegseth reportedly order?").run()
    assert not at.exception
    errors = [md_unescape(e.value) for e in at.error]
    assert errors and errors[0].startswith("Could not answer (openai"), errors
    assert "127.0.0.1:9" in errors[0]  # which backend failed is named
    # The error stays in the conversation on the next rerun and nothing was saved.
    at.run()
    assert at.error
    assert not [b for b in at.sidebar.button if "Pete Hegseth" in b.label]



def test_upload_reports_failures_and_updates(data_dir: Path) -> None:
    at = new_app()
    at.file_uploader(key="upload-files-sidebar").set_value(
        [("empty.txt", b"   \n", "text/plain"), ("notes.md", b"---\ntitle: Notes\n---\nShort note text here.", "")]
    )
    at.sidebar.form_submit_button[0].click().run()
    warnings = [md_unescape(w.value) for w in at.warning]
    assert warnings and "added 1" in warnings[0] and "failed 1" in warnings[0], warnings
    assert "empty.txt: the file is empty" in warnings[0]

    # The same file name again, edited: the article is updated, not duplicated.
    at.file_uploader(key="upload-files-sidebar").set_value(
        ("notes.md", b"---\ntitle: Notes\n---\nA longer note text, edited.", "text/markdown")
    )
    at.sidebar.form_submit_button[0].click().run()
    report = [md_unescape(s.value) for s in at.success]
    assert report and "updated 1" in report[0], report
    assert at.sidebar.metric[0].value == "3"


def test_upload_names_repeated_records(data_dir: Path) -> None:
    """A JSON-lines upload whose records repeat an id: the page said "added 1 … failed 0" for three records
    and nothing of the two dropped; now it counts and names them, as the CLI does."""
    record = {"id": "harbour-1", "title": "Harbour fees", "text": "The harbour board raised mooring fees by 4 %."}
    data = "\n".join(json.dumps(record | {"text": record["text"] + " " * n}) for n in range(3)).encode()
    at = new_app()
    at.file_uploader(key="upload-files-sidebar").set_value(("dump.jsonl", data, "application/jsonl"))
    at.sidebar.form_submit_button[0].click().run()
    assert not at.exception
    report = [md_unescape(s.value) for s in at.success]
    assert report and "added 1" in report[0] and "repeated 2" in report[0], report
    assert report[0].count("repeats article harbour-1 of dump.jsonl") == 2, report


def test_app_module_does_no_work_at_import(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import importlib.util

    _use(monkeypatch, tmp_path / "never-created")
    spec = importlib.util.spec_from_file_location("newsqa_app_import_check", APP)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert callable(module.main)
    assert not (tmp_path / "never-created").exists()  # no index opened, no settings read
    # Markdown escaping round-trips arbitrary text.
    hostile = "<script>x</script> **b** $y$ :red[z] :material/home: [l](u) # h\n- i\n    code & &lt; ->"
    assert module.md_unescape(module.md_escape(hostile)) == "\n".join(
        line.strip() for line in hostile.splitlines()
    )
    # A web address in article text stays text: nothing GFM would autolink is left in the markdown.
    planted = "Log in at https://evil.example/phish or WWW.evil.example/login, http://x.example or a@evil.example."
    escaped = module.md_escape(planted)
    assert not re.search(r"(?i)https?:|www\.|\w@\w", escaped.replace("\\", "")), escaped
    assert module.md_unescape(escaped) == planted


def test_a_quote_in_a_title_keeps_the_citation_a_link(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A headline with double quotes ('Ambassador says "yes"') is the [n] link's tooltip: each quote is
    escaped once, so the link title does not end early and the marker is not shown as raw markdown."""
    from retrieval.types import Citation

    _use(monkeypatch, tmp_path / "never-created")
    module = app_module()
    for title in ('Ambassador says "yes" on Marlowe pact', 'A \\ "back\\slash" [x] (y)', '"'):
        marker = module.citation_marker(Citation(1, "a1", title, "https://example.org/q1", "", "", "q", 0, 1))
        tokens = MarkdownIt().parseInline(marker)[0].children
        link = next(t for t in tokens if t.type == "link_open")
        assert link.attrs["href"] == "https://example.org/q1", marker
        assert link.attrs["title"] == title, marker
        assert [t.content for t in tokens if t.type == "text"] == ["[1]"], marker


def test_hostile_addresses_names_and_headlines_stay_inert(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A control character in an article's URL ended the [n] link and let the rest render as markdown;
    ":material_verified:" became a badge; a bidi override reversed what follows; a 5,000-character
    headline filled the page; a refused upload named "<b>x</b>.txt" was reported as "b>.txt"."""
    from retrieval.types import Citation

    _use(monkeypatch, tmp_path / "never-created")
    module = app_module()
    for url in ("https://\u0001**BOLD**:red[RED]:material_dangerous:$\\Huge FAKE$~~gone~~",
                "https://x.example/a\x7fb c\"d<e>f(g)[h]`i`\\j"):
        marker = module.citation_marker(Citation(1, "a1", "T", url, "", "", "q", 0, 1))
        tokens = MarkdownIt().parseInline(marker)[0].children
        link = next(t for t in tokens if t.type == "link_open")
        assert re.fullmatch(r"https://[!-~]+", link.attrs["href"]), link.attrs["href"]
        assert [t.content for t in tokens if t.type == "text"] == ["[1]"], marker
    assert module._safe_url("javascript:alert(1)") == "" and module._safe_url("data:text/html,x") == ""
    assert module._safe_url("https://example.org/a?b=1#c") == "https://example.org/a?b=1#c"

    badge = module.md_escape(":material_verified: Associated Press")
    assert module._WJ in badge and module.md_unescape(badge) == ":material_verified: Associated Press"
    assert module.md_unescape(module.md_escape("Reu\u200bters\u202e 2026")) == "Reuters 2026"
    line = module.source_line("Glorbnak " * 600, "Daily", "2026-03-01")
    assert len(line) < 400 and line.endswith("2026\\-03\\-01")
    assert module._file_name(":material_error: <b>x</b>.txt") == ":material_error: <b>x</b>.txt"
    assert module._file_name(str(tmp_path / "uploads" / "me" / "a.txt")) == "a.txt"


def test_saved_answer_with_unsupported_sentence_and_link(data_dir: Path) -> None:
    """An answer whose model added an unsupported sentence, saved earlier, renders with a warning,
    and a citation with a web address links to it."""
    from retrieval.conversations import Conversations, answer_to_record
    from retrieval.types import Answer, Citation

    settings = Settings()
    text = ARTICLE.read_text(encoding="utf-8")
    quote = "Defense Secretary Pete Hegseth reportedly ordered US Cyber Command"
    start = text.find(quote)
    citation = Citation(
        1, "not-in-the-index", "Allies <i>rethink</i>", "https://news.example/allies(1)", "2025-03-07",
        "Example News", quote, start, start + len(quote),
    )
    answer = Answer(
        text="Hegseth ordered Cyber Command to pause operations [1]. The moon is made of cheese.",
        citations=[citation],
        unsupported=["The moon is made of cheese."],
        timings={"retrieve": 0.1, "first_token": 0.5, "total": 1.0},
    )
    store = Conversations(settings.conversations_path)
    cid = store.create(owner=LOCAL_OWNER)
    store.append(cid, "user", "What did Hegseth order?", owner=LOCAL_OWNER)
    store.append(cid, "assistant", answer.text, answer_to_record(answer), owner=LOCAL_OWNER)
    store.close()

    at = new_app()
    next(b for b in at.sidebar.button if "What did Hegseth order" in b.label).click().run()
    message = [m for m in at.chat_message if m.name == "assistant"][-1]
    answer_md = message.markdown[0].value
    assert (
        'operations\\.[\\[1\\]](https://news.example/allies%281%29 "Allies \\<i\\>rethink\\<\\/i\\>") The moon'
        in answer_md
    )
    warning = md_unescape(message.warning[0].value)
    assert "Not supported by the cited articles" in warning and "The moon is made of cheese." in warning
    assert message.expander[0].label == "[1] Allies \\<i\\>rethink\\<\\/i\\> — Example News, 2025\\-03\\-07"
    body = message.expander[0].markdown
    assert md_unescape(body[0].value) == f":orange-background[{quote}]"  # article gone: the quote alone
    assert "[Open the original article ↗](https://news.example/allies%281%29)" in [b.value for b in body]
    assert "first token 0.50 s" in " ".join(c.value for c in message.caption)


# --- access: who may read, ask and upload ----------------------------------------------------------
TOKEN = "correct-horse-battery-staple-42"
ARTICLE_WORDS = ("Hegseth", "Cyber Command", "Tomato", "Gardening Weekly", "Intelligence")


def page_text(at: AppTest) -> str:
    """Every string the page sends to the browser (the string fields of the element and block protos, main
    and sidebar), each as sent and as read (markdown escapes undone: "127\\.0\\.0\\.1" is "127.0.0.1")."""
    out: list[str] = []

    def strings(message: Any) -> None:
        for field, value in message.ListFields():
            for item in value if field.is_repeated else [value]:
                if isinstance(item, str):
                    out.extend((item, md_unescape(item)))
                elif hasattr(item, "ListFields"):
                    strings(item)

    def walk(node: Any) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None:
            strings(proto)
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return "\n".join(out)


def assert_no_article_text(at: AppTest) -> None:
    text = page_text(at)
    assert not [w for w in ARTICLE_WORDS if w in text], text
    assert not at.chat_input and not at.sidebar.metric and not at.file_uploader


def test_exposed_without_a_secret_refuses_to_start(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSQA_HOST", "0.0.0.0")
    at = new_app()
    errors = [md_unescape(e.value) for e in at.error]
    assert errors and errors[0].startswith("This page refuses to start: NEWSQA_HOST=0.0.0.0"), errors
    for setting in ("NEWSQA_ACCESS_TOKEN", "NEWSQA_PASSWORD_FILE", "NEWSQA_NO_AUTH"):
        assert setting in errors[0]
    assert_no_article_text(at)
    assert str(data_dir) not in page_text(at)


def test_started_on_an_exposed_address_refuses_too(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``streamlit run app.py --server.address 0.0.0.0`` (not through run.sh): the app sees the address."""
    from streamlit import config

    before = config.get_option("server.address")
    config.set_option("server.address", "0.0.0.0")
    try:
        at = new_app()
    finally:
        config.set_option("server.address", before)
    errors = [md_unescape(e.value) for e in at.error]
    assert errors and "Streamlit's server.address=0.0.0.0 makes the page reachable" in errors[0], errors
    assert "NEWSQA_ACCESS_TOKEN" in errors[0]
    assert_no_article_text(at)


def test_a_broken_password_file_is_named_in_the_log_not_the_page(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    users = tmp_path / "secret-place" / "users.txt"
    monkeypatch.setenv("NEWSQA_HOST", "0.0.0.0")
    monkeypatch.setenv("NEWSQA_PASSWORD_FILE", str(users))
    at = new_app()
    errors = [md_unescape(e.value) for e in at.error]
    assert errors == ["This page refuses to start: NEWSQA_PASSWORD_FILE is not usable; the details are in the "
                      "server's log."], errors
    assert "secret-place" not in page_text(at)
    assert_no_article_text(at)


def test_oidc_without_streamlit_auth_config_says_what_to_add(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSQA_HOST", "0.0.0.0")
    monkeypatch.setenv("NEWSQA_OIDC", "1")
    at = new_app()
    errors = [md_unescape(e.value) for e in at.error]
    assert errors and "no [auth] section in .streamlit/secrets.toml" in errors[0], errors
    assert_no_article_text(at)


def test_token_sign_in_before_any_article_text(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSQA_HOST", "0.0.0.0")
    monkeypatch.setenv("NEWSQA_ACCESS_TOKEN", TOKEN)
    at = new_app()
    assert any("This page is private" in i.value for i in at.info)
    assert_no_article_text(at)

    at.text_input(key="sign_in_secret").input("not-the-token-at-all")
    at.form_submit_button[0].click().run()
    assert [e.value for e in at.error] == ["That access token is not valid."]
    assert_no_article_text(at)

    at.text_input(key="sign_in_secret").input(TOKEN)
    at.form_submit_button[0].click().run()
    assert not at.exception and not at.error
    assert at.session_state["owner"] == "token"
    assert any("shared access token" in c.value for c in at.sidebar.caption)
    # Exposed with a shared token: uploads are off unless NEWSQA_UPLOADS=on.
    assert not at.file_uploader
    assert any("Uploads are turned off" in c.value for c in at.sidebar.caption)
    ask(at, "What did Pete Hegseth reportedly order?")
    assert "Cyber Command" in " ".join(assistant_texts(at))

    # A link with ?token= signs in too, and the token leaves the address bar.
    linked = AppTest.from_file(APP, default_timeout=TIMEOUT)
    linked.query_params["token"] = TOKEN
    linked.run()
    assert not linked.exception and linked.chat_input
    assert "token" not in linked.query_params
    assert [b for b in linked.sidebar.button if "What did Pete Hegseth" in md_unescape(b.label)]  # shared by holders
    wrong = AppTest.from_file(APP, default_timeout=TIMEOUT)
    wrong.query_params["token"] = TOKEN + "x"
    wrong.run()
    assert [e.value for e in wrong.error] == ["The access token in the link is not valid."]
    assert_no_article_text(wrong)


def _sign_in(secret: str) -> AppTest:
    at = new_app()
    at.text_input(key="sign_in_secret").input(secret)
    at.form_submit_button[0].click().run()
    assert not at.exception and at.chat_input, [e.value for e in at.error]
    return at


def test_two_users_conversations_do_not_mix(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A conversation of the local user from before the page was exposed: nobody signed in sees it.
    from retrieval.conversations import Conversations

    local = Conversations(data_dir / "conversations.sqlite3")
    cid = local.create(owner=LOCAL_OWNER)
    local.append(cid, "user", "A local question about my landlord", owner=LOCAL_OWNER)
    local.close()

    users = tmp_path / "users.txt"
    users.write_text("alice:alice-secret-0123456789\nbob:bob-secret-0123456789xyz\n")
    monkeypatch.setenv("NEWSQA_HOST", "0.0.0.0")
    monkeypatch.setenv("NEWSQA_PASSWORD_FILE", str(users))

    alice = _sign_in("alice-secret-0123456789")
    assert any("Signed in as alice" in c.value for c in alice.sidebar.caption)
    ask(alice, "What did Pete Hegseth reportedly order?")
    alice.run()
    assert [b for b in alice.sidebar.button if "What did Pete Hegseth" in md_unescape(b.label)]

    # Per-user sign-in may upload (auto); each user's files go into a folder of their own.
    alice.file_uploader(key="upload-files-sidebar").set_value(
        ("notes.md", b"---\ntitle: Notes\n---\nAlice's short note about the harbour.", "text/markdown")
    )
    alice.sidebar.form_submit_button[0].click().run()
    assert [s.value for s in alice.success], [w.value for w in alice.warning]
    uploaded = list((data_dir / "uploads").rglob("notes.md"))
    assert len(uploaded) == 1 and uploaded[0].parent.name.startswith("user_alice-"), uploaded

    bob = _sign_in("bob-secret-0123456789xyz")
    labels = " ".join(md_unescape(b.label) for b in bob.sidebar.button)
    assert "What did Pete Hegseth" not in labels and "landlord" not in labels
    assert any("conversations will be listed here" in c.value for c in bob.sidebar.caption)
    ask(bob, "What did Canada say about intelligence sharing?")
    bob.run()
    assert [b for b in bob.sidebar.button if "What did Canada say" in md_unescape(b.label)]

    again = _sign_in("alice-secret-0123456789")  # a new session of alice's
    labels = [md_unescape(b.label) for b in again.sidebar.button]
    assert any("What did Pete Hegseth" in label for label in labels)
    assert not any("Canada" in label or "landlord" in label for label in labels)
    # Alice deletes hers: gone from her list and from the database; bob's stays.
    next(b for b in again.sidebar.button if "What did Pete Hegseth" in md_unescape(b.label)).click().run()
    again.sidebar.button(key="delete-conversation").click().run()
    assert not again.chat_message
    assert not [b for b in again.sidebar.button if "What did Pete Hegseth" in md_unescape(b.label)]
    store = Conversations(data_dir / "conversations.sqlite3")
    assert store.list(owner="user:alice") == []
    assert [c.title for c in store.list(owner="user:bob")] == ["What did Canada say about intelligence sharing?"]
    assert [c.title for c in store.list(owner=LOCAL_OWNER)] == ["A local question about my landlord"]
    store.close()


def test_upload_over_the_limit_or_binary_is_refused_and_the_index_unchanged(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSQA_UPLOAD_MAX_MB", "1")
    at = new_app()
    before = at.sidebar.metric[0].value, at.sidebar.metric[1].value
    at.file_uploader(key="upload-files-sidebar").set_value([
        ("huge.txt", b"A sentence of an article. " * 50_000, "text/plain"),  # 1.3 MB
        ("photo.md", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "text/markdown"),
        ("articles.json", _zipped(), "application/json"),
    ])
    at.sidebar.form_submit_button[0].click().run()
    assert not at.exception
    warnings = [md_unescape(w.value) for w in at.warning]
    assert warnings and "added 0" in warnings[0] and "failed 3" in warnings[0], warnings
    assert "huge.txt: it is 1.3 MB; the limit per file is 1 MB (NEWSQA_UPLOAD_MAX_MB)" in warnings[0]
    assert "photo.md: it is not readable text: binary file" in warnings[0]
    assert "articles.json: it is a zip archive, not an article" in warnings[0]
    assert (at.sidebar.metric[0].value, at.sidebar.metric[1].value) == before
    assert not (data_dir / "uploads").exists()  # nothing written

    # A good file beside a refused one: the good one goes in, the refused one is named.
    at.file_uploader(key="upload-files-sidebar").set_value([
        ("notes.md", b"---\ntitle: Notes\n---\nShort note text here about the harbour.", "text/markdown"),
        ("photo.md", b"\x00\x01\x02", "text/markdown"),
    ])
    at.sidebar.form_submit_button[0].click().run()
    warnings = [md_unescape(w.value) for w in at.warning]
    assert warnings and "added 1" in warnings[0], warnings
    assert "photo.md: it is not readable text: binary file" in warnings[0], warnings
    assert sorted(p.name for p in (data_dir / "uploads").iterdir()) == ["notes.md"]
    assert at.sidebar.metric[0].value == "3"


def _zipped() -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("articles.json", b"[" + b"0," * 2_000_000 + b"0]")  # 4 MB in a few kB
    return buffer.getvalue()


def test_exposed_page_shows_no_server_details_in_errors(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSQA_HOST", "0.0.0.0")
    monkeypatch.setenv("NEWSQA_NO_AUTH", "1")
    monkeypatch.setenv("NEWSQA_BACKEND", "openai")
    monkeypatch.setenv("NEWSQA_OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("NEWSQA_REQUEST_TIMEOUT", "5")
    at = new_app()
    assert any("No sign-in on this page" in c.value for c in at.sidebar.caption)
    assert not at.file_uploader  # exposed without per-user sign-in: uploads off
    at.chat_input[0].set_value("What did Pete Hegseth reportedly order?").run()
    assert not at.exception
    errors = [md_unescape(e.value) for e in at.error]
    assert errors == ["Could not answer. The details are in the server's log."], errors
    # Not in the sidebar's corpus facts either (it said "Answers: openai · local-model @ http://127.0.0.1:9/v1").
    assert any("Answers: openai" in md_unescape(c.value) for c in at.sidebar.caption)
    assert "127.0.0.1:9" not in page_text(at) and str(data_dir) not in page_text(at)


def test_exposed_page_does_not_name_its_chroma_server(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sidebar said "vectors: Chroma server 127.0.0.1:PORT" on an exposed page; a local page still does."""
    from conftest import closed_port

    address = f"127.0.0.1:{closed_port()}"
    monkeypatch.setenv("NEWSQA_CHROMA_URL", f"http://{address}")
    local = new_app()
    assert any(f"vectors: Chroma server {address}" in md_unescape(c.value) for c in local.sidebar.caption)
    monkeypatch.setenv("NEWSQA_HOST", "0.0.0.0")
    monkeypatch.setenv("NEWSQA_NO_AUTH", "1")
    exposed = new_app()
    assert any("vectors: Chroma server" in md_unescape(c.value) for c in exposed.sidebar.caption)
    assert address not in page_text(exposed) and "NEWSQA_CHROMA_URL" not in page_text(exposed)


# --- what the command line says about the settings, said on the page ----------------------------------
def test_a_bad_setting_is_named_on_the_page_not_a_pydantic_traceback(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page said "The settings are invalid: 1 validation error for Settings / k / Input should be …"
    (pydantic's text, no variable name); now as the command line: the variable, the value, why, the default."""
    monkeypatch.setenv("NEWSQA_K", "many")
    at = new_app()
    errors = [md_unescape(e.value) for e in at.error]
    assert len(errors) == 1 and errors[0].startswith("This page cannot start: NEWSQA_K='many': "), errors
    assert "valid integer" in errors[0] and "(default: 6)" in errors[0], errors
    assert "validation error" not in errors[0] and "pydantic" not in errors[0], errors
    assert_no_article_text(at)


def test_a_bad_setting_on_an_exposed_page_names_no_server_path(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bad value may be a server path (a data dir under a file): an exposed page says only that a
    setting is invalid; the log has the details."""
    placed = tmp_path / "secret-place"
    placed.write_text("a file, not a folder")
    monkeypatch.setenv("NEWSQA_DATA_DIR", str(placed / "data"))
    monkeypatch.setenv("NEWSQA_HOST", "0.0.0.0")
    monkeypatch.setenv("NEWSQA_ACCESS_TOKEN", TOKEN)
    at = new_app()
    errors = [md_unescape(e.value) for e in at.error]
    assert errors == ["This page cannot start: a NEWSQA_* setting is invalid. The details are in the server's "
                      "log."], errors
    assert "secret-place" not in page_text(at) and "NEWSQA_DATA_DIR" not in page_text(at)


def test_a_misspelt_setting_is_warned_about_with_the_closest_name(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """NEWSQA_BAKCEND=openai was ignored without a word on the page (the command line warns)."""
    monkeypatch.setenv("NEWSQA_BAKCEND", "openai")
    at = new_app()
    warnings = [md_unescape(w.value) for w in at.warning]
    assert warnings == ["NEWSQA_BAKCEND is no newsqa setting and is ignored (did you mean NEWSQA_BACKEND?)"], warnings
    assert at.chat_input and not at.chat_input[0].disabled  # only a warning: the page works
    monkeypatch.setenv("NEWSQA_HOST", "0.0.0.0")  # an exposed page: the operator's log only
    monkeypatch.setenv("NEWSQA_NO_AUTH", "1")
    exposed = new_app()
    assert "NEWSQA_BAKCEND" not in page_text(exposed)


def test_an_index_of_another_embedding_model_turns_questions_off(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`ask` refuses an index built with another embedding model (its vectors compared with the question's
    find noise, silently); the page answered from it. Now it says so, as `ask` does, and asks nothing."""
    other = tmp_path / "other-model"
    other.mkdir()
    monkeypatch.setenv("NEWSQA_EMBEDDING_MODEL", str(other))
    at = new_app()
    errors = [md_unescape(e.value) for e in at.error]
    assert len(errors) == 1 and "was built with embedding model" in errors[0], errors
    assert "'other-model' is configured" in errors[0] and "set NEWSQA_EMBEDDING_MODEL back" in errors[0], errors
    assert at.chat_input[0].disabled
    monkeypatch.setenv("NEWSQA_HOST", "0.0.0.0")  # an exposed page: no server path
    monkeypatch.setenv("NEWSQA_NO_AUTH", "1")
    exposed = new_app()
    errors = [md_unescape(e.value) for e in exposed.error]
    assert len(errors) == 1 and "built with another embedding model" in errors[0], errors
    assert str(other) not in page_text(exposed) and str(data_dir) not in page_text(exposed)
    assert exposed.chat_input[0].disabled
