"""make bundle: package, configs and fonts collected, pip mocked (no network in tests)."""

import zipfile
from pathlib import Path

import pytest

from depix import bundle as bundle_mod
from depix.bundle import BundleError, bundle, pinned, train_command
from depix.data.fonts import BUILTIN, discover_fonts


def fake_pip(calls):
    """Stands in for ``pip download``: records the command, writes one tiny wheel."""

    def run(command):
        calls.append(list(command))
        dest = Path(command[command.index("-d") + 1])
        with zipfile.ZipFile(dest / "kornia_rs-0.0-cp311-none-any.whl", "w") as wheel:
            wheel.writestr("kornia_rs/__init__.py", "VERSION = 'bundled'\n")
        return type("Done", (), {"returncode": 0})()

    return run


@pytest.mark.skipif(discover_fonts("all") == (BUILTIN,), reason="no system fonts installed")
def test_bundle_holds_package_configs_fonts_and_unpacked_wheels(tmp_path):
    calls = []
    out = tmp_path / "bundle"
    summary = bundle(out, python_version="3.10", run=fake_pip(calls), max_mb=500)
    assert (out / "depix" / "train.py").exists() and (out / "depix" / "weights").is_dir()
    assert (out / "configs" / "train.yaml").exists()
    experiment = out / "configs" / "experiment"
    assert experiment.is_dir() and not experiment.is_symlink()
    assert (experiment / "gpu_short.yaml").exists() and (
        out / "experiments" / "gpu_long.yaml"
    ).exists()
    fonts = sorted(p.name for p in (out / "fonts").iterdir())
    assert summary["fonts"] == len(fonts) >= len(discover_fonts("train"))
    # pip: binary wheels only, for the target's Python, versions pinned to the tested ones
    (command,) = calls
    assert "download" in command and "--only-binary=:all:" in command
    assert command[command.index("--python-version") + 1] == "3.10"
    assert pinned("hydra-core") in command and not any("antlr4" in c for c in command)
    assert (out / "site" / "kornia_rs" / "__init__.py").exists()  # unpacked for PYTHONPATH
    assert (out / "site" / "antlr4" / "__init__.py").exists()  # sdist-only: installed folder
    assert not list(out.rglob("__pycache__"))
    text = (out / "TRAIN.txt").read_text()
    assert summary["command"] in text
    assert "PYTHONPATH=$PWD:$PWD/site" in summary["command"]
    assert "DEPIX_FONT_DIRS=$PWD/fonts" in summary["command"]
    assert summary["command"].endswith("python -m depix.train experiment=gpu_short")


def test_bundle_refuses_a_used_folder_a_failed_pip_and_an_oversize_result(tmp_path, monkeypatch):
    used = tmp_path / "used"
    used.mkdir()
    (used / "something").write_text("x")
    with pytest.raises(BundleError, match="not empty"):
        bundle(used, wheels=False)
    monkeypatch.setattr(bundle_mod, "collect_fonts", lambda out: [])

    def offline(command):
        return type("Failed", (), {"returncode": 1})()

    with pytest.raises(BundleError, match="pip download failed"):
        bundle(tmp_path / "offline", run=offline)
    with pytest.raises(BundleError, match="over the stated 1 MB"):
        bundle(tmp_path / "big", wheels=False, max_mb=1)
    assert train_command("gpu_long").endswith("experiment=gpu_long")
