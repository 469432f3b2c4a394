"""``make bundle``: one folder that trains depix on an offline GPU host with a stock PyTorch image.

    python -m depix.bundle OUT [--python-version 3.10] [--platform manylinux2014_x86_64]
        [--extra pytorch-lightning] [--no-wheels] [--max-mb 80]

Training clusters are often offline, and a short GPU lease is wasted on ``pip install``. The
folder holds what a machine with torch (and its usual companions: numpy, Pillow, Lightning,
torchmetrics, rich) lacks:

- ``wheels/``: wheels of the missing dependencies (``DEFAULT_PACKAGES``, the versions installed
  here), fetched with ``pip download`` for the target's Python and platform, and unpacked into
  ``site/`` so that ``PYTHONPATH`` alone makes them importable (no pip on the target);
  ``antlr4-python3-runtime`` is published only as an sdist, so its installed (pure-Python)
  package folder is copied into ``site/`` instead;
- ``fonts/``: the font files of the synthetic generator's splits (``DEPIX_FONT_DIRS``), so the
  training data looks as it does here, with the same train / val / test families;
- ``depix/``, ``configs/``, ``experiments/``: the package (with the shipped weights) and every
  recipe.

It prints (and writes to ``OUT/TRAIN.txt``) the one command that trains from it on the target.
Only the wheel step uses the network (PyPI); ``--no-wheels`` skips it.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable, Sequence
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path

from depix.data.fonts import BUILTIN, SPLITS, discover_fonts

REPO = Path(__file__).resolve().parent.parent
# Dependencies a stock PyTorch + CUDA image lacks (seen on the H200 host of issue 14).
DEFAULT_PACKAGES = ("hydra-core", "omegaconf", "kornia", "kornia_rs", "antlr4-python3-runtime")
# Published without wheels: ship the installed package folder (pure Python) instead.
SDIST_ONLY = {"antlr4-python3-runtime": "antlr4"}
DEFAULT_MAX_MB = 80
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")

Runner = Callable[[Sequence[str]], object]


class BundleError(RuntimeError):
    """A bundle step failed; the message says which and why."""


def pinned(package: str) -> str:
    """``package==<version installed here>`` (the version the tests ran with), or the bare name."""
    try:
        return f"{package}=={metadata.version(package)}"
    except metadata.PackageNotFoundError:
        return package


def collect_fonts(out: Path, splits: Sequence[str] = SPLITS) -> list[Path]:
    """Copy the font files of ``splits`` into ``out/fonts``; returns the copies.

    Files keep their names, prefixed by their folder when two share a name. Pillow's built-in
    font needs no file. Raises ``BundleError`` when no font file is found at all.
    """
    target = out / "fonts"
    target.mkdir(parents=True, exist_ok=True)
    copies: list[Path] = []
    for path in sorted({p for split in splits for p in discover_fonts(split) if p != BUILTIN}):
        source = Path(path)
        dest = target / source.name
        if dest.exists():
            dest = target / f"{source.parent.name}-{source.name}"
        shutil.copy2(source, dest)
        copies.append(dest)
    if not copies:
        raise BundleError(
            "no font files found (make install adds them): the bundle would train "
            "on Pillow's built-in font only"
        )
    return copies


def collect_package(out: Path, repo: Path = REPO) -> None:
    """Copy ``depix/`` (code and shipped weights), ``configs/`` and ``experiments/`` to ``out``.

    ``configs/experiment`` is a link to ``experiments/`` in the repository; the bundle gets a
    real copy (links may not survive the transfer).
    """
    shutil.copytree(repo / "depix", out / "depix", ignore=_IGNORE, dirs_exist_ok=True)
    shutil.copytree(
        repo / "configs", out / "configs", ignore=_IGNORE, symlinks=False, dirs_exist_ok=True
    )
    if (repo / "experiments").is_dir():
        shutil.copytree(
            repo / "experiments", out / "experiments", ignore=_IGNORE, dirs_exist_ok=True
        )
    for name in ("pyproject.toml", "README.md"):
        if (repo / name).exists():
            shutil.copy2(repo / name, out / name)


def download_wheels(
    out: Path,
    packages: Sequence[str],
    python_version: str,
    platform: str,
    run: Runner = subprocess.run,
) -> None:
    """``pip download`` binary wheels of ``packages`` (pinned to the local versions) for the
    target into ``out/wheels``; sdist-only packages are copied as installed folders into
    ``out/site``. Raises ``BundleError`` when pip fails (e.g. offline)."""
    wheels = out / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    binary = [p for p in packages if p not in SDIST_ONLY]
    if binary:
        command = [
            sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
            "--no-deps", "--only-binary=:all:", "--implementation", "cp",
            "--python-version", python_version, "--platform", platform,
            "-d", str(wheels), *(pinned(p) for p in binary),
        ]  # fmt: skip
        result = run(command)
        if getattr(result, "returncode", 0) != 0:
            raise BundleError(f"pip download failed for {' '.join(binary)} (is PyPI reachable?)")
    for package in packages:
        if package in SDIST_ONLY:
            copy_installed(SDIST_ONLY[package], out / "site")


def copy_installed(module: str, site: Path) -> Path:
    """Copy the installed package folder of ``module`` into ``site``; returns the copy."""
    spec = find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise BundleError(f"{module} is not installed here: install it (make install) first")
    source = Path(next(iter(spec.submodule_search_locations)))
    dest = site / module
    shutil.copytree(source, dest, ignore=_IGNORE, dirs_exist_ok=True)
    return dest


def unpack_wheels(out: Path) -> list[str]:
    """Unpack every wheel of ``out/wheels`` into ``out/site`` (what pip install would place
    in site-packages); returns the wheel names."""
    site = out / "site"
    site.mkdir(parents=True, exist_ok=True)
    names = []
    for wheel in sorted((out / "wheels").glob("*.whl")):
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(site)
        names.append(wheel.name)
    return names


def size_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20


def train_command(experiment: str = "gpu_short") -> str:
    """The one command that trains from the bundle's folder (the working directory) on the
    target host."""
    return (
        "PYTHONPATH=$PWD:$PWD/site DEPIX_FONT_DIRS=$PWD/fonts "
        f"python -m depix.train experiment={experiment}"
    )


def bundle(
    out: Path,
    packages: Sequence[str] = DEFAULT_PACKAGES,
    python_version: str = f"{sys.version_info.major}.{sys.version_info.minor}",
    platform: str = "manylinux2014_x86_64",
    wheels: bool = True,
    max_mb: float = DEFAULT_MAX_MB,
    run: Runner = subprocess.run,
) -> dict:
    """Build the bundle in ``out`` (created; must be empty or absent). Returns a summary:
    ``fonts`` (count), ``wheels`` (names), ``size_mb``, ``command``.

    Raises ``BundleError`` when ``out`` is not empty, a step fails, or the folder exceeds
    ``max_mb`` (the size stated in the README).
    """
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise BundleError(f"{out} is not empty: choose a new folder for the bundle")
    out.mkdir(parents=True, exist_ok=True)
    collect_package(out)
    fonts = collect_fonts(out)
    names: list[str] = []
    if wheels:
        download_wheels(out, packages, python_version, platform, run=run)
        names = unpack_wheels(out)
    command = train_command()
    (out / "TRAIN.txt").write_text(
        "# On the offline GPU host (torch, numpy, Pillow, Lightning, torchmetrics, rich "
        f"installed), from this folder:\n{command}\n"
    )
    total = size_mb(out)
    if total > max_mb:
        raise BundleError(f"the bundle is {total:.1f} MB, over the stated {max_mb:.0f} MB")
    return {"fonts": len(fonts), "wheels": names, "size_mb": total, "command": command}


def main(argv: Sequence[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="new folder for the bundle")
    parser.add_argument(
        "--python-version",
        default=f"{sys.version_info.major}.{sys.version_info.minor}",
        help="the target's Python (default: this one), e.g. 3.10",
    )
    parser.add_argument("--platform", default="manylinux2014_x86_64", help="wheel platform tag")
    parser.add_argument(
        "--extra", action="append", default=[],
        help="another package the target lacks (repeatable), e.g. pytorch-lightning",
    )  # fmt: skip
    parser.add_argument("--no-wheels", action="store_true", help="skip pip (offline here)")
    parser.add_argument("--max-mb", type=float, default=DEFAULT_MAX_MB)
    args = parser.parse_args(argv)
    try:
        summary = bundle(
            args.out,
            packages=(*DEFAULT_PACKAGES, *args.extra),
            python_version=args.python_version,
            platform=args.platform,
            wheels=not args.no_wheels,
            max_mb=args.max_mb,
        )
    except BundleError as error:
        raise SystemExit(f"depix.bundle: {error}") from None
    print(
        f"bundle {args.out}: {summary['size_mb']:.1f} MB, {summary['fonts']} fonts, "
        f"{len(summary['wheels'])} wheels; on the GPU host, from that folder:\n"
        f"  {summary['command']}"
    )
    return summary


if __name__ == "__main__":
    main()
