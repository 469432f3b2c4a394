"""An installed wheel works outside the checkout: configs ship inside the package."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from .conftest import TINY

ROOT = Path(__file__).resolve().parent.parent


def run(command: list[str], cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(WANDB_MODE="offline", OMP_NUM_THREADS="1")
    proc = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


@pytest.mark.slow
def test_wheel_installed_outside_the_checkout_trains_and_evaluates(tmp_path):
    # A clean copy of the sources (no build leftovers in the checkout), built into a wheel.
    source = tmp_path / "source"
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info", "media", "*.md", "runs", "build")
    for name in ("depix", "configs", "experiments"):
        shutil.copytree(ROOT / name, source / name, symlinks=True, ignore=skip)
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(ROOT / name, source / name)
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path / "dist"), str(source)], cwd=tmp_path)  # fmt: skip
    wheel = next((tmp_path / "dist").glob("depix-*.whl"))

    # A new venv holding only the wheel; its dependencies come from this environment's
    # site-packages (a .pth path, so this checkout's editable install is not seen).
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path)
    bin_dir = venv / "bin"
    site = Path(
        run([str(bin_dir / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            cwd=tmp_path).stdout.strip()
    )  # fmt: skip
    (site / "depix_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run([str(bin_dir / "python"), "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)],
        cwd=tmp_path)  # fmt: skip

    work = tmp_path / "elsewhere"
    work.mkdir()
    where = run([str(bin_dir / "python"), "-c",
                 "import depix.utils.config_dir as c; print(c.CONFIG_DIR)"], cwd=work)  # fmt: skip
    assert where.stdout.strip() == str(site / "depix" / "_configs")
    run([str(bin_dir / "depix-train"), "experiment=quickstart", "debug=fdr", *TINY], cwd=work)
    assert (work / "runs" / "debug" / "quickstart" / "result.json").is_file()  # debug presets
    shown = run([str(bin_dir / "depix-eval"), "--cfg", "job"], cwd=work).stdout
    assert "benchmark" in shown
    run([str(bin_dir / "depix-restore"), "--help"], cwd=work)
