"""Report an evaluation per half of the news weeks, with standard errors — tune on one half, report
on the other, keep only what wins on both.

    python -m retrieval evaluate DATASET --data-dir IDX --skip-ingest --json --details RUN.jsonl
    python benchmarks/week_halves.py DATASET RUN.jsonl [BASELINE.jsonl] [--split 20260501]

Questions are split by the week in their id (RealTime QA ids are ``YYYYMMDD_n``, the quiz's week;
otherwise their ``date``): half A holds the weeks up to ``--split`` (inclusive), half B the later ones; a
question with neither is in no half (counted as ``no_half`` and warned about).
For each half: the retrieval metrics of every search variant in the details (``hybrid.``, ``dense.``,
``keyword.`` … — answer_hits@1/3/5/10, article_hits@1/3/10, article_mrr@10, and from details that carry
them article_recall@10, article_mrr@10_with_copies, retrieval_p50/p95_ms) and, when the run answered,
answer_contains_gold (and _any_text), refused-when-answerable, mc_accuracy and mc_named_accuracy (the
right choice named and no other, read from the multiple-choice answer's text with the current rule, so an
older details file gets it too); each ± one standard error. With a BASELINE details file (same questions,
another setting or an older instrument), paired by question id per half (mean ± s.e., questions better /
worse): the hybrid article reciprocal rank and answer_hits@1/3/5/10 of retrieval runs, and
contains_gold, contains_gold_any_text, refused, mc_right and mc_named of answer runs. Ids found in one
file only are left out of the pairs and warned about.

``--by parity`` splits by the parity of the number that ends the id instead (``even`` / ``odd``: e.g.
MultiHop-RAG, whose thresholds were tuned on even ids). Typed questions (MultiHop-RAG's
``inference_query`` …) also get answer_contains_gold and refused-when-answerable per type, and null
queries the share refused (``null_refused``).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from retrieval.eval_data import WEEK_SPLIT, Question, load_dataset, parity, week  # noqa: E402
from retrieval.eval_metrics import named_choices, percentile  # noqa: E402

HALVES = ("A", "B")
PARITIES = ("even", "odd")
NULL_TYPE = "null_query"
Stat = tuple[float, float, int]  # mean, standard error, n


def mean_se(values: Sequence[float]) -> Stat:
    """Mean, its standard error and n."""
    n = len(values)
    if not n:
        return float("nan"), float("nan"), 0
    mean = sum(values) / n
    if n < 2:
        return mean, 0.0, n
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, math.sqrt(var / n), n


def read_details(path: Path) -> dict[str, dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return {row["id"]: row for row in map(json.loads, filter(str.strip, f))}


def variant_prefixes(rows: Sequence[dict[str, Any]]) -> list[str]:
    found = {key[: -len("hit_rank")] for row in rows for key in row if key.endswith("hit_rank")}
    return sorted(found, key=lambda p: (p != "hybrid.", p))


def half_metrics(rows: Sequence[dict[str, Any]], answer_counted: dict[str, bool]) -> dict[str, Stat]:
    out: dict[str, Stat] = {}
    for prefix in variant_prefixes(rows):
        ranked = [r for r in rows if f"{prefix}article_rank" in r]
        hits = [r.get(f"{prefix}hit_rank") for r in ranked if answer_counted.get(r["id"], True)]
        for d in (1, 3, 5, 10):
            out[f"{prefix}answer_hits@{d}"] = mean_se([float(bool(h and h <= d)) for h in hits])
        articles = [r.get(f"{prefix}article_rank") for r in ranked]
        for d in (1, 3, 10):
            out[f"{prefix}article_hits@{d}"] = mean_se([float(bool(a and a <= d)) for a in articles])
        out[f"{prefix}article_mrr@10"] = mean_se([1 / a if a and a <= 10 else 0.0 for a in articles])
        copies = [r for r in ranked if f"{prefix}article_rank_with_copies" in r]
        if copies:
            out[f"{prefix}article_mrr@10_with_copies"] = mean_se(
                [1 / a if (a := r[f"{prefix}article_rank_with_copies"]) and a <= 10 else 0.0 for r in copies])
        recalls = [r[f"{prefix}recall"] for r in ranked if f"{prefix}recall" in r]
        if recalls:
            out[f"{prefix}article_recall@10"] = mean_se(recalls)
        ms = [r[f"{prefix}ms"] for r in ranked if f"{prefix}ms" in r]
        if ms:
            out[f"{prefix}retrieval_p50_ms"] = (percentile(ms, 50), float("nan"), len(ms))
            out[f"{prefix}retrieval_p95_ms"] = (percentile(ms, 95), float("nan"), len(ms))
    answered = [r for r in rows if "contains_gold" in r]
    if answered:
        out["answer_contains_gold"] = mean_se([float(r["contains_gold"]) for r in answered])
        if all("contains_gold_any_text" in r for r in answered):
            out["answer_contains_gold_any_text"] = mean_se([float(r["contains_gold_any_text"]) for r in answered])
        out["refused_when_answerable"] = mean_se([float(bool(r.get("refused"))) for r in answered])
        for qtype in sorted({r["type"] for r in answered if r.get("type")}):
            typed = [r for r in answered if r.get("type") == qtype]
            out[f"answer_contains_gold.{qtype}"] = mean_se([float(r["contains_gold"]) for r in typed])
            out[f"refused_when_answerable.{qtype}"] = mean_se([float(bool(r.get("refused"))) for r in typed])
    nulls = [r for r in rows if r.get("type") == NULL_TYPE and "refused" in r]
    if nulls:
        out["null_refused"] = mean_se([float(bool(r["refused"])) for r in nulls])
    mc = [r for r in rows if "mc_picked" in r]
    if mc:
        out["mc_accuracy"] = mean_se([float(r["mc_picked"] == r["_answer_index"]) for r in mc])
        out["mc_named_accuracy"] = mean_se([float(r["_mc_named"]) for r in mc])
    return out


def annotate(row: dict[str, Any], q: Question) -> dict[str, Any]:
    """``row`` with what the measures need from its question: the right choice's index and whether the
    multiple-choice answer names it and no other (the current rule, from the answer's text: an older
    details file without ``mc_named`` gets the same reading)."""
    row["_answer_index"] = q.answer_index
    if "mc_picked" in row:
        if "mc_answer" not in row and "mc_named" in row:
            row["_mc_named"] = bool(row["mc_named"])
        else:
            named = named_choices(row.get("mc_answer") or "", q.choices) if row["mc_picked"] is not None else []
            row["_mc_named"] = named == [q.answer_index]
    return row


def _answer_measures() -> list[tuple[str, Callable[[dict[str, Any]], float], str]]:
    """(name, value of a row, the key a row must have) of the paired answer measures."""
    return [
        ("contains_gold", lambda r: float(bool(r["contains_gold"])), "contains_gold"),
        ("contains_gold_any_text", lambda r: float(bool(r["contains_gold_any_text"])), "contains_gold_any_text"),
        ("refused_when_answerable", lambda r: float(bool(r.get("refused"))), "contains_gold"),
        ("mc_right", lambda r: float(r["mc_picked"] == r["_answer_index"]), "mc_picked"),
        ("mc_named", lambda r: float(r["_mc_named"]), "mc_picked"),
    ]


def paired(rows: Sequence[dict[str, Any]], base: dict[str, dict[str, Any]],
           answer_counted: dict[str, bool] | None = None) -> dict[str, str]:
    """Paired differences to ``base`` (by question id) of the hybrid article reciprocal rank and answer
    hits@1/3/5/10 (the latter over the questions whose answer counts), and of the answer measures
    (contains_gold, contains_gold_any_text, refused_when_answerable, mc_right, mc_named) over the questions
    both runs answered; each mean ± s.e. with questions better / worse (for refused: fewer is better)."""
    answer_counted = answer_counted or {}
    out = {}
    pairs = [(r, base[r["id"]]) for r in rows if r["id"] in base and "hybrid.article_rank" in r]

    def rr(row: dict[str, Any]) -> float:
        a = row.get("hybrid.article_rank")
        return 1 / a if a and a <= 10 else 0.0

    def hits(depth: int) -> Callable[[dict[str, Any]], float]:
        def at(row: dict[str, Any]) -> float:
            h = row.get("hybrid.hit_rank")
            return float(bool(h and h <= depth))
        return at

    Pairs = list[tuple[dict[str, Any], dict[str, Any]]]
    measures: list[tuple[str, Callable[[dict[str, Any]], float], Pairs]] = [("article_rr", rr, pairs)]
    counted = [(r, b) for r, b in pairs if answer_counted.get(r["id"], True)]
    measures += [(f"answer_hits@{d}", hits(d), counted) for d in (1, 3, 5, 10)]
    both = [(r, base[r["id"]]) for r in rows if r["id"] in base]
    for name, value, needs in _answer_measures():
        measures.append((name, value, [(r, b) for r, b in both if needs in r and needs in b]))
    for name, fn, among in measures:
        diffs = [fn(r) - fn(b) for r, b in among]
        if diffs:
            m, se, _ = mean_se(diffs)
            better, worse = sum(d > 0 for d in diffs), sum(d < 0 for d in diffs)
            if name.startswith("refused"):  # fewer refusals of answerable questions is better
                better, worse = worse, better
            out[name] = f"{m:+.3f} ± {se:.3f} (better {better}, worse {worse}, n {len(diffs)})"
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", type=Path, help="the dataset folder the run evaluated (questions.jsonl)")
    parser.add_argument("details", type=Path, help="the run's --details file")
    parser.add_argument("baseline", type=Path, nargs="?", help="another run's --details file, to compare")
    parser.add_argument("--split", default=WEEK_SPLIT, help="last week (YYYYMMDD) of half A")
    parser.add_argument("--by", choices=["week", "parity"], default="week",
                        help="week: halves A/B by --split; parity: even/odd by the number ending the id")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)

    questions = {q.id: q for q in load_dataset(args.dataset).questions}
    details = read_details(args.details)
    base = read_details(args.baseline) if args.baseline else {}
    for qid, row in base.items():
        if qid in questions:
            annotate(row, questions[qid])
    names = PARITIES if args.by == "parity" else HALVES
    halves: dict[str, list[dict[str, Any]]] = {h: [] for h in names}
    no_half: list[str] = []
    for qid, row in details.items():
        q = questions.get(qid)
        if q is None:
            continue
        annotate(row, q)
        if args.by == "parity":
            halves[parity(qid)].append(row)
        elif not (when := week(qid, q.date)):
            no_half.append(qid)
        else:
            halves["A" if when <= args.split else "B"].append(row)
    counted = {qid: q.answer_in_gold is not False for qid, q in questions.items()}
    report: dict[str, Any] = {}
    if no_half:
        report["no_half"] = len(no_half)
        print(f"warning: {len(no_half)} questions have no week (no YYYYMMDD id, no date): in no half "
              f"(e.g. {', '.join(no_half[:3])}); try --by parity", file=sys.stderr)
    if base:
        only_run = sorted(set(details) - set(base))
        only_base = sorted(set(base) - set(details))
        report["only_in_run"], report["only_in_baseline"] = len(only_run), len(only_base)
        for which, ids in (("the run", only_run), ("the baseline", only_base)):
            if ids:
                print(f"warning: {len(ids)} question ids only in {which} (left out of the pairs), e.g. "
                      f"{', '.join(ids[:5])}", file=sys.stderr)
    for h in names:
        metrics = half_metrics(halves[h], counted)
        report[h] = {"questions": len(halves[h]), **{k: {"mean": round(m, 4), "se": None if math.isnan(se) else
                                                          round(se, 4), "n": n}
                                                      for k, (m, se, n) in metrics.items()}}
        if base:
            report[h]["vs_baseline"] = paired(halves[h], base, counted)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    for h in names:
        part = report[h]
        if args.by == "parity":
            print(f"{h} ids: {part['questions']} questions")
        else:
            print(f"half {h} ({'weeks ≤ ' if h == 'A' else 'weeks > '}{args.split}): {part['questions']} questions")
        for key, value in part.items():
            if isinstance(value, dict) and "mean" in value:
                if key.endswith("_ms"):
                    print(f"  {key:44} {value['mean']:.0f}  (n {value['n']})")
                else:
                    print(f"  {key:44} {value['mean']:.3f} ± {value['se']:.3f}  (n {value['n']})")
        for key, value in part.get("vs_baseline", {}).items():
            print(f"  vs baseline {key:24} {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
