"""Ingest at N× the corpus: peak RSS of a first ingest and of an unchanged re-ingest, and the re-ingest's time.

Issue 15's ingest targets — "unchanged re-ingest ≤ 3 % of a first ingest, peak RSS ≤ 2.5 GB" — at a
scale where embedding every chunk for real is out of reach (595 k chunks at 16× the RealTime QA dump
would take ≈ 10 h of this 2-core CPU). So the model's *compute* is stood in for, and everything else
is real. Each phase runs in its own process (``getrusage`` peak RSS is per process):

``dump``      the dump repeated N×: copy 0 keeps each record's id, copy k (1..N-1) is ``<id>#x<k>``
              with the same text (as ``bench_keyword.py``'s copies), so chunking and hashing are real.
``sample``    a real ``ingest()`` of the first ``--sample-articles`` records of the 1× dump with the
              real model: the model's chunks/s (time inside ``Embedder.encode``) and everything else
              per chunk. Used to extrapolate the first ingest's time at N× (say so when quoting it).
``first``     ``ingest()`` of the N× dump into a fresh data dir with the real pipeline (loaders,
              cleaning, the real tokenizer for chunk sizes, Chroma, catalog + FTS5, tantivy sync) but
              ``StandInEmbedder``: the real model is loaded (its memory counts) and ``encode``
              returns deterministic unit vectors (seeded by each text's hash: copies get identical
              vectors, as they would from the model). Measured: wall time, the stand-in's own time,
              peak RSS, and RSS sampled every 0.5 s per ingest step (load / embed+write / keyword).
              (Session 9's measured run skipped the catalog's ``articles_fts`` delete by article id, a
              no-op in a fresh data dir that scanned the whole table; the catalog now finds the row
              through ``articles_fts_rows`` and nothing is skipped.)
``dry``       ``ingest(dry_run=True)`` of the N× dump against that data dir: the memory of steps 1–2
              alone (read, clean, hash every record; decide) — no writes, no model.
``reingest``  an unchanged re-ingest of the N× dump, real everything (real ``Store``, real embedder:
              nothing is embedded): wall time and peak RSS.
``all``       dump (if missing), sample, first, reingest, dry — each in a fresh process — and the
              ratios of one run:

    re-ingest % of the real first ingest (extrapolated) =
        reingest_s / (first_s − standin_encode_s + chunks_N / model_chunks_per_s)
    re-ingest % of the stand-in first ingest (measured)  = reingest_s / first_s

Examples (2 cores shared: keep the machine's other jobs first)::

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/bench_scale_ingest.py all \\
        /work/shared/eval/rtqa-2026/articles.jsonl --scale 16 --work /tmp/scale16 --json > scale16.json
    .venv/bin/python benchmarks/bench_scale_ingest.py reingest /tmp/scale16/x16.jsonl --data-dir /tmp/scale16/data

The work dir holds the N× dump (≈ 470 MB at 16×) and the index (catalog ≈ 2.2 GB, Chroma ≈ 5–6 GB,
tantivy at 16×): check ``df -h`` first and delete it afterwards.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_ingest, also when imported

import numpy as np
from bench_ingest import EncodeTimer

from retrieval.store import Embedder

GOAL_REINGEST_PCT = 3.0
GOAL_RSS_GB = 2.5


def peak_rss_gb() -> float:
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round((maxrss if sys.platform == "darwin" else maxrss * 1024) / 1e9, 3)


def rss_now_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class RssSampler:
    """RSS every ``interval`` s on a thread, the peak kept per step (the step is set by ``ingest``'s
    progress messages: "reading" → load, "embedding"/"… chunks embedded" → embed+write, "keyword index")."""

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self.step = "setup"
        self.peaks: dict[str, int] = {}
        self.entered: dict[str, float] = {}
        self.trace: list[tuple[float, int, float]] = []  # (seconds, articles written, RSS GB), every 2,000
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._started = time.perf_counter()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        rss = rss_now_bytes()
        self.peaks[self.step] = max(self.peaks.get(self.step, 0), rss)

    def enter(self, step: str) -> None:
        if step != self.step:
            self.sample()
            self.step = step
            self.entered.setdefault(step, round(time.perf_counter() - self._started, 1))
            self.sample()

    def progress(self, done: int, total: int, message: str) -> None:
        if message.startswith("reading"):
            self.enter("load")
        elif message == "embedding" or message.endswith("chunks embedded"):
            self.enter("embed+write")
            if done // 2000 > len(self.trace) - 1 or not self.trace:
                point = (round(time.perf_counter() - self._started, 1), done, round(rss_now_bytes() / 1e9, 3))
                self.trace.append(point)
                print(f"# trace {done}/{total} articles: {point}", file=sys.stderr, flush=True)
        elif message.startswith("keyword"):
            self.enter("keyword sync")

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def report(self) -> dict[str, Any]:
        return {
            "peak_rss_gb_by_step": {k: round(v / 1e9, 3) for k, v in self.peaks.items()},
            "step_started_s": self.entered,
            "trace_s_articles_rss_gb": self.trace,
        }


class StandInEmbedder(Embedder):
    """The real model loaded (tokenizer used for chunk sizes, weights resident) but ``encode`` returns
    deterministic unit vectors of the model's dimension, seeded by each text's hash."""

    seconds = 0.0
    chunks = 0

    def encode(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        started = time.perf_counter()
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
            out[i] = np.random.default_rng(seed).standard_normal(self.dimension, dtype=np.float32)
        out /= np.linalg.norm(out, axis=1, keepdims=True)
        self.seconds += time.perf_counter() - started
        self.chunks += len(texts)
        return out


def make_dump(source: Path, scale: int, out: Path) -> dict[str, Any]:
    """``source`` repeated ``scale``×: copy 0 as is, copy k with id ``<id>#x<k>`` (same text)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    lines = [line for line in source.read_bytes().splitlines() if line.strip()]
    records = 0
    temporary = out.with_suffix(".tmp")
    with temporary.open("wb") as dst:
        for copy in range(scale):
            for line in lines:
                record = json.loads(line)
                if copy:
                    record["id"] = f"{record['id']}#x{copy}"
                dst.write(json.dumps(record, ensure_ascii=False).encode() + b"\n")
                records += 1
    temporary.replace(out)
    return {"dump": str(out), "records": records, "bytes": out.stat().st_size}


def _settings(data_dir: Path) -> Any:
    from retrieval.settings import Settings

    return Settings(data_dir=data_dir)


def _load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def phase_sample(source: Path, articles: int, work: Path) -> dict[str, Any]:
    """Real model, real pipeline, first ``articles`` records: the model's chunks/s inside ingest."""
    import shutil

    from ingest.pipeline import ingest
    from retrieval.store import Store

    part = work / f"sample-{articles}.jsonl"
    with source.open("rb") as src, part.open("wb") as dst:
        kept = 0
        for line in src:
            if line.strip() and kept < articles:
                dst.write(line)
                kept += 1
    data = work / "sample-data"
    shutil.rmtree(data, ignore_errors=True)
    settings = _settings(data)
    store = Store(settings)
    embedder = store.embedder
    embedder.count_tokens(["warm up"])
    embedder.encode(["A short warm-up sentence for the first call."])
    timer = EncodeTimer(embedder)
    load_before = _load_average()
    started = time.perf_counter()
    report = ingest([str(part)], settings, store=store)
    seconds = time.perf_counter() - started
    encode_seconds = timer.seconds
    store.close()
    shutil.rmtree(data, ignore_errors=True)
    return {
        "phase": "sample",
        "articles": report.added,
        "chunks": report.chunks,
        "ingest_s": round(seconds, 2),
        "encode_s": round(encode_seconds, 2),
        "other_s": round(seconds - encode_seconds, 2),
        "model_chunks_per_s": round(report.chunks / encode_seconds, 3),
        "dtype": embedder.dtype,
        "peak_rss_gb": peak_rss_gb(),
        "load_average": [load_before, _load_average()],
    }


def phase_first(dump: Path, data_dir: Path) -> dict[str, Any]:
    from ingest.pipeline import ingest
    from retrieval.store import Store, packaged_model_path

    settings = _settings(data_dir)
    embedder = StandInEmbedder(settings.embedding_model or packaged_model_path(), settings.embedding_dtype,
                               settings.embedding_batch_size, cache_dir=settings.model_cache)
    embedder.count_tokens(["warm up"])  # loads the real model: its memory counts
    store = Store(settings, embedder=embedder)
    load_before = _load_average()
    with RssSampler() as sampler:
        started = time.perf_counter()
        report = ingest([str(dump)], settings, store=store, progress=sampler.progress)
        seconds = time.perf_counter() - started
    stats = store.stats()
    fts_rows = store.catalog._query("SELECT COUNT(*) AS n FROM articles_fts")[0]["n"]
    assert fts_rows == report.added, (fts_rows, report.added)
    return {
        "phase": "first",
        "articles_fts_rows": fts_rows,
        "articles": report.added,
        "failed": len(report.failed),
        "duplicates": report.duplicates,
        "chunks": report.chunks,
        "ingest_s": round(seconds, 1),
        "standin_encode_s": round(embedder.seconds, 1),
        "everything_but_model_s": round(seconds - embedder.seconds, 1),
        "vectors": stats.get("vectors"),
        "keyword_engine": store.keyword_engine(),
        "peak_rss_gb": peak_rss_gb(),
        **sampler.report(),
        "load_average": [load_before, _load_average()],
    }


def phase_reingest(dump: Path, data_dir: Path, dry_run: bool = False) -> dict[str, Any]:
    from ingest.pipeline import ingest

    settings = _settings(data_dir)
    load_before = _load_average()
    with RssSampler() as sampler:
        started = time.perf_counter()
        report = ingest([str(dump)], settings, dry_run=dry_run, progress=sampler.progress)
        seconds = time.perf_counter() - started
    assert report.chunks == 0 and (dry_run or report.added == report.updated == 0), report.to_json()
    return {
        "phase": "dry" if dry_run else "reingest",
        "unchanged": report.unchanged,
        "to_embed": report.added + report.updated,
        "reingest_s": round(seconds, 2),
        "peak_rss_gb": peak_rss_gb(),
        **sampler.report(),
        "load_average": [load_before, _load_average()],
    }


def disk_usage(path: Path) -> dict[str, float]:
    def size(p: Path) -> float:
        return round(sum(f.stat().st_size for f in p.rglob("*") if f.is_file()) / 1e9, 2) if p.exists() else 0.0

    return {"catalog_gb": round(p.stat().st_size / 1e9, 2) if (p := path / "catalog.sqlite3").exists() else 0.0,
            "chroma_gb": size(path / "chroma"), "keyword_gb": size(path / "keyword")}


def run_phase(args: list[str]) -> dict[str, Any]:
    """One phase in a fresh interpreter (its own peak RSS); its JSON on stdout."""
    command = [sys.executable, str(Path(__file__).resolve()), *args, "--json"]
    print(f"# {' '.join(command)}", file=sys.stderr, flush=True)
    done = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True)
    result = json.loads(done.stdout)
    print(f"# {json.dumps(result)}", file=sys.stderr, flush=True)
    return result


def phase_all(source: Path, scale: int, work: Path, sample_articles: int) -> dict[str, Any]:
    import shutil

    work.mkdir(parents=True, exist_ok=True)
    dump = work / f"x{scale}.jsonl"
    if not dump.exists():
        run_phase(["dump", str(source), "--scale", str(scale), "--out", str(dump)])
    data = work / "data"
    shutil.rmtree(data, ignore_errors=True)
    sample = run_phase(["sample", str(source), "--sample-articles", str(sample_articles), "--work", str(work)])
    first = run_phase(["first", str(dump), "--data-dir", str(data)])
    reingest = run_phase(["reingest", str(dump), "--data-dir", str(data)])
    dry = run_phase(["dry", str(dump), "--data-dir", str(data)])
    model_s = first["chunks"] / sample["model_chunks_per_s"]
    real_first_s = first["everything_but_model_s"] + model_s
    peak = max(first["peak_rss_gb"], reingest["peak_rss_gb"])
    return {
        "scale": scale,
        "dump": str(dump),
        "sample": sample,
        "first": first,
        "reingest": reingest,
        "dry": dry,
        "disk": disk_usage(data),
        "extrapolated_real_first_s": round(real_first_s),
        "extrapolated_model_s": round(model_s),
        "reingest_pct_of_real_first": round(100 * reingest["reingest_s"] / real_first_s, 3),
        "reingest_pct_of_standin_first": round(100 * reingest["reingest_s"] / first["ingest_s"], 2),
        "goals": {
            "reingest<=3%": 100 * reingest["reingest_s"] / real_first_s <= GOAL_REINGEST_PCT,
            "peak_rss<=2.5GB": peak <= GOAL_RSS_GB,
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("phase", choices=["all", "dump", "sample", "first", "reingest", "dry"])
    parser.add_argument("source", type=Path, help="JSON-lines dump: the 1× dump (all, dump, sample) or the N× one")
    parser.add_argument("--scale", type=int, default=16, help="copies of the dump (16)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/scale16"), help="work dir (/tmp/scale16)")
    parser.add_argument("--out", type=Path, default=None, help="dump: where to write the N× dump")
    parser.add_argument("--data-dir", type=Path, default=None, help="first / reingest / dry: the data dir")
    parser.add_argument("--sample-articles", type=int, default=150, help="sample: records ingested for real (150)")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    args = parser.parse_args(argv)
    if not args.source.is_file():
        parser.error(f"no such file: {args.source}")
    if args.phase in {"first", "reingest", "dry"} and args.data_dir is None:
        parser.error(f"{args.phase} needs --data-dir")
    if args.phase == "all":
        result = phase_all(args.source, args.scale, args.work, args.sample_articles)
    elif args.phase == "dump":
        result = make_dump(args.source, args.scale, args.out or args.work / f"x{args.scale}.jsonl")
    elif args.phase == "sample":
        args.work.mkdir(parents=True, exist_ok=True)
        result = phase_sample(args.source, args.sample_articles, args.work)
    elif args.phase == "first":
        result = phase_first(args.source, args.data_dir)
    else:
        result = phase_reingest(args.source, args.data_dir, dry_run=args.phase == "dry")
    print(json.dumps(result, indent=None if args.phase != "all" and args.json else 2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
