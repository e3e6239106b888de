"""Keyword search as the corpus grows: p50 of the catalog's BM25 queries at 1×, 4× and 16× a corpus.

    python benchmarks/bench_keyword.py DATASET_DIR [--catalog CATALOG] [--factors 1,4,16] [--work DIR]
        [--queries N] [--limit 60] [--modes exact,bare,split] [--share 0.05] [--rows 0] [--cold] [--quality] [--json]

DATASET_DIR holds ``articles.jsonl`` and ``questions.jsonl`` (e.g. ../shared/eval/rtqa-2026). The 1×
catalog is a copy of ``--catalog`` (e.g. /tmp/rtqa-index/catalog.sqlite3) or, without it, built
from the articles by the project's cleaner and chunker (the model's tokenizer sizes the chunks; no
vectors are needed for keyword search). The N× catalogs repeat every article and chunk N times
under new ids, in SQL, then merge the FTS5 segments ('optimize') as a settled index would be.
Copies are fine for timing (every posting list grows N×); idf and document lengths stay the same,
so a copy's scores equal its original's.

For each scale and each question (in one process, the catalogs opened alike):
  - passage BM25 (``Catalog.keyword_search``) and whole-article BM25 (``Catalog.article_search``);
  - "keyword+fusion": both on two threads, as ``search()`` runs them, then the chunk rows of the
    candidates (``chunks_by_id``) and the reciprocal-rank fusion (``retrieval.search.fuse``).
Each is timed in each mode (``--modes``), question by question in turn: ``exact`` (every
non-stopword term OR-ed, each matching row joined to its article and scored: the catalog before
session 6), ``bare`` (the same OR-ed query ranked by FTS5 alone, only the top rows joined:
``keyword_common_share`` 0) and ``split`` (``Catalog.common_share`` = ``--share``: rare terms find
the candidates, common ones are scored on them, a bound decides when that is exact). Their agreement
with ``exact`` at each scale: the share of the exact top-``limit`` and top-10 passages and articles
the mode also returns, and the share of questions whose top-10 passages are identical; and how the
split queries were answered (``plans``). ``--quality`` compares the modes' keyword-only rankings
without vectors (see ``keyword_quality``).
Reported: p50 / p90 per scale and mode and their ratio to the 1× p50 of the first mode and of the
same mode, peak RSS of the process (``ru_maxrss``), and the catalog sizes. Target: keyword+fusion p50
at 16× <= 2× its p50 at 1×.

``--work`` keeps the catalogs (building 16× takes minutes); an existing N× catalog there is reused.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sqlite3
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from retrieval.catalog import Catalog  # noqa: E402
from retrieval.eval_data import half_of, load_dataset  # noqa: E402
from retrieval.eval_metrics import percentile  # noqa: E402
from retrieval.keyword import TermStats  # noqa: E402
from retrieval.keyword_index import KeywordIndex  # noqa: E402
from retrieval.search import fuse  # noqa: E402
from retrieval.settings import Settings  # noqa: E402
from retrieval.text import keyword_terms  # noqa: E402


def fts_query(text: str) -> str:
    """An FTS5 MATCH expression OR-ing the quoted terms of ``text`` ("" when none are left): the one OR-ed
    query the split keyword search (``retrieval.keyword``) is measured against, here and in
    tests/test_keyword.py."""
    terms = [t.replace('"', "") for t in keyword_terms(text)]
    return " OR ".join(f'"{t}"' for t in terms if t)


def build_base(dataset: Path, target: Path) -> None:
    """A catalog of the dataset's articles and chunks (no vectors), as ingest would write it."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoTokenizer

    from ingest.chunking import chunk_article, clean_article
    from ingest.loaders import iter_jsonl
    from retrieval.store import packaged_model_path
    from retrieval.types import Article

    tokenizer = AutoTokenizer.from_pretrained(str(packaged_model_path()), local_files_only=True)

    def count(texts: Any) -> list[int]:
        return [len(ids) for ids in tokenizer(list(texts), add_special_tokens=False)["input_ids"]] if texts else []

    catalog = Catalog(target)
    settings = Settings()
    for item in iter_jsonl(dataset / "articles.jsonl"):
        if not isinstance(item, Article):
            continue
        article, headings = clean_article(item)
        chunks = chunk_article(article, headings, count, settings.chunk_tokens, settings.chunk_overlap_sentences)
        catalog.replace_article(article, chunks, "bench")
    catalog.close()


def multiply(base: Path, target: Path, factor: int) -> None:
    """``base`` with every article and chunk repeated ``factor`` times under new ids."""
    tmp = target.with_suffix(".tmp")
    shutil.copyfile(base, tmp)
    with closing(sqlite3.connect(tmp, isolation_level=None)) as db:
        db.execute("PRAGMA journal_mode=OFF")
        db.execute("PRAGMA synchronous=OFF")
        db.execute("BEGIN")
        triggers = db.execute("SELECT sql FROM sqlite_master WHERE type='trigger' AND tbl_name='chunks'").fetchall()
        db.execute("DROP TRIGGER IF EXISTS chunks_ai")
        db.execute("DROP TRIGGER IF EXISTS chunks_ad")
        cols = [r[1] for r in db.execute("PRAGMA table_info(articles)")]
        ccols = [r[1] for r in db.execute("PRAGMA table_info(chunks)") if r[1] != "rowid"]
        for copy in range(1, factor):
            suffix = f"#x{copy}"
            db.execute(
                f"INSERT INTO articles({','.join(cols)}) SELECT "
                + ",".join(f"id || '{suffix}'" if c == "id" else c for c in cols)
                + " FROM articles WHERE id NOT LIKE '%#x%'"
            )
            db.execute(
                f"INSERT INTO chunks({','.join(ccols)}) SELECT "
                + ",".join(f"{c} || '{suffix}'" if c in ("id", "article_id") else c for c in ccols)
                + " FROM chunks WHERE id NOT LIKE '%#x%'"
            )
            db.execute(
                f"INSERT INTO articles_fts(article_id, title, text) SELECT article_id || '{suffix}', title, text "
                "FROM articles_fts WHERE article_id NOT LIKE '%#x%'"
            )
        db.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('rebuild')")
        for (sql,) in triggers:
            db.execute(sql)
        db.execute("COMMIT")
        db.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('optimize')")
        db.execute("INSERT INTO articles_fts(articles_fts) VALUES ('optimize')")
        db.execute("PRAGMA journal_mode=WAL")
    os.replace(tmp, target)


SPLIT = 0.05  # Settings.keyword_common_share measured as "split" (overridden by --share)
SPLIT_ROWS = 0  # Settings.keyword_common_rows of the split mode (--rows)
TANTIVY = "tantivy"
MODES: dict[str, float | str | None] = {"exact": None, "bare": 0.0, "split": SPLIT, "tantivy": TANTIVY}
ENGINES: dict[Path, KeywordIndex] = {}  # the tantivy files of each catalog (mode "tantivy")


def engine_for(catalog: Catalog) -> KeywordIndex:
    """The keyword engine of ``catalog`` (``--work``/keyword-<catalog name>), built on first use."""
    engine = ENGINES.get(catalog.path)
    if engine is None:
        engine = KeywordIndex(catalog.path.with_name(f"keyword-{catalog.path.stem}"), catalog)
        started = time.perf_counter()
        if engine.sync():
            print(f"tantivy index of {catalog.path.name} built in {time.perf_counter() - started:.0f} s",
                  file=sys.stderr)
        ENGINES[catalog.path] = engine
    return engine


def tantivy_bm25(engine: KeywordIndex, fts: str, query: str, limit: int, outlets: Any = (), date_from: str = "",
                 date_to: str = "") -> list[tuple[str, float]]:
    """``Catalog._bm25`` answered by the keyword engine (what ``Store`` asks when it is in step)."""
    found = engine.search("passages" if fts == "chunks_fts" else "articles", query, limit, outlets, date_from, date_to)
    assert found is not None, "the tantivy files are behind the catalog"
    return found


def legacy_bm25(catalog: Catalog, fts: str, query: str, limit: int, outlets: Any = (), date_from: str = "",
                date_to: str = "") -> list[tuple[str, float]]:
    """The catalog's query before session 6: every term OR-ed, each matching row joined to its article
    and scored, then sorted (``exact``)."""
    score, join, ident = Catalog._KEYWORD_TABLES[fts]
    match = fts_query(query)
    if not match:
        return []
    rows = catalog._read(f"SELECT {ident} AS id, {score} AS rank FROM {fts} {join} WHERE {fts} MATCH ? "
                         "AND a.state = 'done' ORDER BY rank LIMIT ?", [match, limit])
    return [(r["id"], -float(r["rank"])) for r in rows]


STEPS = ("keyword", "articles", "keyword_fusion")


def set_mode(catalog: Catalog, share: float | str | None) -> None:
    """None: the query before session 6; "tantivy": the keyword engine (session 9); else
    ``Catalog.common_share`` (0: one OR-ed query ranked by FTS5 alone, then joined)."""
    if share is None:
        catalog._bm25 = partial(legacy_bm25, catalog)  # type: ignore[method-assign]
    elif share == TANTIVY:
        catalog._bm25 = partial(tantivy_bm25, engine_for(catalog))  # type: ignore[method-assign]
    else:
        assert isinstance(share, float)
        catalog.__dict__.pop("_bm25", None)
        catalog.common_share = share
        catalog.common_rows = SPLIT_ROWS


def time_scale(catalog: Catalog, questions: list[str], limit: int, settings: Settings) -> dict[str, Any]:
    """Every mode, question by question in turn (so that load changes hit them alike)."""
    out: dict[str, Any] = {}
    samples = {mode: ([], [], [], []) for mode in MODES}  # type: ignore[var-annotated]
    cpu: dict[str, dict[str, list[float]]] = {mode: {key: [] for key in STEPS} for mode in MODES}
    with ThreadPoolExecutor(max_workers=2) as pool:
        for share in MODES.values():  # warm the page cache and the reader pools
            set_mode(catalog, share)
            for q in questions[:3]:
                catalog.keyword_search(q, limit)
                catalog.article_search(q, limit)
        catalog.plans.clear()
        for q in questions:
            for mode, share in MODES.items():
                set_mode(catalog, share)
                _time_one(catalog, q, limit, settings, pool, *samples[mode], cpu[mode])
    for mode, (keyword, articles, fused, rankings) in samples.items():
        out[mode] = {"keyword": summary(keyword), "articles": summary(articles), "keyword_fusion": summary(fused),
                     "rankings": rankings, "cpu_p50_ms": {key: round(1000 * statistics.median(values), 2)
                                                          for key, values in cpu[mode].items()}}
    out["plans"] = dict(catalog.plans)  # of the timed non-exact queries (3 per question and mode)
    reference = next(iter(MODES))
    exact = out[reference]["rankings"]
    for mode in MODES:
        if mode != reference:
            out[f"agreement_{mode}"] = agreement(exact, out[mode]["rankings"])
    for mode in MODES:
        out[mode].pop("rankings")
    return out


def agreement(exact: list[tuple[list[str], list[str]]], other: list[tuple[list[str], list[str]]]) -> dict[str, float]:
    """Share of the exact top-``limit`` (and top-10) passages and articles the other mode also returns,
    and the share of questions whose top-10 passages are identical, in order."""
    def overlap(side: int, depth: int) -> float:
        return round(statistics.mean(len(set(o[side][:depth]) & set(e[side][:depth])) / max(1, len(e[side][:depth]))
                                     for e, o in zip(exact, other, strict=True)), 4)

    same10 = [o[0][:10] == e[0][:10] for e, o in zip(exact, other, strict=True)]
    return {"passages_overlap": overlap(0, 10**6), "articles_overlap": overlap(1, 10**6),
            "passages_overlap10": overlap(0, 10), "articles_overlap10": overlap(1, 10),
            "same_top10_share": round(sum(same10) / len(same10), 4)}


def summary(values: list[float]) -> dict[str, float]:
    return {"p50_ms": round(1000 * statistics.median(values), 2), "p90_ms": round(1000 * percentile(values, 90), 2)}


def _time_one(catalog: Catalog, q: str, limit: int, settings: Settings, pool: ThreadPoolExecutor,
              keyword: list[float], articles: list[float], fused: list[float],
              rankings: list[tuple[list[str], list[str]]], cpu: dict[str, list[float]]) -> None:
    """Wall time of each step, and the CPU time of this process (all its threads) in ``cpu``: on a
    machine shared with other jobs the CPU seconds change far less with their load than the wait."""
    t, c = time.perf_counter(), time.process_time()
    hits = catalog.keyword_search(q, limit)
    keyword.append(time.perf_counter() - t)
    cpu["keyword"].append(time.process_time() - c)
    t, c = time.perf_counter(), time.process_time()
    found = catalog.article_search(q, limit)
    articles.append(time.perf_counter() - t)
    cpu["articles"].append(time.process_time() - c)
    rankings.append(([h.chunk_id for h in hits], [h.article_id for h in found]))

    t, c = time.perf_counter(), time.process_time()
    kjob = pool.submit(catalog.keyword_search, q, limit)
    ajob = pool.submit(catalog.article_search, q, limit)
    keyword_rank = {h.chunk_id: r for r, h in enumerate(kjob.result(), start=1)}
    article_rank = {h.article_id: r for r, h in enumerate(ajob.result(), start=1)}
    rows = catalog.chunks_by_id(list(keyword_rank))
    fuse(settings, {}, keyword_rank, article_rank, rows, None)
    fused.append(time.perf_counter() - t)
    cpu["keyword_fusion"].append(time.process_time() - c)


def keyword_quality(dataset: Path, catalog: Catalog, split: str = "20260501", k: int = 10) -> dict[str, Any]:
    """Without vectors: ranking_lab's fusion of the two BM25 lists alone (dense left empty), per mode,
    on the answerable questions of each week half (A: weeks up to ``split``, B: the later ones, as
    benchmarks/week_halves.py cuts them); metrics and the paired difference of the article reciprocal
    rank (mode − exact) ± 1 s.e., questions better / worse."""
    import math

    import numpy as np

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from ranking_lab import POOL, Candidates, rank, score

    settings = Settings()
    answerable = load_dataset(dataset).answerable
    halves = {half: [q for q in answerable if half_of(q, half, split)] for half in ("A", "B")}
    out: dict[str, Any] = {}
    for half, questions in halves.items():
        res: dict[str, Any] = {"questions": len(questions)}
        reciprocal: dict[str, Any] = {}
        for mode, share in MODES.items():
            set_mode(catalog, share)
            cands = [Candidates([], [h.chunk_id for h in catalog.keyword_search(q.question, POOL)],
                                [h.article_id for h in catalog.article_search(q.question, POOL)]) for q in questions]
            rows = {cid: dict(r) for cid, r in catalog.chunks_by_id({c for x in cands for c in x.keyword}).items()}
            rankings = [rank(c, rows, settings, q.date, k) for c, q in zip(cands, questions, strict=True)]
            metrics, rr = score(questions, rankings)
            res[mode] = {key: round(value, 4) for key, value in metrics.items()}
            reciprocal[mode] = np.asarray(rr)
        reference = next(iter(MODES))
        for mode in MODES:
            if mode == reference:
                continue
            diff = reciprocal[mode] - reciprocal[reference]
            se = diff.std(ddof=1) / math.sqrt(len(diff)) if len(diff) > 1 else 0.0
            res[f"rr_diff_{mode}"] = {"mean": round(float(diff.mean()), 4), "se": round(float(se), 4),
                                      "better": int((diff > 0).sum()), "worse": int((diff < 0).sum())}
        out[half] = res
    out["plans"] = dict(catalog.plans)
    return out


def limit_curve(catalog: Catalog, questions: list[str], limits: list[int], repeat: int = 5) -> dict[str, Any]:
    """CPU p50 of the tantivy passage query per hit limit. An engine that stops early (block-max WAND)
    costs less for 1 hit than for 1,000; one that scores every matching document costs the same.
    (tantivy-py's ``Searcher.search`` wraps its top-k collector in a ``MultiCollector``, which visits
    every match: no pruning, whatever the query's shape.)"""
    engine = engine_for(catalog)
    searchers = engine._current()
    assert searchers is not None, "the tantivy files are behind the catalog"
    searcher = searchers["passages"]
    out: dict[str, Any] = {}
    for limit in limits:
        times = []
        for q in questions:
            started = time.process_time()
            for _ in range(repeat):
                engine.search("passages", q, limit)
            times.append((time.process_time() - started) / repeat * 1000)
        out[str(limit)] = round(statistics.median(times), 3)
    return {"docs": int(searcher.num_docs), "segments": int(searcher.num_segments), "cpu_p50_ms_by_limit": out}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--catalog", type=Path, default=None, help="a catalog.sqlite3 to copy as the 1× corpus")
    parser.add_argument("--factors", default="1,4,16")
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench-keyword"))
    parser.add_argument("--queries", type=int, default=0, help="use the first N questions (0: all)")
    parser.add_argument("--limit", type=int, default=Settings().fetch_k, help="hits per query (fetch_k)")
    parser.add_argument("--modes", default="exact,bare,split,tantivy", help="which of exact,bare,split,tantivy to time")
    parser.add_argument("--share", type=float, default=SPLIT, help="keyword_common_share of the split mode")
    parser.add_argument("--rows", type=int, default=0, help="keyword_common_rows of the split mode")
    parser.add_argument("--cold", action="store_true",
                        help="split mode: count every term's rows afresh (no document-frequency cache)")
    parser.add_argument("--quality", action="store_true",
                        help="only compare the keyword-only rankings of the modes on the 1× catalog, per week half")
    parser.add_argument("--limits", default="",
                        help="instead: CPU p50 of the tantivy passage query at these hit limits (e.g. 1,10,60,1000), "
                             "per scale — whether the engine stops early")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    factors = [int(f) for f in args.factors.split(",")]
    MODES["split"] = args.share
    global SPLIT_ROWS
    SPLIT_ROWS = args.rows
    if args.cold:
        TermStats.CACHE_SIZE = 0
    for mode in set(MODES) - set(args.modes.split(",")):
        MODES.pop(mode)
    args.work.mkdir(parents=True, exist_ok=True)
    base = args.work / "x1.sqlite3"
    if not base.exists():
        started = time.perf_counter()
        if args.catalog:
            with closing(sqlite3.connect(f"file:{args.catalog}?mode=ro", uri=True)) as src, \
                    closing(sqlite3.connect(base)) as dst:
                src.backup(dst)
        else:
            build_base(args.dataset, base)
        print(f"1× catalog built in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    if args.quality:
        print(json.dumps(keyword_quality(args.dataset, Catalog(base)), indent=2))
        return
    questions = [q.question for q in load_dataset(args.dataset).questions]
    if args.queries:
        questions = questions[: args.queries]
    if args.limits:
        limits = [int(x) for x in args.limits.split(",")]
        curves = {}
        for factor in factors:
            path = base if factor == 1 else args.work / f"x{factor}.sqlite3"
            if not path.exists():
                multiply(base, path, factor)
            curves[factor] = limit_curve(Catalog(path), questions, limits)
            print(f"{factor}×: {json.dumps(curves[factor])}", file=sys.stderr, flush=True)
        print(json.dumps({"questions": len(questions), "scales": curves}, indent=2))
        return
    settings = Settings()
    result: dict[str, Any] = {"questions": len(questions), "limit": args.limit, "scales": {}}
    for factor in factors:
        path = base if factor == 1 else args.work / f"x{factor}.sqlite3"
        if not path.exists():
            started = time.perf_counter()
            multiply(base, path, factor)
            print(f"{factor}× catalog built in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        catalog = Catalog(path)
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            chunks = db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
            n_articles = db.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
        timing = time_scale(catalog, questions, args.limit, settings)
        catalog.close()
        print(f"{factor}×: {json.dumps(timing)}", file=sys.stderr, flush=True)
        result["scales"][factor] = {"chunks": chunks, "articles": n_articles,
                                    "size_mb": round(path.stat().st_size / 1e6, 1), **timing}
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)

    first = result["scales"][factors[0]]
    for factor in factors:
        for mode in MODES:
            scale = result["scales"][factor][mode]
            for key in ("keyword", "articles", "keyword_fusion"):
                p50 = scale[key]["p50_ms"]
                scale[key]["p50_vs_1x_exact"] = round(p50 / first[next(iter(MODES))][key]["p50_ms"], 2)
                scale[key]["p50_vs_1x_same"] = round(p50 / first[mode][key]["p50_ms"], 2)
                cpu = scale["cpu_p50_ms"]
                cpu[f"{key}_vs_1x_same"] = round(cpu[key] / first[mode]["cpu_p50_ms"][key], 2)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{result['questions']} questions, limit {result['limit']}, peak RSS {result['peak_rss_mb']} MB")
    print(f"{'scale':>6}{'chunks':>10}{'MB':>8}  {'mode':<6}{'passage p50 (×)':>19}{'article p50 (×)':>19}"
          f"{'kw+fusion p50 (×, ×own)':>28}{'kw+fusion p90':>15}")
    for factor, s in result["scales"].items():
        for mode in MODES:
            m = s[mode]
            print(f"{factor:>5}×{s['chunks']:>10}{s['size_mb']:>8}  {mode:<6}"
                  f"{m['keyword']['p50_ms']:>10} ms ({m['keyword']['p50_vs_1x_exact']:>4})"
                  f"{m['articles']['p50_ms']:>10} ms ({m['articles']['p50_vs_1x_exact']:>4})"
                  f"{m['keyword_fusion']['p50_ms']:>12} ms ({m['keyword_fusion']['p50_vs_1x_exact']:>4},"
                  f" {m['keyword_fusion']['p50_vs_1x_same']:>4})"
                  f"{m['keyword_fusion']['p90_ms']:>12} ms")
            c = m["cpu_p50_ms"]
            print(f"{'':>24}  CPU p50: passage {c['keyword']} ms ({c['keyword_vs_1x_same']}× own 1×), article "
                  f"{c['articles']} ms ({c['articles_vs_1x_same']}×), kw+fusion {c['keyword_fusion']} ms "
                  f"({c['keyword_fusion_vs_1x_same']}×)")
        for mode in MODES:
            a = s.get(f"agreement_{mode}")
            if a:
                print(f"{'':>24}{mode} vs {next(iter(MODES))}: top-{result['limit']} overlap passages "
                      f"{a['passages_overlap']:.3f}, articles {a['articles_overlap']:.3f}; top-10 "
                      f"{a['passages_overlap10']:.3f}, {a['articles_overlap10']:.3f}; identical top-10 passages "
                      f"{a['same_top10_share']:.1%} of questions")
        print(f"{'':>24}plans: {s.get('plans')}")
    print("(×) = p50 / the 1× p50 of the first mode; ×own = / the 1× p50 of the same mode")


if __name__ == "__main__":
    main()
