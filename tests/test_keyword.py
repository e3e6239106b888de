"""Keyword (BM25) search on a real FTS5 catalog: term statistics read from the index itself, and the
split query (rare terms find the candidates, common ones are scored on them only) whose top results
must be those of the one OR-ed query."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from benchmarks.bench_keyword import fts_query
from retrieval.catalog import Catalog
from retrieval.keyword import TermStats, common_bound
from retrieval.types import Article, Chunk


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    catalog = Catalog(tmp_path / "catalog.sqlite3")
    for n in range(30):
        extra = " The desalination plant reopens after the crackdowns." if n == 7 else ""
        text = f"Harbour story {n}: the harbour council met about the harbour dues.{extra}"
        article = Article(id=f"a{n}", title=f"Harbour {n}", text=text)
        catalog.replace_article(article, [Chunk(f"a{n}-0", f"a{n}", 0, text, 0, len(text))], f"h{n}")
    return catalog


def test_term_stats_use_the_index_tokenizer_and_counts(catalog: Catalog) -> None:
    stats = TermStats(catalog.path, ("chunks_fts", "articles_fts"))
    try:
        assert stats.tokens(["crackdowns", "covid-19", "Harbours", "’"]) == [
            ["crackdown"], ["covid", "19"], ["harbour"], []]
        assert stats.rows("chunks_fts") == 30 and stats.rows("articles_fts") == 30
        assert stats.doc_freq("chunks_fts", ["harbour", "desalin", "crackdown", "nowhere"]) == {
            "harbour": 30, "desalin": 1, "crackdown": 1, "nowhere": 0}
    finally:
        stats.close()


def test_document_frequencies_are_kept_until_the_index_changes(catalog: Catalog) -> None:
    stats = catalog._term_stats()
    assert stats.doc_freq("chunks_fts", ["desalin", "harbour"], catalog.generation()) == {"desalin": 1, "harbour": 30}
    text = "A second desalination plant."
    catalog.replace_article(Article(id="b", title="Plant", text=text), [Chunk("b-0", "b", 0, text, 0, len(text))], "b")
    assert stats.doc_freq("chunks_fts", ["desalin", "harbour"], catalog.generation()) == {"desalin": 2, "harbour": 30}
    assert stats._counts[("chunks_fts", "desalin")] == 2  # kept for this generation
    stats._counts[("chunks_fts", "desalin")] = 99
    assert stats.doc_freq("chunks_fts", ["desalin"], catalog.generation()) == {"desalin": 99}
    assert stats.doc_freq("chunks_fts", ["desalin"]) == {"desalin": 2}  # no generation: counted afresh


# --- the split query against the one OR-ed query ---------------------------------------------------
# A vocabulary with Zipf-like frequencies: the first words are in most rows, the last in a few.
WORDS = ["harbour", "council", "city", "minister", "budget", "strike", "river", "school", "storm", "court",
         "vaccine", "election", "bridge", "tariff", "drought", "satellite", "orchestra", "glacier", "volcano",
         "referendum", "desalination", "archipelago", "cryptography", "paleontology"]
OUTLETS = ("north", "south")


def _text(rng: random.Random, n: int) -> str:
    weights = [1 / (rank + 1) ** 1.1 for rank in range(len(WORDS))]
    return " ".join(rng.choices(WORDS, weights, k=n)) + "."


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """120 articles of 3 passages each (varied lengths, titles and sections), two outlets, two months."""
    path = tmp_path_factory.mktemp("split") / "catalog.sqlite3"
    rng = random.Random(15)
    catalog = Catalog(path)
    for n in range(120):
        texts = [_text(rng, rng.randint(8, 60)) for _ in range(3)]
        article = Article(id=f"a{n}", title=_text(rng, 3), text="\n\n".join(texts), outlet=OUTLETS[n % 2],
                          published=f"2026-0{1 + n % 2}-{1 + n % 28:02d}")
        chunks = [Chunk(f"a{n}-{i}", f"a{n}", i, t, 0, len(t), section=_text(rng, 2) if i else "")
                  for i, t in enumerate(texts)]
        catalog.replace_article(article, chunks, f"h{n}")
    catalog.close()
    return path


def _queries() -> list[str]:
    rng = random.Random(7)
    return [" ".join(rng.sample(WORDS, rng.randint(2, 6))) for _ in range(60)]


def _reference(catalog: Catalog, fts: str, query: str, limit: int) -> list[tuple[str, float]]:
    """The one OR-ed query, written out here: every matching row scored by FTS5, then sorted."""
    score, join, ident = Catalog._KEYWORD_TABLES[fts]
    rows = catalog._read(f"SELECT {ident} AS id, {score} AS s FROM {fts} {join} WHERE {fts} MATCH ? "
                         "AND a.state = 'done' ORDER BY s LIMIT ?", [fts_query(query), limit])
    return [(r["id"], -r["s"]) for r in rows]


def _same(found: list[tuple[str, float]], expected: list[tuple[str, float]]) -> None:
    """The same rows with the same scores, best first (rows tied with the last may differ)."""
    assert [s for _, s in found] == pytest.approx([s for _, s in expected], rel=1e-9)
    scores = dict(expected)
    assert all(s == pytest.approx(scores[i], rel=1e-9) for i, s in found if i in scores)
    last = expected[-1][1] if expected else 0.0
    assert {i for i, s in found if s > last + 1e-9} == {i for i, s in expected if s > last + 1e-9}


@pytest.mark.parametrize("fts", ["chunks_fts", "articles_fts"])
def test_split_query_finds_the_top_rows_of_the_or_query(corpus: Path, fts: str) -> None:
    catalog = Catalog(corpus, common_share=0.3)
    try:
        for limit in (5, 20):
            for query in _queries():
                _same(catalog._bm25(fts, query, limit, (), "", ""), _reference(catalog, fts, query, limit))
        # Every way of answering was taken, so each was checked above.
        assert catalog.plans["split"] and catalog.plans["split twice"], catalog.plans
    finally:
        catalog.close()


def test_split_query_under_filters(corpus: Path) -> None:
    catalog = Catalog(corpus, common_share=0.3)
    exact = Catalog(corpus)
    try:
        for query in _queries()[:20]:
            for filters in ((("north",), "", ""), ((), "2026-02-01", "2026-02-28")):
                split = catalog.keyword_search(query, 10, *filters)
                assert [(h.chunk_id, pytest.approx(h.score)) for h in split] == [
                    (h.chunk_id, h.score) for h in exact.keyword_search(query, 10, *filters)]
                rows = catalog.chunks_by_id(h.chunk_id for h in split)
                assert all(rows[h.chunk_id]["outlet"] == "north" if filters[0] else
                           rows[h.chunk_id]["published"].startswith("2026-02") for h in split)
        assert catalog.plans["split"] + catalog.plans["split twice"] > 0
    finally:
        catalog.close()
        exact.close()


def test_common_terms_only_and_missing_terms(corpus: Path) -> None:
    catalog = Catalog(corpus, common_share=0.3)
    try:
        stats = catalog._term_stats()
        rows = stats.rows("chunks_fts")
        freq = stats.doc_freq("chunks_fts", ["harbour", "council", "citi"])
        assert all(n > 0.3 * rows for n in freq.values())  # the three words are common here
        # Only common terms: the least common one finds the candidates. A term missing from the index
        # finds nothing, so a common one does; with nothing but missing terms nothing is found.
        for query, plan in (("harbour council city", "split"), ("harbour zanzibarite council", "split"),
                            ("harbour zanzibarite", "one query"), ("zanzibarite quokkas", "one query")):
            catalog.plans.clear()
            _same(catalog._bm25("chunks_fts", query, 20, (), "", ""), _reference(catalog, "chunks_fts", query, 20))
            assert set(catalog.plans) <= {plan, f"{plan} twice", f"{plan}, then one query"}, (query, catalog.plans)
        assert catalog._bm25("chunks_fts", "zanzibarite quokkas", 20, (), "", "") == []
    finally:
        catalog.close()


def test_a_phrase_term_stays_on_the_rare_side(corpus: Path, tmp_path: Path) -> None:
    catalog = Catalog(corpus, common_share=0.3)
    try:
        query = "harbour council storm-drought"  # "storm-drought" is the phrase "storm drought"
        _same(catalog._bm25("chunks_fts", query, 20, (), "", ""), _reference(catalog, "chunks_fts", query, 20))
    finally:
        catalog.close()


def test_rows_of_articles_being_rewritten_are_left_out(corpus: Path, tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite3"
    path.write_bytes(corpus.read_bytes())
    catalog = Catalog(path, common_share=0.3)
    try:
        query = "paleontology cryptography harbour"
        best = catalog.keyword_search(query, 5)[0].chunk_id
        catalog.mark_pending(best.split("-")[0])
        for share in (0.0, 0.3):
            catalog.common_share = share
            found = [h.chunk_id for h in catalog.keyword_search(query, 5)]
            assert best not in found and len(found) == 5
            _same([(h.chunk_id, h.score) for h in catalog.keyword_search(query, 5)],
                  _reference(catalog, "chunks_fts", query, 5))
    finally:
        catalog.close()


def test_common_bound_is_above_every_row_with_only_those_terms(corpus: Path) -> None:
    catalog = Catalog(corpus)
    try:
        stats = catalog._term_stats()
        for fts in ("chunks_fts", "articles_fts"):
            words = ["harbour", "council", "city"]
            bound = common_bound(stats.rows(fts), list(stats.doc_freq(fts, ["harbour", "council", "citi"]).values()))
            score = catalog._KEYWORD_TABLES[fts][0]
            best = catalog._read(f"SELECT -{score} AS s FROM {fts} WHERE {fts} MATCH ? ORDER BY s DESC LIMIT 1",
                                 [fts_query(" ".join(words))])[0]["s"]
            assert 0.5 * bound < best < bound  # a bound, and not a vacuous one
    finally:
        catalog.close()


def test_settings_reach_the_catalog_and_few_rows_keep_one_query(corpus: Path, tmp_path: Path) -> None:
    from retrieval.settings import Settings
    from retrieval.store import Store

    (tmp_path / "idx").mkdir()
    (tmp_path / "idx" / "catalog.sqlite3").write_bytes(corpus.read_bytes())
    store = Store(Settings(data_dir=tmp_path / "idx", keyword_common_share=0.3, keyword_common_rows=10**6))
    catalog = store.catalog
    try:
        assert (catalog.common_share, catalog.common_rows) == (0.3, 10**6)
        query = _queries()[0]
        _same(catalog._bm25("chunks_fts", query, 20, (), "", ""), _reference(catalog, "chunks_fts", query, 20))
        assert set(catalog.plans) == {"one query"}  # no term is held by a million rows
        catalog.common_rows = 0
        _same(catalog._bm25("chunks_fts", query, 20, (), "", ""), _reference(catalog, "chunks_fts", query, 20))
        assert set(catalog.plans) > {"one query"}
    finally:
        catalog.close()


def test_article_rows_are_replaced_through_their_map_and_old_catalogs_get_one(tmp_path: Path) -> None:
    import sqlite3
    from contextlib import closing

    path = tmp_path / "catalog.sqlite3"
    catalog = Catalog(path)
    for n in range(5):
        text = f"Harbour story {n}."
        catalog.replace_article(Article(id=f"a{n}", title=f"H{n}", text=text), [Chunk(f"a{n}-0", f"a{n}", 0, text, 0,
                                                                                     len(text))], f"h{n}")
    catalog.close()
    with closing(sqlite3.connect(path)) as db:  # a catalog written before the map existed
        db.execute("DELETE FROM articles_fts_rows")
        db.execute("UPDATE meta SET value = '1' WHERE key = 'derived_version'")
        db.commit()
    catalog = Catalog(path)  # fills the map from articles_fts, without rebuilding it
    try:
        text = "The glacier retreated."
        catalog.replace_article(Article(id="a2", title="Glacier", text=text), [Chunk("a2-0", "a2", 0, text, 0,
                                                                                     len(text))], "new")
        catalog.delete_article("a4")
        rows = catalog._query("SELECT article_id, text FROM articles_fts ORDER BY article_id")
        assert [(r["article_id"], r["text"]) for r in rows] == [
            ("a0", "Harbour story 0."), ("a1", "Harbour story 1."), ("a2", text), ("a3", "Harbour story 3.")]
        mapped = catalog._query("SELECT m.article_id FROM articles_fts_rows m JOIN articles_fts f "
                                "ON f.rowid = m.fts_rowid AND f.article_id = m.article_id ORDER BY 1")
        assert [r[0] for r in mapped] == ["a0", "a1", "a2", "a3"]
        assert [h.article_id for h in catalog.article_search("glacier", 5)] == ["a2"]
        plan = catalog._query("EXPLAIN QUERY PLAN SELECT fts_rowid FROM articles_fts_rows WHERE article_id = 'a1'")
        assert "USING INDEX" in " ".join(str(tuple(r)) for r in plan)  # found by key, not by a scan
    finally:
        catalog.close()


def test_the_ingest_state_is_read_from_an_index_not_the_article_rows(catalog: Catalog) -> None:
    plan = catalog._query("EXPLAIN QUERY PLAN SELECT id, content_hash, state, source FROM articles")
    assert "COVERING INDEX articles_states" in plan[0][3]  # Catalog.states() never reads the texts
    assert catalog.states()["a7"] == ("h7", "done", "")
