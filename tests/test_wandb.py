"""W&B mode and id are decided before wandb.init: offline without key or network, ids kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from depix.loggers import wandb as wb
from depix.train import train


@pytest.fixture
def no_credentials(monkeypatch, tmp_path):
    for name in ("WANDB_MODE", "WANDB_API_KEY", "WANDB_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    monkeypatch.setattr(wb, "reachable", lambda host, **_: pytest.fail("must not try the net"))


def test_offline_without_api_key(no_credentials):
    assert wb.decide_mode("auto") == "offline"


def test_offline_with_a_key_but_no_network(no_credentials, monkeypatch):
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    monkeypatch.setattr(wb, "reachable", lambda host, **_: False)
    assert wb.decide_mode("auto") == "offline"
    monkeypatch.setattr(wb, "reachable", lambda host, **_: True)
    assert wb.decide_mode("auto") == "online"


def test_netrc_key_counts_and_env_mode_wins(no_credentials, monkeypatch, tmp_path):
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine api.wandb.ai\n  login user\n  password " + "k" * 40 + "\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    assert wb.has_api_key()
    monkeypatch.setenv("WANDB_MODE", "disabled")
    assert wb.decide_mode("auto") == "disabled"


def test_unreachable_host_answers_false_quickly():
    assert wb.reachable("host.invalid", timeout=2.0) is False


def test_run_id_is_kept_only_when_resuming(tmp_path):
    first = wb.run_id(tmp_path, resuming=False, checkpoint_id=None, is_rank_zero=True)
    assert (tmp_path / wb.ID_FILE).read_text().strip() == first
    assert wb.run_id(tmp_path, resuming=True, checkpoint_id="other", is_rank_zero=True) == first
    fresh = wb.run_id(tmp_path, resuming=False, checkpoint_id=None, is_rank_zero=True)
    assert fresh != first
    (tmp_path / wb.ID_FILE).unlink()  # e.g. resuming from a copied checkpoint
    assert wb.run_id(tmp_path, resuming=True, checkpoint_id="abc123", is_rank_zero=True) == "abc123"


def test_offline_run_writes_its_files_and_the_sync_command(tiny_cfg, caplog):
    cfg = tiny_cfg("logger=wandb", "debug=limit")
    with caplog.at_level("INFO"):
        train(cfg)
    run_dir = Path(cfg.paths.run_dir)
    run_id = (run_dir / wb.ID_FILE).read_text().strip()
    assert cfg.logger.wandb.mode == "offline" and cfg.logger.wandb.id == run_id
    assert "experiment:" in " ".join(cfg.logger.wandb.tags)
    sessions = list((run_dir / "wandb").glob("offline-run-*"))
    assert len(sessions) == 1 and sessions[0].name.endswith(run_id)
    assert list(sessions[0].glob("*.wandb")), "no W&B event log written"
    assert f"wandb sync --id {run_id} {sessions[0]}\n" in caplog.text + "\n"


def test_resumed_offline_run_gets_one_sync_command_for_all_its_sessions(tiny_cfg, caplog):
    # Offline, each session of a run (the first, every resume) writes its own folder; the
    # printed command must upload all of them, oldest first, into the one W&B run.
    short = ("logger=wandb", "trainer.max_epochs=-1", "data.train.length=8")
    cfg = tiny_cfg(*short, "trainer.max_steps=2")
    train(cfg)
    caplog.clear()  # only the resumed run's closing lines count
    with caplog.at_level("INFO"):
        train(tiny_cfg(*short, "trainer.max_steps=4", "resume=true"))
    run_dir = Path(cfg.paths.run_dir)
    run_id = (run_dir / wb.ID_FILE).read_text().strip()
    sessions = sorted((run_dir / "wandb").glob("offline-run-*"))
    assert len(sessions) == 2 and all(f"-{run_id}" in s.name for s in sessions)
    assert wb.offline_sessions(run_dir, run_id) == sessions
    command = f"wandb sync --id {run_id} {sessions[0]} {sessions[1]}"
    assert command in caplog.text and "2 session folders" in caplog.text
    ours = [r.getMessage() for r in caplog.records if r.name == "depix.loggers.wandb"]
    assert sum("wandb sync" in m for m in ours) == 1  # (wandb's own logs may name one folder)


def test_wandb_agent_run_id_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_SWEEP_ID", "sweep1")
    monkeypatch.setenv("WANDB_RUN_ID", "agentrun")
    assert wb.run_id(tmp_path, resuming=False, checkpoint_id=None, is_rank_zero=True) == "agentrun"


def test_wandb_sweep_file_drives_real_overrides(tmp_path, monkeypatch):
    """Every swept parameter is a key of the composed config, and the command composes."""
    import yaml
    from omegaconf import OmegaConf

    from depix.train import CONFIG_DIR

    from .conftest import compose_cfg

    spec = yaml.safe_load(
        (Path(CONFIG_DIR).parent / "experiments/sweeps/wandb_lr.yaml").read_text()
    )
    assert spec["metric"]["name"] == compose_cfg([], tmp_path / "a").optimized_metric
    fixed = [a for a in spec["command"] if "=" in a and not a.startswith("run_name")]
    values = [
        f"{k}={(v.get('values') or [v.get('min')])[0]}" for k, v in spec["parameters"].items()
    ]
    monkeypatch.setenv("WANDB_RUN_ID", "abc")
    cfg = compose_cfg([*fixed, *values, "run_name=wandb_lr/${oc.env:WANDB_RUN_ID}"], tmp_path / "b")
    assert cfg.run_name == "wandb_lr/abc"
    for key in spec["parameters"]:
        assert OmegaConf.select(cfg, key, throw_on_missing=True) is not None, key
