"""How the native thread pools wait, side by side: OpenMP wait policies for the embedder and the local model.

    python benchmarks/bench_threads.py /work/shared/eval/rtqa-2026 [--rounds 2]
        [--configs "default;OMP_WAIT_POLICY=PASSIVE;GOMP_SPINCOUNT=10000"] [--parts embed,llm] [--json]

torch (the embedder, spaCy's thinc) and llama.cpp run their threads on GNU OpenMP, which reads its wait
policy once, when the runtime loads. So every measurement is its own process: each config in
``--configs`` (``;``-separated, each a space-separated list of VAR=VALUE, ``default`` for the runtime's own
choice) starts a fresh worker per round, the configs taking turns so that a change of machine load hits
them alike. ``default`` runs with ``OMP_WAIT_POLICY`` set empty, which the product's ``quiet_threads``
keeps and GNU OpenMP reads as unset.

Per config (median over rounds): a question's vector (p50 of 20 questions), 60 sentences (p50 of 3), 128
chunks of 180 words — the embedder's three shapes (a question, an extractive answer's sentences, an ingest
batch) — and the local model's first token and tokens a second (a 2,400-character prompt, 64 tokens).
The 1-minute load average at each start is reported: these figures depend on what else runs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

DEFAULT_CONFIGS = "default;OMP_WAIT_POLICY=PASSIVE"


def _wall(work: Callable[[], Any]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def _texts(data: Path) -> tuple[list[str], list[str], list[str], str]:
    rows = []
    with (data / "articles.jsonl").open(encoding="utf-8") as handle:
        for line, _ in zip(handle, range(40), strict=False):
            rows.append(json.loads(line))
    text = " ".join(row["text"] for row in rows)
    sentences = [s.strip() for s in text.split(". ") if 40 < len(s) < 300][:60]
    words = text.split()
    chunks = [" ".join(words[i : i + 180]) for i in range(0, 180 * 128, 180)]
    questions = []
    with (data / "questions.jsonl").open(encoding="utf-8") as handle:
        for line, _ in zip(handle, range(20), strict=False):
            questions.append(json.loads(line)["question"])
    return questions, sentences, chunks, text[:2400]


def worker_embed(data: Path) -> dict[str, Any]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from retrieval.settings import Settings
    from retrieval.store import embedder_for

    questions, sentences, chunks, _ = _texts(data)
    embedder = embedder_for(Settings())
    embedder.encode(sentences[:8])  # load and warm up

    def encode_sentences() -> None:
        embedder.encode(sentences)

    return {
        "question_ms": round(1000 * statistics.median(_wall(partial(embedder.encode, [q])) for q in questions), 1),
        "sentences60_ms": round(1000 * statistics.median(_wall(encode_sentences) for _ in range(3))),
        "chunks128_s": round(_wall(lambda: embedder.encode(chunks)), 2),
    }


def worker_llm(data: Path) -> dict[str, Any]:
    from retrieval.llama_chat import _import_llama_cpp
    from retrieval.local_model import ensure_local_model
    from retrieval.settings import Settings

    settings = Settings()
    llama_cpp = _import_llama_cpp()  # quiet_threads first, as the product loads it
    llm = llama_cpp.Llama(str(ensure_local_model(settings, progress=False)), n_ctx=2048,
                          n_threads=settings.n_threads, verbose=False)
    _, _, _, prompt = _texts(data)
    llm.create_chat_completion(messages=[{"role": "user", "content": "Hi"}], max_tokens=4, temperature=0)
    messages = [{"role": "user", "content": f"{prompt}\n\nSummarise the passage above in three sentences."}]
    start = time.perf_counter()
    first = None
    tokens = 0
    for _ in llm.create_chat_completion(messages=messages, max_tokens=64, temperature=0, stream=True):
        if first is None:
            first = time.perf_counter() - start
        tokens += 1
    total = time.perf_counter() - start
    assert first is not None
    return {"first_token_s": round(first, 2), "tokens_per_s": round((tokens - 1) / max(total - first, 1e-9), 2)}


def _env(config: str) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("OMP_WAIT_POLICY", None)
    env.pop("GOMP_SPINCOUNT", None)
    env["OMP_WAIT_POLICY"] = ""  # kept by quiet_threads; GNU OpenMP reads an empty value as unset
    for item in config.split():
        if item != "default":
            name, _, value = item.partition("=")
            env[name] = value
    return env


def run(data: Path, configs: list[str], parts: list[str], rounds: int) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {config: [] for config in configs}
    for _ in range(rounds):
        for config in configs:
            row: dict[str, Any] = {"load_1m": round(os.getloadavg()[0], 2)}
            for part in parts:
                out = subprocess.run([sys.executable, __file__, str(data), "--worker", part], env=_env(config),
                                     capture_output=True, text=True, check=True)
                row.update(json.loads(out.stdout.strip().splitlines()[-1]))
            runs[config].append(row)
    summary = {config: {key: statistics.median(row[key] for row in rows) for key in rows[0]}
               for config, rows in runs.items()}
    return {"rounds": rounds, "summary": summary, "runs": runs}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", type=Path, help="an rtqa-style folder (articles.jsonl, questions.jsonl)")
    parser.add_argument("--configs", default=DEFAULT_CONFIGS, help="';'-separated env settings to compare")
    parser.add_argument("--parts", default="embed,llm", help="embed, llm or both")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--worker", choices=["embed", "llm"], help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps((worker_embed if args.worker == "embed" else worker_llm)(args.data)))
        return 0
    result = run(args.data, [c.strip() for c in args.configs.split(";") if c.strip()],
                 [p.strip() for p in args.parts.split(",") if p.strip()], args.rounds)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for config, figures in result["summary"].items():
            print(f"{config:40s} " + "  ".join(f"{k} {v}" for k, v in figures.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
