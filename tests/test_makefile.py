"""``make install`` reinstalls torch when TORCH_SPEC / TORCH_INDEX change (dry runs: make -n)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def dry_install(venv: Path, *variables: str) -> str:
    """What ``make install`` would run for this venv (nothing is executed)."""
    proc = subprocess.run(
        ["make", "-n", "install", f"VENV={venv}", *variables],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def installed(venv: Path, stamp: str) -> None:
    """A venv as `make install` leaves it: the torch stamp, then .installed (newer)."""
    (venv / "bin").mkdir(parents=True, exist_ok=True)
    for old in venv.glob(".torch-*"):
        old.unlink()
    (venv / stamp).touch()
    later = time.time() + 5
    (venv / ".installed").touch()
    os.utime(venv / ".installed", (later, later))


def torch_stamp(commands: str) -> str:
    found = re.findall(r"touch \S*/(\.torch-[0-9a-f]+)", commands)
    assert len(found) == 1, commands
    return found[0]


def test_changing_the_torch_index_reinstalls_torch(tmp_path):
    venv = tmp_path / "venv"
    fresh = dry_install(venv)
    assert '"torch==2.13.0"' in fresh and "--index-url" not in fresh
    installed(venv, torch_stamp(fresh))

    again = dry_install(venv)  # nothing changed: nothing to do
    assert "pip install" not in again and "pip uninstall" not in again

    cuda = dry_install(venv, "TORCH_INDEX=https://download.pytorch.org/whl/cu128")
    assert "pip uninstall --quiet -y torch" in cuda
    assert '"torch==2.13.0" --index-url https://download.pytorch.org/whl/cu128' in cuda
    assert torch_stamp(cuda) != torch_stamp(fresh)
    assert '-e ".[dev,eval]"' in cuda  # depix is reinstalled on top of the new torch

    installed(venv, torch_stamp(cuda))
    assert "pip install" not in dry_install(
        venv, "TORCH_INDEX=https://download.pytorch.org/whl/cu128"
    )
    back = dry_install(venv, "TORCH_SPEC=torch==2.12.0")  # another version, default index
    assert '"torch==2.12.0"' in back and "pip uninstall" in back
