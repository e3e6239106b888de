"""The tantivy keyword engine on a real catalog and real tantivy files: it finds what FTS5 finds, obeys
the filters, is used only while it holds exactly what the catalog holds, and catches up (or is
rebuilt) after changes, a failed sync and files of another catalog."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_keyword import OUTLETS, _queries, corpus  # noqa: F401  (corpus is a fixture)

from retrieval.catalog import Catalog
from retrieval.keyword_index import KeywordIndex, day_number
from retrieval.types import Article, Chunk


@pytest.fixture
def engine(corpus: Path, tmp_path: Path) -> Iterator[KeywordIndex]:  # noqa: F811
    path = tmp_path / "catalog.sqlite3"
    shutil.copyfile(corpus, path)
    keywords = KeywordIndex(tmp_path / "keyword", Catalog(path))
    yield keywords
    keywords.close()
    keywords.catalog.close()


def _fts(catalog: Catalog, kind: str, query: str, limit: int, *filters: object) -> list[tuple[str, float]]:
    if kind == "passages":
        return [(h.chunk_id, h.score) for h in catalog.keyword_search(query, limit, *filters)]  # type: ignore[arg-type]
    return [(h.article_id, h.score) for h in catalog.article_search(query, limit, *filters)]  # type: ignore[arg-type]


def _write(catalog: Catalog, article_id: str, text: str) -> None:
    article = Article(id=article_id, title=f"Story {article_id}", text=text)
    catalog.mark_pending(article_id)
    catalog.replace_article(article, [Chunk(f"{article_id}-0", article_id, 0, text, 0, len(text))], text)


def test_a_new_catalog_waits_for_its_first_sync(engine: KeywordIndex) -> None:
    assert not engine.ready and engine.search("passages", "harbour", 5) is None  # no files yet: FTS5 answers
    assert engine.sync() == 120
    assert engine.ready and engine.counts() == {"passages": 360, "articles": 120}
    assert engine.sync() == 0  # nothing changed since


@pytest.mark.parametrize("kind", ["passages", "articles"])
def test_it_matches_the_rows_fts5_matches_and_ranks_alike(engine: KeywordIndex, kind: str) -> None:
    engine.sync()
    overlaps = []
    for query in _queries():
        found = engine.search(kind, query, 1000)
        expected = _fts(engine.catalog, kind, query, 1000)
        assert found is not None
        assert {i for i, _ in found} == {i for i, _ in expected}, query  # same tokens, same matching rows
        assert [s for _, s in found] == sorted((s for _, s in found), reverse=True)
        top = {i for i, _ in found[:10]}
        overlaps.append(len(top & {i for i, _ in expected[:10]}) / max(1, len(top)))
    # BM25 both, but tantivy scores each document as one field (FTS5 weighs title and section less).
    assert sum(overlaps) / len(overlaps) > 0.5, overlaps  # 0.57 here; real news: evaluate


def test_outlet_and_date_filters(engine: KeywordIndex) -> None:
    engine.sync()
    for query in _queries()[:20]:
        for filters in (((OUTLETS[0],), "", ""), ((), "2026-02-01", "2026-02-28"), ((OUTLETS[1],), "", "2026-01-10")):
            for kind in ("passages", "articles"):
                found = engine.search(kind, query, 1000, *filters)
                assert found is not None
                assert {i for i, _ in found} == {i for i, _ in _fts(engine.catalog, kind, query, 1000, *filters)}
    assert engine.search("passages", "the of and", 5) == []  # only stopwords: nothing to look for


def test_undated_articles_are_outside_any_date_range(engine: KeywordIndex) -> None:
    _write(engine.catalog, "undated", "A glacier story without a date.")
    engine.sync()
    assert "undated" in {i for i, _ in engine.search("articles", "glacier", 1000) or []}
    assert "undated" not in {i for i, _ in engine.search("articles", "glacier", 1000, (), "", "2030-01-01") or []}
    assert day_number("2026-03-04T10:00:00Z") == 20260304 and day_number("") == day_number("March 2026") == 0


def test_changes_are_searched_only_once_the_engine_has_caught_up(engine: KeywordIndex) -> None:
    engine.sync()
    catalog = engine.catalog
    catalog.mark_pending("a3")  # an ingest starts rewriting a3: FTS5 answers until the engine catches up
    assert not engine.ready and engine.search("articles", "harbour", 5) is None
    text = "The zanzibarite quokkas left the archipelago."
    catalog.replace_article(Article(id="a3", title="Quokkas", text=text), [Chunk("a3-0", "a3", 0, text, 0, len(text))],
                            "new")
    catalog.delete_article("a5")
    assert engine.search("passages", "quokkas", 5) is None
    assert engine.sync() == 2
    assert [i for i, _ in engine.search("passages", "zanzibarite quokkas", 5) or []] == ["a3-0"]
    assert engine.counts() == {"passages": 355, "articles": 119}  # a3 has 1 passage now, a5 is gone
    assert not any(i.startswith("a5-") for i, _ in engine.search("passages", " ".join(_queries()[0:3]), 1000) or [])
    catalog.clear()
    assert engine.search("passages", "quokkas", 5) is None
    engine.sync()
    assert engine.counts() == {"passages": 0, "articles": 0} and engine.search("passages", "quokkas", 5) == []


def test_a_failed_sync_leaves_the_backlog_for_the_next(engine: KeywordIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    engine.sync()
    _write(engine.catalog, "late", "A volcano erupted near the harbour.")
    real = engine.catalog.keyword_documents

    def broken(ids: list[str]) -> object:
        raise OSError("disk full")

    monkeypatch.setattr(engine.catalog, "keyword_documents", broken)
    with pytest.raises(OSError):
        engine.sync()
    assert not engine.ready  # the change is still waiting: FTS5 answers
    monkeypatch.setattr(engine.catalog, "keyword_documents", real)
    assert engine.sync() == 1
    assert "late-0" in {i for i, _ in engine.search("passages", "volcano erupted", 5) or []}


def test_files_of_another_catalog_are_not_used_and_are_rebuilt(engine: KeywordIndex, tmp_path: Path) -> None:
    engine.sync()
    other = Catalog(tmp_path / "other" / "catalog.sqlite3")
    _write(other, "solo", "Only the orchestra played.")
    foreign = KeywordIndex(engine.path, other)  # the same files, another catalog
    try:
        assert not foreign.ready  # built from the first catalog: not this one's
        assert foreign.sync() == 1  # rebuilt from this catalog
        assert foreign.counts() == {"passages": 1, "articles": 1}
        assert not engine.ready  # and now they are not the first catalog's any more
    finally:
        foreign.close()
        other.close()



# A sync in its own process that SIGKILLs itself: while it writes (after its first batch of articles),
# or after tantivy committed but before the catalog's backlog was emptied.
SYNC = """
import os, signal, sys
from pathlib import Path
from retrieval.catalog import Catalog
from retrieval.keyword_index import KeywordIndex
catalog = Catalog(Path(sys.argv[2]))
die = lambda *_: os.kill(os.getpid(), signal.SIGKILL)
if sys.argv[3] == "committed":
    catalog.keyword_caught_up = die
KeywordIndex(Path(sys.argv[1]), catalog).sync(die if sys.argv[3] == "writing" else None)
"""


@pytest.mark.parametrize("when", ["writing", "committed"])
def test_a_sync_killed_half_way_is_redone(tmp_path: Path, when: str) -> None:
    import os
    import signal
    import subprocess
    import sys

    from conftest import ROOT

    catalog = Catalog(tmp_path / "catalog.sqlite3")
    for n in range(1200):
        _write(catalog, f"a{n}", f"Harbour council story {n} on the budget strike, tag{n}.")
    engine = KeywordIndex(tmp_path / "keyword", catalog)
    assert engine.sync() == 1200
    for n in range(0, 1200, 2):  # half the articles change; the sync of them is killed
        _write(catalog, f"a{n}", f"Rewritten story {n}: the glacier retreat, tag{n}.")
    catalog.delete_article("a1")
    proc = subprocess.run([sys.executable, "-c", SYNC, str(engine.path), str(catalog.path), when],
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT, timeout=120)
    assert proc.returncode == -signal.SIGKILL
    try:
        assert not engine.ready  # the backlog was not emptied: FTS5 answers
        assert engine.sync() == 601
        assert engine.counts() == {"passages": 1199, "articles": 1199}
        found = engine.search("passages", "glacier retreat", 2000) or []
        assert sorted(i for i, _ in found) == sorted(f"a{n}-0" for n in range(0, 1200, 2))
        assert [i for i, _ in engine.search("passages", "tag3", 5) or []] == ["a3-0"]
        assert engine.search("passages", "tag1", 5) == []
    finally:
        engine.close()
        catalog.close()


def test_the_store_asks_tantivy_when_in_step_and_fts5_otherwise(
        tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> None:
    from indexes import build_index

    from retrieval.settings import Settings
    from retrieval.store import Store

    stories = {f"s{n}.txt": f"Harbour story {n}\n\nThe council of town {n} voted on the ferry budget {n}."
               for n in range(6)}
    data = build_index(tmp_path_factory, embedder, stories)
    store = Store(Settings(data_dir=data), embedder=embedder)
    try:
        assert store.keyword_engine() == "tantivy" and store.keywords is not None
        tantivy_hits = store.keyword_search("ferry budget 3", 6)
        top = store.chunks_by_id([tantivy_hits[0].chunk_id])[tantivy_hits[0].chunk_id]
        assert "ferry budget 3." in top["text"]
        fts5_hits = store.catalog.keyword_search("ferry budget 3", 6)
        assert {h.chunk_id for h in tantivy_hits} == {h.chunk_id for h in fts5_hits}
        article_id = top["article_id"]
        store.catalog.mark_pending(article_id)  # an ingest starts rewriting it
        assert store.keyword_engine().startswith("fts5")
        assert [h.chunk_id for h in store.keyword_search("ferry budget 3", 6)] == [
            h.chunk_id for h in store.catalog.keyword_search("ferry budget 3", 6)]
        assert article_id not in {h.article_id for h in store.article_search("ferry budget", 6)}
        assert store.stats()["keyword_engine"].startswith("fts5")
    finally:
        store.close()
    fts5 = Store(Settings(data_dir=data, keyword_engine="fts5"), embedder=embedder)
    try:
        assert fts5.keywords is None and fts5.keyword_engine() == "fts5"
    finally:
        fts5.close()


def test_a_damaged_meta_file_means_fts5_until_the_next_sync_rebuilds(engine: KeywordIndex) -> None:
    engine.sync()
    (engine.path / "passages" / "meta.json").write_text("{broken")
    fresh = KeywordIndex(engine.path, engine.catalog)  # another process opening the damaged files
    try:
        assert fresh.search("passages", "harbour", 5) is None and not fresh.ready  # no exception: FTS5 answers
        assert (engine.path / "damaged").exists()
        assert fresh.sync() == 120  # rebuilt from the catalog
        assert fresh.ready and fresh.counts() == {"passages": 360, "articles": 120}
        assert not (engine.path / "damaged").exists()
    finally:
        fresh.close()


# In its own process: a damaged segment file makes tantivy panic (a BaseException in Python), and a
# file rewritten under a process that maps it would kill that process (SIGBUS), not only the search.
DAMAGED_SEGMENT = """
import sys
from pathlib import Path
from retrieval.catalog import Catalog
from retrieval.keyword_index import KeywordIndex
engine = KeywordIndex(Path(sys.argv[1]), Catalog(Path(sys.argv[2])))
found = engine.search("articles", "harbour council", 5)
print("fts5" if found is None else "tantivy", engine.ready)
print(engine.sync(), engine.ready, len(engine.search("articles", "harbour council", 5) or []))
"""


def test_a_damaged_segment_is_survived_and_rebuilt(engine: KeywordIndex) -> None:
    import os
    import subprocess
    import sys

    from conftest import ROOT

    engine.sync()
    engine.close()
    for segment in (engine.path / "articles").glob("*.idx"):
        segment.write_bytes(b"garbage")
    proc = subprocess.run([sys.executable, "-c", DAMAGED_SEGMENT, str(engine.path), str(engine.catalog.path)],
                          env={**os.environ, "PYTHONPATH": str(ROOT), "RUST_BACKTRACE": "0"}, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[:2] == ["fts5 False", "120 True 5"], proc.stdout
    assert "damaged" in proc.stderr


def test_an_ingest_whose_sync_fails_still_succeeds_and_says_so(
        tmp_path: Path, embedder: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    from ingest.pipeline import ingest
    from retrieval.settings import Settings
    from retrieval.store import Store

    class PanicException(BaseException):  # what a Rust panic in tantivy looks like from Python
        pass

    def panic(self: KeywordIndex, progress: object = None) -> int:
        raise PanicException("assertion failed")

    folder = tmp_path / "news"
    folder.mkdir()
    (folder / "a.txt").write_text("Ferry story\n\nThe ferry council met on Tuesday about the budget.")
    settings = Settings(data_dir=tmp_path / "data")
    store = Store(settings, embedder=embedder)
    monkeypatch.setattr(KeywordIndex, "sync", panic)
    try:
        report = ingest([str(folder)], settings, store=store)
        assert report.ok and report.added == 1
        assert "was not brought up to date" in caplog.text
        assert store.keyword_engine().startswith("fts5")  # the backlog waits for the next ingest
        assert store.keyword_search("ferry budget", 3)  # answered by FTS5
        monkeypatch.undo()
        again = ingest([str(folder)], settings, store=store)
        assert again.unchanged == 1 and store.keyword_engine() == "tantivy"
    finally:
        store.close()


WRITER = """
import sys
from pathlib import Path
from retrieval.catalog import Catalog
from retrieval.keyword_index import KeywordIndex
from retrieval.types import Article, Chunk
catalog = Catalog(Path(sys.argv[2]))
text = "The quokka census found 40 quokkas on the island."
catalog.mark_pending("q")
catalog.replace_article(Article(id="q", title="Census", text=text), [Chunk("q-0", "q", 0, text, 0, len(text))], "q")
catalog.delete_article("a0")
KeywordIndex(Path(sys.argv[1]), catalog).sync()
"""


def test_a_reader_sees_what_another_process_synced(engine: KeywordIndex) -> None:
    import os
    import subprocess
    import sys

    from conftest import ROOT

    engine.sync()
    assert engine.search("passages", "quokka census", 5) == []  # the reader has the files open
    before = {i for i, _ in engine.search("articles", " ".join(_queries()[:4]), 1000) or []}
    assert "a0" in before
    subprocess.run([sys.executable, "-c", WRITER, str(engine.path), str(engine.catalog.path)], check=True,
                   env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT, timeout=120)
    assert [i for i, _ in engine.search("passages", "quokka census", 5) or []] == ["q-0"]
    assert "a0" not in {i for i, _ in engine.search("articles", " ".join(_queries()[:4]), 1000) or []}


def test_fts5_alone_drops_the_backlog_and_disowns_old_files(tmp_path: Path, embedder: Any) -> None:
    from ingest.pipeline import ingest
    from retrieval.settings import Settings
    from retrieval.store import Store

    folder = tmp_path / "news"
    folder.mkdir()
    (folder / "a.txt").write_text("Ferry story\n\nThe ferry council met on Tuesday about the budget.")
    data = tmp_path / "data"
    tantivy_store = Store(Settings(data_dir=data), embedder=embedder)
    ingest([str(folder)], tantivy_store.settings, store=tantivy_store)
    assert tantivy_store.keyword_engine() == "tantivy"
    tantivy_store.close()

    fts5 = Store(Settings(data_dir=data, keyword_engine="fts5"), embedder=embedder)
    (folder / "b.txt").write_text("Glacier story\n\nThe glacier retreated forty metres this summer.")
    ingest([str(folder)], fts5.settings, store=fts5)
    assert fts5.catalog.keyword_backlog() == (0, False, [])  # nothing piles up
    assert not (data / "keyword" / "state.json").exists()  # the old files miss article b: disowned
    fts5.close()

    again = Store(Settings(data_dir=data), embedder=embedder)
    try:
        assert again.keyword_engine().startswith("fts5")  # not the stale files
        ingest([str(folder)], again.settings, store=again)  # nothing changed, but the files are rebuilt
        assert again.keyword_engine() == "tantivy"
        assert again.keywords is not None and again.keywords.counts() == {"passages": 2, "articles": 2}
    finally:
        again.close()
