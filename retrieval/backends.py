"""Chat-model factory for answers: ``local`` (llama.cpp), ``openai`` (OpenAI-compatible), ``extractive``.

The local model file lives in :mod:`retrieval.local_model`, its chat adapter in :mod:`retrieval.llama_chat`.
Nothing heavy happens at import time: llama.cpp, langchain-openai and the model load lazily.
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Any, get_args

from retrieval.errors import BackendUnavailableError
from retrieval.local_model import INSTALL_LOCAL_HINT, ensure_local_model, local_model_path
from retrieval.settings import Backend, Settings

if TYPE_CHECKING:
    from langchain_core.language_models.chat_models import BaseChatModel

__all__ = ["BACKENDS", "BackendUnavailableError", "backend_label", "get_chat_model"]

BACKENDS: tuple[str, ...] = get_args(Backend)


def _require_openai() -> Any:
    try:
        from langchain_openai import ChatOpenAI
    except ImportError as exc:
        raise BackendUnavailableError(
            f"The openai backend needs langchain-openai, which cannot be imported ({exc}). "
            "Install it with: pip install -e .   (or ./scripts/setup.sh)"
        ) from exc
    return ChatOpenAI


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
            max_retries=1,
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
