"""Term statistics read from the catalog's own FTS5 indexes, and the (off by default) "focus" rule
that leaves common terms out of the OR-ed keyword query."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.catalog import Catalog
from retrieval.keyword import TermStats
from retrieval.text import fts_query
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


def test_focus_is_off_by_default(catalog: Catalog) -> None:
    assert Catalog.FOCUS_SHARE is None
    query = "harbour desalination plant crackdowns"
    assert catalog._match("chunks_fts", query) == fts_query(query)
    assert len(catalog.keyword_search(query, 50)) == 30  # every row holding any term


def test_focus_leaves_the_common_terms_out(catalog: Catalog) -> None:
    catalog.FOCUS_SHARE, catalog.FOCUS_FLOOR, catalog.FOCUS_KEEP = 0.5, 0, 1  # type: ignore[misc]
    match = catalog._match("chunks_fts", "harbour desalination plant crackdowns")
    assert match == '"desalination" OR "plant" OR "crackdowns"'  # "harbour" is in every row
    assert [h.chunk_id for h in catalog.keyword_search("harbour desalination plant", 50)] == ["a7-0"]
    # At least FOCUS_KEEP terms found in the index are kept, the rarest first:
    assert catalog._match("chunks_fts", "harbour council dues") != ""
    catalog.FOCUS_SHARE = None  # type: ignore[misc]
    assert len(catalog.keyword_search("harbour desalination plant", 50)) == 30
