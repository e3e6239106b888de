"""Multiple-choice questions: the list of choices a question ends with ("… Choose one of: A) Ann; B) Bo."),
the choice an answer names, and what a passage's support of one looks like. Deciding the choice a passage
supports best is ``Assistant.decide_choice`` (it verifies the cited answer)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from retrieval.claims import Verdict
from retrieval.names import fold

# The list of alternatives of a multiple-choice question: two or more "A)" labels to the end.
CHOICES_TAIL = re.compile(r"\s*(?:(?:choose|pick|select) one of:?\s*)?\(?\b[A-J]\)\s.*\b[B-J]\)\s.*$", re.I | re.S)


# One label of a list of choices: "A) ", "(B) ".
_CHOICE_MARK = re.compile(r"(?<![\w(])\(?([A-J])\)\s+")


def listed_choices(question: str) -> tuple[str, list[str]]:
    """The question without its list of choices, and the choices: "Who won? Choose one of: A) Ann;
    B) Bo." gives ("Who won?", ["Ann", "Bo"]). Labels must run A, B, C … (at least two); otherwise the
    question is returned whole with no choices."""
    tail = CHOICES_TAIL.search(question)
    if not tail:
        return question, []
    marks = list(_CHOICE_MARK.finditer(question, tail.start()))
    if len(marks) < 2 or [m.group(1).upper() for m in marks] != [chr(ord("A") + i) for i in range(len(marks))]:
        return question, []
    ends = [m.start() for m in marks[1:]] + [len(question)]
    choices = [question[m.end():end].strip().rstrip(";,").strip() for m, end in zip(marks, ends, strict=True)]
    choices[-1] = choices[-1].removesuffix(".").strip()
    if not all(choices):
        return question, []
    return question[:tail.start()].strip(), choices


def named_choice(text: str, choices: Sequence[str]) -> int | None:
    """The choice ``text`` names first (whole words, case and accents aside), None if it names none."""
    folded = fold(text)
    found = []
    for i, choice in enumerate(choices):
        phrase = fold(choice).strip(" .\"'“”‘’")
        m = re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", folded) if phrase else None
        if m:
            found.append((m.start(), -len(phrase), i))
    return min(found)[2] if found else None


@dataclass(frozen=True)
class ChoiceSupport:
    """The passage sentence that supports a listed choice best (``claims.check_bare``)."""

    choice: int  # index of the choice
    passage: int  # index of the passage
    verdict: Verdict


# Said before a multiple-choice answer decided by the passages rather than taken from the model.
CHOICE_NOTE = "(Of the listed choices, this is the one a passage supports best.)"
