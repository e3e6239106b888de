"""The ``evaluate`` command: retrieval and answer metrics over a dataset in the format of shared/eval.

The dataset (``retrieval/eval_data.py``) and the metrics (``retrieval/eval_metrics.py``) live apart;
this module runs the searches and answers and reports.

Metric keys are flat (one JSON object): hybrid search, the product's default, is unprefixed
(``answer_hits@10``, ``article_mrr@10``); the other search variants carry a dotted prefix
(``dense.answer_hits@10``, ``keyword.article_mrr@10``, ``nocollapse.answer_hits@10``,
``undated.article_mrr@10``, ``choices.answer_hits@10``). Each question is searched as of its own
date when it has one (the freshness bonus counts from that day, as if it were asked then) and, by
default, in the index as it was then: articles published after the question's date (plus a margin, see
``retrieval.eval_data.AS_OF_MARGIN_DAYS``) are filtered out with the product's own date filter;
``undated.`` is the product's search without that bonus; ``choices.`` searches with the question
followed by its choices, as the multiple-choice answer step does (only questions with choices; not
comparable with the others, since the answer is among the words searched for). See
``docs/results.md`` for every key and how it is computed.

Note on layering: ``retrieval`` does not import ``ingest`` anywhere else. This command is an edge
(like ``ingest/cli.py``) that must build an index, so it imports the ingest pipeline lazily.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from retrieval.cli_common import BACKENDS, no_index, progress_bar, progress_callback, settings_from_flags
from retrieval.errors import NewsqaError, NotADatasetError
from retrieval.eval_data import (
    AS_OF_MARGIN_DAYS,
    HALVES,
    NULL_TYPE,
    WEEK_SPLIT,
    Dataset,
    Question,
    cut_day,
    half_of,
    load_dataset,
    spread,
    week,
)
from retrieval.eval_metrics import (
    BY_ONE_NAME,
    BY_ORDER,
    BY_SIMILARITY,
    REFUSED,
    Pick,
    answers_gold,
    article_ranking,
    choose,
    first_gold,
    first_hit,
    percentile,
    plain,
    rank_metrics,
    reference_metrics,
    with_choices,
)
from retrieval.machine import machine_summary

if TYPE_CHECKING:
    from retrieval.answer import Assistant
    from retrieval.search import Filters
    from retrieval.settings import Settings
    from retrieval.store import Store
    from retrieval.types import Answer


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
# Running it
# =================================================================================================


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
        raise NotADatasetError(
            f"{dataset.path} has no articles.jsonl and its questions carry no evidence list: "
            "there is nothing to build an index from."
        )
    with progress_bar(show) as bar:
        task = bar.add_task("reading", total=None, stage="ingest")
        report = ingest([str(source)], settings, store=store, progress=progress_callback(bar, task))
    if report.failed:
        _note(f"ingest: {len(report.failed)} records failed, e.g. {report.failed[0].source}: "
              f"{report.failed[0].reason}")
    return report.to_json() | {"source": str(source)}


def evaluate_retrieval(store: Store, questions: Sequence[Question], k: int, show: bool,
                       details: dict[str, dict[str, Any]],
                       variants: Sequence[Variant] = VARIANTS, cut: bool = True) -> dict[str, float]:
    """Rank metrics per search variant; each question's details row gets, per variant prefix (``hybrid.``
    for the product's search), what they are computed from: ``hit_rank``, ``article_rank``,
    ``article_rank_with_copies`` (collapsing variants), ``recall`` (at ``k``) and ``ms``; and
    ``hit_counted`` (whether its answer hits count)."""
    from retrieval.search import search

    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    # Warm up (model load, Chroma's HNSW index, SQLite pages) so the first question's latency is fair.
    if questions:
        for v in variants:
            search(store, questions[0].question, k=k, mode=v.mode, collapse=v.collapse)  # type: ignore[arg-type]
    with progress_bar(show) as bar:
        task = bar.add_task("", total=len(questions), stage="retrieval")
        for q in questions:
            detail = details.setdefault(q.id, {"id": q.id})
            detail["hit_counted"] = q.answer_in_gold is not False
            for v in variants:
                if v.with_choices and not q.choices:
                    continue
                prefix, collapse = v.prefix, v.collapse
                query = with_choices(q.question, q.choices) if v.with_choices else q.question
                t = time.perf_counter()
                result = search(store, query, k=k, mode=v.mode, collapse=collapse,  # type: ignore[arg-type]
                                filters=as_of(q, cut), recency=v.recency)
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
                name = prefix or "hybrid."
                detail[f"{name}hit_rank"] = row["hit"]
                detail[f"{name}article_rank"] = row["article"]
                if "article_dups" in row:
                    detail[f"{name}article_rank_with_copies"] = row["article_dups"]
                detail[f"{name}recall"] = round(row["recall"], 4)
                detail[f"{name}ms"] = round(ms, 1)
            bar.advance(task)
    metrics: dict[str, float] = {}
    for v in variants:
        metrics.update(rank_metrics(v.prefix, rows[v.prefix], k))
    return metrics


def as_of(q: Question, cut: bool = True) -> Filters:
    """The news read as of the question's date (when it has one), and with ``cut`` the index as it was
    then: the product's date filter (``Filters.date_to``) drops the articles published after
    :func:`retrieval.eval_data.cut_day` (the question's date plus ``AS_OF_MARGIN_DAYS``, at most the quiz's
    day). Undated questions: no restriction."""
    from retrieval.search import Filters, parse_day

    day = parse_day(q.date)
    if day is None:
        return Filters()
    return Filters(date_to=cut_day(q) if cut else "", as_of=day.isoformat())


def _cosines(assistant: Assistant) -> Callable[[str, Sequence[str]], list[float]]:
    def similarity(text: str, choices: Sequence[str]) -> list[float]:
        vecs = assistant.store.embedder.encode([text, *choices])
        return [float(vecs[0] @ v) for v in vecs[1:]]

    return similarity


def fully_supported(answer: Answer) -> bool:
    return bool(answer.citations) and not answer.unsupported


def _sentence_key(text: str) -> str:
    """A sentence as the checker records an unsupported one: no markers, single spaces, none before punctuation."""
    text = " ".join(plain(text).split())
    return re.sub(r"\s+([.,;:!?])", r"\1", text).strip()


def verified_text(answer: Answer) -> str:
    """What the reader is shown as verified: the answer without the sentences it flags as unsupported and
    without its note (e.g. the fallback's "The model's answer could not be checked …"). Each unsupported
    sentence is removed where it stands as a sentence of the answer (not the first place its words occur:
    "Iran" flagged must not be cut out of a verified "Iranian"); one that is no whole sentence there is
    removed at its last whole-word occurrence."""
    from retrieval.text import split_sentences

    text = answer.text.replace(answer.note, " ", 1) if answer.note else answer.text
    left = [" ".join(str(s).split()) for s in answer.unsupported]
    kept: list[str] = []
    last = 0
    for s, e in split_sentences(text):
        key = _sentence_key(text[s:e])
        if key in left or key.rstrip(".!?") in [u.rstrip(".!?") for u in left]:
            match = key if key in left else next(u for u in left if u.rstrip(".!?") == key.rstrip(".!?"))
            left.remove(match)
            kept.append(text[last:s])
            last = e
    text = "".join(kept) + text[last:]
    for sentence in left:  # not a sentence of its own (a fragment): its last occurrence as whole words
        edge_l = r"\b" if sentence[:1].isalnum() else ""
        edge_r = r"\b" if sentence[-1:].isalnum() else ""
        found = list(re.finditer(edge_l + re.escape(sentence) + edge_r, text))
        if found:
            text = text[: found[-1].start()] + " " + text[found[-1].end():]
    return text


def evaluate_answers(assistant: Assistant, questions: Sequence[Question], show: bool,
                     details: dict[str, dict[str, Any]], cut: bool = True) -> tuple[dict[str, float], dict[str, int]]:
    """answer_contains_gold (overall and per type; gold in the verified sentences only; a yes/no gold by the
    verdict the answer opens with), mc_accuracy, citation_supported_rate, refusal_rate;
    answer_contains_gold_any_text: gold anywhere in the answer, the sentences flagged as unsupported included
    (what answer_contains_gold counted before session 17).

    Multiple choice: ``mc_accuracy`` credits the choice :func:`retrieval.eval_metrics.choose` takes the answer
    to make (the only one named, the first named of several, else the most similar one);
    ``mc_named_accuracy`` only an answer naming the right choice and no other; ``mc_by_one_name``,
    ``mc_by_order``, ``mc_by_similarity``, ``mc_refused``: the shares of the picks made each way."""
    similarity = _cosines(assistant)
    contains_gold: list[bool] = []
    contains_gold_any: list[bool] = []
    by_type: dict[str, list[bool]] = defaultdict(list)
    mc: list[bool] = []
    mc_named: list[bool] = []
    mc_how: list[str] = []
    mc_seconds: list[float] = []
    supported: list[bool] = []
    refused_answerable: list[bool] = []
    null_refused: list[bool] = []
    seconds: list[float] = []
    with progress_bar(show) as bar:
        task = bar.add_task("", total=len(questions), stage="answers")
        for q in questions:
            detail = details.setdefault(q.id, {"id": q.id})
            t = time.perf_counter()
            answer = assistant.answer(q.question, filters=as_of(q, cut))
            seconds.append(time.perf_counter() - t)
            detail.update(answer=answer.text, refused=answer.refused,
                          cited=list(dict.fromkeys(c.article_id for c in answer.citations)),
                          citations_supported=fully_supported(answer) if not answer.refused else None,
                          unsupported=[str(s) for s in answer.unsupported], note=answer.note,
                          answer_s=round(seconds[-1], 3))
            if q.is_null:
                null_refused.append(answer.refused)
            else:
                ok = not answer.refused and answers_gold(verified_text(answer), q.answer)
                anywhere = not answer.refused and answers_gold(answer.text, q.answer)
                contains_gold.append(ok)
                contains_gold_any.append(anywhere)
                refused_answerable.append(answer.refused)
                if q.type:
                    by_type[q.type].append(ok)
                detail["contains_gold"] = ok
                detail["contains_gold_any_text"] = anywhere
            if not answer.refused:
                supported.append(fully_supported(answer))
            if q.choices and q.answer_index is not None:
                t = time.perf_counter()
                mc_answer = assistant.answer(with_choices(q.question, q.choices), filters=as_of(q, cut))
                mc_seconds.append(time.perf_counter() - t)
                pick = Pick(None, REFUSED) if mc_answer.refused else choose(mc_answer.text, q.choices, similarity)
                mc.append(pick.index == q.answer_index)
                mc_named.append(pick.named(q.answer_index))
                mc_how.append(pick.how)
                detail.update(mc_answer=mc_answer.text, mc_picked=pick.index, mc_how=pick.how,
                              mc_named=mc_named[-1], mc_answer_s=round(mc_seconds[-1], 3))
            bar.advance(task)
    metrics: dict[str, float] = {}
    counts: dict[str, int] = {"answers": len(questions)}
    if contains_gold:
        metrics["answer_contains_gold"] = sum(contains_gold) / len(contains_gold)
        metrics["answer_contains_gold_any_text"] = sum(contains_gold_any) / len(contains_gold_any)
        metrics["answer_refusal_rate_answerable"] = sum(refused_answerable) / len(refused_answerable)
        counts["answers_answerable"] = len(contains_gold)
    for qtype, oks in sorted(by_type.items()):
        metrics[f"answer_contains_gold.{qtype}"] = sum(oks) / len(oks)
        counts[f"answers.{qtype}"] = len(oks)
    if mc:
        metrics["mc_accuracy"] = sum(mc) / len(mc)
        metrics["mc_named_accuracy"] = sum(mc_named) / len(mc_named)
        for how in (BY_ONE_NAME, BY_ORDER, BY_SIMILARITY):
            metrics[f"mc_by_{how}"] = mc_how.count(how) / len(mc_how)
        metrics["mc_refused"] = mc_how.count(REFUSED) / len(mc_how)
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
            "collection", "choice_letter", "choice_evidence")
    out: dict[str, Any] = {key: getattr(settings, key) for key in keys}
    out["embedding_model"] = store.embedder.model_path
    out["embedding_dtype_used"] = store.embedder.dtype
    out["data_dir"] = str(settings.data_dir)
    out["chroma_url"] = settings.chroma_url
    out["keyword_engine"] = store.keyword_engine()  # tantivy, or FTS5 while tantivy's files are behind
    return out


# =================================================================================================
# The run
# =================================================================================================


class EmptyIndexError(NewsqaError):
    """The index to evaluate holds no article."""


def run_evaluation(dataset_dir: Path, *, data_dir: Path | None = None, backend: str | None = None,
                   limit: int | None = None, half: str | None = None, answers: bool = False,
                   retrieval: bool = True, k: int = 10, skip_ingest: bool = False, details: Path | None = None,
                   progress: bool = False, cut: bool = True) -> dict[str, Any]:
    """Build (or reuse) the index of the dataset in ``dataset_dir``, score retrieval and, with
    ``answers``, the answers; return the report (``metrics``, ``counts``, ``settings``, ``timings``...).

    ``data_dir`` keeps the index (None: a throw-away one); ``half`` keeps only the questions of one
    half (``A``/``B`` by news week, ``even``/``odd`` by id, see :func:`retrieval.eval_data.half_of`)
    before ``limit``, which keeps ``limit`` of the askable questions (answerable or null) spread over their
    weeks (:func:`retrieval.eval_data.spread`; retrieval scores the answerable ones among them, answers all);
    ``cut`` searches each question in the index as of its date (see :func:`as_of`); ``details`` gets one
    JSON line per question. Raises :class:`NotADatasetError`
    for a folder that is not a dataset and other :class:`NewsqaError` s (a bad record, an empty or
    mismatched index, a missing answer backend).
    """
    from retrieval.store import IndexMismatchError, Store

    started = time.perf_counter()
    dataset = load_dataset(dataset_dir)
    if half:
        if half in ("A", "B"):
            weekless = sum(1 for q in dataset.questions if not week(q.id, q.date))
            if weekless:
                _note(f"evaluate: {weekless} of {len(dataset.questions)} questions have no week (no YYYYMMDD id, no "
                      f"date): they belong to neither week half and are left out of --half {half} (use --half "
                      "even / odd).")
        dataset.questions = [q for q in dataset.questions if half_of(q, half)]
        if not dataset.questions:
            raise NewsqaError(f"--half {half} leaves no question of {dataset_dir} to evaluate.")
    with tempfile.TemporaryDirectory(prefix="newsqa-eval-") as tmp:
        workdir = Path(tmp)
        settings = settings_from_flags(data_dir or workdir / "index", backend)
        store = Store(settings)
        if data_dir is None:
            _note("evaluate: building a throw-away index; pass --data-dir DIR to keep it, then re-runs only "
                  "ingest what changed (seconds instead of minutes).")
        t = time.perf_counter()
        ingest_report: dict[str, Any] = {}
        try:
            if not skip_ingest:
                ingest_report = build_index(dataset, settings, store, workdir, progress)
            else:
                store.check_model(claim=False)  # a read-only run writes nothing to the index
        except IndexMismatchError as exc:
            raise NewsqaError(str(exc)) from exc
        ingest_s = time.perf_counter() - t
        facts = store.facts()
        if facts["articles"] == 0:
            raise EmptyIndexError(f"The index in {settings.data_dir} is empty: nothing to evaluate.")

        metrics: dict[str, Any] = {}
        per_question: dict[str, dict[str, Any]] = {}
        askable = [q for q in dataset.questions if q.answerable or q.is_null]
        chosen = spread(askable, limit) if limit else askable
        retrieval_set = [q for q in chosen if q.answerable]
        t = time.perf_counter()
        if retrieval and retrieval_set:
            metrics.update(evaluate_retrieval(store, retrieval_set, k, progress, per_question, cut=cut))
            metrics.update(reference_metrics(retrieval_set, k))
        retrieval_s = time.perf_counter() - t

        answer_set: list[Question] = []
        answer_counts: dict[str, int] = {}
        t = time.perf_counter()
        if answers:
            from retrieval.answer import Assistant

            answer_set = chosen
            assistant = Assistant(settings, store=store, backend=settings.backend)
            answer_metrics, answer_counts = evaluate_answers(assistant, answer_set, progress, per_question, cut)
            metrics.update(answer_metrics)
        answers_s = time.perf_counter() - t

        dates = sorted(q.date for q in dataset.questions if q.date)
        report: dict[str, Any] = {
            "dataset": dataset.name,
            "dataset_dir": str(dataset_dir),
            "k": k,
            "half": half,
            "backend": settings.backend if answers else None,
            "metrics": {key: round(v, 4) if isinstance(v, float) else v for key, v in metrics.items()},
            "counts": {
                "questions": len(dataset.questions),
                "answerable": len(dataset.answerable),
                "null_questions": sum(1 for q in dataset.questions if q.is_null),
                "types": dict(Counter(q.type for q in dataset.questions if q.type)),
                "retrieval_evaluated": len(retrieval_set) if retrieval else 0,
                "answer_hits_evaluated": sum(1 for q in retrieval_set if q.answer_in_gold is not False)
                if retrieval else 0,
                "articles_indexed": facts["articles"],
                "chunks_indexed": facts["chunks"],
                **answer_counts,
            },
            "as_of": {"from": dates[0], "to": dates[-1], "used_for_filtering": cut, "used_for_recency": True,
                      "margin_days": AS_OF_MARGIN_DAYS if cut else None,
                      "rule": (f"articles published after the question's date + {AS_OF_MARGIN_DAYS} days (at most "
                               "the quiz's day, the week in its id) are filtered out" if cut
                               else "nothing is filtered out (--no-as-of-cut)")}
            if dates else None,
            "limit": {"n": limit, "of": len(askable), "weeks": len({week(q.id, q.date) for q in chosen}),
                      "rule": "spread evenly over the weeks (every len/n-th askable question in week order)",
                      "ids": [q.id for q in chosen]} if limit else None,
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
        if details is not None:
            with details.open("w", encoding="utf-8") as f:
                for q in dataset.questions:
                    if q.id in per_question:
                        f.write(json.dumps(per_question[q.id] | {"type": q.type, "date": q.date,
                                                                 "as_of_to": as_of(q, cut).date_to},
                                           ensure_ascii=False) + "\n")
        return report


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
        seen = (f"articles published more than {a['margin_days']} days after it (or after the quiz's day) filtered "
                "out" if a.get("used_for_filtering") else "no article is filtered out")
        console.print(f"Questions are dated (\"as of\") {a['from']} … {a['to']}: each is searched as of its date "
                      f"(freshness bonus from that day; {seen}). undated: without the bonus.")
    if report.get("limit"):
        lim = report["limit"]
        console.print(f"--limit {lim['n']}: {len(lim['ids'])} of {lim['of']} questions, spread over {lim['weeks']} "
                      "weeks.")
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
            if n is None and key.startswith("mc_"):
                n = c.get("answers_mc")
            if n is None:
                n = {"citation_supported_rate": c.get("answers_not_refused"),
                     "refusal_rate": c.get(f"answers.{NULL_TYPE}")}.get(key, c.get("answers_answerable"))
            table.add_row(key, _fmt(key, m[key]), str(n if n is not None else ""))
        console.print(table)
        if "mc_named_accuracy" in m:
            console.print("mc_accuracy credits the choice an answer is taken to make: the only one it names, the first "
                          "of several (mc_by_order), or, naming none, the most similar (mc_by_similarity); "
                          "mc_named_accuracy only an answer naming the right choice and no other.")
    t = report["timings"]
    console.print(f"ingest {t['ingest_s']:.1f}s · retrieval {t['retrieval_s']:.1f}s · answers "
                  f"{t['answers_s']:.1f}s · total {t['total_s']:.1f}s · index {report['index']['data_dir']}"
                  f"{' (temporary)' if report['index']['temporary'] else ''}")


# =================================================================================================
# The command
# =================================================================================================


def _reachable_or_exit(settings: Settings) -> None:
    """Stop before the run when nothing listens at NEWSQA_OPENAI_BASE_URL (a server that is down): the run
    would end at its first answer, after the ingest and the retrieval metrics."""
    import socket
    from urllib.parse import urlsplit

    url = settings.openai_base_url
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
        if not host:
            raise OSError("no host in the address")
        socket.create_connection((host, port), timeout=min(settings.request_timeout, 10.0)).close()
    except (OSError, ValueError) as exc:
        raise click.ClickException(
            f"cannot reach the answer model at {url or '(empty)'} ({exc}): check NEWSQA_OPENAI_BASE_URL and that "
            "the server is running (or use --backend extractive)."
        ) from exc


@click.command(name="evaluate", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("dataset_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: metrics, counts, settings, timings.")
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Only N questions, spread evenly over the news weeks (of the --half): in week order, every "
                   "(count/N)-th of the askable questions (answerable, plus null queries); the same N for retrieval "
                   "(the answerable ones) and answers. Deterministic; the ids are in the JSON report (limit.ids).")
@click.option("--half", type=click.Choice(HALVES), default=None,
              help=f"Only one half of the questions: A = news weeks up to {WEEK_SPLIT} (tune), B = later "
                   "weeks (report); even / odd by the number ending the id. Applied before --limit.")
@click.option("--answers", "with_answers", is_flag=True,
              help="Also answer the questions (slow with an LLM: combine with --limit).")
@click.option("--backend", type=BACKENDS, default=None,
              help="Answer backend for --answers (default: NEWSQA_BACKEND or local).")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep the index here and reuse it next time (ingest is incremental). "
                   "Default: a throw-away index in a temporary folder.")
@click.option("--k", "k", type=click.IntRange(1, 50), default=10, show_default=True,
              help="Passages retrieved per question for the ranking metrics.")
@click.option("--no-retrieval", is_flag=True, help="Skip the retrieval metrics (e.g. with --answers only).")
@click.option("--skip-ingest", is_flag=True, help="Use the index at --data-dir as it is, without ingesting.")
@click.option("--details", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write one JSON line per question (ranks, recall, latencies, answers, picks) to this file.")
@click.option("--as-of-cut/--no-as-of-cut", "cut", default=True, show_default=True,
              help=f"Search each dated question in the index as it was then: articles published more than "
                   f"{AS_OF_MARGIN_DAYS} days after its date (or after the quiz's day in its id) are filtered out. "
                   "--no-as-of-cut: the whole index (the freshness bonus still counts from the question's date).")
def evaluate_command(dataset_dir: Path, as_json: bool, limit: int | None, half: str | None, with_answers: bool,
                     backend: str | None, data_dir: Path | None, k: int, no_retrieval: bool,
                     skip_ingest: bool, details: Path | None, cut: bool) -> None:
    """Score retrieval (and with --answers, answers) on the dataset in DATASET_DIR.

    DATASET_DIR holds questions.jsonl and articles.jsonl in the format of shared/eval/README.md
    (a dataset without articles.jsonl whose questions carry their evidence, like MultiHop-RAG,
    gets an index built from that evidence). The articles are ingested into a throw-away index,
    or into --data-dir, which later runs reuse.

    Retrieval, over the answerable questions: answer_hits@1/3/5/10, article_hits@1/3/10,
    article_mrr@10 and p50/p95 latency, for hybrid search and for dense-only (dense.*),
    keyword-only (keyword.*) and hybrid without near-duplicate collapse (nocollapse.*).
    Answers: answer_contains_gold, mc_accuracy (and mc_named_accuracy: the right choice named, no
    other), citation_supported_rate, refusal_rate. Each dated question is searched as of its date,
    in the index as it was then (see --as-of-cut). Search
    settings come from the environment (NEWSQA_FETCH_K, NEWSQA_RRF_K, NEWSQA_DENSE_WEIGHT, ...).

    \b
    Examples:
      python -m retrieval evaluate ../shared/eval/rtqa-2026 --data-dir /tmp/rtqa-index --json
      python -m retrieval evaluate ../shared/eval/rtqa-2026 --limit 50
      python -m retrieval evaluate ../shared/eval/rtqa-2026 --data-dir IDX --skip-ingest --half B --answers --limit 60
      python -m retrieval evaluate ../shared/eval/multihop-rag-500 --answers --backend extractive --limit 100
    """
    from retrieval.errors import BackendUnavailableError

    if skip_ingest and data_dir is None:
        raise click.UsageError("--skip-ingest needs --data-dir: a temporary index starts empty.")
    if no_retrieval and not with_answers:
        raise click.UsageError("--no-retrieval leaves nothing to do: add --answers.")
    if details is not None:  # before the run, not after it: a lost hour for a typo in a folder name
        if not details.parent.is_dir():
            raise click.BadParameter(f"the folder {str(details.parent)!r} does not exist: create it first.",
                                     param_hint="'--details'")
        try:
            details.open("a", encoding="utf-8").close()
        except OSError as exc:
            raise click.BadParameter(f"cannot write {str(details)!r} ({exc.strerror or exc}).",
                                     param_hint="'--details'") from exc
    settings = settings_from_flags(data_dir, backend)
    missing = no_index(settings) if skip_ingest else None
    if missing:
        raise click.ClickException(f"{missing} (or drop --skip-ingest to build it)")
    if with_answers and settings.backend == "openai":
        _reachable_or_exit(settings)
    try:
        report = run_evaluation(dataset_dir, data_dir=data_dir, backend=backend, limit=limit, half=half,
                                answers=with_answers,
                                retrieval=not no_retrieval, k=k, skip_ingest=skip_ingest, details=details,
                                progress=not as_json or sys.stderr.isatty(), cut=cut)
    except NotADatasetError as exc:
        raise click.UsageError(str(exc)) from exc
    except BackendUnavailableError as exc:  # the backend's package or model is missing: name the way out
        raise click.ClickException(f"{exc}\n(try --backend extractive)") from exc
    except NewsqaError as exc:
        raise click.ClickException(str(exc)) from exc
    except (click.ClickException, KeyboardInterrupt):
        raise
    except Exception as exc:  # e.g. the model's server went down mid-run: one line, not a traceback
        from retrieval.errors import explain

        raise click.ClickException(explain(exc, settings, settings.chroma_url)) from exc
    if as_json:
        # The flat metrics at the top level (report["answer_hits@10"]), beside the other parts.
        flat = report["metrics"] | {key: value for key, value in report.items() if key != "metrics"}
        click.echo(json.dumps(flat, ensure_ascii=False))
    else:
        print_report(report)
