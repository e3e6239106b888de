"""Set-up scripts: the environment check and the scripts the README and CI rely on."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_setup_check_passes() -> None:
    """`scripts/setup.sh --check` verifies the stamp and key imports without installing anything."""
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "setup.sh"), "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, f"setup.sh --check failed:\n{proc.stdout}\n{proc.stderr}"


@pytest.mark.parametrize("script", [".ci/run", "scripts/setup.sh", "scripts/run.sh", "scripts/test.sh"])
def test_scripts_exist_and_are_executable(script: str) -> None:
    path = ROOT / script
    assert path.is_file(), f"{script} is missing"
    assert os.access(path, os.X_OK), f"{script} is not executable"
    assert path.read_text(encoding="utf-8").startswith("#!"), f"{script} has no shebang"


def test_readme_scripts_exist() -> None:
    """Every scripts/*.sh that README.md mentions exists and is executable."""
    readme = ROOT / "README.md"
    if not readme.is_file():
        pytest.skip("README.md not written yet")
    mentioned = set(re.findall(r"scripts/[\w.-]+\.sh", readme.read_text(encoding="utf-8")))
    for script in sorted(mentioned):
        path = ROOT / script
        assert path.is_file() and os.access(path, os.X_OK), f"README mentions {script}, not executable/missing"


def test_setup_check_rejects_unknown_argument() -> None:
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "setup.sh"), "--bogus"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 2


def test_ci_runs_the_readme_test_command() -> None:
    assert "./scripts/test.sh" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_llama_cpp_is_built_for_the_instruction_sets_this_cpu_reports() -> None:
    """setup.sh's llama.cpp flags follow /proc/cpuinfo (AVX-512 and its VNNI/BF16/VBMI extensions,
    AVX-VNNI; never AMX), and the installed llama.cpp was really built with them: a build without
    VNNI reads prompts ~15 % slower on CPUs that have it (docs/results.md, session 6)."""
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.is_file():
        pytest.skip("no /proc/cpuinfo")
    line = next(line for line in cpuinfo.read_text().splitlines() if line.startswith("flags"))
    flags = set(line.split(":", 1)[1].split())
    script = ROOT / "scripts" / "setup.sh"
    functions = re.search(r"^cpu_has_all\(\) \{.*?^LLAMA_CMAKE_ARGS=", script.read_text(), re.S | re.M)
    assert functions is not None, "setup.sh no longer defines cpu_has_all/llama_cmake_args"
    env = {k: v for k, v in os.environ.items() if k not in ("NEWSQA_LLAMA_CMAKE_ARGS", "NEWSQA_NO_AVX512")}
    proc = subprocess.run(["bash", "-c", functions.group(0) + '"$(llama_cmake_args)"; printf %s "$LLAMA_CMAKE_ARGS"'],
                          capture_output=True, text=True, timeout=30, env=env)
    assert proc.returncode == 0, proc.stderr
    args = set(proc.stdout.split())
    avx512 = {"avx512f", "avx512cd", "avx512vl", "avx512dq", "avx512bw"} <= flags
    expected = {
        "-DGGML_AVX512=ON": avx512,
        "-DGGML_AVX512_VNNI=ON": avx512 and "avx512_vnni" in flags,
        "-DGGML_AVX512_BF16=ON": avx512 and "avx512_bf16" in flags,
        "-DGGML_AVX512_VBMI=ON": avx512 and "avx512vbmi" in flags,
        "-DGGML_AVX_VNNI=ON": "avx_vnni" in flags,
    }
    for flag, wanted in expected.items():
        assert (flag in args) == wanted, f"{flag} should be {'on' if wanted else 'off'} here: {sorted(args)}"
    assert not any("AMX" in a for a in args)
    # The installed build matches (what setup.sh recorded is what llama.cpp reports at run time).
    recorded = ROOT / ".venv" / ".newsqa-llama-cmake-args"
    if recorded.is_file() and recorded.read_text() == " ".join(proc.stdout.split()):
        import llama_cpp

        info = llama_cpp.llama_print_system_info().decode()
        assert ("AVX512_VNNI = 1" in info) == expected["-DGGML_AVX512_VNNI=ON"], info
        assert ("AVX_VNNI = 1" in info) == expected["-DGGML_AVX_VNNI=ON"], info


def test_run_sh_counts_an_index_that_does_not_exist_yet_as_empty(tmp_path: Path) -> None:
    """run.sh ingests corpus/ when the index is empty. Once `stats` said "No index at …" with exit 1 (and
    created nothing), its count under `set -o pipefail` came out as "0\\n0": the page opened on an empty index
    and skipped the ingest. The count runs here exactly as run.sh writes it."""
    import sys

    script = (ROOT / "scripts" / "run.sh").read_text(encoding="utf-8")
    count = re.search(r'^articles="\$\(.*?\)"\n', script, re.S | re.M)
    assert count, "run.sh's article count moved: update this test"
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSQA_")}
    env |= {"NEWSQA_DATA_DIR": str(tmp_path / "never-ingested"), "VPY": sys.executable}
    proc = subprocess.run(
        ["bash", "-c", f'set -euo pipefail\n{count.group(0)}printf "%s" "$articles"'],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "0", repr(proc.stdout)
    assert not (tmp_path / "never-ingested").exists()
