"""Bare answers ("China [1].") are checked for answering the question, not only for being named: a
passage that names the right kind of thing in passing (Japan, where Trump went before) does not
support it as the answer; a number does not answer "which country". At the function level with the
real spaCy pipeline, and through ``Assistant.verify`` over a real index (an article written here)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from indexes import build_index

from retrieval.answer import Assistant
from retrieval.claims import check_bare
from retrieval.settings import Settings
from retrieval.store import Store

VISIT = """---
title: Trump lands in Beijing as trade talks open
outlet: World Desk
published: 2026-05-14
url: https://worlddesk.example/trump-beijing
---
China hosted President Donald Trump for a two-day state visit this week, with talks in Beijing on trade and tariffs.
Trump last travelled to Japan in October, where he met the prime minister in Tokyo.
About 300 reporters followed the delegation, organisers said.
The White House said the talks would also cover farm exports and fentanyl.
"""
QUESTION = "Which country hosted Trump for a state visit this week?"
PLACES = frozenset({"GPE", "LOC", "FAC"})


def visit_text() -> str:
    return VISIT.split("---\n", 2)[2]


def test_a_place_named_in_passing_does_not_answer_which_country() -> None:
    right = check_bare("China", visit_text(), question=QUESTION, kinds=PLACES)
    assert right.supported, right.reason
    wrong = check_bare("Japan", visit_text(), question=QUESTION, kinds=PLACES)
    assert not wrong.supported and "closer to the question" in wrong.reason
    # Named, but a number (or a date) is not a country.
    for other in ("About 300", "October"):
        off = check_bare(other, visit_text(), question=QUESTION, kinds=PLACES)
        assert not off.supported and "not what is asked" in off.reason, other
    # Without a question there is nothing to answer: naming is enough, as before.
    assert check_bare("Japan", visit_text()).supported


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> Path:
    return build_index(tmp_path_factory, embedder, {"visit.md": VISIT})


def test_verify_flags_a_wrong_bare_answer_of_the_asked_kind(index_dir: Path, embedder: Any) -> None:
    settings = Settings(data_dir=index_dir, backend="extractive")
    assistant = Assistant(settings, store=Store(settings, embedder=embedder))
    passages = assistant.retrieve(QUESTION).passages
    n = next(i for i, p in enumerate(passages, 1) if "Japan" in p.text and "China" in p.text)
    right = assistant.verify(f"China [{n}].", passages, QUESTION)
    assert right.citations and not right.unsupported and "China hosted" in right.citations[0].quote
    for wrong_answer in ("Japan", "Tokyo"):
        wrong = assistant.verify(f"{wrong_answer} [{n}].", passages, QUESTION)
        assert wrong.refused and not wrong.citations, wrong.text
        assert [u.sentence for u in wrong.unsupported] == [f"{wrong_answer}."]
        assert "China" in wrong.unsupported[0].reason or "Beijing" in wrong.unsupported[0].reason
