"""The ``python -m ingest`` / ``newsqa-ingest`` command line: options, progress bar, summary, exit codes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, EXIT_STOPPED = 0, 1, 2, 4


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("sources", nargs=-1, required=True)
@click.option("--data-dir", type=click.Path(path_type=Path), envvar="NEWSQA_DATA_DIR",
              help="Where the index lives (default: ./.newsqa; env NEWSQA_DATA_DIR).")
@click.option("--sync", is_flag=True,
              help="Also delete indexed articles that came from SOURCES but are not there any more "
                   "(files deleted from a given folder, records gone from a given dump). Articles from "
                   "other folders or uploads, and those of a source that failed to load, are kept.")
@click.option("--dry-run", is_flag=True, help="Report what would change; write nothing.")
@click.option("--rebuild", is_flag=True,
              help="Drop the whole index and ingest SOURCES from scratch. SOURCES are read first: when one of them "
                   "gives no article (a typo, a feed that is down), nothing is dropped (exit code 4).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def main(sources: tuple[str, ...], data_dir: Path | None, sync: bool, dry_run: bool, rebuild: bool,
         as_json: bool, quiet: bool) -> None:
    """Ingest news articles from SOURCES into the newsqa index.

    A SOURCE is a file, a folder (searched recursively), a URL of an article page, or an RSS/Atom
    feed (file or URL). Formats: .txt, .md (optional front matter: title, url, published, outlet,
    authors), .html, .json/.jsonl article records (id, url, title, published, authors, text), feeds.

    Re-running is cheap: unchanged articles are skipped, edited ones replaced (a file's pages or
    records that are gone from it are deleted; a renamed file is not indexed twice). Files of other
    types in a folder (.css, .js, images) are skipped. Exit code 0 when everything went in, 1 when
    some sources failed (the rest is still ingested), 2 on usage errors, 4 when the ingest stopped
    (the index unusable, e.g. a Chroma server down, or a --rebuild refused) — with --json, stdout
    then holds {"error": "..."}.

    The chat page may stay open meanwhile: its next question sees the new articles. Two ingests
    into one index take turns (the second waits for the first).

    \b
    Examples:
      python -m ingest corpus/
      python -m ingest ~/news/2026-11-26.jsonl https://example.org/feed.xml
      python -m ingest corpus/ --sync        # also drop corpus/'s articles whose files were deleted
      python -m ingest corpus/ --json        # machine-readable report
    """
    from rich.console import Console
    from rich.markup import escape

    from ingest.pipeline import SHOW_DUPLICATES, ingest
    from retrieval.cli_common import progress_bar, progress_callback, settings_from_flags
    from retrieval.errors import explain
    from retrieval.store import IndexMismatchError
    from retrieval.text import printable

    if rebuild and dry_run:
        raise click.UsageError("--rebuild and --dry-run exclude each other: a dry run writes nothing.")
    settings = settings_from_flags(data_dir)
    console = Console(stderr=True)
    show_bar = not quiet and not as_json and sys.stderr.isatty()

    try:
        if show_bar:
            with progress_bar(console=console) as bar:
                task = bar.add_task("loading", total=None, stage="ingest")
                update = progress_callback(bar, task)

                def waiting(message: str) -> None:
                    console.print(escape(f"[ingest] {message}"))
                    update(0, 0, message)

                report = ingest(sources, settings, sync=sync, dry_run=dry_run, rebuild=rebuild, progress=update,
                                on_wait=waiting)
        else:
            report = ingest(sources, settings, sync=sync, dry_run=dry_run, rebuild=rebuild,
                            on_wait=lambda message: click.echo(f"[ingest] {message}", err=True))
    except KeyboardInterrupt:
        click.echo("interrupted: finished articles are indexed; run the same command again to go on.", err=True)
        sys.exit(130)
    except Exception as exc:  # the index itself is unusable (e.g. Chroma server down): no traceback
        why = str(exc) if isinstance(exc, IndexMismatchError) else (
            f"ingest stopped: {explain(exc, settings, settings.chroma_url)} (index: {settings.data_dir}). Articles "
            "finished so far are indexed; fix the cause and run the same command again.")
        if as_json:
            click.echo(json.dumps({"error": why}, ensure_ascii=False))
        click.echo(printable(f"Error: {why}"), err=True)
        sys.exit(EXIT_STOPPED)

    if report.stopped:
        if as_json:
            click.echo(json.dumps(report.to_json(), ensure_ascii=False))
        for failure in report.failed:
            click.echo(printable(f"  failed: {failure.source}: {failure.reason}"), err=True)
        click.echo(printable(f"Error: {report.stopped}"), err=True)
        sys.exit(EXIT_STOPPED)
    if as_json:
        click.echo(json.dumps(report.to_json(), ensure_ascii=False))
    else:
        counts = (
            f"added {report.added}, updated {report.updated}, unchanged {report.unchanged}, "
            f"deleted {report.deleted}, failed {len(report.failed)}"
        )
        if dry_run:
            click.echo(f"[dry run, nothing written] would be: {counts} (index: {settings.data_dir})")
        else:
            vectors = f", vectors on {report.chroma}" if report.chroma else ""
            click.echo(f"{counts} — {report.chunks} chunks embedded in {report.seconds:.1f}s "
                       f"(index: {settings.data_dir}{vectors})")
        if report.duplicates:
            click.echo(f"{report.duplicates} records repeated an article id already seen; the first was kept:")
            for source, article_id, first in report.duplicate_sources[:SHOW_DUPLICATES]:
                click.echo(printable(f"  dropped {source} (id {article_id}): the same id as {first}"))
            if report.duplicates > SHOW_DUPLICATES:
                click.echo(f"  … and {report.duplicates - SHOW_DUPLICATES} more (--json lists them all).")
        if report.renamed:
            click.echo(f"{report.renamed} articles were found under a new file name (renamed or moved): indexed "
                       "under the new name, the old entry dropped.")
        for folder, count in report.gone.items():
            click.echo(printable(f"{count} indexed articles' files are gone from {folder}: "
                                 "run with --sync to drop them."))
        if report.skipped:
            types = sorted({Path(s.source).suffix.lower() or "(none)" for s in report.skipped})
            click.echo(f"skipped {len(report.skipped)} files of types ingest does not read ({', '.join(types)}).")
        if report.kept_on_failure:
            click.echo(f"--sync kept {report.kept_on_failure} articles whose source failed to load.")
        for failure in report.failed:
            click.echo(printable(f"  failed: {failure.source}: {failure.reason}"), err=True)
    sys.exit(EXIT_OK if report.ok else EXIT_SOME_FAILED)


if __name__ == "__main__":  # pragma: no cover
    main()
