"""The llama.cpp chat adapter: :class:`LlamaCppChat`, a LangChain chat model over llama-cpp-python.

One ``Llama`` per instance, loaded once and serialised by a lock; the KV state of a shared prompt
prefix is reused (llama.cpp's own longest-prefix reuse, plus an optional RAM cache of states), and
llama.cpp's perf counters of each call are returned in ``response_metadata["llama_perf"]``.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    MessageLikeRepresentation,
    convert_to_messages,
)
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field, PrivateAttr

from retrieval.errors import BackendUnavailableError
from retrieval.local_model import INSTALL_LOCAL_HINT
from retrieval.machine import quiet_threads

if TYPE_CHECKING:
    from langchain_core.language_models.base import LangSmithParams

__all__ = ["LlamaCppChat"]

_ROLE_BY_TYPE = {
    "system": "system",
    "human": "user",
    "ai": "assistant",
    "tool": "tool",
    "function": "function",
}


def _to_llama_message(message: BaseMessage) -> dict[str, str]:
    if isinstance(message, ChatMessage):
        role = message.role
    elif message.type in _ROLE_BY_TYPE:
        role = _ROLE_BY_TYPE[message.type]
    else:
        raise ValueError(f"LlamaCppChat cannot send a {type(message).__name__} (type {message.type!r})")
    return {"role": role, "content": str(message.text)}


def _import_llama_cpp() -> Any:
    quiet_threads()  # before llama.cpp loads its OpenMP runtime
    try:
        import llama_cpp
    except ImportError as exc:  # not installed, or the native library fails to load
        raise BackendUnavailableError(
            f"The local backend needs llama-cpp-python, which cannot be imported ({exc}). "
            f"Install it with: {INSTALL_LOCAL_HINT}\n(or use NEWSQA_BACKEND=extractive or openai)"
        ) from exc
    return llama_cpp


def _reset_perf(llm: Any) -> None:
    with contextlib.suppress(Exception):  # diagnostics only: never fail a generation over them
        import llama_cpp

        llama_cpp.llama_perf_context_reset(llm._ctx.ctx)


def _read_perf(llm: Any) -> dict[str, Any] | None:
    """llama.cpp's own counters for the last call: prompt tokens actually evaluated (those not reused
    from the KV cache) and generated tokens, with their times in milliseconds."""
    try:
        import llama_cpp

        data = llama_cpp.llama_perf_context(llm._ctx.ctx)
    except Exception:
        return None
    return {
        "prompt_eval_tokens": int(data.n_p_eval),
        "prompt_eval_ms": round(float(data.t_p_eval_ms), 1),
        "eval_tokens": int(data.n_eval),
        "eval_ms": round(float(data.t_eval_ms), 1),
    }


def _make_prompt_cache(llama_cpp: Any, capacity_bytes: int, min_prefix_tokens: int = 64) -> Any:
    """A ``LlamaRAMCache`` that counts what it really holds and only answers worthwhile hits.

    llama-cpp-python's own one counts only the KV bytes of a saved state (≈11 MB for 400 tokens of
    Qwen2.5-1.5B), not the logits copy saved with it (n_tokens x 151,936 floats, up to 311 MB at
    n_batch 512), so its 2 GiB default can grow to tens of GB. And it restores any state sharing a
    longer prefix than the live context, even by 2 tokens, while a restore costs about a second.
    """

    class PromptCache(llama_cpp.LlamaRAMCache):
        @property
        def cache_size(self) -> int:
            return sum(s.llama_state_size + s.scores.nbytes + s.input_ids.nbytes for s in self.cache_state.values())

        def _find_longest_prefix_key(self, key: tuple[int, ...]) -> tuple[int, ...] | None:
            best = super()._find_longest_prefix_key(key)
            if best is None or llama_cpp.Llama.longest_token_prefix(best, key) < min_prefix_tokens:
                return None
            return best

    return PromptCache(capacity_bytes=capacity_bytes)


class LlamaCppChat(BaseChatModel):
    """A LangChain chat model running a GGUF file in-process with llama-cpp-python.

    The ``Llama`` object is created on first use and kept in the instance (hold the instance in
    ``st.cache_resource``); calls are serialised by a lock, since one llama.cpp context cannot serve
    two generations at once. ``n_ctx``/``n_batch`` are explicit (LangChain's ``ChatLlamaCpp``
    defaults to 512/8). The KV state of earlier prompts is reused: llama.cpp keeps the longest
    common prefix with the previous prompt, and ``prompt_cache_bytes`` > 0 adds a RAM cache of
    states so a shared prefix (the system prompt) also survives an unrelated call in between.
    """

    model_path: Path = Field(description="GGUF file.")
    n_ctx: int = Field(default=4096, ge=64, description="Context window in tokens (prompt + answer).")
    n_batch: int = Field(default=512, ge=1, description="Prompt tokens evaluated per batch.")
    n_ubatch: int | None = Field(
        default=None, ge=1, description="Prompt tokens computed together; None: llama.cpp's default."
    )
    n_threads: int | None = Field(default=None, ge=1, description="CPU threads; None: llama.cpp's default.")
    flash_attn: bool = Field(default=False, description="Flash attention.")
    max_tokens: int = Field(default=320, ge=1)
    temperature: float = Field(default=0.1, ge=0)
    top_p: float = Field(default=0.95, gt=0, le=1)
    repeat_penalty: float = Field(default=1.1, gt=0)
    seed: int | None = Field(default=None, description="Sampling seed; None: random.")
    prompt_cache_bytes: int = Field(
        default=0, ge=0, description="Capacity of llama.cpp's RAM prompt cache (LlamaRAMCache); 0: off."
    )
    verbose: bool = False

    _llama: Any = PrivateAttr(default=None)
    _llama_key: tuple[Any, ...] | None = PrivateAttr(default=None)
    _lock: Any = PrivateAttr(default_factory=threading.Lock)
    _load_seconds: float | None = PrivateAttr(default=None)

    # --- LangChain plumbing ----------------------------------------------------------------------
    @property
    def _llm_type(self) -> str:
        return "llama-cpp"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model_path": str(self.model_path),
            "n_ctx": self.n_ctx,
            "n_batch": self.n_batch,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "repeat_penalty": self.repeat_penalty,
        }

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = super()._get_ls_params(stop=stop, **kwargs)
        params["ls_provider"] = "llamacpp"
        params["ls_model_name"] = self.model_path.name
        return params

    # --- the llama.cpp object --------------------------------------------------------------------
    @property
    def load_seconds(self) -> float | None:
        """How long loading the model took (None until loaded)."""
        return self._load_seconds

    def load(self) -> Any:
        """Load the model now (it otherwise loads on the first call) and return the ``Llama``."""
        with self._lock:
            return self._get_llama()

    def _get_llama(self) -> Any:
        """The cached ``Llama`` for the current settings. Call with ``self._lock`` held."""
        key = (
            str(self.model_path), self.n_ctx, self.n_batch, self.n_ubatch, self.n_threads, self.flash_attn,
            self.prompt_cache_bytes,
        )
        if self._llama is not None and self._llama_key == key:
            return self._llama
        llama_cpp = _import_llama_cpp()
        path = self.model_path.expanduser()
        if not path.is_file():
            raise BackendUnavailableError(f"The GGUF model file {path} does not exist.")
        self._llama = None  # free the previous model before loading another
        started = time.perf_counter()
        kwargs: dict[str, Any] = {
            "model_path": str(path),
            "n_ctx": self.n_ctx,
            "n_batch": self.n_batch,
            "verbose": self.verbose,
        }
        if self.n_ubatch is not None:
            kwargs["n_ubatch"] = min(self.n_ubatch, self.n_batch)
        if self.n_threads is not None:
            kwargs["n_threads"] = self.n_threads
            kwargs["n_threads_batch"] = self.n_threads
        if self.flash_attn:
            kwargs["flash_attn"] = True
        if self.seed is not None:
            kwargs["seed"] = self.seed
        try:
            llm = llama_cpp.Llama(**kwargs)
        except (ValueError, RuntimeError) as exc:
            raise BackendUnavailableError(f"llama.cpp could not load {path}: {exc}") from exc
        if self.prompt_cache_bytes:
            llm.set_cache(_make_prompt_cache(llama_cpp, self.prompt_cache_bytes))
        self._load_seconds = time.perf_counter() - started
        self._llama, self._llama_key = llm, key
        return llm

    def _completion_params(self, messages: list[BaseMessage], stop: list[str] | None, **kwargs: Any) -> dict[str, Any]:
        params: dict[str, Any] = {
            "messages": [_to_llama_message(m) for m in messages],
            "temperature": self.temperature,
            "top_p": self.top_p,
            "repeat_penalty": self.repeat_penalty,
            "max_tokens": self.max_tokens,
        }
        if stop:
            params["stop"] = stop
        params.update(kwargs)  # per-call overrides: temperature, max_tokens, response_format, seed, …
        return params

    def _metadata(self, finish_reason: str | None, perf: dict[str, Any] | None) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "model_name": self.model_path.name,
            "model_provider": "llamacpp",
            "finish_reason": finish_reason,
        }
        if perf is not None:
            meta["llama_perf"] = perf
        return meta

    # --- generation ------------------------------------------------------------------------------
    def choose(self, messages: Sequence[MessageLikeRepresentation], options: Sequence[str]) -> int | None:
        """The index of the option the model replies with, constrained to exactly one of ``options`` (a
        GBNF grammar allows nothing else) and chosen greedily: one prompt evaluation and a token or two,
        whatever the sampling settings (None only if llama.cpp did not honour the grammar). The prompt's
        KV state is kept like any call's, so a following call sharing its prefix (the same passages)
        does not read them again."""
        if not options:
            raise ValueError("choose() needs at least one option")
        llama_cpp = _import_llama_cpp()
        rule = " | ".join(json.dumps(o) for o in options)  # a JSON string is a GBNF literal
        grammar = llama_cpp.LlamaGrammar.from_string(f"root ::= {rule}", verbose=self.verbose)
        longest = max(len(o) for o in options)
        params = self._completion_params(convert_to_messages(messages), None, grammar=grammar, temperature=0.0,
                                         max_tokens=longest + 2, repeat_penalty=1.0)
        with self._lock:
            llm = self._get_llama()
            response = llm.create_chat_completion(**params)
        reply = (response["choices"][0]["message"].get("content") or "").strip()
        # The grammar yields nothing else; None only if llama.cpp ignored it.
        return list(options).index(reply) if reply in options else None

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        params = self._completion_params(messages, stop, **kwargs)
        with self._lock:
            llm = self._get_llama()
            _reset_perf(llm)
            response = llm.create_chat_completion(**params)
            perf = _read_perf(llm)
        choice = response["choices"][0]
        text = choice["message"].get("content") or ""
        usage = response.get("usage") or {}
        message = AIMessage(
            content=text,
            response_metadata=self._metadata(choice.get("finish_reason"), perf),
            usage_metadata={
                "input_tokens": usage.get("prompt_tokens", 0),
                "output_tokens": usage.get("completion_tokens", 0),
                "total_tokens": usage.get("total_tokens", 0),
            },
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        params = self._completion_params(messages, stop, **kwargs)
        with self._lock:
            llm = self._get_llama()
            _reset_perf(llm)
            finish_reason: str | None = None
            for part in llm.create_chat_completion(stream=True, **params):
                choice = part["choices"][0]
                finish_reason = choice.get("finish_reason") or finish_reason
                token = (choice.get("delta") or {}).get("content")
                if not token:
                    continue
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=token))
                if run_manager:
                    run_manager.on_llm_new_token(token, chunk=chunk)
                yield chunk
            perf = _read_perf(llm)
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content="", response_metadata=self._metadata(finish_reason, perf), chunk_position="last"
            )
        )
