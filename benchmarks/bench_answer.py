"""Answer-time benchmark of an LLM backend: where the wait for the first word goes, and whether a
faster configuration answers as well.

    python benchmarks/bench_answer.py DATASET --data-dir INDEX [--questions 20] [--half odd]
        [--variant NAME:field=value,field=value ...] [--cold-start] [--details FILE]

Each variant is a set of ``Settings`` overrides (fields of retrieval/settings.py, e.g.
``base:context_tokens=0`` or ``q40:llm_quant=q4_0``); without --variant: ``base`` (every passage's 3
best sentences, the default) against ``budget`` (``context_tokens=360``). Every variant answers the same
questions through ``Assistant.stream`` (retrieval included), interleaved question by question with
the order rotated, so machine load hits all alike: compare the variants as ratios within one run.
Each variant has its own loaded model (as a conversation on the page has): a model shared by two
variants would find the other variant's prompt for the same question in its cache and read only
what differs (session 6 found that this flattered whichever variant came second).

Per variant: time to the first token and to the whole answer (p50, p95), prompt tokens read per
answer (llama.cpp's count of tokens it evaluated, after reusing the cached system prompt), the
prompt-reading speed seen end to end (tokens / wait from the model call to its first token) next to
llama.cpp's own (``t_p_eval``) on the same prompts, generation speed, and answers that name the gold
answer (± standard error), with the paired difference to the first variant. Prints one JSON object.

--context-only: no generation, so hundreds of questions take minutes: per variant, the user
message the model would read (tokens counted by the model's own tokenizer) and how often the gold
answer is in it at all (``answer_in_prompt``: the model cannot answer what it is not shown).

--prompt-speed GGUF [GGUF ...]: llama.cpp alone, one thread, reading the same 400-token prompt with
each model file (e.g. the packaged Q4_K_M and Q4_0 / Q8_0 conversions made with
``llama_cpp.llama_model_quantize``), timed in CPU seconds so that other load on the machine does not
blur the comparison; also n_ubatch 128 and flash attention on the first file.

--cold-start: as the page does at start, a fresh Assistant is warmed up (``warm_up()``), then asked
two questions: is the first slower than the second?
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from retrieval.answer import Assistant, Final, Token  # noqa: E402
from retrieval.eval_data import Question, half_of, load_dataset  # noqa: E402
from retrieval.eval_metrics import mentions, percentile  # noqa: E402
from retrieval.evaluate import as_of  # noqa: E402
from retrieval.settings import Settings  # noqa: E402
from retrieval.store import Store  # noqa: E402


class Recorder:
    """Wraps a chat model and keeps llama.cpp's counters of the last streamed call."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.perf: dict[str, Any] = {}

    def stream(self, messages: Any, **kwargs: Any) -> Iterator[Any]:
        self.perf = {}
        for chunk in self.model.stream(messages, **kwargs):
            meta = getattr(chunk, "response_metadata", None) or {}
            if "llama_perf" in meta:
                self.perf = meta["llama_perf"]
            yield chunk

    def __getattr__(self, name: str) -> Any:
        return getattr(self.model, name)


def parse_variant(text: str) -> tuple[str, dict[str, Any]]:
    name, _, body = text.partition(":")
    overrides: dict[str, Any] = {}
    for item in filter(None, body.split(",")):
        key, _, value = item.partition("=")
        overrides[key.strip()] = value.strip()
    return name, overrides


def make_settings(data_dir: Path, overrides: dict[str, Any]) -> Settings:
    return Settings(data_dir=data_dir, **overrides)


def stderr(value: float, n: int) -> float:
    return math.sqrt(max(value * (1 - value), 0.0) / n) if n else float("nan")


def ask(assistant: Assistant, recorder: Recorder, q: Question) -> dict[str, Any]:
    started = time.perf_counter()
    first = None
    final = None
    streamed: list[str] = []
    for event in assistant.stream(q.question, (), as_of(q)):
        if isinstance(event, Token):
            streamed.append(event.text)
            if first is None:
                first = time.perf_counter() - started
        elif isinstance(event, Final):
            final = event.answer
    assert final is not None
    t = final.timings
    perf = dict(recorder.perf)
    wait = None
    if "first_token" in t:
        wait = t["first_token"] - t.get("rewrite", 0) - t.get("retrieve", 0) - t.get("prompt", 0)
    return {
        "id": q.id,
        "answer": final.text,
        # What was streamed: the model's own words (then the extraction that replaced them, if any).
        "streamed": "".join(streamed),
        "refused": final.refused,
        "unsupported": [u.to_json() for u in final.unsupported],
        "gold": q.answer,
        "ok": (not final.refused) and mentions(final.text, q.answer),
        "first_token_s": t.get("first_token", first),
        "total_s": t.get("total"),
        "prompt_s": t.get("prompt"),
        "model_wait_s": wait,
        "perf": perf,
    }


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    first = [r["first_token_s"] for r in rows if r["first_token_s"] is not None]
    total = [r["total_s"] for r in rows if r["total_s"] is not None]
    with_perf = [r for r in rows if r["perf"].get("prompt_eval_tokens") and r["model_wait_s"]]
    read = [r["perf"]["prompt_eval_tokens"] for r in with_perf]
    own_rate = (sum(read) / (sum(r["perf"]["prompt_eval_ms"] for r in with_perf) / 1000)) if with_perf else None
    seen_rate = (sum(read) / sum(r["model_wait_s"] for r in with_perf)) if with_perf else None
    gen = [r for r in rows if r["perf"].get("eval_tokens") and r["perf"].get("eval_ms")]
    ok = sum(r["ok"] for r in rows) / len(rows) if rows else float("nan")
    return {
        "answers": len(rows),
        "first_token_p50_s": percentile(first, 50),
        "first_token_p95_s": percentile(first, 95),
        "total_p50_s": percentile(total, 50),
        "total_p95_s": percentile(total, 95),
        "prompt_build_p50_s": percentile([r["prompt_s"] for r in rows if r["prompt_s"] is not None], 50),
        "prompt_tokens_read_mean": statistics.fmean(read) if read else None,
        "prompt_tok_s_seen": seen_rate,
        "prompt_tok_s_llama": own_rate,
        "prompt_speed_ratio_seen_to_llama": (seen_rate / own_rate) if seen_rate and own_rate else None,
        "generation_tok_s_llama": (sum(r["perf"]["eval_tokens"] for r in gen)
                                   / (sum(r["perf"]["eval_ms"] for r in gen) / 1000)) if gen else None,
        "generated_tokens_mean": statistics.fmean(r["perf"]["eval_tokens"] for r in gen) if gen else None,
        "contains_gold": ok,
        "contains_gold_se": stderr(ok, len(rows)),
        "refused": sum(r["refused"] for r in rows),
    }


def paired(base: list[dict[str, Any]], other: list[dict[str, Any]]) -> dict[str, Any]:
    """Difference in contains_gold (other - base) over the same questions, with its standard error."""
    diffs = [int(o["ok"]) - int(b["ok"]) for b, o in zip(base, other, strict=True)]
    n = len(diffs)
    mean = statistics.fmean(diffs) if n else float("nan")
    se = statistics.stdev(diffs) / math.sqrt(n) if n > 1 else float("nan")
    first = [o["first_token_s"] / b["first_token_s"] for b, o in zip(base, other, strict=True)
             if o["first_token_s"] and b["first_token_s"]]
    total = [o["total_s"] / b["total_s"] for b, o in zip(base, other, strict=True) if o["total_s"] and b["total_s"]]
    return {
        "contains_gold_diff": mean,
        "contains_gold_diff_se": se,
        "gained": sum(d > 0 for d in diffs),
        "lost": sum(d < 0 for d in diffs),
        "first_token_ratio_p50": percentile(first, 50),
        "total_ratio_p50": percentile(total, 50),
    }


def pick_questions(dataset_dir: Path, n: int, half: str, offset: int) -> list[Question]:
    answerable = load_dataset(dataset_dir).answerable
    if half in ("A", "B"):  # by news week: A up to 2026-05-01 (tune), B after it (report)
        answerable = [q for q in answerable if half_of(q, half)]
    elif half == "even":
        answerable = answerable[0::2]
    elif half == "odd":
        answerable = answerable[1::2]
    return answerable[offset:offset + n]


def cold_start(data_dir: Path, overrides: dict[str, Any], questions: Sequence[Question]) -> dict[str, Any]:
    """A fresh Assistant, warmed up as the page does at start, then two questions."""
    settings = make_settings(data_dir, overrides)
    t = time.perf_counter()
    assistant = Assistant(settings, store=Store(settings))
    assistant.warm_up()
    warm = time.perf_counter() - t
    recorder = Recorder(assistant.chat_model)
    assistant._chat_model = recorder  # type: ignore[assignment]
    first = ask(assistant, recorder, questions[0])
    second = ask(assistant, recorder, questions[1])
    return {
        "warm_up_s": warm,
        "first_question": {k: first[k] for k in ("first_token_s", "total_s", "model_wait_s")} | {
            "prompt_tokens_read": first["perf"].get("prompt_eval_tokens")},
        "second_question": {k: second[k] for k in ("first_token_s", "total_s", "model_wait_s")} | {
            "prompt_tokens_read": second["perf"].get("prompt_eval_tokens")},
    }


def context_only(data_dir: Path, variants: list[tuple[str, dict[str, Any]]], questions: Sequence[Question],
                 details: Path | None = None) -> dict[str, Any]:
    """Prompt size and answer recall of each variant's prompt, without the LLM."""
    import llama_cpp

    from retrieval.local_model import local_model_path

    base = Settings(data_dir=data_dir)
    vocab = llama_cpp.Llama(model_path=str(local_model_path(base)), vocab_only=True, verbose=False)
    store = Store(base)
    assistants = {name: Assistant(make_settings(data_dir, o), store=store, backend="extractive")
                  for name, o in variants}
    shared = next(iter(assistants.values()))
    for assistant in assistants.values():  # one sentence-vector cache: each sentence is embedded once
        assistant._sentence_cache, assistant._cache_lock = shared._sentence_cache, shared._cache_lock
    rows: dict[str, list[tuple[int, bool, int]]] = {name: [] for name, _ in variants}
    asked = 0
    for q in questions:
        filters = as_of(q)
        result = assistants[variants[0][0]].retrieve(q.question, filters)
        if not result.passages or result.best_similarity < base.refusal_threshold:
            continue  # refused before any prompt is built
        asked += 1
        for name, assistant in assistants.items():
            _, user = assistant.build_messages(q.question, result.passages, filters.as_of_day)[1]
            tokens = len(vocab.tokenize(user.encode(), add_bos=False))
            shown = user.count("<passage ")
            rows[name].append((tokens, mentions(user, q.answer), shown))
            if details is not None:
                with details.open("a", encoding="utf-8") as f:
                    f.write(json.dumps({"variant": name, "id": q.id, "user_tokens": tokens,
                                        "answer_in_prompt": rows[name][-1][1], "passages_shown": shown}) + "\n")
    out: dict[str, Any] = {"questions": len(questions), "prompted": asked}
    for name, r in rows.items():
        hit = sum(x[1] for x in r) / len(r) if r else float("nan")
        out[name] = {
            "user_tokens_mean": statistics.fmean(x[0] for x in r) if r else None,
            "user_tokens_p95": percentile([x[0] for x in r], 95),
            "passages_shown_mean": statistics.fmean(x[2] for x in r) if r else None,
            "answer_in_prompt": hit,
            "answer_in_prompt_se": stderr(hit, len(r)),
        }
    first = variants[0][0]
    for name, r in rows.items():
        if name != first:
            diffs = [int(b[1]) - int(a[1]) for a, b in zip(rows[first], r, strict=True)]
            out[name]["answer_in_prompt_diff_vs_" + first] = statistics.fmean(diffs) if diffs else None
            out[name]["answer_in_prompt_diff_se"] = (statistics.stdev(diffs) / math.sqrt(len(diffs))
                                                     if len(diffs) > 1 else None)
            out[name]["tokens_ratio_vs_" + first] = (out[name]["user_tokens_mean"] / out[first]["user_tokens_mean"]
                                                     if r else None)
    return out


def prompt_speed(files: Sequence[Path], tokens: int = 400, rounds: int = 2) -> dict[str, Any]:
    """Prompt tokens per CPU-second and generated tokens per CPU-second of llama.cpp, one thread."""
    import llama_cpp

    text = (ROOT / "corpus" / "us-allies-intelligence-sharing-trump-russia.txt").read_text(encoding="utf-8")
    configs = [(f, 512, False) for f in files] + [(files[0], 128, False), (files[0], 512, True)]
    llms = {c: llama_cpp.Llama(model_path=str(c[0]), n_ctx=2048, n_batch=512, n_ubatch=c[1], flash_attn=c[2],
                               n_threads=1, n_threads_batch=1, verbose=False) for c in configs}
    out: dict[str, list[tuple[float, float]]] = {}
    for _ in range(rounds):
        for c, llm in llms.items():
            toks = llm.tokenize(text.encode())[:tokens]
            llm.reset()
            t = time.process_time()
            llm.eval(toks)
            read = len(toks) / (time.process_time() - t)
            t = time.process_time()
            for _ in range(12):
                llm.eval([llm.sample(temp=0)])
            out.setdefault(f"{c[0].name} n_ubatch={c[1]} flash_attn={c[2]}", []).append(
                (round(read, 1), round(12 / (time.process_time() - t), 1)))
    return {name: {"prompt_tok_per_cpu_s": statistics.fmean(r[0] for r in v),
                   "gen_tok_per_cpu_s": statistics.fmean(r[1] for r in v), "rounds": v} for name, v in out.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", type=Path, help="dataset folder with questions.jsonl")
    parser.add_argument("--data-dir", type=Path, required=True, help="the index (read only)")
    parser.add_argument("--questions", type=int, default=20, help="answerable questions to ask")
    parser.add_argument("--half", choices=("all", "even", "odd", "A", "B"), default="all",
                        help="A: news weeks up to 2026-05-01 (tune), B: later weeks (report); even/odd: "
                        "every other answerable question")
    parser.add_argument("--offset", type=int, default=0, help="skip this many questions (after --half)")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME:FIELD=VALUE,...",
                        help="Settings overrides of one contender (repeatable; the first is the baseline)")
    parser.add_argument("--prompt-speed", nargs="+", type=Path, metavar="GGUF",
                        help="llama.cpp prompt/generation speed of these model files, one thread, CPU time")
    parser.add_argument("--context-only", action="store_true", help="prompt size and answer recall only, no LLM")
    parser.add_argument("--cold-start", action="store_true", help="also time a fresh start: warm-up, then 2 questions")
    parser.add_argument("--details", type=Path, help="write every answer as one JSON line here")
    args = parser.parse_args(argv)

    if args.prompt_speed:
        print(json.dumps(prompt_speed(args.prompt_speed), indent=2))
        return 0
    variants = [parse_variant(v) for v in args.variant] or [("base", {"context_tokens": 0}),
                                                            ("budget", {"context_tokens": 360})]
    questions = pick_questions(args.dataset, args.questions, args.half, args.offset)
    if not questions:
        parser.error("no answerable questions selected")
    if args.context_only:
        if args.details:
            args.details.write_text("", encoding="utf-8")
        print(json.dumps(context_only(args.data_dir, variants, questions, args.details), indent=2, default=str))
        return 0
    store = Store(Settings(data_dir=args.data_dir))
    contenders: list[tuple[str, Assistant, Recorder]] = []
    for name, overrides in variants:  # a model of its own per variant: see the module docstring
        settings = make_settings(args.data_dir, overrides)
        t = time.perf_counter()
        model = Assistant(settings, store=store).chat_model
        if model is not None and hasattr(model, "load"):
            model.load()
        recorder = Recorder(model)
        print(f"[bench] {name}: model ready in {time.perf_counter() - t:.1f}s", file=sys.stderr)
        assistant = Assistant(settings, store=store, chat_model=recorder)  # type: ignore[arg-type]
        contenders.append((name, assistant, recorder))
    load_before = os.getloadavg()[0]
    # Warm-up, as the page does at start: every model reads the system prompt once (not timed).
    for _, assistant, _ in contenders:
        assistant.warm_up()
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name, _, _ in contenders}
    for i, q in enumerate(questions):
        order = contenders[i % len(contenders):] + contenders[:i % len(contenders)]
        for name, assistant, recorder in order:
            row = ask(assistant, recorder, q)
            rows[name].append(row)
            print(f"[bench] {i + 1}/{len(questions)} {name}: first {row['first_token_s'] or float('nan'):.1f}s "
                  f"total {row['total_s']:.1f}s read {row['perf'].get('prompt_eval_tokens')} ok {row['ok']}",
                  file=sys.stderr)
    base_name = contenders[0][0]
    report: dict[str, Any] = {
        "questions": len(questions),
        "half": args.half,
        "load_average_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "cores": os.cpu_count(),
        "variants": {name: overrides for name, overrides in variants},
        "results": {name: summarize(r) for name, r in rows.items()},
        f"paired_vs_{base_name}": {name: paired(rows[base_name], r) for name, r in rows.items() if name != base_name},
    }
    if args.cold_start:
        report["cold_start"] = cold_start(args.data_dir, variants[-1][1], questions)
    if args.details:
        with args.details.open("w", encoding="utf-8") as f:
            for name, r in rows.items():
                for row in r:
                    f.write(json.dumps({"variant": name} | row, ensure_ascii=False) + "\n")
    print(json.dumps(report, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
