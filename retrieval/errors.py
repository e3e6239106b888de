"""The errors newsqa's commands catch and show as a one-line message (not a traceback).

Each says what is wrong and the command that fixes it. Anything else that escapes is a bug.
"""

from __future__ import annotations

__all__ = ["BackendUnavailableError", "DatasetError", "EmptyQuestionError", "NewsqaError", "NotADatasetError"]


class NewsqaError(Exception):
    """Base of the errors a command reports to the user as they are."""


class BackendUnavailableError(NewsqaError, RuntimeError):
    """An answer backend cannot be used: a package or the model file is missing or broken.

    The message always says what is missing and the command that fixes it. (Also a
    ``RuntimeError``, which is what callers caught before this module existed.)
    """


class DatasetError(NewsqaError):
    """An evaluation dataset cannot be read: the message names the file, the line and what is wrong."""


class NotADatasetError(DatasetError):
    """The folder given as a dataset is not one (no ``questions.jsonl``, nothing to index): a usage error."""


class EmptyQuestionError(NewsqaError, ValueError):
    """The question is empty or blank. (Also a ``ValueError``, which is what callers caught before.)"""
