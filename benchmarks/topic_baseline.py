"""The pre-session-4 citation check, as a baseline to measure the claim checker against.

Until session 4, ``Assistant.verify`` counted a sentence as supported when 0.6 × (MiniLM cosine to
the passage's closest sentence) + 0.4 × (share of its words anywhere in the passage) reached
``support_threshold``, and a bare answer when a passage sentence named all its words; instructions
planted in articles were shown to the model. :func:`use_topic_baseline` puts that check back into
``retrieval.answer.Assistant`` for this process only (nothing in the package changes).

Run any ``python -m retrieval`` command with the old check::

    .venv/bin/python benchmarks/topic_baseline.py evaluate ../shared/eval/rtqa-2026 --data-dir INDEX \\
        --skip-ingest --answers --backend extractive --limit 80 --json
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))


def use_topic_baseline() -> None:
    """Replace the claim checker in ``Assistant`` by the old topic score (this process only)."""
    import numpy as np

    from retrieval import answer as answer_module
    from retrieval.claims import CHOICE_LABEL, Verdict
    from retrieval.extract import passage_sentences
    from retrieval.speakers import Asked
    from retrieval.text import keyword_terms

    def support(self: answer_module.Assistant, claim: str, passage: answer_module.Passage,
                question: str = "", extracted: bool = False) -> Verdict:  # the old check reads neither
        sentences = passage_sentences(passage) or [(0, len(passage.text), passage.text)]
        claim_vec = self._embed_sentences([claim])[0]
        cos = self._embed_sentences([s for _, _, s in sentences]) @ claim_vec
        claim_terms = set(keyword_terms(claim))
        best = int(np.argmax(cos))
        passage_terms = set(keyword_terms(passage.text))
        lexical = len(claim_terms & passage_terms) / len(claim_terms) if claim_terms else 0.0
        score = min(1.0, max(0.0, 0.6 * float(cos[best]) + 0.4 * lexical))
        s, e, _ = sentences[best]
        return Verdict(score >= self.settings.support_threshold, score, s, e, "" if score >= 0.5 else "topic")

    def short_support(self: answer_module.Assistant, answer: str, question: str,
                      passage: answer_module.Passage, speaker: Asked | None = None) -> Verdict:  # nor the speaker
        terms = set(keyword_terms(CHOICE_LABEL.sub("", answer)))
        sentences = passage_sentences(passage) or [(0, len(passage.text), passage.text)]
        naming = [(s, e, text) for s, e, text in sentences if terms and terms <= set(keyword_terms(text))]
        if not naming:
            return Verdict(False, 0.0, 0, 0, "not named")
        claim_vec = self._embed_sentences([f"{question} {answer}"])[0]
        cos = self._embed_sentences([text for _, _, text in naming]) @ claim_vec
        best = int(np.argmax(cos))
        s, e, _ = naming[best]
        score = min(1.0, max(0.0, 0.6 * float(cos[best]) + 0.4))
        return Verdict(score >= self.settings.support_threshold, score, s, e, "")

    answer_module.Assistant._support = support  # type: ignore[method-assign]
    answer_module.Assistant._short_support = short_support  # type: ignore[method-assign]
    answer_module.without_instructions = lambda passage: passage


if __name__ == "__main__":
    use_topic_baseline()
    from retrieval.cli import cli

    cli(args=sys.argv[1:], prog_name="topic_baseline.py")
