"""News-aware ranking on a real index: the freshness bonus counted from an "as of" day, and the
whole-article BM25 index that re-weighs passages (kept in step with the catalog, rebuilt for
catalogs written before it existed)."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from indexes import build_index

from ingest.pipeline import ingest
from retrieval.catalog import Catalog
from retrieval.cli import cli
from retrieval.search import Filters, freshness, search
from retrieval.settings import Settings
from retrieval.store import Store
from tests.conftest import check_index

# Two budget votes of the same council a year apart: same story, different year and figures.
VOTE_2026 = """---
title: Riverton council approves budget with new bus routes
outlet: Riverton Post
published: 2026-03-02
---
The Riverton city council voted 7 to 2 on Monday to approve a budget of 412 million dollars.
The budget adds four bus routes and hires twenty librarians, the mayor said after the vote.
"""
VOTE_2025 = """---
title: Riverton council approves budget after long debate
outlet: Riverton Post
published: 2025-03-03
---
The Riverton city council voted 5 to 4 on Monday to approve a budget of 388 million dollars.
The budget repairs two bridges and freezes hiring at city hall, the mayor said after the vote.
"""
# A whole article about desalination, and a long one about football that mentions it in passing.
DESALINATION = """---
title: Desalination plant opens on the coast
outlet: Coastal Gazette
published: 2026-02-10
---
The new desalination plant on the coast opened on Tuesday and will supply drinking water to 80,000 homes.
Desalination removes salt from seawater; the plant uses reverse osmosis membranes made in Sweden.
Engineers said the desalination plant needs less energy than older plants because it recovers pressure.
"""
FOOTBALL = """---
title: United win the derby in the last minute
outlet: Coastal Gazette
published: 2026-02-11
---
United beat City 2 to 1 in the derby with a header in the last minute of the match.
The winning goal came from a corner taken by the captain, who had missed a penalty earlier.
Fans celebrated in the streets until late, and the coach praised the spirit of the young team.
Before the match, the players visited the desalination plant that sponsors the club's shirts.
"""


@pytest.fixture(scope="module")
def ranked_index(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> Path:
    return build_index(tmp_path_factory, embedder, {"vote-2026.md": VOTE_2026, "vote-2025.md": VOTE_2025,
                                                    "desalination.md": DESALINATION, "football.md": FOOTBALL})


def test_freshness_decays_from_the_as_of_day() -> None:
    day = date(2026, 3, 4)
    assert freshness("2026-03-04", day, 14) == pytest.approx(1.0)
    assert freshness("2026-03-05T08:00:00", day, 14) == pytest.approx(1.0)  # a time zone away: same news
    assert freshness("2026-02-18", day, 14) == pytest.approx(0.3679, abs=1e-3)  # 14 days: 1/e
    assert freshness("2025-03-03", day, 14) < 1e-10
    assert freshness("2026-03-10", day, 14) == 0.0  # published after the day the question is asked
    assert freshness("", day, 14) == 0.0
    assert freshness("spring 2026", day, 14) == 0.0


def test_as_of_day_puts_that_weeks_story_first(ranked_index: Path, embedder: Any) -> None:
    store = Store(Settings(data_dir=ranked_index), embedder=embedder)
    query = "What budget did the Riverton council approve this week?"

    def first(as_of: str, recency: bool = True) -> str:
        passages = search(store, query, k=2, filters=Filters(as_of=as_of), recency=recency, collapse=False).passages
        assert {p.title.split(" approves")[0] for p in passages} == {"Riverton council"}
        return passages[0].published[:4]

    assert first("2026-03-04") == "2026"
    assert first("2025-03-05") == "2025"
    # Without the bonus, the day changes nothing.
    assert first("2026-03-04", recency=False) == first("2025-03-05", recency=False)
    # The end of a date range is the default as-of day; no bonus at all when recency_weight is 0.
    filtered = search(store, query, k=1, filters=Filters(date_from="2025-01-01", date_to="2025-03-05"))
    assert filtered.passages[0].published.startswith("2025")
    off = Store(Settings(data_dir=ranked_index, recency_weight=0), embedder=embedder)
    a = search(off, query, k=2, filters=Filters(as_of="2026-03-04"), collapse=False).passages
    b = search(off, query, k=2, filters=Filters(as_of="2025-03-05"), collapse=False).passages
    assert [(p.chunk_id, p.score) for p in a] == [(p.chunk_id, p.score) for p in b]


def test_as_of_must_be_a_date() -> None:
    with pytest.raises(ValueError, match="as_of"):
        Filters(as_of="last Tuesday")
    assert not Filters(as_of="2026-03-04").restricts, "as_of filters nothing out"
    assert Filters(outlets=("Riverton Post",)).restricts


def test_article_bm25_lifts_the_article_about_the_question(ranked_index: Path, embedder: Any) -> None:
    store = Store(Settings(data_dir=ranked_index), embedder=embedder)
    hits = store.catalog.article_search("desalination plant", 10)
    titles = [store.catalog.article(h.article_id)["title"] for h in hits]
    assert titles[:2] == ["Desalination plant opens on the coast", "United win the derby in the last minute"]
    assert hits[0].score > hits[1].score
    assert store.catalog.article_search("desalination", 10, outlets=("Riverton Post",)) == []

    query = "Who visited the desalination plant?"
    with_articles = {p.chunk_id: p.score for p in search(store, query, k=10, recency=False).passages}
    flat = Store(Settings(data_dir=ranked_index, article_weight=0), embedder=embedder)
    without = {p.chunk_id: p.score for p in search(flat, query, k=10, recency=False).passages}
    settings = store.settings
    for rank, hit in enumerate(hits, start=1):
        for cid, score in with_articles.items():
            if cid.startswith(hit.article_id) and cid in without:
                assert score == pytest.approx(without[cid] + settings.article_weight / (settings.rrf_k + rank))


def test_article_index_follows_changes_and_deletions(tmp_path: Path, embedder: Any) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "desalination.md").write_text(DESALINATION, encoding="utf-8")
    (corpus / "football.md").write_text(FOOTBALL, encoding="utf-8")
    settings = Settings(data_dir=tmp_path / "data")
    store = Store(settings, embedder=embedder)
    ingest([str(corpus)], settings, store=store)
    check_index(store)
    assert store.catalog.article_search("penalty", 5)

    (corpus / "football.md").write_text(FOOTBALL.replace("missed a penalty", "hit the post"), encoding="utf-8")
    ingest([str(corpus)], settings, store=store)
    check_index(store)
    assert store.catalog.article_search("penalty", 5) == []
    assert len(store.catalog.article_search("post", 5)) == 1

    (corpus / "football.md").unlink()
    ingest([str(corpus)], settings, store=store, sync=True)
    check_index(store)
    assert [h.article_id for h in store.catalog.article_search("derby OR desalination", 5)] == [
        next(iter(check_index(store)))
    ]


def test_catalog_written_before_the_article_index_gets_it_on_open(ranked_index: Path, tmp_path: Path) -> None:
    copy = tmp_path / "catalog.sqlite3"
    with closing(sqlite3.connect(ranked_index / "catalog.sqlite3")) as src, closing(sqlite3.connect(copy)) as dst:
        src.backup(dst)
        dst.execute("DROP TABLE articles_fts")
        dst.execute("DELETE FROM meta WHERE key = 'derived_version'")
        dst.commit()
    catalog = Catalog(copy)
    hits = catalog.article_search("desalination plant", 5)
    assert hits and catalog.article(hits[0].article_id)["title"] == "Desalination plant opens on the coast"
    with closing(sqlite3.connect(copy)) as db:
        assert db.execute("SELECT count(*) FROM articles_fts").fetchone()[0] == 4


def test_cli_ask_takes_an_as_of_day(ranked_index: Path) -> None:
    runner = CliRunner()
    base = ["ask", "What budget did the Riverton council approve this week?", "--data-dir", str(ranked_index),
            "--backend", "extractive", "--json"]
    bad = runner.invoke(cli, [*base, "--as-of", "yesterday"])
    assert bad.exit_code == 2 and "YYYY-MM-DD" in bad.output
    for day, year in (("2026-03-04", "2026"), ("2025-03-05", "2025")):
        result = runner.invoke(cli, [*base, "--as-of", day])
        assert result.exit_code == 0, result.output
        answer = json.loads(result.output)
        assert answer["citations"][0]["published"].startswith(year), answer


def test_bm25_searches_read_in_parallel_on_read_only_connections(ranked_index: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    catalog = Catalog(ranked_index / "catalog.sqlite3")
    queries = ["desalination plant", "Riverton budget", "derby header corner", "bus routes librarians"] * 4
    one_by_one = [([h.chunk_id for h in catalog.keyword_search(q, 5)], catalog.article_search(q, 5)) for q in queries]
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(lambda q: ([h.chunk_id for h in catalog.keyword_search(q, 5)],
                                            catalog.article_search(q, 5)), queries))
    assert together == one_by_one and all(chunks and articles for chunks, articles in together)
    # Connections are pooled (at most one per thread that read at the same time), and cannot write.
    assert 1 <= len(catalog._all_readers) <= 4
    with pytest.raises(sqlite3.OperationalError, match=r"readonly|read-only|query_only"):
        catalog._read("DELETE FROM articles")
    assert len(catalog.article_search("desalination", 5)) == 2
    readers = list(catalog._all_readers)
    catalog.close()
    with pytest.raises(sqlite3.ProgrammingError):
        readers[0].execute("SELECT 1")


# The meaning of the question with none of its words, and three articles with its words and other meanings.
CLINICS = ("Country clinics cannot find enough GPs",
           "Villages in the hills wait months to see a family doctor, and two surgeries closed this spring because "
           "no medic would move there.")
WORDY = [
    ("Rural hospitals face a parking shortage", "Rural hospitals have a parking shortage: visitors circle "
     "for an hour, and the hospitals plan new car parks."),
    ("Shortage of parking permits in rural areas", "The union said the shortage of parking permits in "
     "rural areas is a scandal for everyone who drives in."),
    ("Rural broadband shortage", "Rural towns report a broadband shortage; video calls drop out in rural areas."),
]


@pytest.fixture(scope="module")
def crowded_index(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> Path:
    corpus = tmp_path_factory.mktemp("crowded")
    for n, (title, text) in enumerate([CLINICS, *WORDY]):
        (corpus / f"{n}.md").write_text(f"---\ntitle: {title}\npublished: 2026-03-0{n + 1}\n---\n{text}\n")
    data = tmp_path_factory.mktemp("crowded-data")
    settings = Settings(data_dir=data)
    assert ingest([str(corpus)], settings, store=Store(settings, embedder=embedder)).added == 4
    return data


def test_dense_reserve_keeps_the_best_meaning_matches(crowded_index: Path, embedder: Any) -> None:
    """Keyword and whole-article matches never crowd the best dense candidates out of the k results:
    round(k × dense_reserve) of them are always there, fusion keeping its own top places."""
    query = "rural areas are short of physicians"
    store = Store(Settings(data_dir=crowded_index, dense_reserve=0.5), embedder=embedder)
    off = Store(Settings(data_dir=crowded_index, dense_reserve=0), embedder=embedder)
    best_dense = search(store, query, k=1, mode="dense", collapse=False, recency=False).passages
    assert best_dense[0].title == CLINICS[0], "the test needs the meaning match first in dense search"
    plain = search(off, query, k=2, recency=False).passages
    assert CLINICS[0] not in {p.title for p in plain}, "fusion alone must crowd it out, or this proves nothing"
    hybrid = search(store, query, k=2, recency=False).passages
    assert [p.title for p in hybrid] == [plain[0].title, CLINICS[0]]  # fusion's first place, then the reserve
    # A search that asks for none (a follow-up's reranked search) keeps fusion's order.
    unreserved = search(store, query, k=2, recency=False, dense_reserve=False).passages
    assert [p.title for p in unreserved] == [p.title for p in plain]
    # dense-only and keyword-only searches reserve nothing
    assert search(store, query, k=2, mode="keyword", recency=False).passages[1].title != CLINICS[0]


def test_dense_reserve_spreads_the_best_dense_matches_and_skips_near_copies() -> None:
    from retrieval.search import with_dense_reserve
    from retrieval.types import Passage

    def p(cid: str, dense: int | None, score: float) -> Passage:
        return Passage(chunk_id=cid, article_id=cid, text=cid, start=0, end=0, score=score, dense_rank=dense)

    a, b, c, f = p("a", None, 6), p("b", 3, 5), p("c", None, 4), p("f", None, 3)
    d, e = p("d", 1, 1), p("e", 2, 0.5)
    ranked = [a, b, c, f, d, e]
    no_twins = lambda _p, _among: None  # noqa: E731

    def ids(out: list[Passage]) -> list[str]:
        return [x.chunk_id for x in out]

    # k 4, 2 reserved: the best dense by place 2, the second by place 4; fusion's last ones drop out
    assert ids(with_dense_reserve([a, b, c, f], ranked, 4, 2, no_twins)) == ["a", "d", "b", "e"]
    # one reserved: by place 4
    assert ids(with_dense_reserve([a, b, c, f], ranked, 4, 1, no_twins)) == ["a", "b", "c", "d"]
    # a reserved passage fusion already ranks higher keeps its place
    assert ids(with_dense_reserve([d, a, b, c], ranked, 4, 2, no_twins)) == ["d", "a", "b", "e"]
    # fusion found fewer than k: the reserve still gets in
    assert ids(with_dense_reserve([a], ranked, 4, 2, no_twins)) == ["a", "d", "e"]
    # e is a near-copy of a passage already shown: it needs no place of its own
    twin_of_e = lambda q, among: among[0] if q.chunk_id == "e" else None  # noqa: E731
    assert ids(with_dense_reserve([a, b, c, f], ranked, 4, 2, twin_of_e)) == ["a", "d", "b", "c"]


def test_lean_tail_keeps_the_first_and_orders_the_rest_by_the_tail_score() -> None:
    from retrieval.search import lean_tail

    order = ["a", "b", "c", "d", "e"]
    tail = {"a": 0.0, "b": 0.1, "c": 0.5, "d": 0.5, "e": 0.9}
    assert lean_tail(order, tail) == ["a", "e", "c", "d", "b"]  # ties (c, d) keep their order
    assert lean_tail(order, {cid: 1.0 for cid in order}) == order
    assert lean_tail([], {}) == [] and lean_tail(["a"], {"a": 0.0}) == ["a"]


def test_places_after_the_first_lean_on_whole_article_evidence(ranked_index: Path, embedder: Any) -> None:
    """With tail_passage_weight w the first place is the fused best, and the places after it come in the
    order of a search whose passage ranks (dense, keyword) weigh w times as much: there a fresher article
    passes last year's vote, whose passage is closer to the question in words and meaning."""
    query = "bus routes and librarians"  # the words of the 2026 vote; the 2025 one is close in meaning

    def passages(mode: str = "hybrid", reranker: Any = None, **fields: Any) -> list[Any]:
        settings = Settings(data_dir=ranked_index, dense_reserve=0, recency_weight=0.05, **fields)
        store = Store(settings, embedder=embedder)
        return search(store, query, k=20, filters=Filters(as_of="2026-03-04"), collapse=False, mode=mode,
                      reranker=reranker).passages

    off = passages(tail_passage_weight=1)
    on = passages(tail_passage_weight=0.4)
    leaning = passages(tail_passage_weight=1, dense_weight=0.4, keyword_weight=0.4)
    assert on[0].chunk_id == off[0].chunk_id and on[0].published.startswith("2026-03")  # the vote of the week
    assert off[1].published.startswith("2025"), "fusion alone must put last year's vote second, or this proves nothing"
    assert on[1].published.startswith("2026")
    assert [p.chunk_id for p in on[1:]] == [p.chunk_id for p in leaning if p.chunk_id != on[0].chunk_id]
    assert [p.score for p in on] == [{q.chunk_id: q.score for q in off}[p.chunk_id] for p in on]  # fused scores
    # Not for dense-only or keyword-only searches, nor when a reranker orders the passages.
    for mode in ("dense", "keyword"):
        assert [p.chunk_id for p in passages(mode, tail_passage_weight=0.4)] == \
            [p.chunk_id for p in passages(mode, tail_passage_weight=1)]
    fused_order = lambda _query, found: [p.score for p in found]  # noqa: E731
    assert [p.chunk_id for p in passages(reranker=fused_order, tail_passage_weight=0.4)] == [p.chunk_id for p in off]



def test_dense_search_asks_chroma_for_more_than_it_holds_without_counting_first(
    fake_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The nearest-chunk query is not capped by a count first (a count cost as much as the query): an empty
    index, a limit above the number of chunks and a filter that matches nothing all answer plainly."""
    from tests.conftest import write_articles

    vector = np.asarray(fake_store.embedder.embed_query("harbour ferry crossings"), dtype=np.float32)
    assert fake_store.dense_search(vector, 50) == []  # nothing ingested yet
    write_articles(tmp_path / "news", 3, paragraphs=12)
    ingest([str(tmp_path / "news")], fake_store.settings, store=fake_store)
    with closing(sqlite3.connect(fake_store.settings.catalog_path)) as db:
        chunks = db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
    counted: list[int] = []
    collection = type(fake_store.collection)
    original = collection.count
    monkeypatch.setattr(collection, "count", lambda self: counted.append(1) or original(self))
    found = fake_store.dense_search(vector, 500)
    assert counted == []
    assert chunks > 3 and len({chunk_id for chunk_id, _, _ in found}) == len(found) == chunks
    assert [s for _, s, _ in found] == sorted((s for _, s, _ in found), reverse=True)
    assert fake_store.dense_search(vector, 500, where={"outlet": {"$in": ["No Such Outlet"]}}) == []


def test_a_filtered_dense_search_reads_the_nearest_chunks_first_and_asks_chroma_only_when_too_few_pass(
    fake_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A date or outlet filter first tests the nearest chunks against Chroma's ``where``, read in Python
    (``store.where_admits``), and runs Chroma's filtered query — 50-80× slower — only when fewer than asked
    pass; either way the chunks found are those of Chroma's filtered query."""
    news = tmp_path / "news"
    news.mkdir()
    for n in range(30):
        day = f"2026-0{1 + n % 3}-1{n % 9}" if n != 11 else ""  # three months; one article without a date
        (news / f"s{n:02d}.md").write_text(
            f"---\ntitle: Ferry story {n}\noutlet: {'Courier' if n % 2 else 'Gazette'}\n"
            + (f"published: {day}\n" if day else "") + "---\n"
            + " ".join(f"The harbour ferry crossing number {n} runs at {7 + n % 5} o'clock, paragraph {p}."
                       for p in range(6)) + "\n")
    ingest([str(news)], fake_store.settings, store=fake_store)
    assert fake_store.collection.count() > 4 * 3  # more chunks than the nearest 4 × limit read below
    vector = np.asarray(fake_store.embedder.embed_query("harbour ferry crossings"), dtype=np.float32)
    wheres: list[Any] = []
    collection = type(fake_store.collection)
    original = collection.query
    monkeypatch.setattr(collection, "query", lambda self, **kw: wheres.append(kw.get("where")) or original(self, **kw))
    for filters, limit, asks_chroma in [
        (Filters(date_to="2026-03-31"), 5, False),  # nearly everything passes: the nearest chunks suffice
        (Filters(outlets=("Courier",)), 5, False),
        (Filters(date_from="2026-03-01", date_to="2026-03-12", outlets=("Gazette",)), 3, True),  # two articles pass
        (Filters(date_from="2026-02-01", date_to="2026-02-28"), 200, False),  # fewer chunks than 4 × 200: all read
        (Filters(date_to="2026-01-31"), 3, False),
    ]:
        wheres.clear()
        found = fake_store.dense_search(vector, limit, filters.chroma_where())
        assert bool([w for w in wheres if w]) == asks_chroma, (filters, wheres)
        exact = fake_store.collection.query(query_embeddings=[vector], n_results=limit, where=filters.chroma_where())
        assert [cid for cid, _, _ in found] == exact["ids"][0], filters
        assert found, filters


@pytest.mark.parametrize(("where", "metadata", "admitted"), [
    ({"day": {"$lte": 20260301}}, {"day": 20260301}, True),
    ({"day": {"$lte": 20260301}}, {"day": 20260302}, False),
    ({"$and": [{"day": {"$gte": 20260101}}, {"day": {"$gt": 0}}]}, {"day": 20260105}, True),
    ({"$and": [{"day": {"$lte": 20260101}}, {"day": {"$gt": 0}}]}, {"day": 0}, False),  # an unknown date
    ({"outlet": {"$in": ["Courier"]}}, {"outlet": "Courier"}, True),
    ({"outlet": {"$in": ["Courier"]}}, {}, False),  # a key the chunk lacks fails, as in Chroma
    ({"$or": [{"outlet": "AP"}, {"day": {"$lt": 5}}]}, {"outlet": "BBC", "day": 3}, True),
])
def test_where_admits_reads_chromas_filter(where: dict[str, Any], metadata: dict[str, Any], admitted: bool) -> None:
    from retrieval.store import where_admits

    assert where_admits(where, metadata) is admitted
    assert where_admits(Filters(date_to="2026-03-01", outlets=("AP",)).chroma_where() or {},
                        {"outlet": "AP", "day": 20260228})


@pytest.mark.parametrize("where", [{"outlet": {"$nin": ["AP"]}}, {"$not": {}}, {"day": {"$lte": "2026"}}])
def test_where_admits_leaves_what_it_does_not_read_to_chroma(where: dict[str, Any]) -> None:
    from retrieval.store import where_admits

    with pytest.raises(ValueError):
        where_admits(where, {"outlet": "BBC", "day": 20260228})
