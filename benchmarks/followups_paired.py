"""Two runs of the follow-up benchmark compared conversation by conversation (paired):

    python benchmarks/followups_paired.py RUN.jsonl BASE.jsonl [--mode ours] [--json]

RUN and BASE are ``benchmarks/followups.py --details`` files of the same conversations. For each half
(A: quiz weeks up to 2026-05-01, B: later) and each figure (article@3, fact@3, story@3): both rates, the
mean paired difference RUN − BASE with its standard error, and how many conversations got better or worse;
``--list`` prints the conversations that changed on article@3.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from benchmarks.followups import WEEK_SPLIT, read_jsonl  # noqa: E402

FIGURES = ("article@3", "fact@3", "story@3")


def half_of(qid: str) -> str:
    return "A" if qid.rpartition("_")[0] <= WEEK_SPLIT else "B"


def paired(run: Sequence[bool], base: Sequence[bool]) -> dict[str, Any]:
    """Rates, the mean difference run − base with its standard error, and the counts that changed."""
    n = len(run)
    diffs = [int(a) - int(b) for a, b in zip(run, base, strict=True)]
    mean = sum(diffs) / n if n else float("nan")
    var = sum((d - mean) ** 2 for d in diffs) / (n - 1) if n > 1 else float("nan")
    return {"n": n, "run": round(sum(run) / n, 3) if n else None, "base": round(sum(base) / n, 3) if n else None,
            "diff": round(mean, 3), "se": round(math.sqrt(var / n), 3) if n > 1 else None,
            "better": diffs.count(1), "worse": diffs.count(-1)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path)
    parser.add_argument("base", type=Path)
    parser.add_argument("--mode", default="ours")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--list", action="store_true", help="print the conversations that changed on article@3")
    args = parser.parse_args(argv)
    run = {r["qid"]: r for r in read_jsonl(args.run) if r["mode"] == args.mode}
    base = {r["qid"]: r for r in read_jsonl(args.base) if r["mode"] == args.mode}
    common = sorted(run.keys() & base.keys())
    if not common:
        parser.error(f"no conversation of mode {args.mode!r} is in both {args.run} and {args.base}")
    out: dict[str, Any] = {}
    for half in ("A", "B", "all"):
        ids = [q for q in common if half == "all" or half_of(q) == half]
        for figure in FIGURES:
            out[f"{half}.{figure}"] = paired([run[q][figure] for q in ids], [base[q][figure] for q in ids])
    if args.json:
        print(json.dumps(out))
    else:
        for key, v in out.items():
            print(f"{key:14} n {v['n']:3}  {v['base']} → {v['run']}  {v['diff']:+.3f} ± {v['se']}  "
                  f"({v['better']} better, {v['worse']} worse)")
    if args.list:
        for q in common:
            if run[q]["article@3"] != base[q]["article@3"]:
                r = run[q]
                print(f"{'+' if r['article@3'] else '-'} {q} [{half_of(q)}] {r['first']} -> {r['followup']}  "
                      f"[{r['article']}] base {base[q].get('cause')} / run {r.get('cause')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
