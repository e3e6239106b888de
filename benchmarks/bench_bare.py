"""Bare-answer benchmark: does verification accept a right short answer and reject a wrong one that a
passage merely names?

A *bare answer* is up to ``BARE_ANSWER_WORDS`` words with a citation ("Bulgaria [1]."). The verifier
accepts it where a sentence of the cited passage names it (``claims.check_bare``). Naming is not
answering: a passage about Trump's state visit to China may name Japan too. This benchmark builds bare
answers from the real questions of a RealTime QA dump (``../shared/eval/rtqa-2026``; nothing of it is
copied into the repository) over passages retrieved the way the product retrieves them, as of the
question's date, from an existing full index (read only: ``--data-dir``), and puts each through
``Assistant.verify``:

- ``right``: the gold answer citing the first passage that names it;
- ``right-miscited``: the gold answer citing a passage that does not name it (repointing should find
  the one that does);
- ``wrong-kind``: up to ``--per-question`` entities of the kind the question asks for (spaCy's
  labels, as ``retrieval.evidence.answer_shape`` / ``KIND_LABELS`` classify; for a "what/which"
  question without a kind noun, the labels the gold answer carries in the passages) that the passages
  name but that are not the gold answer (neither mentions the other: ``eval_metrics.mentions``) and
  that the question does not name, citing the passage that names them;
- ``wrong-choice``: the other choices of the multiple-choice question that a passage names;
- ``off-kind``: a number (or, for a number/time question, a name) and a name of another kind from the
  passages.

A case counts as *accepted* when the verified answer has a citation and nothing unsupported
(``evaluate.fully_supported``). Halves: A = news weeks up to 2026-05-01 (tuning), B = later ones
(report). Standard errors are clustered by question (the cases of one question share passages).

Some "wrong" answers are right in a sense (an alias the rule does not see, a part of the answer):
``--examples`` shows the accepted wrong ones to judge. Retrieval dominates the first run's time;
``--cache FILE`` keeps the cases and passages (pickle) for the next runs, ``--log FILE`` one JSON line
per case, ``--against LOG`` compares with an earlier run's log, case by case.

    nice -n 10 .venv/bin/python benchmarks/bench_bare.py ../shared/eval/rtqa-2026 --data-dir /tmp/rtqa-copy \\
        --cache /tmp/bare-cases.pkl --log /tmp/bare.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import random
import sys
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

from retrieval.text import flat  # noqa: E402

KINDS = ("right", "right-miscited", "wrong-kind", "wrong-choice", "off-kind")
RIGHT_KINDS = ("right", "right-miscited")
NUMBER_LABELS = frozenset({"CARDINAL", "QUANTITY", "MONEY", "PERCENT"})
NAME_LABELS = frozenset({"PERSON", "GPE", "LOC", "ORG", "NORP", "FAC", "PRODUCT", "EVENT", "WORK_OF_ART"})


@dataclass
class Case:
    qid: str
    half: str
    kind: str
    question: str
    gold: str
    answer: str  # the bare answer, without its marker
    cited: int  # 1-based passage number cited
    shape: str


def _related(a: str, b: str) -> bool:
    from retrieval.eval_metrics import mentions

    return mentions(a, b) or mentions(b, a)


def build_cases(question: Any, half: str, passages: list[Any], per_question: int) -> list[Case]:
    """The bare answers of one question (see the module docstring)."""
    from retrieval.claims import BARE_ANSWER_WORDS, default_checker
    from retrieval.eval_metrics import mentions
    from retrieval.evidence import KIND_LABELS, answer_shape

    rng = random.Random(question.id)
    gold = question.answer
    shape = answer_shape(question.question)
    texts = [flat(p.text) for p in passages]
    naming = [i for i, t in enumerate(texts) if mentions(t, gold)]
    cases: list[Case] = []

    def case(kind: str, answer: str, cited: int) -> None:
        cases.append(Case(question.id, half, kind, question.question, gold, answer, cited + 1, shape))

    if not naming or len(gold.split()) > BARE_ANSWER_WORDS:
        return cases  # the passages do not hold the answer: nothing a check of them can get right
    case("right", gold, naming[0])
    others = [i for i in range(len(passages)) if i not in naming]
    if others:
        case("right-miscited", gold, others[0])
    nlp = default_checker().nlp
    entities: dict[str, tuple[str, int, str]] = {}  # lowercased -> (name, first passage naming it, label)
    gold_labels: set[str] = set()
    for i, doc in enumerate(nlp.pipe(texts, batch_size=16)):
        for ent in doc.ents:
            name = flat(ent.text).strip(" .,'\"“”’")
            if not name or len(name.split()) > BARE_ANSWER_WORDS:
                continue
            if _related(name, gold):
                gold_labels.add(ent.label_)
                continue
            entities.setdefault(name.lower(), (name, i, ent.label_))
    labels = KIND_LABELS.get(shape) or (frozenset(gold_labels) & NAME_LABELS)
    asked = question.question
    same = sorted(
        (name, i) for name, i, label in entities.values()
        if label in labels and not mentions(asked, name) and not _related(name, gold)
    )
    rng.shuffle(same)
    for name, i in same[:per_question]:
        case("wrong-kind", name, i)
    for choice in question.choices:
        if choice == gold or _related(choice, gold) or len(choice.split()) > BARE_ANSWER_WORDS:
            continue
        where = next((i for i, t in enumerate(texts) if mentions(t, choice)), None)
        if where is not None:
            case("wrong-choice", choice, where)
    if labels:
        off_labels = (NAME_LABELS - labels) if shape in ("number", "time") else NUMBER_LABELS
        off = sorted((name, i) for name, i, label in entities.values()
                     if label in off_labels and not mentions(asked, name))
        rng.shuffle(off)
        picked = off[:1]
        if shape not in ("number", "time"):  # and a name of another kind ("Which country": a person)
            names = sorted((name, i) for name, i, label in entities.values()
                           if label in NAME_LABELS - labels and label != "NORP" and not mentions(asked, name))
            rng.shuffle(names)
            picked += names[:1]
        for name, i in picked:
            case("off-kind", name, i)
    return cases


def collect(args: argparse.Namespace, assistant: Any) -> tuple[list[Case], dict[str, list[Any]]]:
    from retrieval.eval_data import half_of, load_dataset
    from retrieval.evaluate import as_of

    dataset = load_dataset(Path(args.dataset))
    cases: list[Case] = []
    passages_of: dict[str, list[Any]] = {}
    started = time.perf_counter()
    questions = [q for q in dataset.answerable if any(half_of(q, h) for h in args.halves)]
    for n, q in enumerate(questions):
        if n % 20 == 0:
            print(f"  retrieving {n}/{len(questions)}, {time.perf_counter() - started:.0f} s", file=sys.stderr)
        half = next(h for h in args.halves if half_of(q, h))
        passages = list(assistant.retrieve(q.question, as_of(q)).passages)
        passages_of[q.id] = passages
        cases.extend(build_cases(q, half, passages, args.per_question))
    return cases, passages_of


def clustered_se(outcomes: list[tuple[str, bool]]) -> float:
    """Standard error of the share of True, clustered by the first item (the question)."""
    n = len(outcomes)
    if n < 2:
        return 0.0
    p = sum(x for _, x in outcomes) / n
    groups: dict[str, float] = defaultdict(float)
    for g, x in outcomes:
        groups[g] += x - p
    k = len(groups)
    if k < 2:
        return 0.0
    return float((sum(v * v for v in groups.values()) * k / (k - 1)) ** 0.5 / n)


def run(args: argparse.Namespace) -> dict[str, Any]:
    from retrieval.answer import Assistant
    from retrieval.evaluate import fully_supported
    from retrieval.settings import Settings
    from retrieval.store import Store

    settings = Settings(data_dir=Path(args.data_dir))
    store = Store(settings)
    assistant = Assistant(settings, store=store, backend="extractive")
    cache = Path(args.cache) if args.cache else None
    if cache is not None and cache.is_file():
        with cache.open("rb") as f:
            rows, passages_of = pickle.load(f)  # our own file
        cases = [Case(**row) for row in rows if row["half"] in args.halves]
    else:
        cases, passages_of = collect(args, assistant)
        if cache is not None:
            with cache.open("wb") as f:
                pickle.dump(([asdict(c) for c in cases], passages_of), f)
    print(f"{len(cases)} cases from {len({c.qid for c in cases})} questions", file=sys.stderr)
    log = Path(args.log).open("w", encoding="utf-8") if args.log else None  # noqa: SIM115 (closed below)
    outcomes: dict[tuple[str, str], list[tuple[str, bool]]] = defaultdict(list)
    examples: dict[str, list[dict[str, Any]]] = defaultdict(list)
    seconds: list[float] = []
    started = time.perf_counter()
    for done, c in enumerate(cases):
        if done % 200 == 0:
            print(f"  verifying {done}/{len(cases)}, {time.perf_counter() - started:.0f} s", file=sys.stderr)
        t0 = time.perf_counter()
        answer = assistant.verify(f"{c.answer} [{c.cited}].", passages_of[c.qid], c.question)
        seconds.append(time.perf_counter() - t0)
        accepted = fully_supported(answer)
        outcomes[(c.half, c.kind)].append((c.qid, accepted))
        quote = answer.citations[0].quote if answer.citations else ""
        reason = answer.unsupported[0].reason if answer.unsupported else ""
        if log is not None:
            log.write(json.dumps({"qid": c.qid, "half": c.half, "kind": c.kind, "answer": c.answer, "cited": c.cited,
                                  "accepted": accepted, "text": answer.text, "quote": flat(quote)[:300],
                                  "reason": reason},
                                 ensure_ascii=False) + "\n")
        if accepted != (c.kind in RIGHT_KINDS) and len(examples[c.kind]) < args.examples:
            examples[c.kind].append({"half": c.half, "question": c.question, "gold": c.gold, "answer": c.answer,
                                     "quote": flat(quote)[:240], "reason": reason})
    if log is not None:
        log.close()
    table = {
        f"{half}/{kind}": {"n": len(rows), "questions": len({g for g, _ in rows}),
                           "accepted": round(sum(x for _, x in rows) / len(rows), 4),
                           "se": round(clustered_se(rows), 4)}
        for (half, kind), rows in sorted(outcomes.items(), key=lambda kv: (kv[0][0], KINDS.index(kv[0][1])))
    }
    return {"results": table, "examples": examples, "verify_s_mean": round(sum(seconds) / max(1, len(seconds)), 4),
            "elapsed_s": round(time.perf_counter() - started, 1)}


def compare(log: Path, against: Path) -> list[str]:
    """Case-by-case changes from ``against`` (an earlier run's log) to ``log``, by half and kind."""
    def read(path: Path) -> dict[tuple[str, str, str, int], dict[str, Any]]:
        with path.open(encoding="utf-8") as f:
            rows = [json.loads(line) for line in f if line.strip()]
        return {(r["qid"], r["kind"], r["answer"], r["cited"]): r for r in rows}

    new, old = read(log), read(against)
    pairs: dict[tuple[str, str], list[tuple[bool, bool]]] = defaultdict(list)
    for key, row in new.items():
        if key in old:
            pairs[(row["half"], row["kind"])].append((old[key]["accepted"], row["accepted"]))
    lines = []
    for (half, kind), rows in sorted(pairs.items(), key=lambda kv: (kv[0][0], KINDS.index(kv[0][1]))):
        n = len(rows)
        lost = sum(1 for a, b in rows if a and not b)
        gained = sum(1 for a, b in rows if b and not a)
        d = (gained - lost) / n
        se = ((gained + lost) - (gained - lost) ** 2 / n) ** 0.5 / n
        lines.append(f"{half} {kind:<15} n={n:>4}  accepted {sum(a for a, _ in rows) / n:.3f} -> "
                     f"{sum(b for _, b in rows) / n:.3f}  (change {d:+.3f} ± {se:.3f}; {gained} gained, {lost} lost)")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", help="dataset directory with questions.jsonl, e.g. ../shared/eval/rtqa-2026")
    parser.add_argument("--data-dir", required=True,
                        help="an index of the dataset's articles (searched only; use a copy if others write it)")
    parser.add_argument("--half", choices=["A", "B", "both"], default="both",
                        help="A: news weeks up to 2026-05-01 (tuning); B: later ones (report)")
    parser.add_argument("--per-question", type=int, default=3, help="wrong answers of the asked kind per question")
    parser.add_argument("--cache", metavar="FILE", help="keep the cases and passages here (reused when it exists)")
    parser.add_argument("--log", metavar="FILE", help="write one JSON line per case")
    parser.add_argument("--against", metavar="LOG", help="compare this run's --log with an earlier one, case by case")
    parser.add_argument("--examples", type=int, default=6, help="wrong verdicts shown per kind")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.against and not args.log:
        parser.error("--against needs --log (the two logs are compared)")
    args.halves = ["A", "B"] if args.half == "both" else [args.half]
    out = run(args)
    if args.against:
        out["paired"] = compare(Path(args.log), Path(args.against))
    if args.json:
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return
    print(f"{'half/kind':<18} {'accepted':>8}   {'s.e.':>5}  {'cases':>5} {'questions':>9}")
    for key, row in out["results"].items():
        print(f"{key:<18} {row['accepted']:>8.3f} ± {row['se']:.3f}  {row['n']:>5} {row['questions']:>9}")
    print(f"verify per case: {out['verify_s_mean']} s; {out['elapsed_s']} s in all")
    for line in out.get("paired", []):
        print(line)
    for kind, rows in out["examples"].items():
        print(f"\nwrong verdicts, {kind}:")
        for row in rows:
            print(f"  [{row['half']}] {row['question']} gold={row['gold']!r} answer={row['answer']!r}\n"
                  f"       {('quote: ' + row['quote']) if row['quote'] else 'why not: ' + row['reason']}")


if __name__ == "__main__":
    main()
