"""``ingest()`` end to end against a real index: every format, incremental runs, sync, dry run, rebuild."""

from __future__ import annotations

import json
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    FakeEmbedder,
    LocalWeb,
    Page,
    article_text,
    check_index,
    close_store,
    closed_port,
    fts_hits,
    write_articles,
)
from test_loaders import ATOM, NEWS_PAGE, RECORDS, RSS

from ingest.chunking import Headings
from ingest.loaders import canonical_url
from ingest.pipeline import IngestReport, ingest
from retrieval.settings import Settings
from retrieval.store import Embedder, Store
from retrieval.types import Article


def run(store: Store, *sources: str | Path, **options: bool) -> IngestReport:
    return ingest([str(s) for s in sources], store.settings, store=store, **options)


def articles(settings: Settings) -> dict[str, dict[str, object]]:
    with closing(sqlite3.connect(settings.catalog_path)) as db:
        db.row_factory = sqlite3.Row
        return {r["id"]: dict(r) for r in db.execute("SELECT * FROM articles")}


def chroma_docs(store: Store, contains: str) -> list[str]:
    return store.collection.get(where_document={"$contains": contains})["ids"]


# --- every format, the real embedder ---------------------------------------------------------------
def test_every_format_is_ingested_with_its_metadata(tmp_path: Path, embedder: Embedder, web: LocalWeb) -> None:
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "plain.txt").write_text(article_text(1), encoding="utf-8")
    (folder / "strike.md").write_text(
        "---\ntitle: Rail Strike Ends\nurl: https://example-news.test/rail-strike-ends\n"
        "published: 2025-08-28\noutlet: Example News\nauthors: Jane Doe, John Roe\n---\n"
        "Union leaders and the rail operator reached a deal at dawn after nineteen hours of talks.\n",
        encoding="utf-8",
    )
    (folder / "barrier.html").write_text(NEWS_PAGE, encoding="utf-8")
    (folder / "one.json").write_text(json.dumps([RECORDS[0]]), encoding="utf-8")
    (folder / "two.jsonl").write_text(json.dumps(RECORDS[1]) + "\n", encoding="utf-8")
    (folder / "gazette.rss").write_bytes(RSS)
    (folder / "science.atom").write_bytes(ATOM)
    story = NEWS_PAGE.replace('rel="canonical"', 'rel="alternate"').replace("84 million", "91 million")
    web.pages["/story"] = Page(story.encode())  # without its canonical link: not the same article as barrier.html
    web.pages["/feed"] = Page(RSS.replace(b"valley-gazette.example/2026", b"valley-gazette.example/2025"),
                              content_type="application/rss+xml")
    web.pages["/slow-feed"] = Page(RSS, content_type="application/rss+xml", delay=5.0)
    dead = f"http://127.0.0.1:{closed_port()}/feed.xml"

    settings = Settings(data_dir=tmp_path / "data", request_timeout=0.5)
    store = Store(settings, embedder=embedder)
    report = run(store, folder, web.url("/story"), web.url("/feed"), dead, web.url("/slow-feed"))

    assert report.added == 12 and report.updated == report.unchanged == report.deleted == 0
    failed = {f.source: f.reason for f in report.failed}
    assert set(failed) == {dead, web.url("/slow-feed")}
    assert "could not fetch" in failed[dead]
    assert failed[web.url("/slow-feed")].startswith("timed out after 0.5s")
    by_id = check_index(store)
    assert report.chunks == sum(len(ids) for ids in by_id.values())

    rows = articles(settings)
    assert len(rows) == 12
    md = rows["https://example-news.test/rail-strike-ends"]
    assert (md["title"], md["published"], md["outlet"], json.loads(md["authors"])) == (
        "Rail Strike Ends", "2025-08-28", "Example News", ["Jane Doe", "John Roe"])
    html = rows["https://coastal-ledger.example/news/2026/03/tidal-barrier-plan"]
    assert (html["title"], html["published"], html["outlet"]) == (
        "Harbour Council Approves Tidal Barrier Plan", "2026-03-14", "The Coastal Ledger")
    assert "NAVMENU_SPORTS_LINK" not in html["text"] and "84 million euros" in html["text"]
    # A fetched page without a <link rel=canonical> is known by the URL it was fetched from (canonicalised).
    assert "91 million euros" in rows[canonical_url(web.url("/story"))]["text"]
    assert rows["rtqa-0001"]["published"] == "2026-01-12T06:00:00+00:00"
    assert rows["rtqa-0002"]["source"] == f"{folder / 'two.jsonl'}#1"
    assert rows["https://valley-gazette.example/2026/02/bridge-reopens"]["outlet"] == "Valley Gazette"
    assert "https://valley-gazette.example/2025/02/bridge-reopens" in rows  # from the feed URL
    assert rows["https://nsw.example/glacier-drone-survey"]["published"] == "2026-01-19T07:45:00+00:00"

    # Chroma's metadata carries what search filters on.
    got = store.collection.get(where={"article_id": "https://nsw.example/glacier-drone-survey"},
                               include=["metadatas", "documents", "embeddings"])
    meta = got["metadatas"][0]
    assert meta["outlet"] == "Northern Science Wire" and meta["day"] == 20260119
    assert "41 metres" in got["documents"][0]
    assert len(got["embeddings"][0]) == 384
    close_store(store)


def test_the_stored_vectors_are_the_real_embeddings(store: Store, embedder: Embedder, tmp_path: Path) -> None:
    write_articles(tmp_path / "news", 2)
    report = run(store, tmp_path / "news")
    assert report.added == 2
    got = store.collection.get(include=["documents", "embeddings"])
    again = embedder.encode(got["documents"])
    for stored, fresh in zip(got["embeddings"], again, strict=True):
        assert float(stored @ fresh) > 0.999


# --- incremental runs, the real embedder ------------------------------------------------------------
def test_incremental_add_unchanged_edit_delete(
    store: Store, embedder: Embedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    encoded: list[str] = []
    real_encode = embedder.encode

    def spy(texts, batch_size=None):  # type: ignore[no-untyped-def]
        encoded.extend(texts)
        return real_encode(texts, batch_size)

    monkeypatch.setattr(embedder, "encode", spy)
    folder = tmp_path / "news"
    paths = write_articles(folder, 3)
    edited = paths[1]
    edited.write_text(article_text(1, paragraphs=12).replace("Residents", "Zanzibarquux residents"))
    paths[2].write_text(article_text(2).replace("Residents", "Pangolinquest residents"))

    first = run(store, folder)
    assert (first.added, first.updated, first.unchanged, first.deleted, first.failed) == (3, 0, 0, 0, [])
    before = check_index(store)
    edited_id = next(a for a, row in articles(store.settings).items() if row["source"] == str(edited))
    assert len(before[edited_id]) >= 3  # the long version spans several chunks
    assert first.chunks == len(encoded) == sum(len(v) for v in before.values())
    assert chroma_docs(store, "Zanzibarquux") and fts_hits(store.settings, "zanzibarquux")

    # 2. Re-run: nothing re-embedded.
    encoded.clear()
    again = run(store, folder)
    assert (again.added, again.updated, again.unchanged, again.chunks) == (0, 0, 3, 0)
    assert encoded == []
    assert check_index(store) == before

    # 3. Edit one file (shorter, new words): its old chunks leave Chroma and the keyword index.
    edited.write_text(article_text(1, paragraphs=1).replace("Residents", "Quokkaflume residents"))
    third = run(store, folder)
    assert (third.added, third.updated, third.unchanged) == (0, 1, 2)
    after = check_index(store)
    assert len(after[edited_id]) == 1 and third.chunks == 1 == len(encoded)
    assert {a: v for a, v in after.items() if a != edited_id} == {a: v for a, v in before.items() if a != edited_id}
    assert chroma_docs(store, "Zanzibarquux") == [] and fts_hits(store.settings, "zanzibarquux") == []
    assert chroma_docs(store, "Quokkaflume") == after[edited_id] and len(fts_hits(store.settings, "quokkaflume")) == 1
    assert store.collection.count() == sum(len(v) for v in after.values())

    # 4. Delete a file: kept without --sync, removed with it.
    gone = paths[2]
    gone_id = next(a for a, row in articles(store.settings).items() if row["source"] == str(gone))
    assert chroma_docs(store, "Pangolinquest") == after[gone_id] and fts_hits(store.settings, "pangolinquest")
    gone.unlink()
    kept = run(store, folder)
    assert (kept.deleted, kept.unchanged) == (0, 2) and gone_id in articles(store.settings)
    synced = run(store, folder, sync=True)
    assert (synced.deleted, synced.unchanged, synced.added, synced.updated) == (1, 2, 0, 0)
    final = check_index(store)
    assert gone_id not in final and gone_id not in articles(store.settings)
    assert store.collection.get(where={"article_id": gone_id})["ids"] == []
    assert store.collection.get(ids=after[gone_id])["ids"] == []
    assert store.catalog.chunks_by_id(after[gone_id]) == {}
    assert chroma_docs(store, "Pangolinquest") == [] and fts_hits(store.settings, "pangolinquest") == []


# --- sync, dry run, rebuild: the fake embedder (fast) ------------------------------------------------
def test_sync_keeps_articles_whose_source_is_now_broken(fake_store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "news"
    paths = write_articles(folder, 3)
    assert run(fake_store, folder).added == 3
    before = check_index(fake_store)
    paths[0].write_bytes(b"\x00\x01\x02 junk \xff\xfe" * 100)  # replaced by binary junk
    report = run(fake_store, folder, sync=True)
    assert (report.deleted, report.kept_on_failure, report.unchanged) == (0, 1, 2)
    assert [f.source for f in report.failed] == [str(paths[0])]
    assert "binary" in report.failed[0].reason
    assert check_index(fake_store) == before


def test_sync_keeps_the_records_of_a_dump_with_a_broken_line(fake_store: Store, tmp_path: Path) -> None:
    dump = tmp_path / "dump.jsonl"
    dump.write_text("\n".join(json.dumps(r) for r in RECORDS) + "\n")
    assert run(fake_store, dump).added == 2
    dump.write_text(json.dumps(RECORDS[0]) + '\n{"id": "rtqa-0002", "text": "trunc\n')
    report = run(fake_store, dump, sync=True)
    assert report.failed[0].reason.startswith("line 2: broken JSON")
    assert (report.deleted, report.kept_on_failure, report.unchanged) == (0, 1, 1)
    assert set(articles(fake_store.settings)) == {"rtqa-0001", "rtqa-0002"}


def test_sync_with_a_missing_source_deletes_nothing(fake_store: Store, tmp_path: Path) -> None:
    write_articles(tmp_path / "news", 3)
    assert run(fake_store, tmp_path / "news").added == 3
    report = run(fake_store, tmp_path / "nwes", sync=True)  # a typo must not wipe the index
    assert report.failed[0].reason == "no such file or folder"
    assert (report.deleted, report.kept_on_failure) == (0, 0)  # news/ was not given: not in scope
    # The folder itself missing (unmounted, moved): what it held is unknown, so nothing of it goes.
    (tmp_path / "news").rename(tmp_path / "moved")
    report = run(fake_store, tmp_path / "news", sync=True)
    assert report.failed[0].reason == "no such file or folder"
    assert (report.deleted, report.kept_on_failure) == (0, 3)
    assert len(articles(fake_store.settings)) == 3
    check_index(fake_store)


def test_sync_deletes_only_what_came_from_its_sources(fake_store: Store, tmp_path: Path) -> None:
    """`--sync other/` drops the articles of other/ whose files are gone, never those of news/ (nor the
    page's uploads, another folder): syncing one folder must not wipe the rest of the index."""
    news = write_articles(tmp_path / "news", 3)
    other = write_articles(tmp_path / "other", 2, start=10)
    uploads = write_articles(fake_store.settings.data_dir / "uploads", 1, start=20)
    assert run(fake_store, tmp_path / "news", tmp_path / "other", uploads[0]).added == 6
    report = run(fake_store, tmp_path / "other", sync=True)
    assert (report.unchanged, report.deleted) == (2, 0)
    other[0].unlink()
    news[0].unlink()
    report = run(fake_store, tmp_path / "other", sync=True)
    assert (report.unchanged, report.deleted) == (1, 1)  # other/'s gone file only: news/'s waits for its sync
    assert len(articles(fake_store.settings)) == 5
    report = run(fake_store, tmp_path / "news", sync=True)
    assert (report.unchanged, report.deleted) == (2, 1)
    sources = sorted(str(a["source"]) for a in articles(fake_store.settings).values())
    assert sources == sorted([str(news[1]), str(news[2]), str(other[1]), str(uploads[0])])
    check_index(fake_store)


def test_sync_of_the_folder_holding_the_index_keeps_the_uploads(
    fake_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`ingest . --sync` in a project whose index is the default ./.newsqa: the page's uploads live in
    .newsqa/uploads, a hidden folder the folder source never reads — they are not deleted files."""
    project = tmp_path / "project"
    (project / "news").mkdir(parents=True)
    monkeypatch.chdir(project)
    write_articles(Path("news"), 2)
    uploads = write_articles(Path(".newsqa") / "uploads", 1, start=20)
    assert run(fake_store, Path("news"), uploads[0]).added == 3
    report = run(fake_store, Path("."), sync=True)
    assert (report.deleted, report.unchanged) == (0, 2)
    assert len(articles(fake_store.settings)) == 3


def test_sync_run_in_another_folder_keeps_the_other_folders(
    fake_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`ingest news other` in a project, later `ingest . --sync` inside news/: other/'s articles are not
    under news/ (sources were recorded as typed, "other/story-010.txt", and read from news/ as
    news/other/story-010.txt, so they were deleted)."""
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    write_articles(Path("news"), 2)
    write_articles(Path("other"), 2, start=10)
    assert run(fake_store, Path("news"), Path("other")).added == 4
    assert all(Path(str(a["source"])).is_absolute() for a in articles(fake_store.settings).values())
    monkeypatch.chdir(project / "news")
    (project / "news" / "story-001.txt").unlink()
    report = run(fake_store, Path("."), sync=True)
    assert (report.unchanged, report.deleted) == (1, 1)
    assert sorted(Path(str(a["source"])).name for a in articles(fake_store.settings).values()) == [
        "story-000.txt", "story-010.txt", "story-011.txt"]
    check_index(fake_store)


NO_URL_PAGE = (
    "<html><head><title>Harbour council approves ferry schedule</title></head><body><article>"
    "<h1>Harbour council approves ferry schedule</h1>"
    "<p>The harbour council approved a new ferry schedule on Monday, adding three evening crossings to the "
    "island from April, councillor Ines Varga said after the vote in the town hall.</p>"
    "<p>The extra crossings will cost 40,000 euros a year and the last evening crossing leaves at 19:40, "
    "the council said, adding that fares would not change this year.</p></article></body></html>"
)


def test_articles_recorded_by_path_as_typed_are_carried_over(
    fake_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An index written before sources were recorded absolute: its relative sources are healed when read
    again, a page whose id came from its relative path is replaced (not doubled), and `--sync` from
    another folder leaves alone what it cannot place."""
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    write_articles(Path("news"), 2)
    write_articles(Path("other"), 1, start=10)
    (project / "news" / "page.html").write_text(NO_URL_PAGE, encoding="utf-8")
    with monkeypatch.context() as old_code:  # paths kept as typed, as ingest did before session 13
        old_code.setattr("ingest.loaders.recorded_path", Path)
        assert run(fake_store, Path("news"), Path("other")).added == 4
    before = articles(fake_store.settings)
    assert sorted(str(a["source"]) for a in before.values()) == [
        "news/page.html", "news/story-000.txt", "news/story-001.txt", "other/story-010.txt"]

    monkeypatch.chdir(project / "news")  # other/ read from here would be news/other/: not here, kept
    report = run(fake_store, Path("."), sync=True)
    assert (report.deleted, report.added, report.updated, report.unchanged) == (0, 0, 1, 2)
    after = articles(fake_store.settings)
    assert len(after) == 4 and set(after) != set(before)  # the page under its new id, once
    assert "other/story-010.txt" in {str(a["source"]) for a in after.values()}
    assert sorted(str(a["source"]) for a in after.values() if Path(str(a["source"])).is_absolute()) == [
        str(project / "news" / n) for n in ("page.html", "story-000.txt", "story-001.txt")]
    check_index(fake_store)

    monkeypatch.chdir(project)  # from the project, the old relative source is placed again
    (project / "other" / "story-010.txt").unlink()
    report = run(fake_store, Path("other"), sync=True)
    assert report.deleted == 1 and len(articles(fake_store.settings)) == 3
    check_index(fake_store)


def test_a_file_of_the_same_name_elsewhere_is_another_article(
    fake_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Older code recorded "page.txt" (ingested inside x/) and "two.txt" (inside b/). Ingesting another
    page.txt of another folder must not replace x's, and `ingest . --sync` inside a/ must not take b's
    two.txt for a/two.txt deleted (a reviewer's repros of the first carry-over rule)."""
    for folder, name, n in (("x", "page.txt", 1), ("b", "two.txt", 2), ("a", "one.txt", 3)):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / name).write_text(article_text(n), encoding="utf-8")
        monkeypatch.chdir(tmp_path / folder)
        with monkeypatch.context() as old_code:
            old_code.setattr("ingest.loaders.recorded_path", Path)
            assert run(fake_store, Path(name)).added == 1
    assert sorted(str(a["source"]) for a in articles(fake_store.settings).values()) == [
        "one.txt", "page.txt", "two.txt"]
    (tmp_path / "proj" / "news").mkdir(parents=True)
    (tmp_path / "proj" / "news" / "page.txt").write_text(article_text(4), encoding="utf-8")
    monkeypatch.chdir(tmp_path / "proj")
    assert run(fake_store, Path("news")).added == 1
    monkeypatch.chdir(tmp_path / "a")
    report = run(fake_store, Path("."), sync=True)
    assert (report.deleted, report.unchanged) == (0, 1)
    assert len(articles(fake_store.settings)) == 4
    (tmp_path / "a" / "one.txt").unlink()  # its own file, read from its own folder: placed, deleted
    report = run(fake_store, Path("."), sync=True)
    assert report.deleted == 1 and len(articles(fake_store.settings)) == 3
    check_index(fake_store)


def test_page_breaks_still_part_words(fake_store: Store, tmp_path: Path) -> None:
    """Dropping control characters glued "resigned.\x0cThe" (pdftotext's page break) into one word."""
    (tmp_path / "pages.txt").write_text(
        "Council minutes\n\nThe mayor resigned on Monday after the vote.\x0cThe council named a deputy mayor"
        " on Tuesday.\x1eVotes\x1fcounted twice.\n", encoding="utf-8")
    run(fake_store, tmp_path / "pages.txt")
    text = str(next(iter(articles(fake_store.settings).values()))["text"])
    assert "vote.\nThe council" in text and "Votes\ncounted" in text


def test_a_dry_run_creates_no_collection(fake_store: Store, tmp_path: Path) -> None:
    write_articles(tmp_path / "news", 2)
    run(fake_store, tmp_path / "news")
    other = Settings(data_dir=fake_store.settings.data_dir, collection="never-made")
    store = Store(other, embedder=fake_store.embedder)
    report = ingest([str(tmp_path / "news")], other, store=store, dry_run=True)
    assert report.updated == 2  # their vectors are not in that collection: they would be written
    assert "never-made" not in [c.name for c in store.client.list_collections()]
    close_store(store)


def test_invisible_characters_and_future_dates_are_not_taken_at_face_value(fake_store: Store, tmp_path: Path) -> None:
    """A bidi override or zero-width space made "Reu\u200bters\u202e" look like Reuters (a second
    "Reuters" in the outlet filter); terminal escapes stayed in the text; a planted "2099-12-31" became
    the index's newest article."""
    folder = tmp_path / "news"
    folder.mkdir()
    (folder / "spoof.md").write_text(
        "---\ntitle: Smelter \u202eevird srednaw\u202c declared safe\noutlet: Reu\u200bt\u200ee\u2060rs\u202e\n"
        "published: 2099-12-31\n---\nThe Dravik smelter was declared safe \x1b[2J\x1b[Hby inspectors on Friday, "
        "the blog claimed, without naming them.\n", encoding="utf-8")
    (folder / "real.md").write_text(
        "---\ntitle: Smelter inspected\noutlet: Reuters\npublished: 2026-03-06\n---\n"
        "Inspectors visited the Dravik smelter on Friday and will report next month, officials said.\n",
        encoding="utf-8")
    assert run(fake_store, folder).added == 2
    rows = {str(r["title"]): r for r in articles(fake_store.settings).values()}
    assert set(rows) == {"Smelter evird srednaw declared safe", "Smelter inspected"}
    spoof = rows["Smelter evird srednaw declared safe"]
    assert spoof["outlet"] == "Reuters" and "\x1b" not in str(spoof["text"])
    stats = fake_store.catalog.stats()
    assert stats["outlets"] == ["Reuters"] and stats["newest_published"] == "2026-03-06"
    check_index(fake_store)


def test_articles_whose_vectors_are_gone_are_redone(fake_store: Store, tmp_path: Path) -> None:
    """The catalog says done but the collection lacks their vectors — a --rebuild killed after dropping
    the collection, a switch to a Chroma server (or back), a collection dropped by hand: every later
    ingest called them unchanged and every question was refused. Now the next ingest writes them again."""
    write_articles(tmp_path / "news", 3)
    assert run(fake_store, tmp_path / "news").added == 3
    snapshot = check_index(fake_store)
    fake_store.client.delete_collection(fake_store.settings.collection)
    fake_store.__dict__.pop("collection", None)
    assert fake_store.collection.count() == 0
    report = run(fake_store, tmp_path / "news")
    assert (report.updated, report.unchanged) == (3, 0)
    assert check_index(fake_store) == snapshot
    # One vector missing is found as well (counts first, then the ids of the article short of one).
    one = snapshot[sorted(snapshot)[0]][0]
    fake_store.collection.delete(ids=[one])
    report = run(fake_store, tmp_path / "news")
    assert (report.updated, report.unchanged) == (1, 2)
    assert check_index(fake_store) == snapshot


def test_an_article_being_rewritten_is_not_shown_half_old_half_new(fake_store: Store, tmp_path: Path) -> None:
    """A run killed between writing an article's new vectors and its new rows left the old text shown
    through the new vectors: while the article is pending its chunks are not read."""
    write_articles(tmp_path / "news", 2)
    run(fake_store, tmp_path / "news")
    by_article = check_index(fake_store)
    pending, kept = sorted(by_article)
    fake_store.catalog.mark_pending(pending)
    rows = fake_store.chunks_by_id(by_article[pending] + by_article[kept])
    assert set(rows) == set(by_article[kept])
    assert run(fake_store, tmp_path / "news").updated == 1  # and the next ingest redoes it
    check_index(fake_store)


def test_dry_run_writes_nothing(fake_store: Store, fake_embedder: FakeEmbedder, tmp_path: Path) -> None:
    folder = tmp_path / "news"
    paths = write_articles(folder, 3)
    data = fake_store.settings.data_dir
    report = run(fake_store, folder, dry_run=True)
    assert (report.added, report.chunks, report.dry_run) == (3, 0, True)
    assert not data.exists(), "a dry run created the index"

    run(fake_store, folder)
    snapshot = check_index(fake_store)
    rows = articles(fake_store.settings)
    fake_embedder.encoded.clear()
    paths[0].write_text(article_text(0) + "An added closing line changes the text.\n")
    paths[1].unlink()
    write_articles(folder, 1, start=7)
    report = run(fake_store, folder, dry_run=True, sync=True)
    assert (report.added, report.updated, report.unchanged, report.deleted, report.chunks) == (1, 1, 1, 1, 0)
    assert fake_embedder.encoded == []
    assert check_index(fake_store) == snapshot and articles(fake_store.settings) == rows


def test_rebuild_starts_over(fake_store: Store, fake_embedder: FakeEmbedder, tmp_path: Path) -> None:
    write_articles(tmp_path / "a", 2)
    write_articles(tmp_path / "b", 2, start=5)
    run(fake_store, tmp_path / "a", tmp_path / "b")
    fake_embedder.encoded.clear()
    report = run(fake_store, tmp_path / "b", rebuild=True)
    assert (report.added, report.unchanged, report.deleted) == (2, 0, 2)  # a's two articles dropped
    assert len(fake_embedder.encoded) == report.chunks > 0  # everything embedded again
    by_article = check_index(fake_store)
    assert len(by_article) == 2
    assert {Path(r["source"]).parent.name for r in articles(fake_store.settings).values()} == {"b"}


def test_index_built_with_another_model_is_refused(tmp_path: Path, fake_store: Store) -> None:
    from retrieval.store import IndexMismatchError

    write_articles(tmp_path / "news", 1)
    run(fake_store, tmp_path / "news")

    class OtherModel(FakeEmbedder):
        @property
        def name(self) -> str:
            return "other-model"

    other = Store(fake_store.settings, embedder=OtherModel())
    with pytest.raises(IndexMismatchError, match=r"'fake-hash-384' but 'other-model'.*--rebuild"):
        run(other, tmp_path / "news")
    assert run(other, tmp_path / "news", rebuild=True).added == 1


def test_the_same_article_twice_is_ingested_once(fake_store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "news"
    folder.mkdir()
    (folder / "a.jsonl").write_text(json.dumps(RECORDS[0]) + "\n" + json.dumps(RECORDS[0]) + "\n")
    shutil.copy(folder / "a.jsonl", folder / "b.jsonl")
    report = run(fake_store, folder)
    assert (report.added, report.duplicates) == (1, 3)
    check_index(fake_store)


def test_an_article_left_pending_by_a_crash_is_redone(
    fake_store: Store, fake_embedder: FakeEmbedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = write_articles(tmp_path / "news", 3)
    run(fake_store, tmp_path / "news")
    paths[0].write_text(article_text(0, paragraphs=9))  # an edit: 3+ chunks instead of 1
    paths[1].write_text(article_text(1, paragraphs=9))

    # The process "dies" after Chroma took the new vectors of the first edited article, before the
    # catalog transaction that marks it done.
    real_replace = fake_store.catalog.replace_article

    def crash(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(fake_store.catalog, "replace_article", crash)
    with pytest.raises(KeyboardInterrupt):
        run(fake_store, tmp_path / "news")
    monkeypatch.setattr(fake_store.catalog, "replace_article", real_replace)
    with closing(sqlite3.connect(fake_store.settings.catalog_path)) as db:
        assert dict(db.execute("SELECT state, COUNT(*) FROM articles GROUP BY state").fetchall()) == {
            "pending": 1, "done": 2}
    fake_embedder.encoded.clear()
    report = run(fake_store, tmp_path / "news")
    assert (report.updated, report.unchanged, report.added) == (2, 1, 0)
    check_index(fake_store)

    # A record marked pending with an unchanged text (killed while being deleted, say) is redone too.
    article_id = next(iter(articles(fake_store.settings)))
    fake_store.catalog.mark_pending(article_id)
    report = run(fake_store, tmp_path / "news")
    assert (report.updated, report.unchanged) == (1, 2)
    check_index(fake_store)


# --- memory: articles to embed are spooled, unchanged ones keep only their ids ---------------------
def _ingest_snapshot(
    store: Store, fake_embedder: FakeEmbedder, *sources: Path
) -> tuple[dict[str, Any], list[str], list[Any], list[Any], list[Any]]:
    """Everything an ingest produced: its report, the texts embedded in order, catalog rows, Chroma."""
    fake_embedder.encoded.clear()
    report = run(store, *sources).to_json()
    report.pop("seconds")
    check_index(store)
    with closing(sqlite3.connect(store.settings.catalog_path)) as db:
        records = db.execute(
            "SELECT id, title, url, published, outlet, text, content_hash, state, n_chunks FROM articles ORDER BY id"
        ).fetchall()
        chunks = db.execute("SELECT id, article_id, ord, section, text, start, end FROM chunks "
                            "ORDER BY article_id, ord").fetchall()
    got = store.collection.get(include=["embeddings", "documents", "metadatas"])
    chroma = sorted(
        (i, d, json.dumps(m, sort_keys=True), [round(float(x), 6) for x in e])
        for i, d, m, e in zip(got["ids"], got["documents"], got["metadatas"], got["embeddings"], strict=True)
    )
    return report, list(fake_embedder.encoded), records, chunks, chroma


def test_articles_spooled_to_disk_are_ingested_as_from_memory(
    settings: Settings, fake_embedder: FakeEmbedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The articles to embed wait in a temporary file once they outgrow SPOOL_MEMORY_BYTES: the index
    is the same, written in the same order, as when they all stay in memory."""
    import tempfile

    from ingest import pipeline

    news = tmp_path / "news"
    write_articles(news, 4, paragraphs=8)
    (news / "dump.jsonl").write_text("".join(json.dumps(r) + "\n" for r in [*RECORDS, RECORDS[0]]))
    rollovers: list[int] = []
    real_rollover = tempfile.SpooledTemporaryFile.rollover

    def counted(self: tempfile.SpooledTemporaryFile[bytes]) -> None:
        rollovers.append(1)
        real_rollover(self)

    monkeypatch.setattr(tempfile.SpooledTemporaryFile, "rollover", counted)
    snapshots = []
    for name, limit in (("memory", 10**9), ("disk", 1)):
        monkeypatch.setattr(pipeline, "SPOOL_MEMORY_BYTES", limit)
        store = Store(settings.model_copy(update={"data_dir": tmp_path / name}), embedder=fake_embedder)
        snapshots.append(_ingest_snapshot(store, fake_embedder, news))
        close_store(store)
        assert len(rollovers) == (name == "disk"), name
        assert list((tmp_path / name).glob("ingest-todo-*")) == []  # no file left behind
    memory, disk = snapshots
    assert memory[0]["added"] == 4 + len(RECORDS) and memory[0]["duplicates"] == 1
    assert memory == disk


def test_unchanged_articles_are_not_kept_for_embedding(
    fake_store: Store, fake_embedder: FakeEmbedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the articles to (re-)embed are spooled; an unchanged one leaves nothing but its id."""
    from ingest import pipeline

    spooled: list[str] = []
    real_append = pipeline._Spool.append

    def spy(self: pipeline._Spool, item: tuple[Article, Headings, str, bool]) -> None:
        spooled.append(item[0].id)
        real_append(self, item)

    monkeypatch.setattr(pipeline._Spool, "append", spy)
    paths = write_articles(tmp_path / "news", 3)
    assert run(fake_store, tmp_path / "news").added == 3 and len(spooled) == 3
    spooled.clear()
    assert run(fake_store, tmp_path / "news").unchanged == 3 and spooled == []
    paths[1].write_text(article_text(1) + "A closing line changes the text.\n")
    report = run(fake_store, tmp_path / "news", sync=True)
    assert (report.updated, report.unchanged, report.deleted) == (1, 2, 0)
    assert len(spooled) == 1 and fake_embedder.encoded
    check_index(fake_store)


def test_a_run_killed_while_writing_spooled_articles_is_redone(
    fake_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ingest import pipeline

    monkeypatch.setattr(pipeline, "SPOOL_MEMORY_BYTES", 1)
    monkeypatch.setattr(pipeline, "EMBED_BATCH_CHUNKS", 1)  # one article per batch
    write_articles(tmp_path / "news", 4)
    real_write = fake_store.write_article
    written: list[str] = []

    def dies_on_the_third(article, *args, **kwargs):
        if len(written) == 2:
            raise KeyboardInterrupt("killed")
        written.append(article.id)
        real_write(article, *args, **kwargs)

    monkeypatch.setattr(fake_store, "write_article", dies_on_the_third)
    with pytest.raises(KeyboardInterrupt):
        run(fake_store, tmp_path / "news")
    monkeypatch.setattr(fake_store, "write_article", real_write)
    assert list(fake_store.settings.data_dir.glob("ingest-todo-*")) == []
    report = run(fake_store, tmp_path / "news")
    assert (report.added, report.unchanged) == (2, 2)
    assert len(check_index(fake_store)) == 4


def test_a_run_stopped_while_reading_closes_its_spool(
    fake_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C (or any error) while the sources are still being read, after some articles were spooled:
    the spool's temporary file is closed at once, not left open until the garbage collector runs."""
    import tempfile

    from ingest import pipeline

    monkeypatch.setattr(pipeline, "SPOOL_MEMORY_BYTES", 1)  # on disk from the first article
    opened: list[tempfile.SpooledTemporaryFile[bytes]] = []

    class Recorded(tempfile.SpooledTemporaryFile):  # type: ignore[type-arg]
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            opened.append(self)

    monkeypatch.setattr(tempfile, "SpooledTemporaryFile", Recorded)
    write_articles(tmp_path / "news", 4)
    real_clean = pipeline.clean_article
    cleaned: list[str] = []

    def stops_on_the_third(article: Article) -> tuple[Article, Headings]:
        if len(cleaned) == 2:
            raise KeyboardInterrupt("Ctrl-C")
        cleaned.append(article.id)
        return real_clean(article)

    monkeypatch.setattr(pipeline, "clean_article", stops_on_the_third)
    with pytest.raises(KeyboardInterrupt):
        run(fake_store, tmp_path / "news")
    assert len(opened) == 1 and opened[0].closed
    monkeypatch.setattr(pipeline, "clean_article", real_clean)
    assert run(fake_store, tmp_path / "news").added == 4
    assert len(check_index(fake_store)) == 4


def test_a_one_line_article_is_searchable_not_added_empty(fake_store: Store, tmp_path: Path) -> None:
    """A file (or a record without a title) that is a single line: its first line becomes its title,
    and that line used to be taken for a heading over nothing — "added", 0 chunks, never found. The
    line is the article's body: one chunk, found by its words."""
    news = tmp_path / "news"
    news.mkdir()
    line = "Copper prices in Santiago rose 5 percent on Monday after a strike at the Escondida mine, traders said."
    (news / "one.txt").write_text(line + "\n", encoding="utf-8")
    (news / "dump.jsonl").write_text(json.dumps({"id": "brief-1", "text": "Lindholm ferry fares rise in May."}) + "\n")
    report = run(fake_store, news)
    assert (report.added, report.failed, report.chunks) == (2, [], 2)
    chunks = check_index(fake_store)
    assert sorted(len(ids) for ids in chunks.values()) == [1, 1]
    assert chroma_docs(fake_store, "Escondida") and chroma_docs(fake_store, "Lindholm")


def test_an_article_left_with_no_chunk_is_reported_not_added(
    fake_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Should an article ever yield no chunk, it is reported by name as failed, not counted as added."""
    from ingest import pipeline

    paths = write_articles(tmp_path / "news", 2)
    real_chunk = pipeline.chunk_article
    def none_for_the_first(article: Article, *args: Any, **kwargs: Any) -> list[Any]:
        return [] if article.source.endswith(paths[0].name) else real_chunk(article, *args, **kwargs)

    monkeypatch.setattr(pipeline, "chunk_article", none_for_the_first)
    report = run(fake_store, tmp_path / "news")
    assert report.added == 1 and [f.source for f in report.failed] == [str(paths[0])]
    assert "no text to index" in report.failed[0].reason


def test_an_article_indexed_with_no_chunk_is_redone_though_unchanged(fake_store: Store, tmp_path: Path) -> None:
    """An index written before the one-line fix holds such an article as 'done' with 0 chunks: the next
    ingest of the same file redoes it (and only it), so it becomes searchable without --rebuild."""
    news = tmp_path / "news"
    write_articles(news, 2)
    (news / "one.txt").write_text("Lindholm ferry fares rise by a third in May, the operator said.\n", encoding="utf-8")
    assert run(fake_store, news).added == 3
    one, (digest, _, source) = next(
        (i, state) for i, state in fake_store.catalog.states().items() if state[2].endswith("one.txt"))
    fake_store.delete_article(one)  # what the old code left: the article 'done', unchanged, no chunk
    with closing(sqlite3.connect(fake_store.settings.catalog_path)) as db, db:
        db.execute("INSERT INTO articles(id, source, content_hash, state, n_chunks) VALUES (?, ?, ?, 'done', 0)",
                   (one, source, digest))
    assert fake_store.catalog.chunkless() == {one} and not chroma_docs(fake_store, "Lindholm")
    dry = run(fake_store, news, dry_run=True)
    assert (dry.updated, dry.unchanged) == (1, 2)
    report = run(fake_store, news)
    assert (report.updated, report.unchanged, report.chunks) == (1, 2, 1)
    assert chroma_docs(fake_store, "Lindholm") and len(check_index(fake_store)) == 3
    assert run(fake_store, news).unchanged == 3
