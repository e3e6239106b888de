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
