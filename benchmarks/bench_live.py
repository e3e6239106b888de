"""Questions while an ingest runs (issue 12): chat sessions keep asking while ``python -m ingest`` adds
hundreds of articles from another process, with embedded Chroma and/or through a ``chroma run`` server.

    nice -n 5 .venv/bin/python benchmarks/bench_live.py ../shared/eval/rtqa-2026/articles.jsonl \
        [--base 100] [--live 320] [--sessions 4] [--idle-questions 8] [--mode embedded --mode server] [--json]
    .venv/bin/python benchmarks/bench_live.py ARTICLES --reopen-cost COPY_OF_A_DATA_DIR

ARTICLES is a JSON-lines dump in the format of ``../shared/eval/`` (``questions.jsonl`` next to it
gives the questions; else article titles are asked). For each mode, in a throw-away data dir:

1. ``python -m ingest`` of the first ``--base`` articles (the index the page was opened on);
2. idle: ``--sessions`` threads share one ``Assistant`` (as the page's sessions do) and ask
   ``--idle-questions`` each, extractive backend;
3. live: the same sessions ask without pause while ``python -m ingest`` adds the next ``--live``
   articles in its own process;
4. the index check: every chunk once in Chroma and once in the catalog (with its keyword row), no
   article left pending; and a question about the last article ingested finds it.

Reported per mode: answers / refusals / errors in each phase, the p50 and p95 answer time idle and
during the ingest and their ratios (one run, same machine), views reopened and reads retried, and
the ingest's articles per second.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from retrieval.answer import Assistant  # noqa: E402
from retrieval.eval_metrics import percentile  # noqa: E402
from retrieval.settings import Settings  # noqa: E402
from retrieval.store import SERVER_RECORD, Embedder, Store, packaged_model_path  # noqa: E402


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    out = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if line:
                out.append(json.loads(line))
    return out


def write_jsonl(path: Path, records: Sequence[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def env_for(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSQA_")}
    env.update(NEWSQA_DATA_DIR=str(data_dir), NEWSQA_BACKEND="extractive", HF_HUB_OFFLINE="1",
               PYTHONPATH=str(ROOT))
    return env


def run_ingest(data_dir: Path, source: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "ingest", str(source), "--json", "--quiet"],
        cwd=ROOT, env=env_for(data_dir), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def start_server(data_dir: Path, log: Path) -> subprocess.Popen[bytes]:
    """``chroma run`` on the data dir's vector folder, recorded as scripts/run.sh records it."""
    import httpx

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    chroma = Path(sys.executable).parent / "chroma"
    (data_dir / "chroma").mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [str(chroma), "run", "--path", str(data_dir / "chroma"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log.open("w"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        proc.kill()
        raise SystemExit(f"chroma run did not start: {log.read_text()[-2000:]}")
    (data_dir / SERVER_RECORD).write_text(json.dumps({"url": url, "pid": proc.pid}))
    return proc


def index_check(store: Store) -> dict[str, Any]:
    """Every chunk once in Chroma and once in the catalog (and its FTS row); nothing pending."""
    with closing(sqlite3.connect(store.settings.catalog_path)) as db:
        catalog_ids = [r[0] for r in db.execute("SELECT id FROM chunks")]
        pending = db.execute("SELECT COUNT(*) FROM articles WHERE state != 'done'").fetchone()[0]
        n_chunks = db.execute("SELECT COALESCE(SUM(n_chunks), 0) FROM articles").fetchone()[0]
        fts_docs = db.execute("SELECT COUNT(*) FROM chunks_fts_docsize").fetchone()[0]
        articles = db.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
    chroma_ids = store._read(lambda collection: collection.get(include=[])["ids"])
    problems = []
    if len(set(chroma_ids)) != len(chroma_ids):
        problems.append("duplicate ids in Chroma")
    if len(set(catalog_ids)) != len(catalog_ids):
        problems.append("duplicate chunk ids in the catalog")
    if set(chroma_ids) != set(catalog_ids):
        problems.append(f"Chroma and the catalog differ: {len(set(chroma_ids) ^ set(catalog_ids))} ids")
    if n_chunks != len(catalog_ids) or fts_docs != len(catalog_ids):
        problems.append(f"n_chunks {n_chunks}, FTS {fts_docs}, chunks {len(catalog_ids)}")
    if pending:
        problems.append(f"{pending} articles pending")
    return {"ok": not problems, "problems": problems, "articles": articles, "chunks": len(catalog_ids)}


class Sessions:
    """``n`` chat sessions sharing one Assistant, each asking questions in turn."""

    def __init__(self, assistant: Assistant, questions: Sequence[str], n: int) -> None:
        self.assistant = assistant
        self.questions = list(questions)
        self.n = n
        self.lock = threading.Lock()
        self.next = 0

    def _question(self) -> str:
        with self.lock:
            q = self.questions[self.next % len(self.questions)]
            self.next += 1
            return q

    def run(self, per_session: int | None = None, until: threading.Event | None = None) -> dict[str, Any]:
        times: list[float] = []
        refused = 0
        errors: list[str] = []

        def session() -> None:
            nonlocal refused
            asked = 0
            while (per_session is None or asked < per_session) and not (until is not None and until.is_set()):
                question = self._question()
                started = time.perf_counter()
                try:
                    answer = self.assistant.answer(question)
                except Exception as exc:  # the finding: no question may fail
                    with self.lock:
                        errors.append(f"{exc.__class__.__name__}: {exc}"[:300])
                    asked += 1
                    continue
                spent = time.perf_counter() - started
                with self.lock:
                    times.append(spent)
                    refused += int(answer.refused)
                asked += 1

        threads = [threading.Thread(target=session, name=f"session-{i}") for i in range(self.n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return {"times": times, "refused": refused, "errors": errors}


def summary(phase: dict[str, Any]) -> dict[str, Any]:
    times = phase["times"]
    return {
        "answers": len(times) - phase["refused"],
        "refused": phase["refused"],
        "errors": len(phase["errors"]),
        "error_samples": phase["errors"][:5],
        "p50_s": round(percentile(times, 50), 3),
        "p95_s": round(percentile(times, 95), 3),
    }


def run_mode(mode: str, articles: list[dict[str, Any]], questions: list[str], args: argparse.Namespace,
             embedder: Embedder, work: Path) -> dict[str, Any]:
    data_dir = work / mode / "data"
    data_dir.mkdir(parents=True)
    base, live = articles[: args.base], articles[args.base : args.base + args.live]
    write_jsonl(work / mode / "base.jsonl", base)
    write_jsonl(work / mode / "live.jsonl", live)
    server = start_server(data_dir, work / mode / "chroma.log") if mode == "server" else None
    try:
        proc = run_ingest(data_dir, work / mode / "base.jsonl")
        out, err = proc.communicate()
        if proc.returncode not in (0, 1):
            raise SystemExit(f"base ingest failed: {err[-2000:]}")
        settings = Settings(data_dir=data_dir, backend="extractive")
        store = Store(settings, embedder=embedder)
        assistant = Assistant(settings, store=store)
        sessions = Sessions(assistant, questions, args.sessions)
        for question in questions[:2]:  # warm up: models, SQLite pages, the Chroma view
            assistant.answer(question)

        idle = sessions.run(per_session=args.idle_questions)

        done = threading.Event()
        started = time.perf_counter()
        proc = run_ingest(data_dir, work / mode / "live.jsonl")

        def wait_ingest() -> None:
            proc.wait()
            done.set()

        waiter = threading.Thread(target=wait_ingest)
        waiter.start()
        during = sessions.run(until=done)
        waiter.join()
        ingest_seconds = time.perf_counter() - started
        out, err = proc.communicate()
        if proc.returncode not in (0, 1):
            raise SystemExit(f"live ingest failed: {err[-2000:]}")
        report = json.loads(out)

        check = index_check(store)
        last = live[-1]
        found = assistant.retrieve(str(last.get("title") or last["text"][:200]))
        sees_last = any(p.article_id == str(last["id"]) for p in found.passages)
        result = {
            "mode": mode,
            "chroma": store.chroma_url or "embedded",
            "base_articles": len(base),
            "live_report": {k: report[k] for k in ("added", "updated", "unchanged", "chunks", "seconds")},
            "live_failed": len(report["failed"]),
            "ingest_articles_per_s": round(len(live) / ingest_seconds, 2),
            "idle": summary(idle),
            "during_ingest": summary(during),
            "p50_ratio": round(percentile(during["times"], 50) / percentile(idle["times"], 50), 2),
            "p95_ratio": round(percentile(during["times"], 95) / percentile(idle["times"], 95), 2),
            "views_reopened": store.reopened,
            "reads_retried": store.read_retries,
            "index_check": check,
            "first_question_after_sees_last_article": sees_last,
        }
        store.close()
        return result
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()


def reopen_cost(data_dir: Path, rounds: int = 7) -> dict[str, Any]:
    """What a reopen of an embedded view costs on an index: a query on an open view against a fresh
    view's first query (what a reader pays after another process wrote). Use a copy of the index."""
    import statistics

    import numpy as np

    settings = Settings(data_dir=data_dir)
    store = Store(settings, embedder=Embedder(packaged_model_path()))
    vector = np.random.default_rng(1).standard_normal(384).astype(np.float32)
    vector /= np.linalg.norm(vector)
    store.dense_search(vector, 60)
    warm, fresh = [], []
    for _ in range(rounds):
        started = time.perf_counter()
        store.dense_search(vector, 60)
        warm.append(time.perf_counter() - started)
        store.reopen()
        started = time.perf_counter()
        store.dense_search(vector, 60)
        fresh.append(time.perf_counter() - started)
    out = {
        "vectors": store.stats()["vectors"],
        "open_view_query_p50_s": round(statistics.median(warm), 4),
        "reopen_and_query_p50_s": round(statistics.median(fresh), 4),
        "ratio": round(statistics.median(fresh) / statistics.median(warm), 1),
    }
    store.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("articles", type=Path,
                        help="a JSON-lines article dump (e.g. ../shared/eval/rtqa-2026/articles.jsonl)")
    parser.add_argument("--base", type=int, default=100, help="articles in the index before the live ingest")
    parser.add_argument("--live", type=int, default=320, help="articles ingested while the sessions ask")
    parser.add_argument("--sessions", type=int, default=4)
    parser.add_argument("--idle-questions", type=int, default=8, help="questions per session in the idle phase")
    parser.add_argument("--mode", action="append", choices=["embedded", "server"],
                        help="embedded Chroma and/or a chroma run server (default: both)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--reopen-cost", type=Path, metavar="DATA_DIR",
                        help="only measure what reopening an embedded view costs on DATA_DIR (a copy: it is opened "
                             "for writing) and exit")
    args = parser.parse_args()
    if args.reopen_cost:
        print(json.dumps(reopen_cost(args.reopen_cost)))
        return

    articles = read_jsonl(args.articles)
    if len(articles) < args.base + args.live:
        raise SystemExit(f"{args.articles} holds {len(articles)} articles, fewer than --base + --live")
    questions_file = args.articles.parent / "questions.jsonl"
    if questions_file.exists():
        questions = [q["question"] for q in read_jsonl(questions_file)]
    else:
        questions = [str(a.get("title") or "") for a in articles[: args.base] if a.get("title")]

    embedder = Embedder(packaged_model_path())
    embedder.encode(["warm up"])
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-live-") as tmp:
        for mode in args.mode or ["embedded", "server"]:
            results.append(run_mode(mode, articles, questions, args, embedder, Path(tmp)))
    out = {"sessions": args.sessions, "base": args.base, "live": args.live, "cpus": os.cpu_count(), "modes": results}
    if args.json:
        print(json.dumps(out, indent=2))
        return
    for r in results:
        i, d = r["idle"], r["during_ingest"]
        print(f"[{r['mode']}] {r['live_report']['added']} articles ingested at {r['ingest_articles_per_s']}/s "
              f"while {args.sessions} sessions asked")
        print(f"  idle:   {i['answers']} answered, {i['refused']} refused, {i['errors']} errors, "
              f"p50 {i['p50_s']} s, p95 {i['p95_s']} s")
        print(f"  ingest: {d['answers']} answered, {d['refused']} refused, {d['errors']} errors, "
              f"p50 {d['p50_s']} s, p95 {d['p95_s']} s")
        print(f"  during/idle: p50 x{r['p50_ratio']}, p95 x{r['p95_ratio']}; views reopened {r['views_reopened']}, "
              f"reads retried {r['reads_retried']}; index check {'ok' if r['index_check']['ok'] else r['index_check']}")
        for sample in d["error_samples"]:
            print(f"  error: {sample}")


if __name__ == "__main__":
    main()
