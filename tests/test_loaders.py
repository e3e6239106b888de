"""Loaders: every supported format → ``Article`` with its metadata; every bad input → a named ``LoadError``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FakeEmbedder, LocalWeb, Page, closed_port, write_articles
from pdfs import make_pdf

from ingest.cli import main
from ingest.loaders import LoadError, canonical_url, feed_outlet, iter_source, parse_date, strip_tracking
from retrieval.store import Embedder
from retrieval.types import Article


def load(source: str | Path, timeout: float = 10.0) -> tuple[list[Article], list[LoadError]]:
    articles: list[Article] = []
    errors: list[LoadError] = []
    for item in iter_source(str(source), timeout=timeout):
        (errors if isinstance(item, LoadError) else articles).append(item)  # type: ignore[arg-type]
    return articles, errors


def only(source: str | Path) -> Article:
    articles, errors = load(source)
    assert errors == [] and len(articles) == 1, (articles, errors)
    return articles[0]


# --- plain text and markdown -------------------------------------------------------------------
def test_txt_file_title_is_first_line_and_id_is_stable_per_path(tmp_path: Path) -> None:
    path = tmp_path / "harbour.txt"
    path.write_text("Harbour Reopens\n\nThe harbour reopened on Monday after dredging work.\n", encoding="utf-8")
    first = only(path)
    assert first.title == "Harbour Reopens"
    assert "dredging work" in first.text
    assert first.url == "" and first.published == ""
    assert first.source == str(path)
    path.write_text("Harbour Reopens\n\nEdited: it reopened on Tuesday.\n", encoding="utf-8")
    assert only(path).id == first.id  # the id names the source, not its content
    other = tmp_path / "other.txt"
    other.write_text("Harbour Reopens\n\nThe harbour reopened on Monday after dredging work.\n")
    assert only(other).id != first.id


def test_markdown_front_matter_is_honoured(tmp_path: Path) -> None:
    path = tmp_path / "strike.md"
    path.write_text(
        "---\n"
        'title: "Rail Strike Ends After Marathon Talks"\n'
        "url: https://www.example-news.test/rail-strike-ends?utm_source=feed\n"
        "published: Aug. 28, 2025\n"
        "outlet: Example News\n"
        'authors: [Jane Doe, "John Roe"]\n'
        "---\n"
        "# Rail Strike Ends After Marathon Talks\n\n"
        "Union leaders and the rail operator reached a deal at dawn after nineteen hours of talks.\n",
        encoding="utf-8",
    )
    article = only(path)
    assert article.title == "Rail Strike Ends After Marathon Talks"
    assert article.url == "https://www.example-news.test/rail-strike-ends?utm_source=feed"
    assert article.id == "https://example-news.test/rail-strike-ends"  # canonical: no www, no utm_*
    assert article.published == "2025-08-28"
    assert article.outlet == "Example News"
    assert article.authors == ("Jane Doe", "John Roe")
    assert "---" not in article.text and "outlet:" not in article.text
    assert article.text.lstrip().startswith("# Rail Strike Ends")


def test_markdown_front_matter_block_list_of_authors(tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.write_text(
        "---\ntitle: Budget Passes\nauthors:\n  - Ana Lima\n  - 'Piet de Vries'\npublished: 2026-01-05\n---\n"
        "The city budget passed by a narrow margin on Friday evening.\n",
        encoding="utf-8",
    )
    article = only(path)
    assert article.authors == ("Ana Lima", "Piet de Vries")
    assert article.published == "2026-01-05"
    assert article.outlet == ""  # no url, no outlet field


# --- HTML --------------------------------------------------------------------------------------
NEWS_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Harbour Council Approves Tidal Barrier Plan | The Coastal Ledger</title>
  <meta name="author" content="Maria Okafor">
  <meta property="article:published_time" content="2026-03-14T09:30:00Z">
  <meta property="og:site_name" content="The Coastal Ledger">
  <link rel="canonical" href="https://coastal-ledger.example/news/2026/03/tidal-barrier-plan">
  <script>window.dataLayer = []; function trackAd(){ console.log("ADTRACKER_SECRET_TOKEN"); }</script>
  <style>.nav { color: red } /* STYLESHEET_RULE */</style>
</head>
<body>
  <header>
    <nav class="menu">
      <ul><li><a href="/">Home</a></li><li><a href="/world">World</a></li>
      <li><a href="/sport">NAVMENU_SPORTS_LINK</a></li><li><a href="/weather">Weather</a></li></ul>
    </nav>
    <div class="ad-banner">Advertisement: SUBSCRIBE_BANNER_PROMO get 50% off your first year</div>
  </header>
  <main>
    <article>
      <h1>Harbour Council Approves Tidal Barrier Plan</h1>
      <p class="byline">By Maria Okafor, March 14, 2026</p>
      <p>The Port Alder harbour council voted seven to two on Thursday to build a tidal barrier across the
      estuary mouth, ending a decade of debate over how to protect the old town from winter storm surges.</p>
      <p>The barrier, estimated to cost 84 million euros, will be built in three phases starting next spring.
      Engineers said the first gates could close by the autumn of 2028, well before the next expected peak
      in spring tides.</p>
      <h2>Fishermen raise concerns</h2>
      <p>Local fishing cooperatives warned that the structure could disrupt the migration of sea trout and
      asked the council to fund an independent ecological survey before construction begins.</p>
      <p>Council leader Ingrid Halvorsen said the survey would be commissioned within weeks and that the
      gates would remain open for most of the year, closing only when surge forecasts exceed two metres.</p>
      <script>renderInlineAd("INLINE_SCRIPT_AD_PAYLOAD");</script>
      <div class="advert">SPONSORED_SLOT_TEXT</div>
      <p>Residents of the lower quay, whose homes flooded three times in the past five years, welcomed the
      decision. Several attended the meeting carrying sandbags as a reminder of last January's flood.</p>
    </article>
    <aside class="sidebar"><h3>Most read</h3>
      <ul><li><a href="/x">SIDEBAR_MOST_READ_ITEM celebrity chef opens bistro</a></li></ul></aside>
  </main>
  <footer><p>FOOTER_COPYRIGHT_LINE 2026 The Coastal Ledger. All rights reserved.</p>
    <a href="/privacy">Privacy</a> <a href="/cookies">Cookie settings</a></footer>
</body>
</html>
"""
PAGE_JUNK = [
    "ADTRACKER_SECRET_TOKEN", "STYLESHEET_RULE", "NAVMENU_SPORTS_LINK", "SUBSCRIBE_BANNER_PROMO",
    "INLINE_SCRIPT_AD_PAYLOAD", "SIDEBAR_MOST_READ_ITEM", "FOOTER_COPYRIGHT_LINE", "Cookie settings",
]


def test_html_main_text_extracted_and_chrome_dropped(tmp_path: Path) -> None:
    path = tmp_path / "barrier.html"
    path.write_text(NEWS_PAGE, encoding="utf-8")
    article = only(path)
    assert article.title == "Harbour Council Approves Tidal Barrier Plan"
    assert article.id == "https://coastal-ledger.example/news/2026/03/tidal-barrier-plan"
    assert article.published == "2026-03-14"
    assert article.outlet == "The Coastal Ledger"
    assert article.authors == ("Maria Okafor",)
    for kept in ("voted seven to two", "84 million euros", "sea trout", "Ingrid Halvorsen", "sandbags"):
        assert kept in article.text
    for junk in PAGE_JUNK:
        assert junk not in article.text, junk
    assert "<p>" not in article.text and "function" not in article.text


def test_html_without_article_text_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.html"
    path.write_text("<html><head><script>var x = 1;</script></head><body><div></div></body></html>")
    articles, errors = load(path)
    assert articles == []
    assert [e.source for e in errors] == [str(path)]
    assert "no article text" in errors[0].reason


# --- JSON and JSON lines -----------------------------------------------------------------------
RECORDS = [
    {
        "id": "rtqa-0001",
        "url": "https://news.example/2026/01/flood-defences",
        "title": "Flood Defences Tested",
        "published": "2026-01-12T06:00:00Z",
        "authors": ["Sam Reyes", "Kim Ito"],
        "text": "Flood defences along the river were tested overnight as water levels rose.",
    },
    {
        "id": "rtqa-0002",
        "url": "https://other.example/metro-fares",
        "title": "Metro Fares Frozen",
        "published": "January 3, 2026",
        "authors": "Lee Park and Ada Obi",
        "text": "The metro authority froze fares for another year, citing the cost of living.",
    },
]


def test_jsonl_records_keep_their_fields(tmp_path: Path) -> None:
    path = tmp_path / "dump.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in RECORDS) + "\n\n", encoding="utf-8")
    articles, errors = load(path)
    assert errors == []
    assert [a.id for a in articles] == ["rtqa-0001", "rtqa-0002"]
    first, second = articles
    assert first.title == "Flood Defences Tested"
    assert first.url == "https://news.example/2026/01/flood-defences"
    assert first.published == "2026-01-12T06:00:00+00:00"
    assert first.authors == ("Sam Reyes", "Kim Ito")
    assert first.outlet == "news.example"  # from the URL when the record has none
    assert first.text == RECORDS[0]["text"]
    assert first.source == f"{path}#1"
    assert second.published == "2026-01-03"
    assert second.authors == ("Lee Park", "Ada Obi")
    assert second.source == f"{path}#2"


def test_json_list_of_records(tmp_path: Path) -> None:
    path = tmp_path / "dump.json"
    path.write_text(json.dumps(RECORDS), encoding="utf-8")
    articles, errors = load(path)
    assert errors == []
    assert [(a.id, a.title) for a in articles] == [("rtqa-0001", "Flood Defences Tested"),
                                                   ("rtqa-0002", "Metro Fares Frozen")]


NEWSAPI_RECORD = {
    "source": {"id": "valley-news", "name": "Valley News"},
    "author": "Ada Obi",
    "title": "Dam Inspection Finds Cracks",
    "description": "Engineers found cracks in the spillway.",
    "url": "https://valley-news.example/2026/11/dam-cracks",
    "publishedAt": "2026-11-23T11:02:00Z",
    "content": "Engineers inspecting the Tessaly dam found cracks in its spillway on Monday, the water board said"
               " … [+1804 chars]",
}


def test_newsapi_records_name_their_outlet_and_date(tmp_path: Path) -> None:
    path = tmp_path / "newsapi.jsonl"
    path.write_text(json.dumps(NEWSAPI_RECORD) + "\n", encoding="utf-8")
    article = only(path)
    assert article.outlet == "Valley News"  # not "{'id': 'valley-news', 'name': 'Valley News'}"
    assert article.published == "2026-11-23T11:02:00+00:00"
    assert article.authors == ("Ada Obi",)
    assert article.text.endswith("the water board said")  # NewsAPI's "[+1804 chars]" is not article text


@pytest.mark.parametrize(
    ("fields", "published", "outlet"),
    [
        ({"published_at": "2026-11-23", "source": "Valley News"}, "2026-11-23", "Valley News"),
        ({"pubDate": "Mon, 23 Nov 2026 10:15:00 GMT"}, "2026-11-23T10:15:00+00:00", "valley-news.example"),
        ({"datePublished": "2026-11-23", "publisher": {"name": "Valley News"}}, "2026-11-23", "Valley News"),
        ({"published_date": "2026-11-23", "source": {"id": "valley-news"}}, "2026-11-23", "valley-news.example"),
        ({"date": "Nov. 23, 2026", "source_name": "Valley News"}, "2026-11-23", "Valley News"),
    ],
)
def test_record_field_aliases_for_the_date_and_the_outlet(
    tmp_path: Path, fields: dict[str, object], published: str, outlet: str
) -> None:
    path = tmp_path / "aliases.json"
    record = {"url": "https://valley-news.example/2026/11/dam", "description": "Cracks were found in the dam."}
    path.write_text(json.dumps({**record, **fields}), encoding="utf-8")
    article = only(path)
    assert (article.published, article.outlet) == (published, outlet)
    assert article.text == "Cracks were found in the dam."  # a record with a description only


def test_broken_json_lines_are_named_by_line_number_and_the_rest_load(tmp_path: Path) -> None:
    path = tmp_path / "dump.jsonl"
    lines = [
        json.dumps(RECORDS[0]),
        '{"id": "rtqa-x", "title": "Cut off", "text": "half a rec',  # line 2: truncated
        json.dumps({"id": "rtqa-empty", "title": "No body", "text": "   "}),  # line 3: no text
        "[1, 2, 3]",  # line 4: not an object
        json.dumps(RECORDS[1]),
    ]
    path.write_bytes(("\n".join(lines) + "\n").encode() + b'{"id": "bad-bytes", "text": "caf\xe9"}\n')
    articles, errors = load(path)
    assert [a.id for a in articles] == ["rtqa-0001", "rtqa-0002", "bad-bytes"]
    assert articles[2].text == "café"  # the one line not in UTF-8 reads as the code page it is in
    reasons = {e.reason.split(":")[0]: e.reason for e in errors}
    assert set(reasons) == {"line 2", "line 3", "line 4"}, errors
    assert "broken JSON" in reasons["line 2"]
    assert "no text" in reasons["line 3"]
    assert "JSON object" in reasons["line 4"]
    assert all(e.source == str(path) for e in errors)


def test_broken_json_file_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "dump.json"
    path.write_text('[\n  {"id": "a", "text": "fine"},\n  {"id": "b", "text": oops}\n]\n')
    articles, errors = load(path)
    assert articles == []
    assert len(errors) == 1 and errors[0].source == str(path)
    assert "line 3" in errors[0].reason and "column" in errors[0].reason


DEEP = "[" * 200_000  # valid JSON so far, but deeper than Python's parser recurses


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("a.json", '{"articles": 5}', 'the file holds no article records: "articles" is a number'),
        ("b.json", '{"articles": null}', 'the file holds no article records: "articles" is null'),
        ("deep.json", DEEP, "JSON nested too deeply"),
        ("deep.jsonl", DEEP + "\n", "line 1: JSON nested too deeply"),
    ],
    ids=["articles-number", "articles-null", "deep-json", "deep-jsonl"],
)
def test_malformed_json_is_named_and_the_rest_of_the_folder_loads(
    tmp_path: Path, name: str, content: str, reason: str
) -> None:
    folder = tmp_path / "news"
    folder.mkdir()
    (folder / "one.txt").write_text("First Story\n\nSomething happened in the town square today.")
    (folder / name).write_text(content)
    (folder / "two.txt").write_text("Second Story\n\nSomething else happened by the river.")
    articles, errors = load(folder)
    assert sorted(a.title for a in articles) == ["First Story", "Second Story"]
    assert len(errors) == 1 and errors[0].source == str(folder / name), errors
    assert errors[0].reason.startswith(reason), errors[0].reason


def test_jsonl_line_too_deep_or_oddly_shaped_is_named_and_the_other_lines_load(tmp_path: Path) -> None:
    path = tmp_path / "dump.jsonl"
    odd = {"id": "odd", "text": "A record whose author names are not all strings.",
           "authors": [{"name": 5}, {"name": None}, "Ana Lima"]}
    path.write_text("\n".join([json.dumps(RECORDS[0]), DEEP, json.dumps(odd), json.dumps(RECORDS[1])]) + "\n")
    articles, errors = load(path)
    assert [a.id for a in articles] == ["rtqa-0001", "odd", "rtqa-0002"]
    assert articles[1].authors == ("5", "Ana Lima")
    assert len(errors) == 1 and errors[0].source == str(path)
    assert errors[0].reason.startswith("line 2: JSON nested too deeply"), errors[0].reason


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("number.json", b"42\n", "the file holds no article records: it holds a number"),
        ("null.json", b"null", "the file holds no article records: it holds null"),
        ("list.json", b"[]", "the file holds no article records (an empty list)"),
        ("articles.json", b'{"articles": []}', 'the file holds no article records ("articles" is an empty list)'),
        ("empty.jsonl", b"", "the file is empty"),
        ("blank.jsonl", b"\n  \n\n", "the file is empty"),
    ],
    ids=["number", "null", "empty-list", "empty-articles", "empty-jsonl", "blank-jsonl"],
)
def test_json_files_without_records_are_named_not_skipped(
    tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    articles, errors = load(path)
    assert articles == []
    assert len(errors) == 1 and errors[0].source == str(path), errors
    assert errors[0].reason.startswith(reason), errors[0].reason


def test_malformed_json_does_not_stop_the_ingest_command(
    tmp_path: Path, cli_embedder: Callable[[Embedder], None], fake_embedder: FakeEmbedder
) -> None:
    cli_embedder(fake_embedder)
    write_articles(tmp_path / "news", 2)
    (tmp_path / "news" / "a.json").write_text('{"articles": 5}')
    result = CliRunner().invoke(main, [str(tmp_path / "news"), "--data-dir", str(tmp_path / "d"), "--json"])
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["added"] == 2
    assert [(Path(f["source"]).name, f["reason"].split(":")[0]) for f in report["failed"]] == [
        ("a.json", "the file holds no article records")]


# --- feeds -------------------------------------------------------------------------------------
RSS = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel>
  <title>Valley Gazette</title>
  <link>https://valley-gazette.example/</link>
  <description>Local news</description>
  <item>
    <title>Bridge Reopens After Repairs</title>
    <link>https://valley-gazette.example/2026/02/bridge-reopens</link>
    <guid>vg-1001</guid>
    <pubDate>Tue, 10 Feb 2026 08:15:00 GMT</pubDate>
    <dc:creator>Tom Berg</dc:creator>
    <description><![CDATA[<p>The Elm Street bridge reopened to traffic on Monday after four months of
    repairs.</p><script>trackFeed("RSS_SCRIPT_PAYLOAD")</script><p>Officials said the work came in under
    budget.</p>]]></description>
  </item>
  <item>
    <title>Library Extends Opening Hours</title>
    <link>https://valley-gazette.example/2026/02/library-hours?utm_campaign=rss</link>
    <guid>vg-1002</guid>
    <pubDate>Wed, 11 Feb 2026 10:00:00 GMT</pubDate>
    <description>The central library will open until nine in the evening on weekdays from March.</description>
  </item>
</channel>
</rss>
"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Northern Science Wire</title>
  <link href="https://nsw.example/"/>
  <updated>2026-01-20T12:00:00Z</updated>
  <id>urn:uuid:60a76c80-d399-11d9-b91c-0003939e0af6</id>
  <entry>
    <title>Glacier Retreat Measured by Drone Survey</title>
    <link href="https://nsw.example/glacier-drone-survey"/>
    <id>urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a</id>
    <published>2026-01-19T07:45:00Z</published>
    <updated>2026-01-19T07:45:00Z</updated>
    <author><name>Lena Virtanen</name></author>
    <content type="html">&lt;p&gt;A drone survey found the Kessel glacier retreated 41 metres last
    year.&lt;/p&gt;&lt;p&gt;Researchers blame two unusually warm summers.&lt;/p&gt;</content>
  </entry>
  <entry>
    <title>Seabird Colony Recovers</title>
    <link href="https://nsw.example/seabird-colony"/>
    <id>urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6b</id>
    <updated>2026-01-18T10:00:00Z</updated>
    <summary>Puffin numbers on the outer islands have doubled since rats were removed.</summary>
  </entry>
</feed>
"""


def check_rss(articles: list[Article], source: str) -> None:
    assert [a.id for a in articles] == [
        "https://valley-gazette.example/2026/02/bridge-reopens",
        "https://valley-gazette.example/2026/02/library-hours",
    ]
    bridge, library = articles
    assert bridge.title == "Bridge Reopens After Repairs"
    assert bridge.published == "2026-02-10T08:15:00+00:00"
    assert bridge.outlet == "Valley Gazette"
    assert bridge.authors == ("Tom Berg",)
    assert "four months of" in bridge.text and "Officials said the work came in under" in bridge.text
    assert "RSS_SCRIPT_PAYLOAD" not in bridge.text and "<p>" not in bridge.text
    assert bridge.source == f"{source}#0"
    assert library.url == "https://valley-gazette.example/2026/02/library-hours"  # utm_campaign dropped
    assert library.published == "2026-02-11T10:00:00+00:00"


def check_atom(articles: list[Article]) -> None:
    assert [a.title for a in articles] == ["Glacier Retreat Measured by Drone Survey", "Seabird Colony Recovers"]
    glacier, seabird = articles
    assert glacier.id == "https://nsw.example/glacier-drone-survey"
    assert glacier.outlet == "Northern Science Wire"
    assert glacier.authors == ("Lena Virtanen",)
    assert glacier.published == "2026-01-19T07:45:00+00:00"
    assert "41 metres" in glacier.text and "warm summers" in glacier.text and "<p>" not in glacier.text
    assert seabird.published == "2026-01-18T10:00:00+00:00"  # no <published>: <updated>
    assert "Puffin numbers" in seabird.text


def test_rss_feed_file(tmp_path: Path) -> None:
    path = tmp_path / "gazette.rss"
    path.write_bytes(RSS)
    articles, errors = load(path)
    assert errors == []
    check_rss(articles, str(path))


def test_atom_feed_file(tmp_path: Path) -> None:
    path = tmp_path / "science.atom"
    path.write_bytes(ATOM)
    articles, errors = load(path)
    assert errors == []
    check_atom(articles)


def test_garbage_feed_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.xml"
    path.write_bytes(b"this is <not a feed at all")
    articles, errors = load(path)
    assert articles == [] and len(errors) == 1
    assert errors[0].source == str(path) and "feed" in errors[0].reason


# --- URLs ----------------------------------------------------------------------------------------
def test_article_url_is_fetched_and_extracted(web: LocalWeb) -> None:
    web.pages["/news/barrier"] = Page(NEWS_PAGE.encode())
    articles, errors = load(web.url("/news/barrier"))
    assert errors == [] and len(articles) == 1
    article = articles[0]
    assert article.title == "Harbour Council Approves Tidal Barrier Plan"
    assert "84 million euros" in article.text
    assert all(junk not in article.text for junk in PAGE_JUNK)
    assert article.source == web.url("/news/barrier")
    assert web.hits == ["/news/barrier"]


def shared_page(head: str) -> bytes:
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Dam Cracks Found | Valley News</title>
{head}<meta property="og:site_name" content="Valley News"></head><body><article><h1>Dam Cracks Found</h1>
<p>Engineers inspecting the Tessaly dam found cracks in its spillway on Monday, the water board said.</p>
<p>The board said the reservoir would be lowered by two metres while repairs are planned.</p>
<p>Residents downstream were told there was no immediate danger.</p></article></body></html>""".encode()


CANONICAL = "https://www.valley-news.example/2026/11/dam-cracks"


def test_a_page_is_one_article_by_its_canonical_url_however_it_was_reached(web: LocalWeb, tmp_path: Path) -> None:
    page = shared_page(f'<link href="{CANONICAL}" rel="canonical">')
    web.pages["/dam"] = web.pages["/dam?CMP=share_btn_tw"] = Page(page)
    saved = tmp_path / "dam.html"
    saved.write_bytes(page)
    articles = [only(web.url("/dam")), only(web.url("/dam?CMP=share_btn_tw")), only(saved)]
    assert {a.id for a in articles} == {"https://valley-news.example/2026/11/dam-cracks"}
    assert {a.url for a in articles} == {CANONICAL}  # cited as the outlet publishes it, not the fetch URL
    assert {a.outlet for a in articles} == {"Valley News"}
    assert [a.source for a in articles] == [web.url("/dam"), web.url("/dam?CMP=share_btn_tw"), str(saved)]


@pytest.mark.parametrize(
    ("head", "url"),
    [
        ('<meta property="og:url" content="https://valley-news.example/2026/11/dam-cracks?utm_source=tw">',
         "https://valley-news.example/2026/11/dam-cracks"),  # og:url, without its tracking parameters
        ('<link rel="canonical" href="/2026/11/dam-cracks">', "/2026/11/dam-cracks"),  # relative: read on the host
        ('<link rel="canonical" href="javascript:alert(1)">', "/dam"),  # not http(s): the fetch URL stays
    ],
)
def test_og_url_and_relative_canonical_links(web: LocalWeb, head: str, url: str) -> None:
    web.pages["/dam"] = Page(shared_page(head))
    article = only(web.url("/dam"))
    expected = url if url.startswith("https://") else web.url(url)
    assert article.url == expected


REUTERS_RSS = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel>
<title>Reuters: UK News</title><link>https://www.reuters.example/world/uk/</link><description>UK</description>
<item><title>Water firm fined</title><link>https://www.reuters.example/uk/fine/?utm_source=rss&amp;utm_medium=feed&amp;p=2</link>
<pubDate>Mon, 23 Nov 2026 10:15:00 GMT</pubDate>
<description>Marlow Water was fined 42 million pounds.</description></item>
<item><title>Anglers welcome fine</title><link>https://www.reuters.example/uk/anglers/</link>
<source url="https://thame-herald.example/rss">Thame Herald</source>
<description>Anglers on the River Thame welcomed the fine.</description></item>
</channel></rss>"""


def test_a_feed_names_its_outlet_not_its_section_and_cites_links_without_tracking(tmp_path: Path) -> None:
    path = tmp_path / "uk.xml"
    path.write_bytes(REUTERS_RSS)
    articles, errors = load(path)
    assert errors == []
    fine, anglers = articles
    assert fine.outlet == "Reuters"  # the feed's title is "Reuters: UK News"
    assert anglers.outlet == "Thame Herald"  # an item's own <source>
    assert fine.url == "https://www.reuters.example/uk/fine/?p=2"  # utm_* dropped, the rest as given
    assert fine.id == "https://reuters.example/uk/fine?p=2"


@pytest.mark.parametrize(
    ("title", "link", "outlet"),
    [
        ("Reuters: UK News", "https://www.reuters.example/world/uk/", "Reuters"),
        ("World news | The Guardian", "https://www.theguardian.example/world", "The Guardian"),
        ("BBC News - UK", "https://www.bbc.example/news/", "BBC News"),
        ("Valley Gazette", "https://valley-gazette.example/", "Valley Gazette"),
        ("", "https://www.valley-gazette.example/", "valley-gazette.example"),
    ],
)
def test_feed_outlet(title: str, link: str, outlet: str) -> None:
    assert feed_outlet(title, link, "feed.xml") == outlet


def test_strip_tracking_keeps_the_rest_of_the_link() -> None:
    assert strip_tracking("http://www.Example.com/a/b/?utm_source=x&id=3&q=&fbclid=9#frag") == (
        "http://www.Example.com/a/b/?id=3&q=#frag")
    assert strip_tracking("https://example.com/a%20b/?x=1") == "https://example.com/a%20b/?x=1"  # nothing to drop


def test_feed_urls_are_recognised_by_content_type_or_content(web: LocalWeb) -> None:
    web.pages["/feed.xml"] = Page(RSS, content_type="application/rss+xml")
    web.pages["/atom"] = Page(ATOM, content_type="text/plain")  # wrong type: sniffed from the content
    rss, errors = load(web.url("/feed.xml"))
    assert errors == []
    check_rss(rss, web.url("/feed.xml"))
    atom, errors = load(web.url("/atom"))
    assert errors == []
    check_atom(atom)


def test_http_error_is_reported_with_status(web: LocalWeb) -> None:
    articles, errors = load(web.url("/gone"))
    assert articles == []
    assert errors == [LoadError(web.url("/gone"), "HTTP 404")]


def test_dead_url_is_reported_not_raised() -> None:
    url = f"http://127.0.0.1:{closed_port()}/news/story"
    articles, errors = load(url)
    assert articles == []
    assert len(errors) == 1 and errors[0].source == url
    assert "could not fetch" in errors[0].reason and "ConnectError" in errors[0].reason


def test_feed_that_times_out_is_reported_with_the_timeout(web: LocalWeb) -> None:
    web.pages["/slow.rss"] = Page(RSS, content_type="application/rss+xml", delay=5.0)
    articles, errors = load(web.url("/slow.rss"), timeout=0.5)
    assert articles == []
    assert len(errors) == 1 and errors[0].source == web.url("/slow.rss")
    assert errors[0].reason.startswith("timed out after 0.5s")
    assert "NEWSQA_REQUEST_TIMEOUT" in errors[0].reason


# --- PDF ---------------------------------------------------------------------------------------------
REPORT_PAGES = [
    ["Harbour Council Report", "",
     "The harbour council met on Monday to decide the future of the old desalination plant, which has",
     "stood idle since the storm of last winter. Members argued for three hours before voting to",
     "rebuild it with a grant from the regional water board.",
     "Water rates",
     "Households will pay four percent more for water from next spring, the treasurer said, while busi-",
     "nesses will pay six percent more. The increase covers the loan for the new",
     "Port Alder Annual Report 2025", "1"],
    ["Port Alder Annual Report 2025",
     "pumps and the pipes that carry water to the eastern districts. Critics said the rates were",
     "too high for pensioners.",
     "The mayor promised a review of the water rates in the autumn.",
     "Port Alder Annual Report 2025", "Page 2 of 3"],
    ["Port Alder Annual Report 2025", "Fishing quotas",
     "The fishing fleet will keep its quota of cod for another year, the council decided.",
     "Port Alder Annual Report 2025", "3"],
]


def test_pdf_pages_become_records_that_name_their_page(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "report.pdf", REPORT_PAGES, title="Harbour Council Annual Report",
                    author="Jane Doe, John Roe")
    articles, errors = load(path)
    assert errors == []
    assert [a.title for a in articles] == [f"Harbour Council Annual Report (p. {n})" for n in (1, 2, 3)]
    assert [a.source for a in articles] == [f"{path}#page={n}" for n in (1, 2, 3)]
    assert all(a.authors == ("Jane Doe", "John Roe") and a.published == "" for a in articles)
    first, second, third = (a.text for a in articles)
    # Reading order, hard line wraps joined, the hyphen at a line end undone, headings kept apart:
    assert ("desalination plant, which has stood idle since the storm of last winter. Members argued for "
            "three hours before voting to rebuild it") in first
    assert "\n\nWater rates\n\nHouseholds will pay" in first and "while businesses will pay" in first
    # A sentence running over the page break stays whole on the page where it starts:
    assert first.endswith("the loan for the new pumps and the pipes that carry water to the eastern districts.")
    assert second.startswith("Critics said the rates were too high for pensioners.")
    # Running headers/footers and page numbers are gone:
    assert not any("Annual Report 2025" in t or "Page 2" in t for t in (first, second, third))
    assert third == ("Fishing quotas\n\n"
                     "The fishing fleet will keep its quota of cod for another year, the council decided.")
    # Ids are stable per file and page, and differ between pages:
    assert [a.id for a in load(path)[0]] == [a.id for a in articles] and len({a.id for a in articles}) == 3


def test_pdf_title_falls_back_to_the_first_line(tmp_path: Path) -> None:
    lines = ["Cod Quota Kept", "The fishing fleet will keep its quota of cod for another year."]
    assert only(make_pdf(tmp_path / "a.pdf", [lines])).title == "Cod Quota Kept (p. 1)"
    assert only(make_pdf(tmp_path / "b.pdf", [lines], title="Microsoft Word - draft3.docx")).title == (
        "Cod Quota Kept (p. 1)")  # a file name is no title


def test_pdf_page_without_words_is_skipped(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "r.pdf", [["Cod Quota Kept", "The fleet keeps its quota."], ["4"],
                                         ["Harbour dues rise by two percent in March."]])
    articles, errors = load(path)
    assert errors == [] and [a.source.rsplit("=", 1)[1] for a in articles] == ["1", "3"]


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: make_pdf(p, [[], []], image_only=True), "no text layer"),
        (lambda p: p.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >>\n garbage"), "not a readable PDF"),
        (lambda p: p.write_bytes(make_pdf(p, REPORT_PAGES).read_bytes()[:700]), "not a readable PDF"),
        (lambda p: p.write_bytes(b""), "not a readable PDF"),
        (lambda p: p.write_bytes(b"just some text saved as .pdf\n"), "not a readable PDF"),
    ],
    ids=["scanned", "garbage", "truncated", "empty", "not-a-pdf"],
)
def test_bad_pdfs_are_named_with_the_reason(tmp_path: Path, make: object, reason: str) -> None:
    path = tmp_path / "bad.pdf"
    make(path)  # type: ignore[operator]
    articles, errors = load(path)
    assert articles == []
    assert len(errors) == 1 and errors[0].source == str(path)
    assert errors[0].reason.startswith(reason), errors[0].reason
    if reason == "no text layer":
        assert "OCR" in errors[0].reason


# --- bad files -----------------------------------------------------------------------------------
def test_missing_path() -> None:
    articles, errors = load("/nonexistent/newsqa/folder")
    assert articles == []
    assert errors == [LoadError("/nonexistent/newsqa/folder", "no such file or folder")]


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.txt", b"", "the file is empty"),
        ("blank.txt", b"  \n\n \t\n", "the file is empty"),
        ("photo.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4, "binary file"),
        (
            "mangled.txt",
            b"Council votes on budget\n\nThe vote " + b"\x81\x8d\x8f\x90\x9d" + b" was close.\n",
            "invalid UTF-8 at byte 34",
        ),
        ("front-only.md", b"---\ntitle: Nothing here\n---\n\n", "no article text"),
    ],
)
def test_bad_text_files_are_named_with_the_reason(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    articles, errors = load(path)
    assert articles == []
    assert len(errors) == 1 and errors[0].source == str(path)
    assert reason in errors[0].reason, errors[0].reason


def test_cp1252_file_is_decoded_not_refused(tmp_path: Path) -> None:
    path = tmp_path / "old.txt"
    text = "Caf\u00e9 owners \u201cdelighted\u201d by the ruling\n\nThe ruling came on Friday."
    path.write_bytes(text.encode("cp1252"))
    article = only(path)
    assert article.title == "Caf\u00e9 owners \u201cdelighted\u201d by the ruling"


@pytest.mark.parametrize(
    "text",
    [
        "He said “no” and left – that’s all.\n\nThe council met on Friday.",  # 0x93/0x94 around ASCII
        "Zürich: Straßenbahn fährt wieder\n\nDie Straßenbahn fährt ab Montag über die Brücke.",
        "L'été à Montréal\n\nLa ville rouvre ses piscines après les travaux, « enfin ».",
    ],
    ids=["curly-quotes", "german", "french"],
)
def test_western_text_in_cp1252_still_reads_as_cp1252(tmp_path: Path, text: str) -> None:
    path = tmp_path / "old.txt"
    path.write_bytes(text.encode("cp1252"))
    assert only(path).text == text


RUSSIAN = "Москва: цены на хлеб выросли на 12 процентов."
HARBOUR = "Harbour Reopens\n\nThe harbour in Zürich reopened on “Monday”."


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        (RUSSIAN, "koi8-r"),  # cp1252 decodes it too, as "íÏÓË×Á: ÃÅÎÙ ÎÁ ÈÌÅÂ ..."
        (f"{RUSSIAN}\n\nЦена буханки выросла за месяц.", "cp1251"),
        ("北京：面包价格上涨了百分之十二。\n\n市政府表示，将在下周公布新的补贴计划。", "gbk"),
        (HARBOUR, "utf-16"),  # Python writes the byte order mark
        (HARBOUR, "utf-32"),
        (HARBOUR, "utf-16-be-with-bom"),
    ],
    ids=["koi8-r", "cp1251", "gbk", "utf-16", "utf-32", "utf-16-be"],
)
def test_text_in_another_encoding_is_decoded_not_mangled(tmp_path: Path, text: str, encoding: str) -> None:
    path = tmp_path / "story.txt"
    if encoding == "utf-16-be-with-bom":
        path.write_bytes(b"\xfe\xff" + text.encode("utf-16-be"))
    else:
        path.write_bytes(text.encode(encoding))
    article = only(path)
    assert article.text == text
    assert article.title == text.splitlines()[0]


MIXED_HEAD = "Café owners “delighted”\n\n".encode()


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"Market report\n\nPrices " + bytes([0xD5, 0xE6, 0xFE, 0xC7, 0xDD, 0xF3, 0xE2, 0xD9]) + b" rose on Monday.\n",
         "invalid UTF-8 at byte 22, and no other text encoding reads it with confidence (unknown text encoding)"),
    ],
    ids=["unknown"],
)
def test_text_in_no_clear_encoding_is_named_not_ingested_as_mojibake(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    path = tmp_path / "story.txt"
    path.write_bytes(content)
    articles, errors = load(path)
    assert articles == []
    assert len(errors) == 1 and errors[0].source == str(path)
    assert errors[0].reason.startswith(reason), errors[0].reason
    assert errors[0].reason.endswith("re-save the file as UTF-8")


def test_utf8_with_a_few_cp1252_bytes_keeps_both(tmp_path: Path) -> None:
    """A UTF-8 file with cp1252 quotes pasted in: the UTF-8 stays UTF-8 ("Café", “delighted”), the stray
    bytes read as cp1252 (\x93 is “), rather than the whole file as cp1252 mojibake ("CafÃ©")."""
    path = tmp_path / "story.txt"
    path.write_bytes(MIXED_HEAD + b"The ruling came on \x93Friday\x94.\n")
    article = only(path)
    assert article.title == "Café owners “delighted”"
    assert "The ruling came on “Friday”." in article.text


def test_broken_and_looping_symlinks_are_named_not_skipped(tmp_path: Path) -> None:
    folder = tmp_path / "news"
    folder.mkdir()
    (folder / "one.txt").write_text("First Story\n\nSomething happened in the town square today.")
    (tmp_path / "elsewhere.md").write_text("Linked Story\n\nA story kept outside the folder.")
    (folder / "linked.md").symlink_to(tmp_path / "elsewhere.md")  # a working link is followed
    (folder / "d.txt").symlink_to("/nonexistent/newsqa/story.txt")
    (folder / "l1.txt").symlink_to(folder / "l2.txt")
    (folder / "l2.txt").symlink_to(folder / "l1.txt")
    articles, errors = load(folder)
    assert sorted(a.title for a in articles) == ["First Story", "Linked Story"]
    reasons = {Path(e.source).name: e.reason for e in errors}
    assert set(reasons) == {"d.txt", "l1.txt", "l2.txt"}, errors
    assert reasons["d.txt"].startswith("broken symbolic link") and "/nonexistent/newsqa/story.txt" in reasons["d.txt"]
    assert reasons["l1.txt"].startswith("symbolic link loop") and reasons["l2.txt"].startswith("symbolic link loop")
    # Given directly, too, rather than "no such file or folder":
    assert load(folder / "d.txt") == ([], [LoadError(str(folder / "d.txt"), reasons["d.txt"])])
    assert load(folder / "l1.txt") == ([], [LoadError(str(folder / "l1.txt"), reasons["l1.txt"])])


def test_oversized_file_is_refused_by_size_without_reading_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "huge.txt"
    with path.open("wb") as handle:
        handle.write(b"Huge Article\n\n" + b"A sentence of news text that goes on. " * 1000)
        handle.truncate(21_000_000)  # sparse: 21 MB on paper, cheap on disk
    read: list[Path] = []
    real_read_bytes, real_open = Path.read_bytes, Path.open

    def spy_read_bytes(self: Path) -> bytes:
        read.append(self)
        return real_read_bytes(self)

    def spy_open(self: Path, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        read.append(self)
        return real_open(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "read_bytes", spy_read_bytes)
    monkeypatch.setattr(Path, "open", spy_open)
    articles, errors = load(path)
    assert articles == []
    assert len(errors) == 1 and errors[0].source == str(path)
    assert "21 MB" in errors[0].reason and "refused" in errors[0].reason
    assert path not in read


def test_folder_reports_unsupported_files_and_skips_readme_and_hidden(tmp_path: Path) -> None:
    folder = tmp_path / "news"
    (folder / "sub").mkdir(parents=True)
    (folder / "one.txt").write_text("First Story\n\nSomething happened in the town square today.")
    (folder / "sub" / "two.md").write_text("Second Story\n\nSomething else happened by the river.")
    (folder / "README.md").write_text("This folder holds the articles.")
    (folder / ".DS_Store").write_bytes(b"\x00\x01junk")
    (folder / ".git" / "objects").mkdir(parents=True)
    (folder / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (folder / ".git" / "objects" / "pack.idx").write_bytes(b"\xfftOc")
    (folder / ".newsqa" / "chroma").mkdir(parents=True)  # the default index inside the folder
    (folder / ".newsqa" / "catalog.sqlite3").write_bytes(b"SQLite format 3\x00")
    (folder / ".newsqa" / "chroma" / "notes.txt").write_text("Not an article\n\nJust a file inside the index.")
    (folder / "report.docx").write_bytes(b"PK\x03\x04 not really a docx")
    (folder / "Makefile").write_text("all:\n\techo hi\n")
    articles, errors = load(folder)
    assert sorted(a.title for a in articles) == ["First Story", "Second Story"]
    assert {(Path(e.source).name, e.reason.split(":")[0]) for e in errors} == {
        ("report.docx", "unsupported file type '.docx'"),
        ("Makefile", "unsupported file type '(none)'"),
    }
    assert all(".txt" in e.reason and ".jsonl" in e.reason for e in errors)  # names what is supported


# --- helpers -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025/08/28", "2025-08-28"),
        ("Aug. 28, 2025", "2025-08-28"),
        ("Tue, 10 Feb 2026 08:15:00 GMT", "2026-02-10T08:15:00+00:00"),
        ("2026-03-14T09:30:00Z", "2026-03-14T09:30:00+00:00"),
        ("", ""),
        (None, ""),
        ("no date here", ""),
        ("March", ""),  # no year: not guessed
        # a year, a month or a season is no day: undated, not the 1st of January or of the month
        ("2026", ""),
        ("March 2026", ""),
        ("2026-03", ""),
        ("Spring 2026", ""),
        ("Issue 7 | 2026", ""),
        ("Last updated: 4 hours ago, first published 2025", ""),
        ("Posted 2026/03/14 by staff, 4 comments", "2026-03-14"),
        ("03/04/2026", "2026-03-04"),
        # times with a zone are read on one clock (UTC); times without one are kept as given
        ("2026-12-01T00:30:00+14:00", "2026-11-30T10:30:00+00:00"),
        ("2026-11-30T23:30:00-08:00", "2026-12-01T07:30:00+00:00"),
        ("Mon, 23 Nov 2026 10:15:00 EST", "2026-11-23T15:15:00+00:00"),  # RFC 822 zone names
        ("2026-03-14T09:30:00", "2026-03-14T09:30:00"),
        (1767225600, "2026-01-01"),  # epoch seconds: the UTC day
    ],
)
def test_parse_date(value: object, expected: str) -> None:
    assert parse_date(value) == expected


def test_articles_in_two_time_zones_are_ordered_and_dated_by_one_clock(tmp_path: Path) -> None:
    path = tmp_path / "zones.jsonl"
    path.write_text("\n".join(json.dumps({"id": name, "text": f"{name} story.", "published": when}) for name, when in [
        ("kiritimati", "2026-12-01T00:30:00+14:00"),  # 2026-11-30 10:30 UTC
        ("seattle", "2026-11-30T23:30:00-08:00"),  # 2026-12-01 07:30 UTC: the later one
    ]), encoding="utf-8")
    articles, errors = load(path)
    assert errors == []
    newest = max(articles, key=lambda a: a.published)
    assert newest.id == "seattle"
    assert {a.id: a.published[:10] for a in articles} == {"kiritimati": "2026-11-30", "seattle": "2026-12-01"}


def test_canonical_url_drops_tracking_and_normalises() -> None:
    assert canonical_url("HTTP://WWW.Example.com/a/b/?utm_source=x&id=3&fbclid=9#frag") == "https://example.com/a/b?id=3"
    assert canonical_url("https://example.com/a/b?id=3") == "https://example.com/a/b?id=3"
    assert canonical_url("") == ""


def test_a_linked_subfolder_is_read_and_a_pipe_is_named_not_waited_on(tmp_path: Path) -> None:
    """A subfolder that is a symbolic link is followed (once: a link back up is no loop); a named pipe
    in the folder, or given directly, is reported — reading it would wait forever for a writer."""
    import os

    folder = tmp_path / "news"
    folder.mkdir()
    (folder / "one.txt").write_text("First Story\n\nSomething happened in the town square today.")
    elsewhere = tmp_path / "archive"
    elsewhere.mkdir()
    (elsewhere / "old.txt").write_text("Archived Story\n\nA story kept in the archive folder.")
    (folder / "archive").symlink_to(elsewhere, target_is_directory=True)
    (elsewhere / "up").symlink_to(folder, target_is_directory=True)  # a loop back to news/
    os.mkfifo(folder / "feed.txt")
    articles, errors = load(folder)
    assert sorted(a.title for a in articles) == ["Archived Story", "First Story"]
    assert [(Path(e.source).name, e.reason.split(" (")[0]) for e in errors] == [("feed.txt", "not a regular file")]
    assert load(folder / "feed.txt")[1][0].reason.startswith("not a regular file")


def test_front_matter_quotes_around_a_value_go_those_inside_stay(tmp_path: Path) -> None:
    path = tmp_path / "story.md"
    path.write_text('---\ntitle: "Ambassador says \\"yes\\""\noutlet: Capitol "Daily"\nauthors:\n  - \'Ann Lee\'\n---\n'
                    "Ambassador Teodor Vasko said on Friday that talks would resume in January.\n", encoding="utf-8")
    article = only(path)
    assert article.outlet == 'Capitol "Daily"'
    assert article.authors == ("Ann Lee",)
    assert article.title.startswith("Ambassador says")


def test_utf8_with_a_bom_and_a_stray_byte_reads_like_without_and_nul_anywhere_is_binary(tmp_path: Path) -> None:
    """A review's cases: the UTF-8 byte order mark changes nothing about how the rest is read; a NUL
    byte past the first 8 KB still makes the file binary (the upload check relies on it too)."""
    import codecs

    path = tmp_path / "story.txt"
    path.write_bytes(codecs.BOM_UTF8 + MIXED_HEAD + b"The ruling came on \x93Friday\x94.\n")
    assert "The ruling came on “Friday”." in only(path).text
    late = tmp_path / "late.txt"
    late.write_bytes(b"Late Nul\n\n" + b"A sentence of text. " * 600 + b"\x00\x00\x00 more text.\n")
    articles, errors = load(late)
    assert articles == [] and errors[0].reason.startswith("binary file (NUL bytes)")
