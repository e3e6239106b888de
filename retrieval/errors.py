"""The errors newsqa's commands catch and show as a one-line message (not a traceback).

Each says what is wrong and the command that fixes it. Anything else that escapes is a bug.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from retrieval.settings import Settings

__all__ = ["BackendUnavailableError", "DatasetError", "EmptyQuestionError", "NewsqaError", "NotADatasetError",
           "explain"]


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


def explain(exc: BaseException, settings: Settings, chroma_url: str | None = None) -> str:
    """One line for a failure while reading the index or asking the answer model: what failed, where
    (the folder, the server's address) and the setting or step that fixes it — what `ask`, `stats` and
    the page say instead of a traceback. ``chroma_url``: the Chroma server in use, if any."""
    text = str(exc) or type(exc).__name__
    module = type(exc).__module__ or ""
    name = type(exc).__name__
    lowered = text.lower()
    # LangChain wraps the openai client's errors in subclasses of its own (OpenAIConnectionError …).
    kinds = {c.__name__ for c in type(exc).__mro__}
    from_openai = any((c.__module__ or "").startswith("openai") for c in type(exc).__mro__)
    if isinstance(exc, NewsqaError):
        return text
    if "disk is full" in lowered or "no space left" in lowered:
        return f"the disk holding the index ({settings.data_dir}) is full ({text}): free some space and run again."
    if isinstance(exc, (sqlite3.OperationalError, PermissionError)) and any(
        word in lowered for word in ("unable to open", "readonly", "read-only", "permission denied")
    ):
        return (f"the index in {settings.data_dir} cannot be opened for writing ({text}): check that the folder "
                "exists and that you may write to it, or set NEWSQA_DATA_DIR to another folder.")
    if "OPENAI_API_KEY" in text:
        return "no API key for the answer model: set NEWSQA_OPENAI_API_KEY (any text, for a server that needs none)."
    if from_openai:
        url = settings.openai_base_url
        if kinds & {"APIConnectionError", "APITimeoutError"}:
            return (f"cannot reach the answer model at {url} ({text}): check NEWSQA_OPENAI_BASE_URL and that "
                    "the server is running.")
        if "AuthenticationError" in kinds:
            return f"the answer model at {url} refused the API key ({text}): check NEWSQA_OPENAI_API_KEY."
        if "NotFoundError" in kinds:
            return (f"the answer model at {url} answered 404 ({text}): the address usually ends with /v1, and "
                    f"NEWSQA_OPENAI_MODEL ({settings.openai_model!r}) must name a model it serves.")
        if "RateLimitError" in kinds:
            return f"the answer model at {url} is rate-limiting ({text}): wait a little and ask again."
        return f"the answer model at {url} failed ({name}: {text})."
    if "no generation chunks" in lowered:
        return f"the answer model at {settings.openai_base_url} sent no answer at all: check that it serves chat."
    if chroma_url and (module.startswith(("chromadb", "httpx", "httpcore")) or "could not connect" in lowered
                       or isinstance(exc, ConnectionError)
                       or (isinstance(exc, TypeError) and _raised_in(exc, ("chromadb", "httpx", "httpcore")))):
        return (f"the Chroma server at {chroma_url} does not answer as one ({name}: {text}): start it "
                "(`chroma run --path DIR`), or fix or unset NEWSQA_CHROMA_URL.")
    return f"{name}: {text}"


def _raised_in(exc: BaseException, packages: tuple[str, ...]) -> bool:
    """Whether ``exc`` passed through code of ``packages`` (a Chroma client reading a reply that is not
    Chroma's raises a TypeError there; one raised in newsqa's own code is a bug, not the server's fault)."""
    tb = exc.__traceback__
    while tb is not None:
        if str(tb.tb_frame.f_globals.get("__name__", "")).startswith(packages):
            return True
        tb = tb.tb_next
    return False
