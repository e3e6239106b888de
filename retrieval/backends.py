"""Chat-model factory for answers: ``local`` (llama.cpp), ``openai`` (OpenAI-compatible), ``extractive``.

The local model file lives in :mod:`retrieval.local_model`, its chat adapter in :mod:`retrieval.llama_chat`.
Nothing heavy happens at import time: llama.cpp, langchain-openai and the model load lazily.
"""

from __future__ import annotations

import importlib.util
import queue
import re
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, get_args

from retrieval.errors import BackendUnavailableError, NewsqaError
from retrieval.local_model import INSTALL_LOCAL_HINT, ensure_local_model, local_model_path
from retrieval.settings import Backend, Settings

if TYPE_CHECKING:
    from langchain_core.language_models.chat_models import BaseChatModel

__all__ = ["BACKENDS", "BackendUnavailableError", "ReplyTimeoutError", "backend_label", "get_chat_model",
           "without_thinking"]

BACKENDS: tuple[str, ...] = get_args(Backend)

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
# A reasoning model's leading block (deepseek-r1, qwen3 on Ollama or a llama.cpp server without a reasoning
# parser), closed or not (it ran out of tokens while thinking): not the answer.
_THINKING = re.compile(r"^\s*<think>.*?(?:</think>\s*|$)", re.DOTALL)


class ReplyTimeoutError(NewsqaError, TimeoutError):
    """The remote answer model sent nothing within NEWSQA_REQUEST_TIMEOUT seconds."""


def without_thinking(text: str) -> str:
    """``text`` without a leading ``<think>…</think>`` block (an unterminated one: everything)."""
    return _THINKING.sub("", text, count=1)


def _within(source: Iterator[Any], seconds: float, url: str) -> Iterator[Any]:
    """``source``'s items until ``seconds`` have passed in all; then it stops (what came is the reply, cut
    off) — or, when nothing came, raises :class:`ReplyTimeoutError`. ``source`` is read on a helper thread,
    so a server that trickles or falls silent cannot hold the caller past the deadline."""
    end = time.monotonic() + seconds
    items: queue.Queue[tuple[bool, Any]] = queue.Queue()
    stop = threading.Event()

    def pump() -> None:
        try:
            for item in source:
                if stop.is_set():
                    break
                items.put((True, item))
            items.put((False, None))
        except BaseException as exc:  # re-raised on the caller's side
            items.put((False, exc))
        finally:
            source.close()  # type: ignore[attr-defined]

    threading.Thread(target=pump, daemon=True, name="newsqa-reply").start()
    came = False
    try:
        while True:
            try:
                more, item = items.get(timeout=max(end - time.monotonic(), 0.0))
            except queue.Empty:
                if came:
                    return
                raise ReplyTimeoutError(
                    f"the answer model at {url} sent no answer within {seconds:g} s (NEWSQA_REQUEST_TIMEOUT): "
                    "check that it is running and not overloaded, or raise NEWSQA_REQUEST_TIMEOUT."
                ) from None
            if not more:
                if item is not None:
                    raise item
                return
            came = True
            yield item
    finally:
        stop.set()


def _thinking_dropped(chunks: Iterator[Any]) -> Iterator[Any]:
    """Stream chunks (``ChatGenerationChunk``) with a leading ``<think>…</think>`` block taken out of their
    text; every chunk still comes (emptied while held), so its finish reason does too."""
    held, through = "", False
    for chunk in chunks:
        if through:
            yield chunk
            continue
        held += str(chunk.message.content)
        start = held.lstrip()
        if start.startswith(THINK_OPEN):
            end = start.find(THINK_CLOSE)
            text = start[end + len(THINK_CLOSE):].lstrip() if end >= 0 else ""
            through = end >= 0
        elif THINK_OPEN.startswith(start):  # "", "<th…": it may still be one
            text = ""
        else:
            text, through = held, True
        if through:
            held = ""
        yield type(chunk)(message=chunk.message.model_copy(update={"content": text}),
                          generation_info=chunk.generation_info)


def _require_openai() -> Any:
    try:
        from langchain_openai import ChatOpenAI
    except ImportError as exc:
        raise BackendUnavailableError(
            f"The openai backend needs langchain-openai, which cannot be imported ({exc}). "
            "Install it with: pip install -e .   (or ./scripts/setup.sh)"
        ) from exc

    class BoundedChatOpenAI(ChatOpenAI):
        """``ChatOpenAI`` whose reply, streamed or not, ends within ``reply_timeout`` seconds in all (the
        client's timeout bounds each read only: a trickling server kept `ask` for 20 minutes), without a
        reasoning model's ``<think>`` block."""

        reply_timeout: float = 120.0

        def _stream(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
            source = super()._stream(*args, **kwargs)
            yield from _thinking_dropped(_within(source, self.reply_timeout, str(self.openai_api_base)))

        def _generate(self, *args: Any, **kwargs: Any) -> Any:
            result = super()._generate(*args, **kwargs)
            for generation in result.generations:
                if isinstance(generation.message.content, str):
                    generation.message.content = without_thinking(generation.message.content)
                    generation.text = generation.message.content
            return result

    return BoundedChatOpenAI


def get_chat_model(settings: Settings, backend: str | None = None) -> BaseChatModel | None:
    """The chat model for ``backend`` (default ``settings.backend``), or None for ``extractive``.

    - ``local``: :class:`~retrieval.llama_chat.LlamaCppChat` over :func:`ensure_local_model` (may
      assemble the model file on the first call; the model itself loads on the first question, or
      call ``.load()``).
    - ``openai``: ``ChatOpenAI`` against ``settings.openai_base_url`` (vLLM, llama.cpp server, Ollama,
      a hosted API); ``.stream()`` streams tokens.
    - ``extractive``: None; the caller answers from the passages without an LLM.

    Raises ValueError for an unknown backend and :class:`BackendUnavailableError` (with the install
    command) when the backend's package or model is missing.
    """
    name = settings.backend if backend is None else backend
    if name == "extractive":
        return None
    if name == "local":
        if importlib.util.find_spec("llama_cpp") is None:
            raise BackendUnavailableError(
                "The local backend needs llama-cpp-python, which is not installed. Install it with: "
                f"{INSTALL_LOCAL_HINT}\n(or use NEWSQA_BACKEND=extractive or openai)"
            )
        from retrieval.llama_chat import LlamaCppChat

        return LlamaCppChat(
            model_path=ensure_local_model(settings),
            n_ctx=settings.n_ctx,
            n_batch=settings.n_batch,
            n_ubatch=settings.n_ubatch,
            n_threads=settings.n_threads,
            flash_attn=settings.flash_attn,
            max_tokens=settings.max_tokens,
            temperature=settings.temperature,
        )
    if name == "openai":
        chat_openai = _require_openai()
        model: BaseChatModel = chat_openai(
            base_url=settings.openai_base_url,
            api_key=settings.openai_api_key,
            model=settings.openai_model,
            timeout=settings.request_timeout,
            reply_timeout=settings.request_timeout,
            max_retries=0,  # a retry would double the wait NEWSQA_REQUEST_TIMEOUT promises
            temperature=settings.temperature,
            max_tokens=settings.max_tokens,
        )
        return model
    allowed = ", ".join(repr(b) for b in BACKENDS)
    raise ValueError(f"Unknown answer backend {name!r}: expected one of {allowed} (NEWSQA_BACKEND).")


def backend_label(settings: Settings, backend: str | None = None) -> str:
    """A short human label of the answer backend for the UI; does no work (no model load)."""
    name = settings.backend if backend is None else backend
    if name == "local":
        return f"local · {local_model_path(settings).name}"
    if name == "openai":
        return f"openai · {settings.openai_model} @ {settings.openai_base_url}"
    if name == "extractive":
        return "extractive (no LLM)"
    return f"unknown backend {name!r}"
