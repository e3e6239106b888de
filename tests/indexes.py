"""Building a real test index: articles written to a folder, ingested with the real ``ingest()`` into
real Chroma and the catalog, with the embedder the test module passes (usually conftest's session one).

Test modules call :func:`build_index` from their own module-scoped fixture (each module has its own
articles), then open ``Store`` / ``Assistant`` on the data dir it returns.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from ingest.pipeline import ingest
from retrieval.answer import Assistant
from retrieval.conversations import answer_to_record
from retrieval.search import Filters
from retrieval.settings import Settings
from retrieval.store import Store
from retrieval.types import Answer

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ROOT / "corpus" / "us-allies-intelligence-sharing-trump-russia.txt"


def build_index(tmp_path_factory: pytest.TempPathFactory, embedder: Any,
                articles: Mapping[str, str | Path], **settings: Any) -> Path:
    """Ingest ``articles`` (file name → text, or a file to copy) into a fresh data dir and return it.

    Every article must go in (the count is checked, no failure allowed). ``settings`` are extra
    ``Settings`` fields for the ingest (e.g. ``backend``); ``NEWSQA_*`` variables are ignored; the
    catalog is closed afterwards.
    """
    corpus = tmp_path_factory.mktemp("corpus")
    for name, content in articles.items():
        if isinstance(content, Path):
            shutil.copy(content, corpus / name)
        else:
            (corpus / name).write_text(content, encoding="utf-8")
    data = tmp_path_factory.mktemp("data")
    with pytest.MonkeyPatch.context() as mp:  # module scope: the per-test environment cleaning has not run
        for name in list(os.environ):
            if name.startswith("NEWSQA_"):
                mp.delenv(name)
        config = Settings(data_dir=data, **settings)
        store = Store(config, embedder=embedder)
        report = ingest([str(corpus)], config, store=store)
        store.catalog.close()
    assert report.added == len(articles) and not report.failed, report.to_json()
    return data


def cli_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment for running the CLI in a subprocess on ``data_dir``: no ``NEWSQA_*`` of the caller's,
    the extractive backend, the hub off, and this checkout's code first (whatever the venv installed)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSQA_")}
    return env | {"NEWSQA_DATA_DIR": str(data_dir), "NEWSQA_BACKEND": "extractive", "HF_HUB_OFFLINE": "1",
                  "PYTHONPATH": str(ROOT), **extra}


def md_article(title: str, outlet: str, published: str, url: str, text: str) -> str:
    """An article file's text: front matter (title, outlet, published, url), then the text."""
    return f"---\ntitle: {title}\noutlet: {outlet}\npublished: {published}\nurl: {url}\n---\n{text}\n"


def converse(assistant: Assistant, questions: list[str], filters: Filters) -> list[Answer]:
    """Ask ``questions`` in turn with the history the page keeps (role, content, citations)."""
    history: list[dict[str, Any]] = []
    answers = []
    for question in questions:
        answer = assistant.answer(question, history, filters)
        answers.append(answer)
        record = answer_to_record(answer)
        history += [{"role": "user", "content": question},
                    {"role": "assistant", "content": answer.text, "citations": record.get("citations", [])}]
    return answers


def cited(answer: Answer) -> list[str]:
    """The file names (without .md) of the articles ``answer`` cites."""
    return [c.article_id.removesuffix(".md").rsplit("/", 1)[-1] for c in answer.citations]
