"""Build step that ships the Hydra configs inside the wheel (everything else: pyproject.toml).

A checkout keeps the configs in ``configs/`` (with ``configs/experiment`` linking to
``experiments/``), outside the package; an installed wheel has no checkout, so ``build_py``
copies them to ``depix/_configs`` (recipes resolved from the link, YAML only), where
``depix.utils.config_dir`` finds them. Editable installs read the checkout's own folder.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


class BuildWithConfigs(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "depix" / "_configs"
        shutil.rmtree(target, ignore_errors=True)

        def not_yaml(folder: str, names: list[str]) -> set[str]:
            return {n for n in names if not (Path(folder, n).is_dir() or n.endswith(".yaml"))}

        shutil.copytree(HERE / "configs", target, ignore=not_yaml)  # follows the link


setup(cmdclass={"build_py": BuildWithConfigs})
