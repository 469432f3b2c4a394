"""The README's contract: it opens with exactly the two set-up commands, its links to files
in the repository resolve, and every command it tells a user to run works as written.

``test_readme_commands_run_as_written`` (slow, in CI) takes every command of every ``bash``
block after the set-up block, and runs it with bash, in README order, from a fresh
temporary copy of the checkout (``git ls-files``; ``.venv`` links to the venv running the
tests), with ``HOME`` pointing into that folder. A command fails the test when it exits
non-zero, prints a traceback or runs past its time limit. The only changes to a command:

- ``SHRINK``: arguments appended to make it small (steps, lines, batches, widths): a command
  with no entry still runs, unchanged, and fails with a hint to add one if it is too slow;
- ``PLACEHOLDERS``: example paths no user has (``/path/to/some.ckpt``) replaced by a real one;
- ``FIXTURES``: files the README assumes a user has (``screenshot.png``, ``~/screenshots``)
  are made in the copy before the first command that names them;
- ``make`` targets run as their recipe lines (``make -n``, without the ``install``
  prerequisite: the venv is the one under test), each with the command's ``SHRINK``.

Commands that cannot run in CI (GPU, a W&B account, SLURM, several nodes, installing extras)
are in ``NOT_RUN`` with the reason; ``KNOWN_FAILING`` lists commands that fail today, keyed
to the issue item that fixes them (an entry whose command passes fails the test: remove it).
Every entry of every table must match a README command (``test_readme_tables_match``).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()

# ----------------------------------------------------------------------------------------
# The tables (keys are commands exactly as in the README, without their trailing comment)
# ----------------------------------------------------------------------------------------

# Size-shrinking arguments. Training: 2 optimiser steps of batch 2 on 4 tiny lines, a
# narrow U-Net, 2 validation lines, no loader workers (a process start costs more than the
# data). Evaluation: one condition, one line. Benchmarks: their own --quick sizes.
TRAIN = (
    "trainer.max_steps=2 data.train.length=4 data.val.length=2 data.batch_size=2 "
    "data.num_workers=0 model.widths=[8,16] loss.terms.perceptual.width=0.0625"
)
TEXT = (
    "benchmark.text.lines=1 benchmark.text.blocks=[4] benchmark.text.font_sizes=[16] "
    "benchmark.text.averaging=[srgb] benchmark.text.jpeg=[false] benchmark.text.offsets=[grid]"
)
IMAGES = "benchmark.images.samples=[camera] benchmark.images.blocks=[4] benchmark.images.crop=64"
EVAL = f"{TEXT} ocr_workers=1 samples_per_side=1"
QUICKSTART = ".venv/bin/depix-train experiment=quickstart"
SHRINK: dict[str, str] = {
    f"{QUICKSTART} run_name=quickstart_long trainer.max_steps=3000 trainer.max_time=null": TRAIN,
    f"{QUICKSTART} resume=true trainer.max_steps=1000": TRAIN.replace("max_steps=2", "max_steps=3"),
    ".venv/bin/depix-train data=folder data.root=$HOME/screenshots": TRAIN
    + " data.train.size=[32,64]",
    ".venv/bin/depix-train debug=fdr": TRAIN,
    f"{QUICKSTART} resume=true": TRAIN.replace("max_steps=2", "max_steps=4"),
    f"{QUICKSTART} ckpt_path=last": TRAIN.replace("max_steps=2", "max_steps=6"),
    f"{QUICKSTART} ckpt_path=/path/to/some.ckpt": TRAIN.replace("max_steps=2", "max_steps=8"),
    f"{QUICKSTART} logger=wandb run_name=qs_wandb": TRAIN,
    f"{QUICKSTART} logger=many run_name=qs_many": TRAIN,
    ".venv/bin/depix-train -m experiment=quickstart run_name=lr_grid optimizer.lr=5e-4,1e-3,2e-3": TRAIN,
    "make eval RUN=runs/quickstart": EVAL,
    ".venv/bin/depix-eval ckpt_path=runs/quickstart benchmark=quick": EVAL,
    ".venv/bin/depix-eval ckpt_path=runs/quickstart benchmark=all limit=2": f"{EVAL} {IMAGES}",
    ".venv/bin/depix-eval ckpt_path=runs/quickstart record=true": EVAL,
    "make bench": "--quick",
    ".venv/bin/python -m depix.bench --quick": "",  # already its smallest
    ".venv/bin/python -m depix.restore.bench": "--repeats 1",
    ".venv/bin/python -m depix.restore.bench --detection": "--seeds 1",
    ".venv/bin/python -m depix.bench model=unet_large --batch 32": "--quick",
}

# Example paths that stand for the user's own file.
PLACEHOLDERS: dict[str, str] = {
    "/path/to/some.ckpt": "runs/quickstart/checkpoints/last.ckpt",
}

NOT_RUN: dict[str, str] = {
    "make test-fast": "runs the test suite, of which this test is a part",
    **dict.fromkeys(
        [
            ".venv/bin/depix-restore shot.png --read --charset digits --pattern '[0-9 ]{14}'",
            ".venv/bin/depix-restore shot.png --read --json",
        ],
        "decodes the demo's three fields with the font unknown again (tens of CPU seconds "
        "each); the README's first command runs that, tests/test_decode.py the options",
    ),
    ".venv/bin/depix-train loss=vgg_imagenet loss.terms.perceptual.weights=/path/vgg16-397923af.pth": "needs torchvision's ImageNet VGG-16 file (528 MB), never downloaded in tests",
    "make install TORCH_INDEX=https://download.pytorch.org/whl/cu128": "installs the CUDA build of torch",
    ".venv/bin/depix-train trainer=gpu": "needs an NVIDIA GPU",
    ".venv/bin/python -m depix.bench --device cuda --workers 14": "needs an NVIDIA GPU",
    ".venv/bin/python -m depix.bundle /tmp/depix-bundle --python-version 3.10": "downloads wheels from PyPI (network)",
    "PYTHONPATH=$PWD:$PWD/site DEPIX_FONT_DIRS=$PWD/fonts python -m depix.train experiment=gpu_short": "runs inside a bundle on a GPU host",
    "wandb login": "needs a W&B account",
    '.venv/bin/pip install -e ".[optuna]"': "installs an extra",
    "wandb sweep experiments/sweeps/wandb_lr.yaml": "needs a W&B account",
    "wandb agent <entity>/<project>/<sweep id>": "needs a W&B account",
    ".venv/bin/depix-sweep-summary runs/wandb_lr": "reads the runs of a W&B sweep (account)",
    f"{QUICKSTART} trainer=ddp": "needs GPUs",
    f"{QUICKSTART} trainer=ddp trainer.devices=4": "needs 4 GPUs",
    ".venv/bin/torchrun --nproc_per_node=4 -m depix.train experiment=quickstart trainer=ddp trainer.devices=4": "needs 4 GPUs",
    ".venv/bin/torchrun --nnodes=2 --node_rank=$NODE_RANK --master_addr=$MASTER --master_port=29500 --nproc_per_node=4 -m depix.train experiment=quickstart trainer=ddp trainer.devices=4 trainer.num_nodes=2": "needs two GPU nodes",
    '.venv/bin/pip install -e ".[slurm]"': "installs an extra",
    ".venv/bin/depix-train -m hydra/launcher=slurm hydra.launcher.partition=gpu experiment=quickstart trainer=ddp trainer.devices=4 trainer.num_nodes=2": "submits to a SLURM cluster",
    ".venv/bin/depix-train -m hydra/launcher=slurm hydra.launcher.partition=gpu experiment=quickstart trainer=ddp trainer.devices=4 optimizer.lr=5e-4,1e-3": "submits to a SLURM cluster",
}

# Commands that run only where an optional extra is installed: (module, reason).
OPTUNA = ".venv/bin/depix-train -m hparams_search=optuna experiment=quickstart run_name=optuna"
NEEDS_EXTRA: dict[str, tuple[str, str]] = {
    OPTUNA: ("hydra_plugins.hydra_optuna_sweeper", "needs the optuna extra"),
    ".venv/bin/depix-sweep-summary runs/optuna/multirun": (
        "hydra_plugins.hydra_optuna_sweeper",
        "reads the Optuna sweep above (optuna extra)",
    ),
}
SHRINK[OPTUNA] = f"{TRAIN} hydra.sweeper.n_trials=2"

# Commands that fail on this branch today, and the issue item (and helper) fixing them.
# The lead removes an entry once the fix is merged; an entry whose command passes fails.
KNOWN_FAILING: dict[str, str] = {}


def _copy_of(source: str) -> Callable[[Path, Path], None]:
    def make(work: Path, target: Path) -> None:
        shutil.copytree(work / source, target, symlinks=True)

    return make


def _screenshot(work: Path, target: Path) -> None:
    """The README's demo input, in the format the target's suffix names."""
    from PIL import Image

    Image.open(work / "experiments/media/restore_demo_input.png").convert("RGB").save(
        target, quality=95
    )


def _screenshot_folder(work: Path, target: Path) -> None:
    target.mkdir(parents=True)
    for name in ("restore_demo_input.png", "restore_scaled_input.png", "shipped_samples.png"):
        shutil.copy(work / "experiments/media" / name, target / name)


# Files and folders a README command assumes the user has, made before the first command
# that names them (``~`` is the copy's home folder).
FIXTURES: dict[str, tuple[str, Callable[[Path, Path], None]]] = {
    "screenshot.png": ("the README's demo screenshot", _screenshot),
    "shot.png": ("the README's demo screenshot", _screenshot),
    "screenshot.jpg": ("the demo screenshot as JPEG", _screenshot),
    "~/screenshots": ("three screenshots of experiments/media", _screenshot_folder),
    # Hydra's override grammar has no "~" and bash expands none after "=": the README says $HOME.
    "$HOME/screenshots": ("three screenshots of experiments/media", _screenshot_folder),
    "runs/my_run": ("a copy of runs/quickstart, trained above", _copy_of("runs/quickstart")),
    "runs/plain_mosaic": (
        "a copy of runs/quickstart, evaluated above",
        _copy_of("runs/quickstart"),
    ),
    "runs/mixed": ("a copy of runs/quickstart, evaluated above", _copy_of("runs/quickstart")),
    "runs/shipped_ft": ("a copy of runs/quickstart, evaluated above", _copy_of("runs/quickstart")),
}

TIMEOUT_S = 300  # per command; a shrunk one takes seconds (tens under load)


# ----------------------------------------------------------------------------------------
# Reading the README
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    text: str  # as written, continuation lines joined, without the trailing comment
    line: int  # README line where it starts


def _strip_comment(line: str) -> str:
    """``cmd  # comment`` -> ``cmd``: a ``#`` outside quotes after whitespace starts one."""
    quote = None
    for i, char in enumerate(line):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line.rstrip()


def readme_commands(text: str = README) -> list[Command]:
    """Every command of every ``bash`` block after the first (the set-up block)."""
    commands = []
    blocks = list(re.finditer(r"^```bash\n(.*?)^```", text, re.S | re.M))
    for block in blocks[1:]:
        first_line = text[: block.start(1)].count("\n") + 1
        pending, start = "", 0
        for offset, raw in enumerate(block.group(1).splitlines()):
            line = _strip_comment(raw)
            if not pending:
                start = first_line + offset
            if line.endswith("\\"):
                pending += line[:-1].strip() + " "
                continue
            full = " ".join((pending + line.strip()).split())
            pending = ""
            if full:
                commands.append(Command(full, start))
    return commands


def test_readme_opens_with_the_two_setup_commands():
    first_block = re.search(r"```bash\n(.*?)```", README, re.S)
    assert first_block and README.index("```bash") < README.index("\n## ")
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines()]
    assert [c for c in commands if c] == ["make install train", "make test"]


def test_readme_is_one_document_of_sane_size():
    """A slice replacement with an empty match once interleaved a paragraph through every
    character of the README (218 k lines); nothing else noticed."""
    lines = README.splitlines()
    assert 100 < len(lines) < 2000
    headings = re.findall(r"^## .+$", README, re.M)
    assert len(set(headings)) == len(headings), "a section heading appears twice"


def test_readme_links_to_repository_files_resolve():
    targets = re.findall(r"\]\(((?:experiments|configs|depix|tests)/[^)#\s]+)\)", README)
    assert targets, "no links found: the pattern no longer matches the README"
    missing = [t for t in targets if not (ROOT / t).exists()]
    assert not missing, f"README links to missing files: {missing}"


def test_readme_command_extraction():
    text = (
        "```bash\nmake install train\n```\n"
        "```bash\n# a comment line\na --x=1 '#not' # trailing\nb \\\n    c=2  # c\n\n```\n"
    )
    assert [c.text for c in readme_commands(text)] == ["a --x=1 '#not'", "b c=2"]
    assert len(readme_commands()) > 20, "the README's command blocks were not found"


def test_readme_tables_match_readme_commands():
    """An entry for a command the README no longer has is stale: update or remove it."""
    commands = {c.text for c in readme_commands()}
    for name, table in [
        ("SHRINK", SHRINK),
        ("NOT_RUN", NOT_RUN),
        ("NEEDS_EXTRA", NEEDS_EXTRA),
        ("KNOWN_FAILING", KNOWN_FAILING),
    ]:
        stale = [key for key in table if key not in commands]
        assert not stale, f"{name} entries match no README command: {stale}"
    text = " ".join(commands)
    for name, table in [("PLACEHOLDERS", PLACEHOLDERS), ("FIXTURES", FIXTURES)]:
        stale = [key for key in table if key not in text]
        assert not stale, f"{name} entries appear in no README command: {stale}"
    both = set(NOT_RUN) & (set(SHRINK) | set(KNOWN_FAILING))
    assert not both, f"commands both run and not run: {both}"


# ----------------------------------------------------------------------------------------
# Running the README
# ----------------------------------------------------------------------------------------


def clean_copy(destination: Path) -> Path:
    """The checkout's tracked files (working-tree content, mtimes kept so make sees an
    up-to-date venv) in ``destination``; ``.venv`` links to the venv running the tests."""
    destination.mkdir(parents=True)
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
        ).stdout
        files = [f for f in listed.decode().split("\0") if f]
    except (OSError, subprocess.CalledProcessError):  # not a git checkout (an sdist)
        skip = {".git", ".venv", "runs", "__pycache__", ".pytest_cache", ".ruff_cache"}
        files = [
            str(p.relative_to(ROOT))
            for p in ROOT.rglob("*")
            if (p.is_file() or p.is_symlink()) and not skip & set(p.relative_to(ROOT).parts)
        ]
    for name in files:
        source, target = ROOT / name, destination / name
        if not source.exists() and not source.is_symlink():
            continue  # deleted in the working tree, not yet committed
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target, follow_symlinks=False)
    (destination / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    return destination


def expand_make(command: str, work: Path, env: dict) -> list[str]:
    """The recipe lines ``make`` would run for ``command`` (the install step left out)."""
    words = command.split()
    # Under `make test` the parent make's variables would make this one print
    # "make[1]: Entering directory" lines among the recipe: run it as a user's top-level make.
    top_level = {k: v for k, v in env.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    done = subprocess.run(
        ["make", "-n", "--no-print-directory", "-o", "install", *words[1:]],
        cwd=work,
        env=top_level,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, f"{command}: make -n failed: {done.stderr}"
    return [line for line in done.stdout.splitlines() if line.strip()]


@dataclass
class Outcome:
    command: Command
    status: str  # passed, failed, not run, known failing, ...
    seconds: float = 0.0
    detail: str = ""
    cpu: float = 0.0  # user + system seconds of its processes


TIMES = re.compile(r"^(\d+)m([\d.]+)s (\d+)m([\d.]+)s$", re.M)


def run_command(text: str, work: Path, env: dict) -> tuple[bool, str, float, float]:
    """Run ``text`` with bash; (ok, reason and output tail, wall seconds, CPU seconds).

    The CPU time (user + system of the command's processes) comes from bash's ``times``.
    """
    start = time.perf_counter()
    script = f"{text}\n__status=$?\ntimes >&2\nexit $__status"
    try:
        done = subprocess.run(
            ["bash", "-c", script],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as error:
        out = (error.stdout or b"")[-1500:]
        return False, f"timed out after {TIMEOUT_S} s\n{out!r}", time.perf_counter() - start, 0.0
    seconds = time.perf_counter() - start
    times = TIMES.findall(done.stderr)
    cpu = sum(int(m) * 60 + float(s) for m, s in (times[-1][:2], times[-1][2:])) if times else 0.0
    output = done.stdout + TIMES.sub("", done.stderr)
    tail = "\n".join(output.strip().splitlines()[-25:])
    if done.returncode != 0:
        return False, f"exit {done.returncode}\n{tail}", seconds, cpu
    if "Traceback (most recent call last)" in output:
        return False, f"printed a traceback\n{tail}", seconds, cpu
    return True, tail, seconds, cpu


def prepared(command: str) -> str:
    for placeholder, real in PLACEHOLDERS.items():
        command = command.replace(placeholder, real)
    return command


def test_a_command_fails_on_exit_code_or_traceback(tmp_path):
    env = dict(os.environ)
    ok, _, _, cpu = run_command("python3 -c 'sum(range(10**6))'", tmp_path, env)
    assert ok and cpu > 0
    ok, detail, _, _ = run_command("echo partial; exit 3", tmp_path, env)
    assert not ok and "exit 3" in detail and "partial" in detail
    ok, detail, _, _ = run_command("echo 'Traceback (most recent call last):' >&2", tmp_path, env)
    assert not ok and "traceback" in detail


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    base = tmp_path_factory.mktemp("readme")
    work = clean_copy(base / "depix")
    home = base / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "PYTHON"))}
    # One thread per command: two lanes share two cores.
    env.update(HOME=str(home), NO_COLOR="1", COLUMNS="120", OMP_NUM_THREADS="1")
    return work, home, env


# Commands that touch no run folder of another command run in a second lane, beside the
# others (2 cores: about half the wall time). Anything naming a run, an experiment or a
# sweep stays in the first lane, in README order.
SHARED_STATE = re.compile(r"quickstart|runs/|run_name=|experiment=|make eval|\s-m \S+=")


def lane_of(text: str) -> int:
    return 0 if SHARED_STATE.search(text) else 1


def run_readme_command(command: Command, work: Path, home: Path, env: dict) -> Outcome:
    text = command.text
    if text in NOT_RUN:
        return Outcome(command, "not run", detail=NOT_RUN[text])
    if text in NEEDS_EXTRA and not _has(NEEDS_EXTRA[text][0]):
        return Outcome(command, "not run", detail=NEEDS_EXTRA[text][1])
    for name, (_, make) in FIXTURES.items():
        if re.search(rf"(^|\s|=){re.escape(name)}(\s|$|/)", text):
            home_relative = name.startswith(("~/", "$HOME/"))
            target = home / name.split("/", 1)[1] if home_relative else work / name
            if not target.exists():
                make(work, target)
    lines = expand_make(text, work, env) if text.startswith("make ") else [text]
    shrink = SHRINK.get(text, "")
    ok, detail, seconds, cpu = True, "", 0.0, 0.0
    for line in lines:
        ok, detail, spent, used = run_command(f"{prepared(line)} {shrink}".strip(), work, env)
        seconds, cpu = seconds + spent, cpu + used
        if not ok:
            break
    if text in KNOWN_FAILING:
        if ok:
            return Outcome(command, "passes: remove from KNOWN_FAILING", seconds, detail, cpu)
        return Outcome(command, "known failing", seconds, KNOWN_FAILING[text], cpu)
    if ok:
        return Outcome(command, "passed", seconds, cpu=cpu)
    if text not in SHRINK:
        detail += (
            "\n(no SHRINK entry: if it needs one to run quickly, add it; if it cannot run "
            "in CI, add it to NOT_RUN with the reason)"
        )
    return Outcome(command, "FAILED", seconds, detail, cpu)


@pytest.mark.slow
def test_readme_commands_run_as_written(workspace):
    work, home, env = workspace
    lanes: list[list[Command]] = [[], []]
    for command in readme_commands():
        lanes[lane_of(command.text)].append(command)

    def run_lane(commands: list[Command]) -> list[Outcome]:
        return [run_readme_command(c, work, home, env) for c in commands]

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = [o for lane in pool.map(run_lane, lanes) for o in lane]
    outcomes.sort(key=lambda o: o.command.line)
    table = "\n".join(
        f"{o.seconds:6.1f} s {o.cpu:6.1f} s  {o.status:14s} README:{o.command.line}  "
        f"{o.command.text}" + (f"\n                 {o.detail}" if o.status != "passed" else "")
        for o in outcomes
    )
    wall = time.perf_counter() - start
    cpu = [sum(o.cpu for o in outcomes if lane_of(o.command.text) == n) for n in (0, 1)]
    print(
        f"\nREADME commands: {wall:.0f} s wall; CPU s per lane {cpu[0]:.0f} + {cpu[1]:.0f}"
        f"\n  wall    CPU    status\n{table}"
    )
    bad = [o for o in outcomes if o.status == "FAILED" or o.status.startswith("passes")]
    assert not bad, "README commands that do not work as written:\n" + "\n\n".join(
        f"README:{o.command.line}: {o.command.text}\n  {o.status}: {o.detail}" for o in bad
    )


def _has(module: str) -> bool:
    """Whether ``module`` is installed in the venv under test."""
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # its parent package is missing
        return False
