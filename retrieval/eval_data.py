"""Evaluation datasets in the format of shared/eval: reading ``questions.jsonl`` (and noting
``articles.jsonl``), or building articles from MultiHop-RAG style evidence lists.

A dataset directory holds ``questions.jsonl`` and, for retrieval metrics, ``articles.jsonl``
(RealTime QA layout). A dataset without ``articles.jsonl`` whose questions carry their evidence as
``[{"title", "source", "url", "published_at", "fact"}]`` (MultiHop-RAG layout) gets an index built
from that evidence: one article per URL, its fact sentences as text.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retrieval.errors import DatasetError, NotADatasetError
from retrieval.eval_metrics import mentions

NULL_TYPE = "null_query"
# Tune on one half of the questions, report on the other (docs/results.md): half A holds the news
# weeks up to WEEK_SPLIT (inclusive), half B the later ones; even / odd split by the number ending
# the id (MultiHop-RAG, whose thresholds were tuned on even ids).
WEEK_SPLIT = "20260501"
HALVES = ("A", "B", "even", "odd")
# evaluate reads the index as it was on each question's date: articles published after the question's date
# plus this margin are cut (and never after the quiz's own day, the week in a RealTime QA id). Measured on
# rtqa-2026: every gold article of its 233 answerable questions is published at most 2 days after the
# question's date (14 of the 817 question–gold pairs 1–2 days after) and never after the quiz's day (the gold is the
# quiz-time web search's results); a smaller margin would cut gold articles.
AS_OF_MARGIN_DAYS = 2


@dataclass(frozen=True)
class Question:
    """One evaluation question, whatever the dataset's layout."""

    id: str
    question: str
    answer: str
    gold: tuple[str, ...] = ()  # article ids that hold the answer / its evidence
    choices: tuple[str, ...] = ()
    answer_index: int | None = None
    date: str = ""  # the "as of" date of the question, "" if none
    type: str = ""  # e.g. MultiHop-RAG's inference_query / null_query
    search_ids: tuple[str, ...] = ()  # a reference search engine's ranking, when the dataset has one
    # Whether the gold articles' text names the answer (None: not known, taken as yes). Only
    # questions whose answer is there count for answer_hits (MultiHop-RAG's yes/no answers are not).
    answer_in_gold: bool | None = None

    @property
    def answerable(self) -> bool:
        return bool(self.gold)

    @property
    def is_null(self) -> bool:
        """A question the articles are known not to answer: the right reply is a refusal."""
        return self.type == NULL_TYPE


@dataclass
class Dataset:
    name: str
    path: Path
    questions: list[Question]
    articles_file: Path | None  # articles.jsonl, when the dataset ships one
    evidence_articles: list[dict[str, Any]] = field(default_factory=list)  # built from the evidence

    @property
    def answerable(self) -> list[Question]:
        return [q for q in self.questions if q.answerable]


def id_week(question_id: str) -> str:
    """``20260109_3`` → ``20260109``: the quiz's week (its day) a RealTime QA id carries; "" for other ids."""
    head = question_id.split("_", 1)[0]
    return head if len(head) == 8 and head.isdigit() else ""


def week(question_id: str, date: str) -> str:
    """``20260109_3`` → ``20260109`` (RealTime QA ids carry the quiz's week); else the question's
    date as YYYYMMDD ("" when it has neither)."""
    return id_week(question_id) or date[:10].replace("-", "")


def cut_day(question: Question, margin_days: int = AS_OF_MARGIN_DAYS) -> str:
    """The last publication day (YYYY-MM-DD) of the articles evaluate lets ``question`` see: its date plus
    ``margin_days``, but not after the quiz's day when the id carries one (see ``AS_OF_MARGIN_DAYS``);
    "" for an undated question (nothing is cut)."""
    try:
        day = dt.date.fromisoformat(question.date[:10])
    except ValueError:
        return ""
    last = day + dt.timedelta(days=margin_days)
    quiz = id_week(question.id)
    if quiz:
        with contextlib.suppress(ValueError):  # not a real day ("20261399"): only the margin applies
            last = min(last, dt.datetime.strptime(quiz, "%Y%m%d").date())
    return max(last, day).isoformat()


def parity(question_id: str) -> str:
    """``even`` or ``odd``: the parity of the number that ends the id (``20260109_3`` → odd, ``42`` → even)."""
    digits = re.search(r"(\d+)\D*$", question_id)
    return "odd" if digits and int(digits.group(1)) % 2 else "even"


def half_of(question: Question, half: str, split: str = WEEK_SPLIT) -> bool:
    """Whether ``question`` is in ``half`` (one of :data:`HALVES`). A question with neither a week in its id
    nor a date is in no week half (neither A nor B): it has no week to place (split such datasets by
    ``even`` / ``odd``)."""
    if half in ("even", "odd"):
        return parity(question.id) == half
    if half not in ("A", "B"):
        raise ValueError(f"unknown half {half!r} (expected one of {', '.join(HALVES)})")
    when = week(question.id, question.date)
    if not when:
        return False
    return (when <= split) == (half == "A")


def spread(questions: Sequence[Question], n: int) -> list[Question]:
    """``n`` of ``questions`` spread evenly over their weeks: in week order (file order within a week; an
    undated question counts as week ""), the middle one of each of ``n`` equal slices, i.e. every
    (len/n)-th question. Deterministic; each week gets its share (rounded) of the ``n``. Returned in the
    questions' own order."""
    if n >= len(questions):
        return list(questions)
    order = sorted(range(len(questions)), key=lambda i: week(questions[i].id, questions[i].date))
    chosen = sorted(order[int((j + 0.5) * len(questions) / n)] for j in range(n))
    return [questions[i] for i in chosen]


def _read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{path}:{n} is not valid JSON: {exc}") from exc
            if not isinstance(record, dict):
                raise DatasetError(f"{path}:{n} should be a JSON object, but got {type(record).__name__}")
            yield n, record


_LOOSE_DATE = re.compile(r"^\s*(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})")


def iso_date(value: str) -> str:
    """``2026/04/10`` and ``2026-04-10`` alike → ``2026-04-10`` (anything else unchanged)."""
    match = _LOOSE_DATE.match(value)
    return f"{match[1]}-{int(match[2]):02d}-{int(match[3]):02d}" if match else value.strip()


def evidence_article_id(url: str) -> str:
    return "ev-" + hashlib.sha1(url.encode()).hexdigest()[:12]


def _evidence_list(value: Any) -> list[dict[str, Any]]:
    """MultiHop-RAG style evidence (``[{"url", "title", "fact", ...}]``), [] for anything else."""
    if isinstance(value, list) and all(isinstance(e, dict) and ("fact" in e or "url" in e) for e in value):
        return value
    return []


def load_dataset(path: Path) -> Dataset:
    """Read ``questions.jsonl`` (and note ``articles.jsonl``) from the dataset directory ``path``."""
    qfile = path / "questions.jsonl"
    if not qfile.is_file():
        raise NotADatasetError(f"{path} has no questions.jsonl: DATASET_DIR must hold questions.jsonl "
                               "(and articles.jsonl for retrieval metrics), see shared/eval/README.md.")
    afile = path / "articles.jsonl"
    raw = list(_read_jsonl(qfile))
    # Evidence-only datasets: one article per evidence URL, its fact sentences (deduplicated) as text.
    articles: dict[str, dict[str, Any]] = {}
    facts: dict[str, dict[str, None]] = defaultdict(dict)
    if not afile.is_file():
        for _, record in raw:
            for item in _evidence_list(record.get("evidence")):
                url = str(item.get("url") or item.get("title") or "")
                if not url:
                    continue
                aid = evidence_article_id(url)
                articles.setdefault(aid, {
                    "id": aid,
                    "url": str(item.get("url") or ""),
                    "title": str(item.get("title") or ""),
                    "outlet": str(item.get("source") or ""),
                    "published": str(item.get("published_at") or item.get("published") or ""),
                })
                fact = str(item.get("fact") or "").strip()
                if fact:
                    facts[aid][fact] = None
        for aid, record in articles.items():
            record["text"] = "\n\n".join(facts[aid])
    questions: list[Question] = []
    for n, record in raw:
        text = str(record.get("question") or "").strip()
        if not text:
            raise DatasetError(f"{qfile}:{n} has no 'question'")
        gold: list[str] = [str(g) for g in record.get("gold_article_ids") or []]
        evidence = _evidence_list(record.get("evidence"))
        if not gold and articles and evidence:
            gold = [evidence_article_id(str(e.get("url") or e.get("title") or "")) for e in evidence]
            gold = [g for g in dict.fromkeys(gold) if g in articles and articles[g]["text"]]
        choices = tuple(str(c) for c in record.get("choices") or ())
        index = record.get("answer_index")
        answer = str(record.get("answer") or "").strip()
        in_gold = None
        if articles and gold:
            in_gold = any(mentions(articles[g]["text"], answer) for g in gold)
        questions.append(Question(
            id=str(record.get("id", n)),
            question=text,
            answer=answer,
            gold=tuple(gold),
            choices=choices,
            answer_index=int(index) if isinstance(index, int) and 0 <= index < len(choices) else None,
            date=iso_date(str(record.get("date") or "")),
            type=str(record.get("type") or ""),
            search_ids=tuple(str(s) for s in record.get("search_article_ids") or ()),
            answer_in_gold=in_gold,
        ))
    return Dataset(
        name=path.resolve().name,
        path=path,
        questions=questions,
        articles_file=afile if afile.is_file() else None,
        evidence_articles=[a for a in articles.values() if a["text"]],
    )
