"""Report an evaluation per half of the news weeks, with standard errors — tune on one half, report
on the other, keep only what wins on both.

    python -m retrieval evaluate DATASET --data-dir IDX --skip-ingest --json --details RUN.jsonl
    python benchmarks/week_halves.py DATASET RUN.jsonl [BASELINE.jsonl] [--split 20260501]

Questions are split by the week in their id (RealTime QA ids are ``YYYYMMDD_n``, the quiz's week;
otherwise their ``date``): half A holds the weeks up to ``--split`` (inclusive), half B the later ones.
For each half: the retrieval metrics of every search variant in the details (``hybrid.``, ``dense.``,
``keyword.`` … — answer_hits@1/3/5/10, article_hits@1/3/10, article_mrr@10) and, when the run answered,
answer_contains_gold, refused-when-answerable and mc_accuracy; each ± one standard error. With a
BASELINE details file (same questions, another setting): the paired difference of hybrid article
reciprocal rank and answer_hits@1/3/5/10 per half (mean ± s.e., questions better / worse).

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

from retrieval.eval_data import WEEK_SPLIT, load_dataset, parity, week  # noqa: E402

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
    answered = [r for r in rows if "contains_gold" in r]
    if answered:
        out["answer_contains_gold"] = mean_se([float(r["contains_gold"]) for r in answered])
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
    return out


def paired(rows: Sequence[dict[str, Any]], base: dict[str, dict[str, Any]],
           answer_counted: dict[str, bool] | None = None) -> dict[str, str]:
    """Paired differences to ``base`` of the hybrid article reciprocal rank and answer hits@1/3/5/10 (the
    latter over the questions whose answer counts), each mean ± s.e. with questions better / worse."""
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

    measures = [("article_rr", rr, pairs)]
    counted = [(r, b) for r, b in pairs if answer_counted.get(r["id"], True)]
    measures += [(f"answer_hits@{d}", hits(d), counted) for d in (1, 3, 5, 10)]
    for name, fn, among in measures:
        diffs = [fn(r) - fn(b) for r, b in among]
        if diffs:
            m, se, _ = mean_se(diffs)
            better, worse = sum(d > 0 for d in diffs), sum(d < 0 for d in diffs)
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
    names = PARITIES if args.by == "parity" else HALVES
    halves: dict[str, list[dict[str, Any]]] = {h: [] for h in names}
    for qid, row in details.items():
        q = questions.get(qid)
        if q is None:
            continue
        row["_answer_index"] = q.answer_index
        if args.by == "parity":
            halves[parity(qid)].append(row)
        else:
            halves["A" if week(qid, q.date) <= args.split else "B"].append(row)
    counted = {qid: q.answer_in_gold is not False for qid, q in questions.items()}
    report: dict[str, Any] = {}
    for h in names:
        metrics = half_metrics(halves[h], counted)
        report[h] = {"questions": len(halves[h]), **{k: {"mean": round(m, 4), "se": round(se, 4), "n": n}
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
                print(f"  {key:44} {value['mean']:.3f} ± {value['se']:.3f}  (n {value['n']})")
        for key, value in part.get("vs_baseline", {}).items():
            print(f"  vs baseline {key:24} {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
