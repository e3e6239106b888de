"""What the command lines share (``newsqa``, ``newsqa evaluate``, ``newsqa-ingest``,
``retrieval.chroma_server``): the backend choice, ``Settings`` from their flags, the progress bar."""

from __future__ import annotations

import difflib
import os
import typing
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from retrieval.settings import Backend, Settings, describe_invalid
from retrieval.text import printable

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

# The --backend choices: the values the Settings field accepts, never a second list.
BACKENDS = click.Choice(typing.get_args(Backend))


# NEWSQA_* variables that are no setting: scripts/setup.sh reads them.
SETUP_VARIABLES = frozenset({"NEWSQA_LLAMA_CMAKE_ARGS", "NEWSQA_NO_AVX512", "NEWSQA_WHEEL_CACHE"})


class SettingsError(click.ClickException):
    """A NEWSQA_* value (or a flag) Settings refuses: a usage error (exit 2), one line per bad value."""

    exit_code = 2


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """A warning for each ``NEWSQA_*`` variable that is no setting (a misspelling is otherwise ignored
    without a word), with the closest setting's name when one is close."""
    known = [f"NEWSQA_{name.upper()}" for name in Settings.model_fields]
    warnings = []
    for name in sorted(environ):
        upper = name.upper()
        if not upper.startswith("NEWSQA_") or upper in known or upper in SETUP_VARIABLES:
            continue
        close = difflib.get_close_matches(upper, known, n=1, cutoff=0.6)
        warnings.append(f"warning: {name} is no newsqa setting and is ignored"
                        + (f" (did you mean {close[0]}?)" if close else ""))
    return warnings


def settings_from_flags(data_dir: Path | None = None, backend: str | None = None) -> Settings:
    """``Settings`` from the environment, with the flags given on the command line on top. A bad value is
    a :class:`SettingsError` naming the variable, the value and the default; a misspelt ``NEWSQA_*``
    variable is warned about on stderr."""
    from pydantic import ValidationError

    for warning in unknown_variables(os.environ):
        click.echo(warning, err=True)
    overrides: dict[str, Any] = {}
    if data_dir is not None:  # an empty --data-dir is an error, not the current folder
        overrides["data_dir"] = data_dir
    if backend:
        overrides["backend"] = backend
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        flags = {"data_dir": "--data-dir / NEWSQA_DATA_DIR"} if data_dir is not None else None
        raise SettingsError(describe_invalid(exc, flags)) from exc


def no_index(settings: Settings) -> str | None:
    """What a reading command (``ask``, ``stats``, ``evaluate --skip-ingest``) says when ``settings.data_dir``
    holds no index (a mistyped path: reading it used to create an empty index there); None when it holds one."""
    if settings.catalog_path.is_file():
        return None
    where = settings.data_dir.expanduser().resolve()
    return (f"No index at {where}: ingest into it first (e.g. `python -m ingest corpus/ --data-dir {where}`), "
            "or point --data-dir / NEWSQA_DATA_DIR at an existing index.")


@contextmanager
def progress_bar(enabled: bool = True, console: Console | None = None) -> Iterator[Progress]:
    """A transient bar on stderr: ``stage`` (a task field), bar, done/total, time left, description."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("[bold]{task.fields[stage]}[/]"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), TextColumn("{task.description}"),
                  console=console or Console(stderr=True), transient=True, disable=not enabled) as bar:
        yield bar


def progress_callback(bar: Progress, task: Any) -> Callable[[int, int, str], None]:
    """The ``progress(done, total, message)`` callback of ``ingest()`` drawn on ``bar``'s ``task``."""

    from rich.markup import escape

    def update(done: int, total: int, message: str) -> None:  # a path like "a[/]b" is no markup
        bar.update(task, completed=done, total=total or None, description=escape(printable(message)))

    return update
