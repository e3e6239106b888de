"""Multiple choice by the local model's letter: the product's own prompt, one token, constrained to the
listed letters — does it pick better than the model's free reply?

    python benchmarks/mc_letters.py ../shared/eval/rtqa-2026 --data-dir INDEX --half A --limit 60 \\
        --out LETTERS_A.jsonl [--compare REPLAY_DETAILS.jsonl]

For each multiple-choice question of the half (the questions of ``mc_replay.py``), the product builds
its answer prompt (``Assistant.answer`` with a chat model that only records the messages); the local
GGUF model then reads that prompt with one more line asking for the letter alone, and the letter with
the highest logit among the listed ones is the pick — no sampling. Rows are appended (a rerun
resumes). ``--compare`` takes ``mc_replay.py replay --details`` output and prints both accuracies
and the paired difference against its first variant.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from langchain_core.messages import BaseMessage  # noqa: E402

from benchmarks.mc_replay import Recorded, questions  # noqa: E402
from benchmarks.week_halves import mean_se  # noqa: E402

ASK = "\n\nReply with only the letter of the right choice."
LETTERS = "ABCDEFGHIJKL"


class LetterReader:
    """The local GGUF model read for its next token, no sampling: the softmax over the first ``n`` letters
    (a letter's logit is the larger of "B" and " B"), also used by ``model_reading_lab.py``."""

    def __init__(self, model_path: str, threads: int) -> None:
        import llama_cpp

        self.llm = llama_cpp.Llama(model_path=model_path, n_ctx=4096, n_batch=512, n_threads=threads,
                                   n_threads_batch=threads, verbose=False)
        self.vocab = self.llm.n_vocab()
        self.ids = [[t[0] for w in (c, " " + c) if len(t := self.llm.tokenize(w.encode(), add_bos=False)) == 1]
                    for c in LETTERS]

    def letters(self, prompt: str, n: int) -> tuple[np.ndarray, int, str]:
        """(probabilities of the first ``n`` letters, prompt tokens, the most likely token of all)."""
        tokens = self.llm.tokenize(prompt.encode(), add_bos=False, special=True)
        self.llm.reset()
        self.llm.eval(tokens)
        logits = np.ctypeslib.as_array(self.llm._ctx.get_logits(), shape=(self.vocab,)).astype(np.float64)
        best = np.array([max(logits[i] for i in self.ids[j]) for j in range(n)])
        z = np.exp(best - best.max())
        top = self.llm.detokenize([int(np.argmax(logits))]).decode(errors="replace")
        return z / z.sum(), len(tokens), top


def chatml(messages: list[BaseMessage]) -> str:
    roles = {"system": "system", "human": "user", "ai": "assistant"}
    parts = []
    for i, m in enumerate(messages):
        text = str(m.content) + (ASK if i == len(messages) - 1 else "")
        parts.append(f"<|im_start|>{roles[m.type]}\n{text}<|im_end|>\n")
    return "".join(parts) + "<|im_start|>assistant\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--half", choices=("A", "B"), required=True)
    ap.add_argument("--limit", type=int, default=60)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--compare", type=Path)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    args = ap.parse_args()

    qs = questions(args.dataset, args.half, args.limit)
    done = {}
    if args.out.exists():
        done = {r["id"]: r for r in map(json.loads, args.out.read_text().splitlines()) if r}
    todo = [q for q in qs if q.id not in done]
    if todo:
        from retrieval.answer import Assistant
        from retrieval.eval_metrics import with_choices
        from retrieval.evaluate import as_of
        from retrieval.local_model import local_model_path
        from retrieval.settings import Settings
        from retrieval.store import Store

        settings = Settings(data_dir=args.data_dir, backend="local")
        capture = Recorded(reply=lambda: "NOT_IN_ARTICLES")  # records the prompt, then refuses
        assistant = Assistant(settings, store=Store(settings), chat_model=capture)
        reader = LetterReader(str(local_model_path(settings)), args.threads)
        with args.out.open("a") as f:
            for q in todo:
                capture.calls.clear()
                assistant.answer(with_choices(q.question, q.choices), filters=as_of(q))
                row: dict[str, Any] = {"id": q.id, "gold": q.answer_index, "picked": None}
                if capture.calls:
                    t = time.perf_counter()
                    probs, tokens, top = reader.letters(chatml(capture.calls[0]), len(q.choices))
                    best = int(np.argmax(probs))
                    row |= {"picked": best, "p": round(float(probs[best]), 3), "tokens": tokens,
                            "s": round(time.perf_counter() - t, 1), "top_token": top}
                f.write(json.dumps(row) + "\n")
                f.flush()
                done[q.id] = row
                print(q.id, row.get("picked"), q.answer_index, row.get("s"), file=sys.stderr)
    rows = [done[q.id] for q in qs if q.id in done]
    right = [int(r["picked"] == r["gold"]) for r in rows]
    m, se, n = mean_se(right)
    print(f"letters: mc_accuracy {m:.3f} ± {se:.3f} (n {n})")
    if args.compare:
        other = {r["id"]: r for r in map(json.loads, args.compare.read_text().splitlines()) if r}
        names = [k for k in next(iter(other.values())) if k not in ("id", "gold")]
        for name in names:
            base = [int(other[r["id"]][name]["picked"] == r["gold"]) for r in rows if r["id"] in other]
            mine = [int(r["picked"] == r["gold"]) for r in rows if r["id"] in other]
            d = [b - a for a, b in zip(base, mine, strict=True)]
            bm, bse, _ = mean_se(base)
            dm, dse, _ = mean_se(d)
            print(f"{name}: {bm:.3f} ± {bse:.3f}; letters − {name}: {dm:+.3f} ± {dse:.3f} "
                  f"(gained {d.count(1)}, lost {d.count(-1)})")


if __name__ == "__main__":
    main()
