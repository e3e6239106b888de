"""Does a search engine with block-max WAND keep keyword search flat as the corpus grows? A probe.

    pip install --target /tmp/pylib tantivy      # not a project dependency
    PYTHONPATH=/tmp/pylib python benchmarks/bench_tantivy.py DATASET_DIR --work /tmp/bench-keyword \\
        [--factors 1,4,16] [--queries 30] [--limit 60]

For each N× catalog that ``bench_keyword.py`` built in ``--work`` (x1.sqlite3, x4.sqlite3, …), a
tantivy index (in ``--work``/tantivy-xN, reused) holds its passages (title, section and text in one
stemmed field, so that an OR query is one flat union of term scorers: the case tantivy's block-max
WAND prunes) and, in a second index, its whole articles (title and text). The questions' non-stopword terms OR-ed are
searched for the top ``--limit`` of each, and the p50 wall and CPU time (this process) per question
is printed per scale, with its ratio to 1×. Scores are tantivy's BM25 (per field, Lucene's idf), not
FTS5's, so the rankings differ from the catalog's: this measures growth, not quality.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import time
from contextlib import closing
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from retrieval.eval_data import load_dataset  # noqa: E402
from retrieval.text import keyword_terms  # noqa: E402

SOURCES = {  # one index each, so that a query is a flat OR of terms
    "chunks": "SELECT id, title || char(10) || section || char(10) || text FROM chunks",
    "articles": "SELECT id, title || char(10) || text FROM articles WHERE state = 'done'",
}


def build(catalog: Path, target: Path, source: str) -> Any:
    import tantivy

    schema = tantivy.SchemaBuilder()
    schema.add_text_field("id", stored=True, tokenizer_name="raw")
    schema.add_text_field("body", stored=False, tokenizer_name="en_stem")
    built = schema.build()
    if (target / "meta.json").exists():
        return tantivy.Index(built, path=str(target))
    target.mkdir(parents=True, exist_ok=True)
    index = tantivy.Index(built, path=str(target))
    writer = index.writer(heap_size=200_000_000, num_threads=1)
    with closing(sqlite3.connect(f"file:{catalog}?mode=ro", uri=True)) as db:
        for ident, body in db.execute(SOURCES[source]):
            writer.add_document(tantivy.Document(id=ident, body=body))
    writer.commit()
    writer.wait_merging_threads()
    index.reload()
    return index


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench-keyword"))
    parser.add_argument("--factors", default="1,4,16")
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument("--limit", type=int, default=60)
    args = parser.parse_args()

    questions = [q.question for q in load_dataset(args.dataset).questions][: args.queries]
    out: dict[str, Any] = {}
    for factor in (int(f) for f in args.factors.split(",")):
        started = time.perf_counter()
        indexes = [build(args.work / f"x{factor}.sqlite3", args.work / f"tantivy-x{factor}-{source}", source)
                   for source in SOURCES]
        built_s = round(time.perf_counter() - started, 1)
        searchers = [index.searcher() for index in indexes]
        wall: list[float] = []
        cpu: list[float] = []
        for q in questions:
            terms = [t for t in (t.replace('"', "") for t in keyword_terms(q)) if t]
            queries = [index.parse_query(" OR ".join(f'"{t}"' for t in terms), ["body"]) for index in indexes]
            t, c = time.perf_counter(), time.process_time()
            for searcher, query in zip(searchers, queries, strict=True):
                searcher.search(query, args.limit).hits  # noqa: B018
            wall.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
        out[str(factor)] = {"docs": [searcher.num_docs for searcher in searchers], "build_or_open_s": built_s,
                            "p50_ms": round(1000 * statistics.median(wall), 2),
                            "cpu_p50_ms": round(1000 * statistics.median(cpu), 2)}
        print(factor, json.dumps(out[str(factor)]), file=sys.stderr, flush=True)
    first = out[next(iter(out))]
    for scale in out.values():
        scale["p50_vs_1x"] = round(scale["p50_ms"] / first["p50_ms"], 2)
        scale["cpu_p50_vs_1x"] = round(scale["cpu_p50_ms"] / first["cpu_p50_ms"], 2)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
