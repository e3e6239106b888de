"""The keyword engine: BM25 over passages and whole articles in tantivy, kept in step with the catalog.

FTS5's ``bm25()`` visits every posting of every query term (its idf counts them), so a keyword query
costs time linear in the corpus (docs/results.md, "Keyword search growth"). Tantivy scores compressed
postings in native code: keyword search and fusion take 0.06× FTS5's time on the RealTime QA index,
and at 16× that corpus 0.23× of FTS5's at 1× (benchmarks/bench_keyword.py, docs/results.md). Its time
still grows with the corpus: tantivy's engine could stop early (block-max WAND), but tantivy-py's
``Searcher.search`` wraps the top-k collector in a ``MultiCollector``, which visits every matching
document — 1 hit costs what 60 do (``bench_keyword.py --limits``, docs/results.md, session 11).

The catalog stays the authority; these files are derived from it and are never needed for
correctness:

- every change of an article writes its id to the catalog's ``keyword_backlog`` in the change's own
  transaction (``Catalog.mark_pending``, ``replace_article``, ``delete_article``, ``clear``);
- the writer (an ingest, holding ``Store.write_lock``) catches up with :meth:`KeywordIndex.sync`: it
  re-reads those articles from the catalog, replaces their documents, commits (tantivy commits are
  atomic), and only then empties the backlog up to what it read and moves ``keyword_synced`` on;
- a reader uses tantivy only while the backlog is empty and the files on disk were built from this
  catalog (``state.json``); otherwise FTS5 answers, exactly as before. So a question asked during an
  ingest, or after a killed one, is never answered from a stale keyword index; a killed sync is
  simply redone (replacing an article's documents twice is harmless).

Two indexes, so that each query is a flat OR of term scorers over one field (the case block-max WAND
would prune, should the bindings ever collect the top k alone): passages (title, section and text in
one stemmed field) and whole articles (title and text). Each document also holds its article id (for
replacement), the outlet and the publication day (for the outlet and date filters). Terms are those of
``text.keyword_terms``, analysed like FTS5's ``porter unicode61`` (lower case, diacritics folded,
English stemming).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import threading
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from retrieval.catalog import Catalog
from retrieval.text import keyword_terms

log = logging.getLogger(__name__)

FORMAT = 1  # bump when the schema or the analysis changes: the files are rebuilt from the catalog
ANALYZER = "newsqa_en"
KINDS = ("passages", "articles")
BATCH_ARTICLES = 500  # articles read from the catalog per step of a sync
# Title, section and text are one field. FTS5 weighs a passage's title 0.6 and section 0.3
# (Catalog._KEYWORD_TABLES), but three tantivy fields with those boosts rank worse (article MRR@10
# −0.039 ± 0.016 on half A, docs/results.md session 9): each field has its own length norm and idf, so
# a word in a short title field scores far above the same word in the text.
Progress = Callable[[int, int, str], None]


def _schema() -> Any:
    import tantivy

    builder = tantivy.SchemaBuilder()
    builder.add_text_field("id", stored=True, tokenizer_name="raw")
    builder.add_text_field("article_id", tokenizer_name="raw")
    builder.add_text_field("outlet", tokenizer_name="raw")
    builder.add_integer_field("day", indexed=True, fast=True)
    builder.add_text_field("body", tokenizer_name=ANALYZER)
    return builder.build()


def _analyzer() -> Any:
    import tantivy

    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(40))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        .filter(tantivy.Filter.stemmer("english"))
        .build()
    )


def tantivy_failure(error: BaseException) -> bool:
    """An error of the engine over damaged files: an exception, or a Rust panic (pyo3's
    ``PanicException`` derives from BaseException), never an interrupt."""
    return isinstance(error, Exception) or type(error).__name__ == "PanicException"


def day_number(published: str) -> int:
    """``YYYYMMDD`` of an ISO date (0 when there is none), as the filters compare it."""
    digits = published[:10].replace("-", "")
    return int(digits) if len(digits) == 8 and digits.isdigit() else 0


class KeywordIndex:
    """Tantivy files under ``path`` mirroring ``catalog``'s passages and articles (see the module doc)."""

    def __init__(self, path: Path, catalog: Catalog, heap_bytes: int = 128_000_000, threads: int = 1) -> None:
        self.path = path
        self.catalog = catalog
        self.heap_bytes = heap_bytes
        self.threads = threads
        self._lock = threading.Lock()
        self._mark: str | None = None  # the catalog's keyword_synced mark the searchers were loaded at
        self._indexes: dict[str, Any] = {}
        self._searchers: dict[str, Any] = {}
        self._schema: Any = None

    # --- files -------------------------------------------------------------------------------
    def _state_file(self) -> Path:
        return self.path / "state.json"

    def _expected_state(self, create: bool) -> dict[str, Any] | None:
        catalog_id = (self.catalog.ensure_meta("catalog_id", lambda: uuid.uuid4().hex) if create
                      else self.catalog.get_meta("catalog_id"))
        return {"format": FORMAT, "catalog_id": catalog_id} if catalog_id else None

    def _damaged_file(self) -> Path:
        return self.path / "damaged"

    def _damaged(self, error: BaseException) -> None:
        """A read failed (damaged files): FTS5 answers from now on, and the next sync rebuilds."""
        log.warning("the keyword index in %s is damaged (%s): keyword search uses the catalog's FTS5 until "
                    "the next ingest rebuilds it", self.path, error)
        with contextlib.suppress(OSError):  # a read-only data dir: every reader finds out for itself
            self._damaged_file().write_text(str(error)[:2000])

    def _state(self) -> dict[str, Any] | None:
        try:
            return json.loads(self._state_file().read_text())
        except (OSError, ValueError):
            return None

    def _analyzer(self) -> Any:
        analyzer = self.__dict__.get("_query_analyzer")
        if analyzer is None:
            analyzer = self.__dict__.setdefault("_query_analyzer", _analyzer())
        return analyzer

    def _open(self, kind: str) -> Any:
        import tantivy

        if self._schema is None:
            self._schema = _schema()
        target = self.path / kind
        target.mkdir(parents=True, exist_ok=True)
        index = tantivy.Index(self._schema, path=str(target))
        index.register_tokenizer(ANALYZER, _analyzer())
        return index

    # --- reads -------------------------------------------------------------------------------
    def _current(self) -> dict[str, Any] | None:
        """Searchers over the files as last committed, if they hold exactly what the catalog holds."""
        mark, waiting = self.catalog.keyword_state()
        if waiting or mark is None:
            return None
        with self._lock:
            if mark != self._mark:  # the files change only with the mark: decided once per mark
                self._searchers = self._load()
                self._mark = mark
            return dict(self._searchers) or None

    def _load(self) -> dict[str, Any]:
        """Fresh searchers over the files, or {} when they are another catalog's or format, or damaged."""
        if self._state() != self._expected_state(create=False) or self._damaged_file().exists():
            return {}
        searchers = {}
        try:
            for kind in KINDS:
                index = self._indexes.get(kind) or self._open(kind)
                index.reload()
                self._indexes[kind] = index
                searchers[kind] = index.searcher()
        except BaseException as error:
            if not tantivy_failure(error):
                raise
            self._indexes.clear()
            self._damaged(error)
            return {}
        return searchers

    def counts(self) -> dict[str, int] | None:
        """Documents per kind (passages, articles) when in step with the catalog, else None."""
        searchers = self._current()
        return None if searchers is None else {kind: int(s.num_docs) for kind, s in searchers.items()}

    @property
    def ready(self) -> bool:
        """Whether searches are answered here now (else the caller asks the catalog's FTS5)."""
        return self._current() is not None

    def search(self, kind: str, query: str, limit: int, outlets: Sequence[str] = (), date_from: str = "",
               date_to: str = "") -> list[tuple[str, float]] | None:
        """(id, BM25 score) of the ``limit`` best ``kind`` ("passages": chunk ids, "articles": article ids)
        holding any of ``query``'s terms, under the outlet and ISO date filters; None when the files
        are not in step with the catalog (the caller then asks FTS5)."""
        import tantivy

        searchers = self._current()
        if searchers is None:
            return None
        schema = self._schema
        analyzer = self._analyzer()
        should: list[tuple[Any, Any]] = []
        for term in keyword_terms(query):
            tokens = analyzer.analyze(term)
            if len(tokens) == 1:
                should.append((tantivy.Occur.Should, tantivy.Query.term_query(schema, "body", tokens[0])))
            elif tokens:  # "covid-19": the phrase
                should.append((tantivy.Occur.Should, tantivy.Query.phrase_query(schema, "body", tokens)))
        if not should:
            return []
        # One flat OR of term queries over one field: the shape block-max WAND prunes (tantivy-py collects
        # through a MultiCollector, so today every match is scored: docs/results.md, session 11).
        text = tantivy.Query.boolean_query(should)
        must: list[tuple[Any, Any]] = []
        if outlets:
            must.append((tantivy.Occur.Must, tantivy.Query.const_score_query(
                tantivy.Query.term_set_query(schema, "outlet", list(outlets)), 0.0)))
        if date_from or date_to:
            lower = day_number(date_from) if date_from else 1  # undated articles are out of any date range
            upper = day_number(date_to) if date_to else None
            must.append((tantivy.Occur.Must, tantivy.Query.const_score_query(
                tantivy.Query.range_query(schema, "day", tantivy.FieldType.Integer, lower, upper), 0.0)))
        if must:
            text = tantivy.Query.boolean_query([(tantivy.Occur.Must, text), *must])
        searcher = searchers[kind]
        try:
            hits = searcher.search(text, limit, count=False).hits
            return [(searcher.doc(address)["id"][0], float(score)) for score, address in hits]
        except BaseException as error:
            if not tantivy_failure(error):
                raise
            with self._lock:
                self._mark = None
            self._damaged(error)
            return None

    # --- writes (the writer lock held) -------------------------------------------------------
    def _readable(self) -> bool:
        """Whether both indexes open and no reader found them damaged (missing ones count as readable:
        they are created empty)."""
        if self._damaged_file().exists():
            return False
        try:
            for kind in KINDS:
                self._open(kind).searcher()
        except BaseException as error:
            if not tantivy_failure(error):
                raise
            return False
        return True

    def sync(self, progress: Progress | None = None) -> int:
        """Bring the files in step with the catalog: re-read the articles of the backlog (all of them
        when the files are missing, of another catalog or format, or the index was cleared), commit,
        then empty the backlog up to what was read. Returns the number of articles re-read."""
        import tantivy

        seq, everything, changed = self.catalog.keyword_backlog()
        expected = self._expected_state(create=True)
        state, readable = self._state(), self._readable()
        rebuild = everything or state != expected or not readable
        if not rebuild and not changed:
            return 0
        if rebuild:
            with self._lock:  # files of another format or catalog: start afresh
                self._indexes.clear()
                self._searchers.clear()
                self._mark = None
            if (state or {}).get("format") != FORMAT or not readable:
                for kind in KINDS:
                    shutil.rmtree(self.path / kind, ignore_errors=True)
            with contextlib.suppress(FileNotFoundError):
                self._state_file().unlink()
            changed = self.catalog.done_article_ids()
        indexes = {kind: self._open(kind) for kind in KINDS}
        writers = {kind: index.writer(heap_size=self.heap_bytes, num_threads=self.threads)
                   for kind, index in indexes.items()}
        try:
            if rebuild:
                for writer in writers.values():
                    writer.delete_all_documents()
            total = len(changed)
            for start in range(0, total, BATCH_ARTICLES):
                batch = changed[start:start + BATCH_ARTICLES]
                if not rebuild:
                    for article_id in batch:
                        for writer in writers.values():
                            writer.delete_documents_by_term("article_id", article_id)
                for kind, rows in zip(KINDS, self.catalog.keyword_documents(batch), strict=True):
                    writer = writers[kind]
                    for row in rows:
                        writer.add_document(tantivy.Document(
                            id=row["id"], article_id=row["article_id"], outlet=row["outlet"],
                            day=day_number(row["published"]),
                            body="\n".join(x for x in (row["title"], row["section"], row["text"]) if x),
                        ))
                if progress:
                    progress(min(start + BATCH_ARTICLES, total), total, "keyword index")
            for writer in writers.values():
                writer.commit()
        except BaseException:
            for writer in writers.values():
                with contextlib.suppress(Exception):
                    writer.rollback()
            raise
        finally:
            for writer in writers.values():
                with contextlib.suppress(Exception):
                    writer.wait_merging_threads()
        if rebuild:
            temporary = self._state_file().with_suffix(f".{os.getpid()}.tmp")
            temporary.write_text(json.dumps(expected))
            os.replace(temporary, self._state_file())
            with contextlib.suppress(FileNotFoundError):
                self._damaged_file().unlink()
        self.catalog.keyword_caught_up(seq)
        return len(changed)

    def disown(self) -> None:
        """Keyword search is FTS5 alone: the files no longer follow the catalog. Their state is removed
        first (a later sync rebuilds them), then the backlog is dropped."""
        with contextlib.suppress(FileNotFoundError):
            self._state_file().unlink()
        seq, _, _ = self.catalog.keyword_backlog()
        if seq:
            self.catalog.keyword_caught_up(seq)

    def close(self) -> None:
        with self._lock:
            self._indexes.clear()
            self._searchers.clear()
            self._mark = None
