"""Keyword search as the corpus grows: p50 of the catalog's BM25 queries at 1×, 4× and 16× a corpus.

    python benchmarks/bench_keyword.py DATASET_DIR [--catalog CATALOG] [--factors 1,4,16] [--work DIR]
        [--queries N] [--limit 60] [--json]

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
Each is timed in two modes, question by question in turn: ``exact`` (every non-stopword term OR-ed,
the catalog before session 4) and ``focus`` (terms held by more than ``Catalog.FOCUS_SHARE`` of the
rows left out, as the catalog now does). Their agreement at each scale: the share of the exact
top-``limit`` passages and articles that focus also returns (overlap@limit), and the share of
questions whose top-10 passages are identical. ``--quality`` compares the ranking quality of the
two modes without vectors (see ``keyword_quality``).
Reported: p50 / p90 per scale and mode and their ratio to the 1× exact p50, peak RSS of the process
(``ru_maxrss``), and the catalog sizes. Target: keyword+fusion p50 at 16× <= 2× its p50 at 1×.

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
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from retrieval.catalog import Catalog  # noqa: E402
from retrieval.eval_data import load_dataset  # noqa: E402
from retrieval.eval_metrics import percentile  # noqa: E402
from retrieval.search import fuse  # noqa: E402
from retrieval.settings import Settings  # noqa: E402


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


FOCUS = 0.05  # the share measured in session 4 (Catalog.FOCUS_SHARE is None: focus is off)
MODES: dict[str, float | None] = {"exact": None, "focus": FOCUS}


def time_scale(catalog: Catalog, questions: list[str], limit: int, settings: Settings) -> dict[str, Any]:
    """Both modes, question by question in turn (so that load changes hit them alike)."""
    out: dict[str, Any] = {}
    samples = {mode: ([], [], [], []) for mode in MODES}  # type: ignore[var-annotated]
    with ThreadPoolExecutor(max_workers=2) as pool:
        for share in MODES.values():  # warm the page cache and the reader pools
            catalog.FOCUS_SHARE = share
            for q in questions[:3]:
                catalog.keyword_search(q, limit)
                catalog.article_search(q, limit)
        for q in questions:
            for mode, share in MODES.items():
                catalog.FOCUS_SHARE = share
                _time_one(catalog, q, limit, settings, pool, *samples[mode])
    for mode, (keyword, articles, fused, rankings) in samples.items():
        out[mode] = {"keyword": summary(keyword), "articles": summary(articles), "keyword_fusion": summary(fused),
                     "rankings": rankings}
    if set(out) != {"exact", "focus"}:
        for mode in out:
            out[mode].pop("rankings")
        return out
    exact, focus = out["exact"].pop("rankings"), out["focus"].pop("rankings")
    overlap_p = [len(set(f[0]) & set(e[0])) / max(1, len(e[0])) for e, f in zip(exact, focus, strict=True)]
    overlap_a = [len(set(f[1]) & set(e[1])) / max(1, len(e[1])) for e, f in zip(exact, focus, strict=True)]
    same10 = [f[0][:10] == e[0][:10] for e, f in zip(exact, focus, strict=True)]
    out["agreement"] = {"passages_overlap": round(statistics.mean(overlap_p), 4),
                        "articles_overlap": round(statistics.mean(overlap_a), 4),
                        "same_top10_share": round(sum(same10) / len(same10), 4)}
    return out


def summary(values: list[float]) -> dict[str, float]:
    return {"p50_ms": round(1000 * statistics.median(values), 2), "p90_ms": round(1000 * percentile(values, 90), 2)}


def _time_one(catalog: Catalog, q: str, limit: int, settings: Settings, pool: ThreadPoolExecutor,
              keyword: list[float], articles: list[float], fused: list[float],
              rankings: list[tuple[list[str], list[str]]]) -> None:
    t = time.perf_counter()
    hits = catalog.keyword_search(q, limit)
    keyword.append(time.perf_counter() - t)
    t = time.perf_counter()
    found = catalog.article_search(q, limit)
    articles.append(time.perf_counter() - t)
    rankings.append(([h.chunk_id for h in hits], [h.article_id for h in found]))

    t = time.perf_counter()
    kjob = pool.submit(catalog.keyword_search, q, limit)
    ajob = pool.submit(catalog.article_search, q, limit)
    keyword_rank = {h.chunk_id: r for r, h in enumerate(kjob.result(), start=1)}
    article_rank = {h.article_id: r for r, h in enumerate(ajob.result(), start=1)}
    rows = catalog.chunks_by_id(list(keyword_rank))
    fuse(settings, {}, keyword_rank, article_rank, rows, None)
    fused.append(time.perf_counter() - t)


def keyword_quality(dataset: Path, catalog: Catalog, every: int = 2, start: int = 1, k: int = 10) -> dict[str, Any]:
    """Without vectors: ranking_lab's fusion of the two BM25 lists alone (dense left empty), per mode,
    on every ``every``-th answerable question from ``start`` (default: the odd ones); metrics and the
    paired difference of the article reciprocal rank (focus − exact) ± 1 s.e."""
    import math

    import numpy as np

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from ranking_lab import POOL, Candidates, rank, score

    questions = load_dataset(dataset).answerable[start::every]
    settings = Settings()
    out: dict[str, Any] = {"questions": len(questions)}
    reciprocal: dict[str, Any] = {}
    for mode, share in MODES.items():
        catalog.FOCUS_SHARE = share
        cands = [Candidates([], [h.chunk_id for h in catalog.keyword_search(q.question, POOL)],
                            [h.article_id for h in catalog.article_search(q.question, POOL)]) for q in questions]
        rows = {cid: dict(r) for cid, r in catalog.chunks_by_id({c for x in cands for c in x.keyword}).items()}
        rankings = [rank(c, rows, settings, q.date, k) for c, q in zip(cands, questions, strict=True)]
        metrics, rr = score(questions, rankings)
        out[mode] = {key: round(value, 4) for key, value in metrics.items()}
        reciprocal[mode] = np.asarray(rr)
    diff = reciprocal["focus"] - reciprocal["exact"]
    se = diff.std(ddof=1) / math.sqrt(len(diff)) if len(diff) > 1 else 0.0
    out["rr_diff"] = {"mean": round(float(diff.mean()), 4), "se": round(float(se), 4),
                      "better": int((diff > 0).sum()), "worse": int((diff < 0).sum())}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--catalog", type=Path, default=None, help="a catalog.sqlite3 to copy as the 1× corpus")
    parser.add_argument("--factors", default="1,4,16")
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench-keyword"))
    parser.add_argument("--queries", type=int, default=0, help="use the first N questions (0: all)")
    parser.add_argument("--limit", type=int, default=Settings().fetch_k, help="hits per query (fetch_k)")
    parser.add_argument("--modes", default="exact,focus", help="which of exact,focus to time")
    parser.add_argument("--quality", action="store_true",
                        help="only compare the keyword-only rankings of both modes on the 1× catalog (odd questions)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    factors = [int(f) for f in args.factors.split(",")]
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

    first = result["scales"][factors[0]]["exact"]
    for factor in factors:
        for mode in MODES:
            scale = result["scales"][factor][mode]
            for key in ("keyword", "articles", "keyword_fusion"):
                scale[key]["p50_vs_1x_exact"] = round(scale[key]["p50_ms"] / first[key]["p50_ms"], 2)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{result['questions']} questions, limit {result['limit']}, peak RSS {result['peak_rss_mb']} MB")
    print(f"{'scale':>6}{'chunks':>10}{'MB':>8}  {'mode':<6}{'passage p50 (×)':>19}{'article p50 (×)':>19}"
          f"{'kw+fusion p50 (×)':>21}{'kw+fusion p90':>15}")
    for factor, s in result["scales"].items():
        for mode in MODES:
            m = s[mode]
            print(f"{factor:>5}×{s['chunks']:>10}{s['size_mb']:>8}  {mode:<6}"
                  f"{m['keyword']['p50_ms']:>10} ms ({m['keyword']['p50_vs_1x_exact']:>4})"
                  f"{m['articles']['p50_ms']:>10} ms ({m['articles']['p50_vs_1x_exact']:>4})"
                  f"{m['keyword_fusion']['p50_ms']:>12} ms ({m['keyword_fusion']['p50_vs_1x_exact']:>4})"
                  f"{m['keyword_fusion']['p90_ms']:>12} ms")
        a = s.get("agreement")
        if a:
            print(f"{'':>24}focus vs exact: passages overlap@limit {a['passages_overlap']:.3f}, articles "
                  f"{a['articles_overlap']:.3f}, identical top-10 passages {a['same_top10_share']:.1%} of questions")
    print("(×) = p50 / the 1× exact p50")


if __name__ == "__main__":
    main()
