"""``python -m retrieval`` entry point."""

from retrieval.cli import cli

cli(prog_name="python -m retrieval")
