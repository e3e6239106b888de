"""Multiple-choice answers of the local model, recorded once and replayed through the product.

A local-model run of ``evaluate --answers`` takes 20-40 minutes for 60 questions, and the model's
reply does not depend on what the product does after it (verification, fallback, the choice step of
``Assistant.decide_choice``). So:

- ``record`` asks the product (``Assistant.answer``, the configured backend) each multiple-choice
  question of a half as ``evaluate`` does (``with_choices``, as of the question's date) and writes one
  JSON line per question: the model's own reply (``raw``: what ``verify`` first read; empty when the
  product refused before asking the model) and the answer shown;
- ``replay`` puts each recorded reply through the product again with a scripted chat model that
  returns it, once per ``--variant NAME:field=value,...`` of the settings (``choice_evidence=false``,
  …), and scores each variant as ``evaluate`` does (``pick_choice``): mc_accuracy ± s.e., and each
  variant against the first, paired (mean difference ± s.e., questions gained / lost).

The index is only read (``--data-dir``); the questions are the first ``--limit`` answerable ones of
``--half`` (``A`` = news weeks up to 2026-05-01, tuning; ``B`` the later ones, report), like
``evaluate --half H --limit N``.

    NEWSQA_N_THREADS=1 nice -n 10 .venv/bin/python benchmarks/mc_replay.py record ../shared/eval/rtqa-2026 \\
        --data-dir /tmp/rtqa-full --half A --limit 60 --out /tmp/localA.jsonl
    nice -n 10 .venv/bin/python benchmarks/mc_replay.py replay ../shared/eval/rtqa-2026 --data-dir /tmp/rtqa-full \\
        --recorded /tmp/localA.jsonl --variant off:choice_evidence=off --variant always:choice_evidence=always \\
        --variant unsupported:choice_evidence=unsupported --details /tmp/replayA.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from langchain_core.language_models.chat_models import BaseChatModel  # noqa: E402
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage  # noqa: E402
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult  # noqa: E402
from pydantic import Field  # noqa: E402

from benchmarks.week_halves import mean_se  # noqa: E402
from retrieval.answer import Assistant  # noqa: E402
from retrieval.eval_data import Question, half_of, load_dataset  # noqa: E402
from retrieval.eval_metrics import percentile, pick_choice, with_choices  # noqa: E402
from retrieval.evaluate import _cosines, as_of  # noqa: E402
from retrieval.settings import Settings  # noqa: E402
from retrieval.store import Store  # noqa: E402


class Recorded(BaseChatModel):
    """A chat model that replies with ``reply()`` (a function: pydantic copies a field's list, so a list
    set before each question would never be seen)."""

    reply: Callable[[], str]
    calls: list[list[BaseMessage]] = Field(default_factory=list)  # the messages of each call, in order

    @property
    def _llm_type(self) -> str:
        return "recorded"

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        self.calls.append(list(messages))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=self.reply()))])

    def _stream(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        self.calls.append(list(messages))
        yield ChatGenerationChunk(message=AIMessageChunk(content=self.reply()))


def questions(dataset: Path, half: str, limit: int) -> list[Question]:
    """The first ``limit`` answerable multiple-choice questions of ``half``, as evaluate picks them."""
    qs = [q for q in load_dataset(dataset).questions if half_of(q, half) and (q.answerable or q.is_null)]
    return [q for q in qs[:limit] if q.choices and q.answer_index is not None]


def record(args: argparse.Namespace) -> None:
    settings = Settings(data_dir=args.data_dir)
    assistant = Assistant(settings, store=Store(settings))
    seen: list[str] = []
    verify = assistant.verify

    def recording(text: str, passages: Sequence[Any], question: str) -> Any:
        seen.append(text)
        return verify(text, passages, question)

    assistant.verify = recording  # type: ignore[method-assign]
    done = set()
    if args.out.exists():
        done = {json.loads(line)["id"] for line in args.out.open(encoding="utf-8") if line.strip()}
    with args.out.open("a", encoding="utf-8") as f:
        for q in questions(args.dataset, args.half, args.limit):
            if q.id in done:
                continue
            seen.clear()
            t = time.perf_counter()
            answer = assistant.answer(with_choices(q.question, q.choices), filters=as_of(q))
            f.write(json.dumps({"id": q.id, "raw": seen[0] if seen else "", "mc_answer": answer.text,
                                "refused": answer.refused, "note": answer.note,
                                "s": round(time.perf_counter() - t, 1)}, ensure_ascii=False) + "\n")
            f.flush()
            print(q.id, f"{time.perf_counter() - t:.1f} s", file=sys.stderr)


def _variant(spec: str) -> tuple[str, dict[str, str]]:
    name, _, fields = spec.partition(":")
    pairs = dict(item.split("=", 1) for item in fields.split(",") if item)
    return name, pairs


def replay(args: argparse.Namespace) -> None:
    recorded = {row["id"]: row for row in map(json.loads, args.recorded.open(encoding="utf-8")) if row}
    qs = [q for q in load_dataset(args.dataset).questions if q.id in recorded]
    variants = [_variant(v) for v in args.variant] or [("default", {})]
    reply = [""]
    store: Store | None = None
    right: dict[str, list[int]] = {}
    verify_s: dict[str, list[float]] = {}  # the verify step's seconds (the choice step is part of it)
    rows: dict[str, dict[str, Any]] = {q.id: {"id": q.id, "gold": q.answer_index} for q in qs}
    for name, fields in variants:
        settings = Settings(data_dir=args.data_dir, backend="local", **fields)  # type: ignore[arg-type]
        store = store or Store(settings)
        assistant = Assistant(settings, store=store, chat_model=Recorded(reply=lambda: reply[0]))
        similarity = _cosines(assistant)
        for q in qs:
            reply[0] = recorded[q.id]["raw"] or ""
            answer = assistant.answer(with_choices(q.question, q.choices), filters=as_of(q))
            picked = None if answer.refused else pick_choice(answer.text, q.choices, similarity)
            right.setdefault(name, []).append(int(picked == q.answer_index))
            rows[q.id][name] = {"picked": picked, "answer": answer.text, "note": answer.note,
                                "verify_s": round(answer.timings.get("verify", 0.0), 4)}
            verify_s.setdefault(name, []).append(answer.timings.get("verify", 0.0))
    first = variants[0][0]
    report: dict[str, Any] = {"questions": len(qs)}
    for name, _ in variants:
        mean, se, n = mean_se(right[name])
        report[name] = {"mc_accuracy": round(mean, 3), "se": round(se, 3), "n": n,
                        "verify_p50_s": round(percentile(verify_s[name], 50), 3),
                        "verify_p95_s": round(percentile(verify_s[name], 95), 3)}
        if name != first:
            diff = [b - a for a, b in zip(right[first], right[name], strict=True)]
            d, dse, _ = mean_se(diff)
            report[name] |= {f"vs_{first}": round(d, 3), f"vs_{first}_se": round(dse, 3),
                             "gained": diff.count(1), "lost": diff.count(-1)}
    print(json.dumps(report, indent=1))
    if args.details:
        with args.details.open("w", encoding="utf-8") as f:
            for row in rows.values():
                f.write(json.dumps(row, ensure_ascii=False) + "\n")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record", help="ask the configured backend and record its replies")
    rep = sub.add_parser("replay", help="replay recorded replies through the product, per settings variant")
    for p in (rec, rep):
        p.add_argument("dataset", type=Path)
        p.add_argument("--data-dir", type=Path, required=True, help="an existing index (only read)")
    rec.add_argument("--half", choices=("A", "B"), required=True)
    rec.add_argument("--limit", type=int, default=60)
    rec.add_argument("--out", type=Path, required=True, help="JSON lines, appended (a rerun resumes)")
    rep.add_argument("--recorded", type=Path, required=True)
    rep.add_argument("--variant", action="append", default=[], help="NAME:field=value,... (Settings fields)")
    rep.add_argument("--details", type=Path, help="one JSON line per question and variant's answer")
    args = parser.parse_args(argv)
    record(args) if args.command == "record" else replay(args)


if __name__ == "__main__":
    main()
