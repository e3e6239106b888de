"""The ``evaluate`` command: retrieval and answer metrics over a dataset in the format of shared/eval.

A dataset directory holds ``questions.jsonl`` and, for retrieval metrics, ``articles.jsonl``
(RealTime QA layout). A dataset without ``articles.jsonl`` whose questions carry their evidence as
``[{"title", "source", "url", "published_at", "fact"}]`` (MultiHop-RAG layout) gets an index built
from that evidence: one article per URL, its fact sentences as text.

Metric keys are flat (one JSON object): hybrid search, the product's default, is unprefixed
(``answer_hits@10``, ``article_mrr@10``); the other search variants carry a dotted prefix
(``dense.answer_hits@10``, ``keyword.article_mrr@10``, ``nocollapse.answer_hits@10``,
``undated.article_mrr@10``, ``choices.answer_hits@10``). Each question is searched as of its own
date when it has one (the freshness bonus counts from that day, as if it were asked then);
``undated.`` is the product's search without that bonus; ``choices.`` searches with the question
followed by its choices, as the multiple-choice answer step does (only questions with choices; not
comparable with the others, since the answer is among the words searched for). See
``docs/results.md`` for every key and how it is computed.

Note on layering: ``retrieval`` does not import ``ingest`` anywhere else. This command is an edge
(like ``ingest/cli.py``) that must build an index, so it imports the ingest pipeline lazily.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from retrieval.answer import Assistant
    from retrieval.search import Filters
    from retrieval.settings import Settings
    from retrieval.store import Store
    from retrieval.types import Answer, Passage

HIT_DEPTHS = (1, 3, 5, 10)
ARTICLE_DEPTHS = (1, 3, 10)
NULL_TYPE = "null_query"



@dataclass(frozen=True)
class Variant:
    """One way of searching, scored under its metric prefix."""

    prefix: str
    mode: str = "hybrid"
    collapse: bool = True  # collapse near-duplicates
    recency: bool = True  # freshness bonus counted from the question's date
    with_choices: bool = False  # the query carries the question's choices (only run when it has some)


# The first is the product's own search.
VARIANTS: tuple[Variant, ...] = (
    Variant(""),
    Variant("dense.", mode="dense"),
    Variant("keyword.", mode="keyword"),
    Variant("nocollapse.", collapse=False),
    Variant("undated.", recency=False),
    # What the multiple-choice answer step searches with: the question followed by its choices. Not
    # comparable with the rest (the right answer is one of the words searched for); it tells how
    # often the passages a multiple-choice answer reads hold the answer.
    Variant("choices.", with_choices=True),
)


# =================================================================================================
# The dataset
# =================================================================================================


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


def _read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise click.ClickException(f"{path}:{n} is not valid JSON: {exc}") from exc
            if not isinstance(record, dict):
                raise click.ClickException(f"{path}:{n} should be a JSON object, but got {type(record).__name__}")
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
        raise click.UsageError(f"{path} has no questions.jsonl: DATASET_DIR must hold questions.jsonl "
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
            raise click.ClickException(f"{qfile}:{n} has no 'question'")
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


# =================================================================================================
# Matching answers
# =================================================================================================


def contains(text: str, answer: str) -> bool:
    """The retrieval rule of the eval README: ``answer`` occurs in ``text``, case-insensitively."""
    return bool(answer) and answer.lower() in text.lower()


def _phrase_pattern(answer: str) -> re.Pattern[str]:
    answer = answer.strip().rstrip(".").strip()
    left = r"\b" if answer[:1].isalnum() else ""
    right = r"\b" if answer[-1:].isalnum() else ""
    return re.compile(left + re.escape(answer) + right, re.I)


def mentions(text: str, answer: str) -> bool:
    """The answer rule: ``answer`` occurs in ``text`` as a whole word or phrase, case-insensitively.

    Stricter than :func:`contains` because answers such as "no" or "yes" would otherwise be found
    inside any reply ("not", "eyes").
    """
    answer = answer.strip().rstrip(".").strip()
    return bool(answer) and bool(_phrase_pattern(answer).search(text))


def pick_choice(text: str, choices: Sequence[str], similarity: Callable[[str, Sequence[str]], Sequence[float]]
                ) -> int | None:
    """The choice an answer text names: the only one it mentions, the first mentioned if several,
    else the one most similar to it (``similarity``); None for an empty text."""
    if not text.strip() or not choices:
        return None
    found = []
    for i, choice in enumerate(choices):
        match = _phrase_pattern(choice).search(text) if choice.strip() else None
        if match:
            found.append((match.start(), -len(choice), i))
    if found:
        return min(found)[2]
    scores = list(similarity(text, choices))
    return max(range(len(choices)), key=lambda i: scores[i])


def with_choices(question: str, choices: Sequence[str]) -> str:
    letters = "ABCDEFGHIJ"
    listed = "; ".join(f"{letters[i] if i < len(letters) else i + 1}) {c}" for i, c in enumerate(choices))
    return f"{question} Choose one of: {listed}."


# =================================================================================================
# Ranking metrics
# =================================================================================================


def article_ranking(passages: Sequence[Passage], credit_duplicates: bool = False) -> list[str]:
    """Article ids in the order of their best passage (optionally with the near-copies collapsed
    into each passage, at its rank)."""
    ranked: dict[str, None] = {}
    for p in passages:
        ranked.setdefault(p.article_id, None)
        if credit_duplicates:
            for dup in p.duplicates:
                ranked.setdefault(dup, None)
    return list(ranked)


def first_hit(passages: Sequence[Passage], answer: str) -> int | None:
    """Rank (1-based) of the first passage containing ``answer``, None if none does."""
    return next((rank for rank, p in enumerate(passages, start=1) if contains(p.text, answer)), None)


def first_gold(article_ids: Sequence[str], gold: Collection[str]) -> int | None:
    """Rank (1-based) of the first gold article, None if none is there."""
    return next((rank for rank, a in enumerate(article_ids, start=1) if a in gold), None)


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def rank_metrics(prefix: str, rows: Sequence[dict[str, Any]], k: int) -> dict[str, float]:
    """answer_hits@d, article_hits@d and article_mrr@k from per-question first-hit ranks."""
    n = len(rows)
    out: dict[str, float] = {}
    if not n:
        return out
    hit_rows = [r for r in rows if r["hit_counted"]]
    for d in (d for d in HIT_DEPTHS if d <= k):
        if hit_rows:
            out[f"{prefix}answer_hits@{d}"] = sum(1 for r in hit_rows if r["hit"] and r["hit"] <= d) / len(hit_rows)
    for d in (d for d in ARTICLE_DEPTHS if d <= k):
        out[f"{prefix}article_hits@{d}"] = sum(1 for r in rows if r["article"] and r["article"] <= d) / n
    out[f"{prefix}article_mrr@{k}"] = sum(1 / r["article"] for r in rows if r["article"] and r["article"] <= k) / n
    if any("article_dups" in r for r in rows):
        out[f"{prefix}article_mrr@{k}_with_copies"] = sum(
            1 / r["article_dups"] for r in rows if r.get("article_dups") and r["article_dups"] <= k
        ) / n
    out[f"{prefix}article_recall@{k}"] = sum(r["recall"] for r in rows) / n
    ms = [r["ms"] for r in rows]
    out[f"{prefix}retrieval_p50_ms"] = percentile(ms, 50)
    out[f"{prefix}retrieval_p95_ms"] = percentile(ms, 95)
    return out


def reference_metrics(questions: Sequence[Question], k: int) -> dict[str, float]:
    """The dataset's own reference search (``search_article_ids``) scored like ours, when present."""
    rows = [q for q in questions if q.search_ids]
    if not rows:
        return {}
    ranks = [first_gold(q.search_ids[:k], q.gold) for q in rows]
    n = len(rows)
    out = {f"reference_search.article_hits@{d}": sum(1 for r in ranks if r and r <= d) / n for d in ARTICLE_DEPTHS}
    out[f"reference_search.article_mrr@{k}"] = sum(1 / r for r in ranks if r) / n
    return out


# =================================================================================================
# Running it
# =================================================================================================


@contextmanager
def _progress(enabled: bool) -> Iterator[Any]:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("[bold]{task.fields[stage]}[/]"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), TextColumn("{task.description}"),
                  console=Console(stderr=True), transient=True, disable=not enabled) as bar:
        yield bar


def _note(message: str) -> None:
    click.echo(message, err=True)


def build_index(dataset: Dataset, settings: Settings, store: Store, workdir: Path, show: bool) -> dict[str, Any]:
    """Ingest the dataset's articles into ``store`` (incremental: unchanged articles are skipped)."""
    from ingest.pipeline import ingest  # the one place retrieval reaches into ingest: see module doc

    if dataset.articles_file is not None:
        source = dataset.articles_file
    elif dataset.evidence_articles:
        source = workdir / "evidence-articles.jsonl"
        with source.open("w", encoding="utf-8") as f:
            for record in dataset.evidence_articles:
                f.write(json.dumps(record, ensure_ascii=False) + "\n")
    else:
        raise click.UsageError(
            f"{dataset.path} has no articles.jsonl and its questions carry no evidence list: "
            "there is nothing to build an index from."
        )
    with _progress(show) as bar:
        task = bar.add_task("reading", total=None, stage="ingest")

        def update(done: int, total: int, message: str) -> None:
            bar.update(task, completed=done, total=total or None, description=message)

        report = ingest([str(source)], settings, store=store, progress=update)
    if report.failed:
        _note(f"ingest: {len(report.failed)} records failed, e.g. {report.failed[0].source}: "
              f"{report.failed[0].reason}")
    return report.to_json() | {"source": str(source)}


def evaluate_retrieval(store: Store, questions: Sequence[Question], k: int, show: bool,
                       details: dict[str, dict[str, Any]],
                       variants: Sequence[Variant] = VARIANTS) -> dict[str, float]:
    from retrieval.search import search

    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    # Warm up (model load, Chroma's HNSW index, SQLite pages) so the first question's latency is fair.
    if questions:
        for v in variants:
            search(store, questions[0].question, k=k, mode=v.mode, collapse=v.collapse)  # type: ignore[arg-type]
    with _progress(show) as bar:
        task = bar.add_task("", total=len(questions), stage="retrieval")
        for q in questions:
            detail = details.setdefault(q.id, {"id": q.id})
            for v in variants:
                if v.with_choices and not q.choices:
                    continue
                prefix, collapse = v.prefix, v.collapse
                query = with_choices(q.question, q.choices) if v.with_choices else q.question
                t = time.perf_counter()
                result = search(store, query, k=k, mode=v.mode, collapse=collapse,  # type: ignore[arg-type]
                                filters=as_of(q), recency=v.recency)
                ms = (time.perf_counter() - t) * 1000
                gold = set(q.gold)
                articles = article_ranking(result.passages)
                row: dict[str, Any] = {
                    "hit": first_hit(result.passages, q.answer),
                    "hit_counted": q.answer_in_gold is not False,
                    "article": first_gold(articles, gold),
                    "ms": ms,
                }
                if collapse:
                    copies = article_ranking(result.passages, credit_duplicates=True)
                    row["article_dups"] = first_gold(copies, gold)
                row["recall"] = len(gold & set(articles[:k])) / len(gold)
                rows[prefix].append(row)
                detail[f"{prefix or 'hybrid.'}hit_rank"] = row["hit"]
                detail[f"{prefix or 'hybrid.'}article_rank"] = row["article"]
            bar.advance(task)
    metrics: dict[str, float] = {}
    for v in variants:
        metrics.update(rank_metrics(v.prefix, rows[v.prefix], k))
    return metrics


def as_of(q: Question) -> Filters:
    """No restriction, but the news read as of the question's date (when it has one)."""
    from retrieval.search import Filters, parse_day

    day = parse_day(q.date)
    return Filters(as_of=day.isoformat() if day else "")


def _cosines(assistant: Assistant) -> Callable[[str, Sequence[str]], list[float]]:
    def similarity(text: str, choices: Sequence[str]) -> list[float]:
        vecs = assistant.store.embedder.encode([text, *choices])
        return [float(vecs[0] @ v) for v in vecs[1:]]

    return similarity


def fully_supported(answer: Answer) -> bool:
    return bool(answer.citations) and all(c.supported for c in answer.citations) and not answer.unsupported


def evaluate_answers(assistant: Assistant, questions: Sequence[Question], show: bool,
                     details: dict[str, dict[str, Any]]) -> tuple[dict[str, float], dict[str, int]]:
    """answer_contains_gold (overall and per type), mc_accuracy, citation_supported_rate, refusal_rate."""
    similarity = _cosines(assistant)
    contains_gold: list[bool] = []
    by_type: dict[str, list[bool]] = defaultdict(list)
    mc: list[bool] = []
    supported: list[bool] = []
    refused_answerable: list[bool] = []
    null_refused: list[bool] = []
    seconds: list[float] = []
    with _progress(show) as bar:
        task = bar.add_task("", total=len(questions), stage="answers")
        for q in questions:
            detail = details.setdefault(q.id, {"id": q.id})
            t = time.perf_counter()
            answer = assistant.answer(q.question, filters=as_of(q))
            seconds.append(time.perf_counter() - t)
            detail.update(answer=answer.text, refused=answer.refused,
                          citations_supported=fully_supported(answer) if not answer.refused else None)
            if q.is_null:
                null_refused.append(answer.refused)
            else:
                ok = not answer.refused and mentions(answer.text, q.answer)
                contains_gold.append(ok)
                refused_answerable.append(answer.refused)
                if q.type:
                    by_type[q.type].append(ok)
                detail["contains_gold"] = ok
            if not answer.refused:
                supported.append(fully_supported(answer))
            if q.choices and q.answer_index is not None:
                mc_answer = assistant.answer(with_choices(q.question, q.choices), filters=as_of(q))
                picked = None if mc_answer.refused else pick_choice(mc_answer.text, q.choices, similarity)
                mc.append(picked == q.answer_index)
                detail.update(mc_answer=mc_answer.text, mc_picked=picked)
            bar.advance(task)
    metrics: dict[str, float] = {}
    counts: dict[str, int] = {"answers": len(questions)}
    if contains_gold:
        metrics["answer_contains_gold"] = sum(contains_gold) / len(contains_gold)
        metrics["answer_refusal_rate_answerable"] = sum(refused_answerable) / len(refused_answerable)
        counts["answers_answerable"] = len(contains_gold)
    for qtype, oks in sorted(by_type.items()):
        metrics[f"answer_contains_gold.{qtype}"] = sum(oks) / len(oks)
        counts[f"answers.{qtype}"] = len(oks)
    if mc:
        metrics["mc_accuracy"] = sum(mc) / len(mc)
        counts["answers_mc"] = len(mc)
    if supported:
        metrics["citation_supported_rate"] = sum(supported) / len(supported)
        counts["answers_not_refused"] = len(supported)
    if null_refused:
        metrics["refusal_rate"] = sum(null_refused) / len(null_refused)
        counts[f"answers.{NULL_TYPE}"] = len(null_refused)
    if seconds:
        metrics["answer_p50_s"] = percentile(seconds, 50)
        metrics["answer_p95_s"] = percentile(seconds, 95)
    return metrics, counts


def settings_summary(settings: Settings, store: Store) -> dict[str, Any]:
    keys = ("k", "fetch_k", "rrf_k", "dense_weight", "keyword_weight", "article_weight", "recency_weight",
            "recency_days", "dedup_threshold", "chunk_tokens",
            "chunk_overlap_sentences", "refusal_threshold", "support_threshold", "embedding_dtype",
            "collection")
    out: dict[str, Any] = {key: getattr(settings, key) for key in keys}
    out["embedding_model"] = store.embedder.model_path
    out["embedding_dtype_used"] = store.embedder.dtype
    out["data_dir"] = str(settings.data_dir)
    out["chroma_url"] = settings.chroma_url
    return out


def machine_summary() -> dict[str, Any]:
    """Enough to read the latencies: they depend on the CPU and on what else runs on it."""
    import os
    import platform

    cpu = platform.processor()
    with suppress(OSError, StopIteration):
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {"cpu": cpu, "cores": os.cpu_count(), "load_average_1m": None if load is None else round(load, 2)}


# =================================================================================================
# Output
# =================================================================================================


def _fmt(key: str, value: Any) -> str:
    if value is None:
        return "–"
    if key.endswith("_ms"):
        return f"{value:.0f}"
    if key.endswith("_s"):
        return f"{value:.2f}"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def print_report(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(Console().width, 100))
    m = report["metrics"]
    c = report["counts"]
    console.print(f"[bold]{report['dataset']}[/]: {c['questions']} questions, {c['answerable']} answerable "
                  f"(non-empty gold articles), {c['retrieval_evaluated']} evaluated for retrieval at k={report['k']}.")
    if report.get("as_of"):
        a = report["as_of"]
        console.print(f"Questions are dated (\"as of\") {a['from']} … {a['to']}: each is searched as of its date "
                      "(freshness bonus from that day; no article is filtered out). undated: without it.")
    if c["retrieval_evaluated"]:
        table = Table(title="Retrieval (dense, keyword: one retriever alone; no-collapse: hybrid without "
                            "near-duplicate collapse; undated: hybrid without the freshness bonus; with choices: "
                            "the question followed by its choices, as the multiple-choice answer searches; "
                            "reference: the dataset's own search ranking)")
        table.add_column("metric", no_wrap=True)
        names = [("", "hybrid"), ("dense.", "dense"), ("keyword.", "keyword"), ("nocollapse.", "no-collapse"),
                 ("undated.", "undated")]
        if any(key.startswith("choices.") for key in m):
            names.append(("choices.", "with choices"))
        if any(key.startswith("reference_search.") for key in m):
            names.append(("reference_search.", "reference"))
        for _, title in names:
            table.add_column(title, justify="right")
        base = [key for key in m if not any(key.startswith(p) for p, _ in names if p) and (
            "hits@" in key or "mrr@" in key or "recall@" in key or key.startswith("retrieval_"))]
        for key in base:
            table.add_row(key, *(_fmt(key, m.get(f"{p}{key}")) for p, _ in names))
        console.print(table)
    answer_keys = [key for key in m if key.startswith(("answer_contains", "mc_", "citation_", "refusal_",
                                                         "answer_refusal", "answer_p"))]
    if answer_keys:
        table = Table(title=f"Answers ({report['backend']} backend)")
        table.add_column("metric", no_wrap=True)
        table.add_column("value", justify="right")
        table.add_column("n", justify="right")
        for key in answer_keys:
            n = c.get(f"answers.{key.split('.', 1)[1]}") if "." in key else None
            if n is None:
                n = {"mc_accuracy": c.get("answers_mc"), "citation_supported_rate": c.get("answers_not_refused"),
                     "refusal_rate": c.get(f"answers.{NULL_TYPE}")}.get(key, c.get("answers_answerable"))
            table.add_row(key, _fmt(key, m[key]), str(n if n is not None else ""))
        console.print(table)
    t = report["timings"]
    console.print(f"ingest {t['ingest_s']:.1f}s · retrieval {t['retrieval_s']:.1f}s · answers "
                  f"{t['answers_s']:.1f}s · total {t['total_s']:.1f}s · index {report['index']['data_dir']}"
                  f"{' (temporary)' if report['index']['temporary'] else ''}")


# =================================================================================================
# The command
# =================================================================================================


@click.command(name="evaluate", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("dataset_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: metrics, counts, settings, timings.")
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Only the first N questions (retrieval: the first N answerable ones).")
@click.option("--answers", "with_answers", is_flag=True,
              help="Also answer the questions (slow with an LLM: combine with --limit).")
@click.option("--backend", type=click.Choice(["local", "extractive", "openai"]), default=None,
              help="Answer backend for --answers (default: NEWSQA_BACKEND or local).")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep the index here and reuse it next time (ingest is incremental). "
                   "Default: a throw-away index in a temporary folder.")
@click.option("--k", "k", type=click.IntRange(1, 50), default=10, show_default=True,
              help="Passages retrieved per question for the ranking metrics.")
@click.option("--no-retrieval", is_flag=True, help="Skip the retrieval metrics (e.g. with --answers only).")
@click.option("--skip-ingest", is_flag=True, help="Use the index at --data-dir as it is, without ingesting.")
@click.option("--details", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write one JSON line per question (ranks, answers) to this file.")
def evaluate_command(dataset_dir: Path, as_json: bool, limit: int | None, with_answers: bool,
                     backend: str | None, data_dir: Path | None, k: int, no_retrieval: bool,
                     skip_ingest: bool, details: Path | None) -> None:
    """Score retrieval (and with --answers, answers) on the dataset in DATASET_DIR.

    DATASET_DIR holds questions.jsonl and articles.jsonl in the format of shared/eval/README.md
    (a dataset without articles.jsonl whose questions carry their evidence, like MultiHop-RAG,
    gets an index built from that evidence). The articles are ingested into a throw-away index,
    or into --data-dir, which later runs reuse.

    Retrieval, over the answerable questions: answer_hits@1/3/5/10, article_hits@1/3/10,
    article_mrr@10 and p50/p95 latency, for hybrid search and for dense-only (dense.*),
    keyword-only (keyword.*) and hybrid without near-duplicate collapse (nocollapse.*).
    Answers: answer_contains_gold, mc_accuracy, citation_supported_rate, refusal_rate. Search
    settings come from the environment (NEWSQA_FETCH_K, NEWSQA_RRF_K, NEWSQA_DENSE_WEIGHT, ...).

    \b
    Examples:
      python -m retrieval evaluate ../shared/eval/rtqa-2026 --data-dir /tmp/rtqa-index --json
      python -m retrieval evaluate ../shared/eval/rtqa-2026 --limit 50
      python -m retrieval evaluate ../shared/eval/multihop-rag-500 --answers --backend extractive --limit 100
    """
    from retrieval.settings import Settings
    from retrieval.store import IndexMismatchError, Store

    if skip_ingest and data_dir is None:
        raise click.UsageError("--skip-ingest needs --data-dir: a temporary index starts empty.")
    if no_retrieval and not with_answers:
        raise click.UsageError("--no-retrieval leaves nothing to do: add --answers.")
    started = time.perf_counter()
    dataset = load_dataset(dataset_dir)
    show = not as_json or sys.stderr.isatty()
    with tempfile.TemporaryDirectory(prefix="newsqa-eval-") as tmp:
        workdir = Path(tmp)
        overrides: dict[str, Any] = {"data_dir": data_dir or workdir / "index"}
        if backend:
            overrides["backend"] = backend
        settings = Settings(**overrides)
        store = Store(settings)
        if data_dir is None:
            _note("evaluate: building a throw-away index; pass --data-dir DIR to keep it, then re-runs only "
                  "ingest what changed (seconds instead of minutes).")
        t = time.perf_counter()
        ingest_report: dict[str, Any] = {}
        try:
            if not skip_ingest:
                ingest_report = build_index(dataset, settings, store, workdir, show)
            else:
                store.check_model()
        except IndexMismatchError as exc:
            raise click.ClickException(str(exc)) from exc
        ingest_s = time.perf_counter() - t
        facts = store.catalog.stats()
        if facts["articles"] == 0:
            raise click.ClickException(f"The index in {settings.data_dir} is empty: nothing to evaluate.")

        metrics: dict[str, Any] = {}
        per_question: dict[str, dict[str, Any]] = {}
        retrieval_set = dataset.answerable[:limit] if limit else dataset.answerable
        t = time.perf_counter()
        if not no_retrieval and retrieval_set:
            metrics.update(evaluate_retrieval(store, retrieval_set, k, show, per_question))
            metrics.update(reference_metrics(retrieval_set, k))
        retrieval_s = time.perf_counter() - t

        answer_set: list[Question] = []
        answer_counts: dict[str, int] = {}
        t = time.perf_counter()
        if with_answers:
            from retrieval.answer import Assistant
            from retrieval.errors import NewsqaError

            askable = [q for q in dataset.questions if q.answerable or q.is_null]
            answer_set = askable[:limit] if limit else askable
            assistant = Assistant(settings, store=store, backend=settings.backend)
            try:
                answer_metrics, answer_counts = evaluate_answers(assistant, answer_set, show, per_question)
            except NewsqaError as exc:  # the backend's package or model is missing: name the way out
                raise click.ClickException(f"{exc}\n(try --backend extractive)") from exc
            metrics.update(answer_metrics)
        answers_s = time.perf_counter() - t

        dates = sorted(q.date for q in dataset.questions if q.date)
        report: dict[str, Any] = {
            "dataset": dataset.name,
            "dataset_dir": str(dataset_dir),
            "k": k,
            "backend": settings.backend if with_answers else None,
            "metrics": {key: round(v, 4) if isinstance(v, float) else v for key, v in metrics.items()},
            "counts": {
                "questions": len(dataset.questions),
                "answerable": len(dataset.answerable),
                "null_questions": sum(1 for q in dataset.questions if q.is_null),
                "types": dict(Counter(q.type for q in dataset.questions if q.type)),
                "retrieval_evaluated": len(retrieval_set) if not no_retrieval else 0,
                "answer_hits_evaluated": sum(1 for q in retrieval_set if q.answer_in_gold is not False)
                if not no_retrieval else 0,
                "articles_indexed": facts["articles"],
                "chunks_indexed": facts["chunks"],
                **answer_counts,
            },
            "as_of": {"from": dates[0], "to": dates[-1], "used_for_filtering": False, "used_for_recency": True}
            if dates else None,
            "settings": settings_summary(settings, store),
            "machine": machine_summary(),
            "index": {"data_dir": str(settings.data_dir), "temporary": data_dir is None, "ingest": ingest_report},
            "timings": {
                "ingest_s": round(ingest_s, 2),
                "retrieval_s": round(retrieval_s, 2),
                "answers_s": round(answers_s, 2),
                "total_s": round(time.perf_counter() - started, 2),
            },
        }
        # JSON: the flat metrics at the top level (report["answer_hits@10"]), beside the other parts.
        flat = report["metrics"] | {key: value for key, value in report.items() if key != "metrics"}
        if details is not None:
            with details.open("w", encoding="utf-8") as f:
                for q in dataset.questions:
                    if q.id in per_question:
                        f.write(json.dumps(per_question[q.id] | {"type": q.type, "date": q.date},
                                           ensure_ascii=False) + "\n")
        if as_json:
            click.echo(json.dumps(flat, ensure_ascii=False))
        else:
            print_report(report)
