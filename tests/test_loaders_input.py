"""Loaders on what users really drop in (session 16 audit, /tmp/s16/h3): relative feed links, home-page
canonicals, records without ids, copyright years, numeric dates, pages and dumps not in UTF-8, slow and
huge URLs, non-HTML URLs, non-feed XML, saved-page folders, Markdown headings and TOML front matter."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import LocalWeb, Page
from pdfs import make_pdf
from test_loaders import load, only

from ingest.loaders import MAX_BYTES, UnsupportedFile, parse_date
from ingest.pipeline import ingest
from retrieval.store import Store


# --- feeds: relative links, guids, non-feed XML ---------------------------------------------------------
def site_feed(site: str, items: str) -> bytes:
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>{site} news</title>'
            f"<link>https://{site}.example/</link>{items}</channel></rss>").encode()


def test_relative_item_links_are_read_against_the_site_so_two_sites_are_two_articles(tmp_path: Path) -> None:
    item = ("<item><title>Ferry</title><link>/news/1</link><description>The ferry company bought a ship."
            "</description></item>")
    for site in ("alpha", "beta"):
        (tmp_path / f"{site}.xml").write_bytes(site_feed(site, item))
    alpha, beta = only(tmp_path / "alpha.xml"), only(tmp_path / "beta.xml")
    assert alpha.url == "https://alpha.example/news/1" and beta.url == "https://beta.example/news/1"
    assert alpha.id != beta.id


def test_relative_item_links_of_a_feed_url_are_read_against_it(web: LocalWeb) -> None:
    web.pages["/feeds/main.xml"] = Page(
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>Gamma</title><item><title>Dam</title>'
        b"<link>../news/1</link><description>Gamma text about a dam.</description></item></channel></rss>",
        content_type="application/rss+xml")
    article = only(web.url("/feeds/main.xml"))
    assert article.url == web.url("/news/1")


def test_a_link_that_stays_relative_or_is_no_web_address_is_neither_cited_nor_the_id(tmp_path: Path) -> None:
    path = tmp_path / "wire.xml"
    path.write_bytes(
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>'  # no <link>: no site to read against
        b"<item><title>One</title><link>/news/1</link><description>First text.</description></item>"
        b"<item><title>Two</title><guid>tag:wire,2026:4</guid><description>Second text.</description></item>"
        b"<item><title>Three</title><guid>55</guid><description>Third text.</description></item>"
        b"</channel></rss>")
    one, two, three = load(path)[0]
    assert (one.url, two.url, three.url) == ("", "", "")  # not "/news/1", "tag:wire,2026:4", "55"
    assert one.id.startswith("src:") and three.id.startswith("src:")
    assert two.id == "tag:wire,2026:4"  # a guid that is a URI of its own stays the id, as before
    other = tmp_path / "other.xml"
    other.write_bytes(path.read_bytes().replace(b"First text.", b"Another story."))
    assert load(other)[0][0].id != one.id  # "/news/1" of another feed is another article


def test_xml_that_is_no_feed_is_named_not_skipped(tmp_path: Path) -> None:
    path = tmp_path / "article.xml"
    path.write_bytes(b'<?xml version="1.0"?>\n<!-- NewsML -->\n<article><headline>Dam opens</headline>'
                     b"<body><p>The Kora dam opened on Monday.</p></body></article>")
    articles, errors = load(path)
    assert articles == [] and len(errors) == 1
    assert "not an RSS/Atom feed" in errors[0].reason and "<article>" in errors[0].reason


# --- pages: home-page canonicals, copyright years, charsets ---------------------------------------------
def story_page(n: int, head: str, footer: str = "") -> str:
    return (f"<html><head><title>Story {n}</title>{head}</head><body><article><h1>Story {n}</h1>"
            f"<p>Story number {n}: the Halden{n} council voted on Tuesday to build new schools, the mayor "
            "said, after a long debate about costs and staffing in the district.</p></article>"
            f"<footer>{footer}</footer></body></html>")


@pytest.mark.parametrize("head", ['<meta property="og:url" content="https://www.site.example/">',
                                  '<link rel="canonical" href="https://site.example">'])
def test_a_canonical_naming_the_home_page_is_not_the_pages_id(tmp_path: Path, web: LocalWeb, head: str) -> None:
    for n in (1, 2):
        (tmp_path / f"page{n}.html").write_text(story_page(n, head))
        web.pages[f"/story/{n}"] = Page(story_page(n, head).encode())
    saved = [only(tmp_path / f"page{n}.html") for n in (1, 2)]
    fetched = [only(web.url(f"/story/{n}")) for n in (1, 2)]
    assert len({a.id for a in saved + fetched}) == 4
    assert [a.url for a in saved] == ["", ""]
    assert [a.url for a in fetched] == [web.url("/story/1"), web.url("/story/2")]
    web.pages["/"] = Page(story_page(3, head).encode())  # the home page itself may name itself
    assert only(web.url("/")).id == "https://site.example/"


def test_two_pages_with_a_home_page_og_url_stay_two_articles_in_the_index(tmp_path: Path, fake_store: Store) -> None:
    head = '<meta property="og:url" content="https://www.site.example/">'
    for n in (1, 2):
        (tmp_path / f"page{n}.html").write_text(story_page(n, head))
    ingest([str(tmp_path / "page1.html")], fake_store.settings, store=fake_store)
    report = ingest([str(tmp_path / "page2.html")], fake_store.settings, store=fake_store)
    assert (report.added, report.updated) == (1, 0)


@pytest.mark.parametrize("footer", ["Copyright 2026 Example News", "Last updated: March 2026", "© 2024–2026"])
def test_a_year_in_the_footer_does_not_date_the_page(tmp_path: Path, footer: str) -> None:
    path = tmp_path / "page.html"
    path.write_text(story_page(1, "", footer))
    assert only(path).published == ""
    dated = tmp_path / "dated.html"  # a page that gives its day keeps it
    dated.write_text(story_page(1, '<meta property="article:published_time" content="2026-03-04T08:00:00Z">', footer))
    assert only(dated).published.startswith("2026-03-04")


LATIN1_PAGE = ('<html><head>{meta}<title>Café</title></head><body><article><p>Les propriétaires de café à '
               "Lyon ont manifesté lundi contre les nouvelles règles sur les terrasses, a déclaré le syndicat."
               "</p></article></body></html>")


@pytest.mark.parametrize(
    ("meta", "content_type", "encoding"),
    [
        ('<meta charset="iso-8859-1">', "text/html", "latin-1"),  # the page's <meta charset>
        ("", "text/html", "latin-1"),  # nothing declared: read as a file is
        ("", "text/html; charset=windows-1252", "cp1252"),  # the header's
        ('<meta charset="iso-8859-1">', "text/html", "utf-8"),  # declared wrong: the bytes are UTF-8
    ],
)
def test_a_page_not_in_utf8_keeps_its_accents(web: LocalWeb, meta: str, content_type: str, encoding: str) -> None:
    web.pages["/cafe"] = Page(LATIN1_PAGE.format(meta=meta).encode(encoding), content_type=content_type)
    text = only(web.url("/cafe")).text
    assert "propriétaires" in text and "\ufffd" not in text and "Ã" not in text


# --- URLs: slow, huge, not HTML -------------------------------------------------------------------------
class DripServer:
    """A server that sends ``size`` bytes of a page, ``chunk`` at a time every ``pause`` seconds, with or
    without a Content-Length."""

    def __init__(self, size: int, chunk: int, pause: float, length: bool) -> None:
        self.stopping = threading.Event()
        drip = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                if length:
                    self.send_header("Content-Length", str(size))
                self.end_headers()
                body = b"<html><body><article><p>" + b"word " * (size // 5)
                try:
                    for start in range(0, size, chunk):
                        self.wfile.write(body[start:start + chunk])
                        self.wfile.flush()
                        if pause and drip.stopping.wait(pause):
                            return
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/page"

    def close(self) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def drip() -> Iterator[type[DripServer]]:
    servers: list[DripServer] = []

    def start(size: int, chunk: int, pause: float, length: bool) -> DripServer:
        servers.append(DripServer(size, chunk, pause, length))
        return servers[-1]

    yield start  # type: ignore[misc]
    for server in servers:
        server.close()


def test_a_page_sent_a_byte_a_second_times_out_on_the_whole_download(drip: type[DripServer]) -> None:
    server = drip(100_000, 1, 0.2, True)
    started = time.monotonic()
    articles, errors = load(server.url, timeout=1.0)
    assert time.monotonic() - started < 4
    assert articles == [] and len(errors) == 1
    assert errors[0].reason.startswith("timed out after 1s") and "NEWSQA_REQUEST_TIMEOUT" in errors[0].reason


@pytest.mark.parametrize("length", [True, False])  # refused by its Content-Length, or counted as it arrives
def test_a_page_over_the_size_limit_is_refused(drip: type[DripServer], length: bool) -> None:
    server = drip(MAX_BYTES + 1_000_000, 1_000_000, 0.0, length)
    articles, errors = load(server.url, timeout=30.0)
    assert articles == [] and len(errors) == 1
    assert "MB are refused" in errors[0].reason


def test_a_pdf_url_is_read_as_a_pdf(web: LocalWeb, tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "t.pdf", [["The Sorrel hospital opened a new wing on Monday.",
                                         "It has 80 beds, the health board said."]], title="Sorrel")
    web.pages["/report"] = Page(pdf.read_bytes(), content_type="application/pdf")
    article = only(web.url("/report"))
    assert article.title == "Sorrel (p. 1)" and "80 beds" in article.text
    assert article.url == web.url("/report") + "#page=1"
    assert article.source == web.url("/report") + "#page=1"


def test_a_text_url_is_read_as_text(web: LocalWeb) -> None:
    web.pages["/story.txt"] = Page(b"Kiln fire\n\nA fire at the Ostby kiln was put out on Sunday.",
                                   content_type="text/plain; charset=utf-8")
    article = only(web.url("/story.txt"))
    assert article.title == "Kiln fire" and "Ostby kiln" in article.text
    assert article.url == web.url("/story.txt")


@pytest.mark.parametrize(("path", "content_type"), [("/dump.jsonl", "application/x-ndjson"),
                                                    ("/dump.jsonl", "text/plain"),
                                                    ("/dump.json", "application/json")])
def test_a_json_url_is_read_as_records(web: LocalWeb, path: str, content_type: str) -> None:
    records = [{"id": "a", "text": "The first record, about salt."}, {"id": "b", "text": "The second, on pepper."}]
    body = ("\n".join(map(json.dumps, records)) if path.endswith("l") else json.dumps(records)).encode()
    web.pages[path] = Page(body, content_type=content_type)
    articles, errors = load(web.url(path))
    assert errors == [] and [a.id for a in articles] == ["a", "b"]
    assert articles[1].source == web.url(path) + "#" + ("2" if path.endswith("l") else "1")


def test_a_url_serving_something_else_is_named_as_what_it_serves(web: LocalWeb) -> None:
    web.pages["/photo.png"] = Page(b"\x89PNG\r\n\x1a\n" + bytes(range(256)), content_type="image/png")
    articles, errors = load(web.url("/photo.png"))
    assert articles == [] and len(errors) == 1
    assert errors[0].reason.startswith("the URL serves image/png, not an article page")


# --- JSON records: ids, dates, sizes, encodings ----------------------------------------------------------
BAKERIES = [{"title": f"{w} story", "text": f"The {w} bakery in Tromso won a national bread prize on Friday."}
            for w in ("Alder", "Birch", "Cedar")]


@pytest.mark.parametrize("suffix", [".jsonl", ".json"])
def test_records_without_id_or_url_keep_their_ids_when_lines_move(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"dump{suffix}"

    def write(records: list[dict[str, str]]) -> dict[str, str]:
        path.write_text("\n".join(map(json.dumps, records)) if suffix == ".jsonl" else json.dumps(records))
        return {a.title: a.id for a in load(path)[0]}

    before = write(BAKERIES)
    assert len(set(before.values())) == 3
    assert write(BAKERIES[1:]) == {k: v for k, v in before.items() if k != "Alder story"}  # a line removed
    assert write([{"title": "Daisy story", "text": "New on top."}, *BAKERIES])["Cedar story"] == before["Cedar story"]


def test_feed_entries_without_link_or_guid_keep_their_ids_when_items_move(tmp_path: Path) -> None:
    path = tmp_path / "feed.xml"
    items = [f"<item><title>{w}</title><description>The {w} bakery won.</description></item>"
             for w in ("Alder", "Birch")]
    path.write_bytes(site_feed("x", "".join(items)))
    before = {a.title: a.id for a in load(path)[0]}
    path.write_bytes(site_feed("x", items[1]))
    assert {a.title: a.id for a in load(path)[0]} == {"Birch": before["Birch"]}


def test_removing_the_first_record_of_a_dump_updates_nothing(tmp_path: Path, fake_store: Store) -> None:
    path = tmp_path / "dump.jsonl"
    path.write_text("\n".join(map(json.dumps, BAKERIES)) + "\n")
    ingest([str(path)], fake_store.settings, store=fake_store)
    path.write_text("\n".join(map(json.dumps, BAKERIES[1:])) + "\n")
    report = ingest([str(path)], fake_store.settings, store=fake_store)
    assert (report.added, report.updated, report.unchanged) == (0, 0, 2)
    with closing(sqlite3.connect(fake_store.settings.catalog_path)) as db:
        assert db.execute("SELECT count(*) FROM articles WHERE text LIKE '%Cedar bakery%'").fetchone() == (1,)


def test_relative_or_odd_record_urls_are_not_ids_or_links(tmp_path: Path) -> None:
    path = tmp_path / "dump.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in [
        {"url": "/news/1", "title": "One", "text": "First text."},
        {"url": 5, "title": ["Dam", "opens"], "authors": {"name": "Jane Roe"}, "text": "Second text."},
        {"url": "site.example/news/3", "title": "Three", "text": "Third text."},
    ]))
    one, two, three = load(path)[0]
    assert one.url == "" and one.id.startswith("src:")
    assert two.url == "" and two.title == "Dam opens" and two.authors == ("Jane Roe",)
    assert three.url == "https://site.example/news/3" and three.id == "https://site.example/news/3"


@pytest.mark.parametrize(("value", "expected"), [(20260502, "2026-05-02"), (1772236800000, "2026-02-28"),
                                                 (1772236800, "2026-02-28"), (20261341, "")])
def test_numeric_dates(value: int, expected: str) -> None:
    assert parse_date(value) == expected


def test_a_record_over_the_size_limit_is_refused_by_its_line(tmp_path: Path) -> None:
    path = tmp_path / "dump.jsonl"
    path.write_text(json.dumps({"id": "small", "text": "A small record."}) + "\n"
                    + json.dumps({"id": "big", "text": "x" * (MAX_BYTES + 1)}) + "\n")
    articles, errors = load(path)
    assert [a.id for a in articles] == ["small"]
    assert len(errors) == 1 and errors[0].reason.startswith("line 2: its text is")
    assert "split it into several records" in errors[0].reason


LINES = ('{"id": "a", "text": "Les propriétaires de café à Lyon ont manifesté lundi."}\r\n'
         '{"id": "b", "text": "Zweiter Datensatz über Bäcker in Köln."}\r\n')


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-le", "latin-1", "utf-32"])
def test_a_dump_not_in_plain_utf8_is_read_in_its_encoding(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "dump.jsonl"
    path.write_bytes(LINES.encode(encoding))
    articles, errors = load(path)
    assert errors == [] and [a.id for a in articles] == ["a", "b"]
    assert "propriétaires" in articles[0].text and "Köln" in articles[1].text


def test_a_dump_in_no_clear_encoding_names_the_way_out(tmp_path: Path) -> None:
    path = tmp_path / "dump.jsonl"
    path.write_bytes(b'{"id": "ok", "text": "fine"}\n{"id": "x", "text": "\x81\x8d\x8f\x90\x9d"}\n')
    articles, errors = load(path)
    assert [a.id for a in articles] == ["ok"]
    assert len(errors) == 1 and errors[0].reason.startswith("line 2: invalid UTF-8")
    assert "re-save the file as UTF-8" in errors[0].reason


def test_a_text_file_in_utf16_without_a_bom_is_text(tmp_path: Path) -> None:
    path = tmp_path / "story.txt"
    path.write_bytes("Kiln fire\n\nA fire at the Østby kiln was put out on Sunday.\n".encode("utf-16-le"))
    assert "Østby" in only(path).text


# --- folders and text files -----------------------------------------------------------------------------
def test_a_saved_pages_files_folder_is_not_read(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    (folder / "Story_files").mkdir(parents=True)
    (folder / "Story.html").write_text(story_page(1, ""))
    (folder / "Story_files" / "app.js").write_text("var a=1;")
    (folder / "Story_files" / "ad_frame.html").write_text(story_page(9, ""))
    (folder / "notes_files").mkdir()  # no notes.html beside it: read
    (folder / "notes_files" / "n.txt").write_text("Notes\n\nThe quarry reopened.")
    (folder / "scan.docx").write_bytes(b"PK\x03\x04")
    articles, errors = load(folder)
    assert sorted(a.title for a in articles) == ["Notes", "Story 1"]
    assert [(Path(e.source).name, type(e)) for e in errors] == [("scan.docx", UnsupportedFile)]


def test_markdown_heading_marks_leave_the_title(tmp_path: Path) -> None:
    path = tmp_path / "b.md"
    path.write_text("# Zinc mine strike ends\n\nWorkers at the Kestrel zinc mine voted to end the strike.\n")
    article = only(path)
    assert article.title == "Zinc mine strike ends"
    assert article.text.startswith("# Zinc")  # the text is left as written
    txt = tmp_path / "b.txt"
    txt.write_text("# Not markup in a .txt\n\nBody.\n")
    assert only(txt).title == "# Not markup in a .txt"


def test_toml_front_matter_is_read(tmp_path: Path) -> None:
    path = tmp_path / "toml.md"
    path.write_text('+++\ntitle = "Canal dredged"\ndate = 2026-03-05\nauthors = ["Ana Lima", "Piet Roe"]\n'
                    'url = "https://port.example/canal"\n+++\nThe Ostra canal was dredged on Monday.\n')
    article = only(path)
    assert (article.title, article.published, article.authors) == ("Canal dredged", "2026-03-05",
                                                                    ("Ana Lima", "Piet Roe"))
    assert article.id == "https://port.example/canal" and article.text.startswith("The Ostra canal")


def test_front_matter_never_closed_is_named(tmp_path: Path) -> None:
    path = tmp_path / "open.md"
    path.write_text("---\ntitle: Canal dredged\ndate: 2026-03-05\nThe Ostra canal was dredged on Monday.\n")
    articles, errors = load(path)
    assert articles == [] and len(errors) == 1 and "never closed" in errors[0].reason
    rule = tmp_path / "rule.md"
    rule.write_text("---\n\nA story that starts with a horizontal rule.\n")
    assert "horizontal rule" in only(rule).text


def test_a_web_address_without_its_scheme_is_named_as_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    articles, errors = load("www.site.example/news/1")
    assert articles == [] and errors[0].reason == "no such file or folder (a web address? give it with https://)"
    assert load("missing/story.txt")[1][0].reason == "no such file or folder"
