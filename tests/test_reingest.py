"""Re-ingest never loses or duplicates an article (the session 16 audit of ingest, /tmp/s16/h3): a
``--rebuild`` that cannot read its SOURCES, an upload, a feed read again after its page, a moved, edited
or renamed file. Real Chroma and catalog in tmp_path, the real CLI entry point; the fake embedder."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from conftest import FakeEmbedder, LocalWeb, Page, article_text, check_index, closed_port, write_articles
from pdfs import make_pdf

from ingest.cli import EXIT_STOPPED, main
from ingest.loaders import canonical_url
from ingest.pipeline import IngestReport, ingest
from retrieval.settings import Settings
from retrieval.store import Embedder, Store


def run(store: Store, *sources: str | Path, **options: Any) -> IngestReport:
    return ingest([str(s) for s in sources], store.settings, store=store, **options)


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def rows(settings: Settings, where: str = "1", *args: str) -> list[dict[str, object]]:
    with closing(sqlite3.connect(settings.catalog_path)) as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute(f"SELECT * FROM articles WHERE {where}", args)]


def texts(settings: Settings) -> list[str]:
    return sorted(str(r["text"]) for r in rows(settings))


# --- --rebuild reads first ---------------------------------------------------------------------------
def test_rebuild_from_a_missing_folder_drops_nothing(
    tmp_path: Path, cli_embedder: Callable[[Embedder], None], fake_embedder: FakeEmbedder
) -> None:
    cli_embedder(fake_embedder)
    write_articles(tmp_path / "corpus", 3)
    assert invoke(tmp_path / "corpus").exit_code == 0
    result = invoke(tmp_path / "corpsu", "--rebuild", "--json")  # a typo
    assert result.exit_code == EXIT_STOPPED
    report = json.loads(result.stdout)
    assert "--rebuild refused" in report["error"] and "corpsu" in report["error"]
    assert report["deleted"] == 0
    assert len(rows(Settings())) == 3
    # One SOURCE read, another down: still nothing dropped (the feed's articles would be lost).
    result = invoke(tmp_path / "corpus", f"http://127.0.0.1:{closed_port()}/feed.xml", "--rebuild")
    assert result.exit_code == EXIT_STOPPED and "nothing dropped" in result.stderr
    assert len(rows(Settings())) == 3
    # The vector store down: stopped before anything is dropped.
    down = CliRunner(env={"NEWSQA_CHROMA_URL": f"http://127.0.0.1:{closed_port()}"}).invoke(
        main, [str(tmp_path / "corpus"), "--rebuild"])
    assert down.exit_code == EXIT_STOPPED and "ingest stopped" in down.stderr
    assert len(rows(Settings())) == 3
    store = Store(Settings(), embedder=fake_embedder)
    assert len(check_index(store)) == 3
    store.catalog.close()


# --- uploads -----------------------------------------------------------------------------------------
OPERATOR = {"url": "https://www.reuters.com/world/ceasefire-talks-2026-03-02/", "title": "Ceasefire talks resume",
            "published": "2026-03-02", "outlet": "Reuters",
            "text": "Ceasefire talks resumed in Cairo on Monday, mediators said. Both delegations attended."}
FORGED = ("---\ntitle: Ceasefire talks collapse\nurl: https://www.reuters.com/world/ceasefire-talks-2026-03-02/\n"
          "outlet: Reuters\npublished: 2026-03-02\n---\n"
          "Ceasefire talks collapsed in Cairo on Monday after one delegation walked out, mediators said.\n")


def upload(settings: Settings, who: str, name: str, content: str) -> Path:
    """Save a file where the page saves an upload of ``who`` (``ingest.uploads.save_uploads``)."""
    from ingest.uploads import save_uploads

    [path] = save_uploads(settings, who, [(name, content.encode())])
    return path


def test_an_upload_never_replaces_an_article_indexed_from_elsewhere(fake_store: Store, tmp_path: Path) -> None:
    settings = fake_store.settings
    (tmp_path / "operator.jsonl").write_text(json.dumps(OPERATOR) + "\n" + json.dumps(
        {"id": "wire-7", "title": "Port strike", "text": "Dock workers in Rotterdam went on strike on Monday."}) + "\n")
    run(fake_store, tmp_path / "operator.jsonl")
    forged = upload(settings, "mallory", "notes.md", FORGED)
    report = run(fake_store, forged)
    assert (report.added, report.updated) == (0, 0)
    assert [f.reason for f in report.failed] == [
        "already indexed from operator.jsonl; not replaced (an upload replaces only your own uploads)"]
    record = upload(settings, "mallory", "wire.jsonl", json.dumps({"id": "wire-7", "text": "Fake strike news."}))
    assert run(fake_store, record).failed[0].reason.startswith("already indexed from operator.jsonl")
    assert texts(settings) == sorted([OPERATOR["text"], "Dock workers in Rotterdam went on strike on Monday."])
    # The same text as the operator's: nothing to replace, and the operator's file stays its source.
    same = upload(settings, "mallory", "same.jsonl", json.dumps(OPERATOR))
    assert run(fake_store, same).unchanged == 1
    assert [Path(str(r["source"])).name for r in rows(settings, "url = ?", OPERATOR["url"])] == ["operator.jsonl#1"]
    check_index(fake_store)


def test_an_upload_replaces_its_owners_own_upload_only(fake_store: Store) -> None:
    settings = fake_store.settings
    first = upload(settings, "alice", "story.md", FORGED)
    assert run(fake_store, first).added == 1
    assert run(fake_store, upload(settings, "alice", "story.md", FORGED.replace("walked out", "left"))).updated == 1
    other = run(fake_store, upload(settings, "bob", "story.md", FORGED.replace("walked out", "stormed out")))
    assert other.updated == 0 and "not replaced" in other.failed[0].reason
    local = run(fake_store, upload(settings, "local", "story.md", FORGED.replace("walked out", "ran out")))
    assert local.updated == 0 and "not replaced" in local.failed[0].reason  # uploads/ itself: another owner
    assert [r["text"] for r in rows(settings)] == [FORGED.split("---\n")[-1].replace("walked out", "left").strip()]
    check_index(fake_store)


# --- a feed read again after its page ----------------------------------------------------------------
FEED = ('<?xml version="1.0"?><rss version="2.0"><channel><title>Local Wire</title><link>{site}/</link>'
        '<item><title>Ferry order</title><link>{site}/story/1</link>'
        '<description>Nordvik orders two electric ferries.</description><author>desk@wire.example (Ana Lind)'
        '</author><pubDate>Mon, 02 Mar 2026 09:00:00 GMT</pubDate></item></channel></rss>')
PAGE = ('<html><head><title>Ferry order</title><link rel="canonical" href="{site}/story/1"></head><body><article>'
        '<h1>Ferry order</h1><p>The Nordvik ferry company announced on Tuesday that it will add two electric '
        'ferries to its fleet by autumn, the chief executive said.</p><p>The new ferries will carry 300 '
        'passengers each and cut emissions by half on the busiest route, the company said.</p></article>'
        '</body></html>')


def test_a_feed_entry_never_replaces_its_pages_full_text(
    fake_store: Store, fake_embedder: FakeEmbedder, web: LocalWeb
) -> None:
    site = web.url("")
    web.pages["/feed.xml"] = Page(FEED.format(site=site).encode(), content_type="application/rss+xml")
    web.pages["/story/1"] = Page(PAGE.format(site=site).encode())
    assert run(fake_store, web.url("/feed.xml")).added == 1
    assert run(fake_store, web.url("/story/1")).updated == 1  # the page's full text replaces the teaser
    again = run(fake_store, web.url("/feed.xml"))  # a daily cron job
    assert (again.updated, again.unchanged) == (1, 0)  # only to fill in the date the page lacked
    [row] = rows(fake_store.settings)
    assert "300 passengers" in str(row["text"])
    assert (row["source"], str(row["published"])[:10]) == (web.url("/story/1"), "2026-03-02")
    fake_embedder.encoded.clear()
    third = run(fake_store, web.url("/feed.xml"))
    assert (third.updated, third.unchanged, fake_embedder.encoded) == (0, 1, [])
    assert "300 passengers" in str(rows(fake_store.settings)[0]["text"])
    check_index(fake_store)


def test_in_one_run_the_page_wins_over_its_feed_entry_whatever_the_order(fake_store: Store, web: LocalWeb) -> None:
    site = web.url("")
    web.pages["/feed.xml"] = Page(FEED.format(site=site).encode(), content_type="application/rss+xml")
    web.pages["/story/1"] = Page(PAGE.format(site=site).encode())
    report = run(fake_store, web.url("/feed.xml"), web.url("/story/1"))  # the feed first: its teaser was kept
    assert "300 passengers" in str(rows(fake_store.settings)[0]["text"])
    assert (report.added, report.duplicate_sources) == (
        1, [(web.url("/feed.xml") + "#0", canonical_url(web.url("/story/1")), web.url("/story/1"))])
    assert run(fake_store, web.url("/feed.xml"), web.url("/story/1")).unchanged == 1


def test_a_longer_feed_entry_still_replaces_a_short_page(fake_store: Store, web: LocalWeb) -> None:
    site = web.url("")
    long_entry = "The Nordvik ferry company will add two electric ferries. " * 20
    web.pages["/story/1"] = Page(PAGE.format(site=site).encode())
    web.pages["/feed.xml"] = Page(FEED.format(site=site).replace("Nordvik orders two electric ferries.", long_entry)
                                  .encode(), content_type="application/rss+xml")
    run(fake_store, web.url("/story/1"))
    assert run(fake_store, web.url("/feed.xml")).updated == 1
    assert rows(fake_store.settings)[0]["source"] == web.url("/feed.xml") + "#0"


# --- a moved, edited or renamed file -----------------------------------------------------------------
STORY = ("---\ntitle: Lantern factory expands\nurl: https://news.example.com/lantern-factory\npublished: 2026-04-10\n"
         "---\nThe Lantern glassworks in Brno will hire 120 workers after winning a contract, the company said.\n")


def test_a_moved_article_is_recorded_at_its_new_place(
    tmp_path: Path, cli_embedder: Callable[[Embedder], None], fake_embedder: FakeEmbedder
) -> None:
    cli_embedder(fake_embedder)
    inbox, archive = tmp_path / "inbox", tmp_path / "archive"
    write_articles(inbox, 1)
    (inbox / "story.md").write_text(STORY)
    archive.mkdir()
    invoke(inbox)
    (inbox / "story.md").rename(archive / "story.md")
    fake_embedder.encoded.clear()
    assert json.loads(invoke(archive, "--json").stdout)["unchanged"] == 1
    assert fake_embedder.encoded == []  # recorded, not embedded again
    assert json.loads(invoke(inbox, "--sync", "--json").stdout)["deleted"] == 0
    [row] = rows(Settings(), "url = ?", "https://news.example.com/lantern-factory")
    assert row["source"] == str(archive / "story.md")


def test_a_file_read_whole_keeps_only_the_articles_it_holds_now(fake_store: Store, tmp_path: Path) -> None:
    dump = tmp_path / "dump.jsonl"
    records = [{"id": f"r{n}", "title": f"Record {n}", "text": article_text(n)} for n in range(3)]
    dump.write_text("".join(json.dumps(r) + "\n" for r in records))
    run(fake_store, dump)
    dump.write_text(json.dumps(records[0]) + "\n" + json.dumps(records[2]) + "\n")
    report = run(fake_store, dump, dry_run=True)
    assert (report.unchanged, report.deleted) == (2, 1)
    report = run(fake_store, dump)  # no --sync: the record is gone from the file read, not from elsewhere
    assert (report.unchanged, report.deleted) == (2, 1)
    assert sorted(str(r["id"]) for r in rows(fake_store.settings)) == ["r0", "r2"]
    # A file with a broken line is not read whole: nothing of it is deleted.
    dump.write_text(json.dumps(records[0]) + "\n{broken\n")
    report = run(fake_store, dump)
    assert (report.deleted, len(report.failed)) == (0, 1)
    assert sorted(str(r["id"]) for r in rows(fake_store.settings)) == ["r0", "r2"]
    check_index(fake_store)


def test_records_named_by_their_place_leave_no_stale_copy(fake_store: Store, tmp_path: Path) -> None:
    # Records without id or url: their ids come from the file (line numbers, or their content). Two ids
    # from one file, the first record removed: the text left is indexed once, the removed one is gone.
    folder = tmp_path / "news"
    folder.mkdir()
    dump = folder / "dump.jsonl"
    first, second = ({"title": f"Record {n}", "text": article_text(n)} for n in (1, 2))
    dump.write_text(json.dumps(first) + "\n" + json.dumps(second) + "\n")
    assert run(fake_store, folder).added == 2
    dump.write_text(json.dumps(second) + "\n")
    run(fake_store, folder)
    assert [r["title"] for r in rows(fake_store.settings)] == ["Record 2"]
    check_index(fake_store)


def test_a_pdf_saved_without_its_last_page_loses_that_page(fake_store: Store, tmp_path: Path) -> None:
    pages = [["The Sorrel hospital opened a new wing on Monday, the board said."],
             ["The wing has 80 beds and two operating rooms."],
             ["A retracted paragraph claimed the wing cost 90 million dollars."]]
    make_pdf(tmp_path / "report.pdf", pages, title="Sorrel report")
    assert run(fake_store, tmp_path / "report.pdf").added == 3
    make_pdf(tmp_path / "report.pdf", pages[:2], title="Sorrel report")
    report = run(fake_store, tmp_path / "report.pdf")
    assert (report.unchanged, report.deleted) == (2, 1)
    assert not any("90 million" in t for t in texts(fake_store.settings))
    assert len(check_index(fake_store)) == 2


def test_a_renamed_file_is_indexed_once(fake_store: Store, fake_embedder: FakeEmbedder, tmp_path: Path) -> None:
    folder = tmp_path / "news"
    [path] = write_articles(folder, 1)
    run(fake_store, folder)
    path.rename(folder / "harbor-bridge.txt")
    report = run(fake_store, folder, dry_run=True)
    assert (report.added, report.renamed, report.deleted) == (1, 1, 0)
    report = run(fake_store, folder)
    assert (report.added, report.renamed, report.deleted) == (1, 1, 0)
    [row] = rows(fake_store.settings)
    assert row["source"] == str(folder / "harbor-bridge.txt")
    assert len(check_index(fake_store)) == 1


def test_a_copy_is_no_rename_and_a_rename_left_half_done_is_finished(fake_store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "news"
    [path] = write_articles(folder, 1)
    run(fake_store, folder)
    copy = folder / "copy.txt"
    copy.write_text(path.read_text())
    assert run(fake_store, folder).added == 1  # the old file is still there: a copy, both stay
    assert len(rows(fake_store.settings)) == 2
    path.unlink()  # as a rename killed after writing the new id, before dropping the old one
    report = run(fake_store, folder)
    assert (report.unchanged, report.renamed) == (1, 1)
    assert [r["source"] for r in rows(fake_store.settings)] == [str(copy)]
    check_index(fake_store)


# --- what the report names ---------------------------------------------------------------------------
def test_a_dropped_duplicate_is_named(
    tmp_path: Path, cli_embedder: Callable[[Embedder], None], fake_embedder: FakeEmbedder
) -> None:
    cli_embedder(fake_embedder)
    for n in (1, 2):
        (tmp_path / f"page{n}.html").write_text(
            f'<html><head><title>Story {n}</title><link rel="canonical" href="https://site.example/latest"></head>'
            f"<body><article><h1>Story {n}</h1><p>Story number {n}: the Halden council voted on Tuesday to "
            "build new schools, the mayor said, after a long debate about costs.</p></article></body></html>")
    pages = [tmp_path / "page1.html", tmp_path / "page2.html"]
    result = invoke(*pages, "--dry-run")
    assert (f"dropped {pages[1]} (id https://site.example/latest): the same id as {pages[0]}") in result.stdout
    report = json.loads(invoke(*pages, "--json").stdout)
    assert report["duplicates"] == 1
    assert report["duplicate_sources"] == [
        {"source": str(pages[1]), "id": "https://site.example/latest", "first": str(pages[0])}]


def test_a_stopped_ingest_has_its_own_exit_code_and_a_json_error(
    tmp_path: Path, cli_embedder: Callable[[Embedder], None], fake_embedder: FakeEmbedder,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    cli_embedder(fake_embedder)
    write_articles(tmp_path / "news", 1)
    monkeypatch.setenv("NEWSQA_CHROMA_URL", f"http://127.0.0.1:{closed_port()}")
    result = invoke(tmp_path / "news", "--json")
    assert result.exit_code == EXIT_STOPPED == 4
    assert json.loads(result.stdout)["error"].startswith("ingest stopped:")
    assert "Error: ingest stopped:" in result.stderr
    assert "4 when the ingest stopped" in " ".join(invoke("--help").stdout.split())


def test_files_no_loader_reads_are_skipped_not_failed(
    tmp_path: Path, cli_embedder: Callable[[Embedder], None], fake_embedder: FakeEmbedder
) -> None:
    cli_embedder(fake_embedder)
    write_articles(tmp_path / "in", 1)
    assets = tmp_path / "in" / "assets"
    assets.mkdir()
    (assets / "app.js").write_text("var a = 1;")
    (assets / "site.css").write_text(".x {}")
    (assets / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    result = invoke(tmp_path / "in", "--json")
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert (report["added"], report["failed"]) == (1, [])
    assert sorted(Path(s["source"]).name for s in report["skipped"]) == ["app.js", "logo.png", "site.css"]
    assert "skipped 3 files of types ingest does not read (.css, .js, .png)" in invoke(tmp_path / "in").stdout


def test_the_pages_upload_never_replaces_the_operators_article(
    tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conftest import ROOT, close_store
    from streamlit.testing.v1 import AppTest

    (tmp_path / "operator.jsonl").write_text(json.dumps(OPERATOR) + "\n")
    store = Store(Settings(), embedder=embedder)
    assert run(store, tmp_path / "operator.jsonl").added == 1
    close_store(store)
    monkeypatch.setenv("NEWSQA_BACKEND", "extractive")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.run()
    at.file_uploader(key="upload-files-sidebar").set_value([("notes.md", FORGED.encode(), "text/markdown")])
    at.sidebar.form_submit_button[0].click().run()
    warnings = [w.value.replace("\\", "") for w in at.warning]  # markdown escapes off
    assert warnings and "updated 0" in warnings[0] and "already indexed from operator.jsonl" in warnings[0], warnings
    assert texts(Settings()) == [OPERATOR["text"]]


# --- indexes written by earlier versions ---------------------------------------------------------------
# The chunks table of catalogs before session 18: a dup_of column (near-duplicates within an article,
# computed at every ingest and never read; no longer written).
CHUNKS_WITH_DUP_OF = """
CREATE TABLE chunks (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    article_id TEXT NOT NULL,
    ord INTEGER NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    section TEXT NOT NULL DEFAULT '',
    dup_of TEXT NOT NULL DEFAULT '',
    title TEXT NOT NULL DEFAULT '',
    text TEXT NOT NULL
);
"""


def test_an_index_with_dup_of_is_read_updated_incrementally_and_searched(
    settings: Settings, fake_embedder: FakeEmbedder, tmp_path: Path
) -> None:
    from conftest import close_store

    from retrieval.search import search

    settings.data_dir.mkdir(parents=True)
    with closing(sqlite3.connect(settings.catalog_path)) as db, db:
        db.executescript(CHUNKS_WITH_DUP_OF)
    store = Store(settings, embedder=fake_embedder)
    paths = write_articles(tmp_path / "news", 3)
    assert run(store, tmp_path / "news").added == 3
    with closing(sqlite3.connect(settings.catalog_path)) as db, db:  # what an earlier ingest left
        db.execute("UPDATE chunks SET dup_of = (SELECT id FROM chunks c WHERE c.article_id = chunks.article_id "
                   "AND c.ord = 0) WHERE ord > 0")
    old = store.collection.get(include=["metadatas"])
    store.collection.update(ids=old["ids"], metadatas=[{**m, "dup_of": "x"} for m in old["metadatas"] or []])
    close_store(store)

    store = Store(settings, embedder=fake_embedder)  # as a new process opens it
    paths[0].write_text(article_text(0) + "A late addition about the lighthouse keepers' pay.\n")
    write_articles(tmp_path / "news", 1, start=3)
    report = run(store, tmp_path / "news")
    assert (report.added, report.updated, report.unchanged, report.failed) == (1, 1, 2, []), report
    check_index(store)
    [new] = rows(settings, "source = ?", str(tmp_path / "news" / "story-003.txt"))
    metas = store.collection.get(where={"article_id": new["id"]}, include=["metadatas"])["metadatas"] or []
    # No longer written. (An old chunk's dup_of stays in Chroma, unread: an upsert merges metadata.)
    assert metas and not [m for m in metas if "dup_of" in m], metas
    found = search(store, "lighthouse keepers pay", k=3).passages
    assert found and "lighthouse keepers" in found[0].text, [p.text for p in found]
    assert store.facts()["articles"] == 4
    close_store(store)
