"""Crash safety: ``python -m ingest`` killed with SIGKILL at several points, then re-run, leaves an
index where every article is present exactly once and Chroma, the catalog and the FTS index agree."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest
from conftest import ROOT, check_index, close_store, wait_for, write_articles

from ingest.pipeline import ingest
from retrieval.settings import Settings
from retrieval.store import Embedder, Store

N_ARTICLES = 40


def start(folder: Path, settings: Settings) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "ingest", str(folder), "--json", "--quiet"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "NEWSQA_DATA_DIR": str(settings.data_dir)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
    )


def states(settings: Settings) -> dict[str, int]:
    """Count of catalog rows per state; {} while the catalog does not exist or is being created."""
    if not settings.catalog_path.exists():
        return {}
    try:
        with closing(sqlite3.connect(f"file:{settings.catalog_path}?mode=ro", uri=True, timeout=5)) as db:
            return dict(db.execute("SELECT state, COUNT(*) FROM articles GROUP BY state").fetchall())
    except sqlite3.OperationalError:  # schema not created yet
        return {}


def kill(proc: subprocess.Popen[str]) -> None:
    assert proc.poll() is None, f"the run ended before it could be killed: {proc.communicate()}"
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.slow
def test_sigkill_at_any_point_then_rerun_leaves_a_consistent_index(
    tmp_path: Path, settings: Settings, embedder: Embedder
) -> None:
    folder = tmp_path / "news"
    write_articles(folder, N_ARTICLES)

    # 1. Early: while Python, torch and the model load.
    proc = start(folder, settings)
    time.sleep(1.5)
    kill(proc)

    # 2. While writing: as soon as the first article is done, others still to come.
    proc = start(folder, settings)
    assert wait_for(lambda: states(settings).get("done", 0) >= 1 or proc.poll() is not None, 300, 0.01)
    kill(proc)
    after_first = states(settings)
    assert 1 <= after_first.get("done", 0) < N_ARTICLES, after_first

    # 3. Again, half-way through the remaining writes.
    proc = start(folder, settings)
    target = (after_first.get("done", 0) + N_ARTICLES) // 2
    assert wait_for(lambda: states(settings).get("done", 0) >= target or proc.poll() is not None, 300, 0.01)
    kill(proc)
    assert states(settings).get("done", 0) < N_ARTICLES

    # 4. Run to completion.
    proc = start(folder, settings)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    report = json.loads(out)
    assert report["failed"] == [] and report["deleted"] == 0
    assert report["added"] + report["updated"] + report["unchanged"] == N_ARTICLES
    assert report["unchanged"] >= after_first["done"]  # finished articles were not redone

    store = Store(settings, embedder=embedder)
    assert store.keywords is not None and store.keywords.ready  # the last run caught the keyword engine up
    by_article = check_index(store)  # Chroma ids == catalog ids, per-article counts, FTS, tantivy, no pending
    assert len(by_article) == N_ARTICLES
    assert states(settings) == {"done": N_ARTICLES}
    with closing(sqlite3.connect(settings.catalog_path)) as db:
        sources = [r[0] for r in db.execute("SELECT source FROM articles")]
    assert sorted(Path(s).name for s in sources) == sorted(p.name for p in folder.iterdir())
    assert store.collection.count() == sum(len(ids) for ids in by_article.values())

    # 5. And the index is in step: nothing left to do.
    again = ingest([str(folder)], settings, store=store)
    assert (again.unchanged, again.chunks, again.failed) == (N_ARTICLES, 0, [])
    close_store(store)
