"""What the command lines share (``newsqa``, ``newsqa evaluate``, ``newsqa-ingest``,
``retrieval.chroma_server``): the backend choice, ``Settings`` from their flags, the progress bar."""

from __future__ import annotations

import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from retrieval.settings import Backend, Settings
from retrieval.text import printable

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

# The --backend choices: the values the Settings field accepts, never a second list.
BACKENDS = click.Choice(typing.get_args(Backend))


def settings_from_flags(data_dir: Path | None = None, backend: str | None = None) -> Settings:
    """``Settings`` from the environment, with the flags given on the command line on top."""
    overrides: dict[str, Any] = {}
    if data_dir:
        overrides["data_dir"] = data_dir
    if backend:
        overrides["backend"] = backend
    return Settings(**overrides)


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
