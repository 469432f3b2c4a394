"""A model file cannot run code: its config is data, built only from depix's own networks.

Every case below is a crafted file whose config, handed to ``hydra.utils.instantiate``,
would write a marker file (or run a string of Python). Loading it through ``load_model``,
``init_from=``, ``export_model`` and ``depix-restore --ckpt`` must refuse it with one line
and leave no marker behind.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from depix.callbacks.checkpoint_io import CheckpointLoadError
from depix.models.loading import EXPORT_FORMAT, export_model, init_weights, load_model
from depix.models.registry import NETWORKS, build_network
from depix.models.unet import UNet
from depix.reader.loading import DEFAULT_READER, load_reader

UNET = "depix.models.unet.UNet"


def attacks(marker: Path) -> dict[str, dict]:
    """Model configs that would create ``marker`` if instantiated by Hydra."""
    path = {"_target_": "pathlib.Path", "_args_": [str(marker)]}
    write = {"_target_": "pathlib.Path.write_text", "_args_": [path, "pwned"]}
    code = f"open({str(marker)!r}, 'w').write('pwned')"
    return {
        "foreign target": write,
        "exec": {"_target_": "builtins.exec", "_args_": [code]},
        "nested target in a kwarg": {"_target_": UNET, "widths": [8, 16], "norm": write},
        "nested target in a list": {"_target_": UNET, "widths": [write, 16]},
        "_args_ on our class": {"_target_": UNET, "_args_": [write]},
        "_partial_ exec": {"_target_": "builtins.exec", "_partial_": True, "_args_": [code]},
        "_partial_ write": {**write, "_partial_": True},
        "unknown kwarg": {"_target_": UNET, "widths": [8, 16], "hook": write},
        "target as a prefix trick": {"_target_": UNET + ".__init__.__globals__"},
        "non-string target": {"_target_": ["builtins.exec"]},
        "config not a mapping": [write],
    }


def hydra_would_run(config: dict, marker: Path) -> bool:
    """Sanity check of the attack itself: Hydra really writes the marker for this config
    (this Hydra blocklists ``builtins.exec`` itself, not ``pathlib.Path.write_text``)."""
    import hydra

    try:
        made = hydra.utils.instantiate(config)
        if callable(made):  # _partial_: the loader would call what it built
            made()
    except Exception:
        pass
    ran = marker.exists()
    marker.unlink(missing_ok=True)
    return ran


def exported(path: Path, model_config) -> Path:
    net = UNet(widths=[8, 16])
    config = {"model": model_config}
    torch.save({"format": EXPORT_FORMAT, "config": config, "state_dict": net.state_dict()}, path)
    return path


def lightning_checkpoint(path: Path, model_config) -> Path:
    net = UNet(widths=[8, 16])
    state = {f"net.{k}": v for k, v in net.state_dict().items()}
    torch.save({"state_dict": state, "depix_config": {"model": model_config}}, path)
    return path


def test_the_attacks_are_real(tmp_path):
    """Without the allowlist these configs run code: the refusals below mean something."""
    marker = tmp_path / "marker.txt"
    cases = attacks(marker)
    for name in ("foreign target", "nested target in a kwarg", "_partial_ write"):
        assert hydra_would_run(cases[name], marker), name


@pytest.mark.parametrize("kind", ["exported", "checkpoint"])
def test_malicious_model_files_are_refused_and_nothing_runs(tmp_path, kind):
    marker = tmp_path / "marker.txt"
    write_file = exported if kind == "exported" else lightning_checkpoint
    for name, config in attacks(marker).items():
        path = write_file(tmp_path / f"evil-{kind}.pt", config)
        with pytest.raises(CheckpointLoadError) as error:
            load_model(path)
        message = str(error.value)
        assert "\n" not in message and str(path) in message, (name, message)
        assert "refusing" in message or "must be a mapping" in message, (name, message)
        assert not marker.exists(), name


def test_init_from_and_export_refuse_a_malicious_file(tmp_path):
    marker = tmp_path / "marker.txt"
    evil = exported(tmp_path / "evil.pt", attacks(marker)["foreign target"])
    with pytest.raises(CheckpointLoadError, match=r"^init_from=.*refusing to build model _target_"):
        init_weights(UNet(widths=[8, 16]), evil)
    with pytest.raises(CheckpointLoadError, match="refusing"):
        export_model(evil, tmp_path / "shipped.pt")
    assert not (tmp_path / "shipped.pt").exists() and not marker.exists()


def test_restore_cli_refuses_a_malicious_ckpt(tmp_path, capsys):
    from PIL import Image

    from depix.restore.cli import EXIT_ERROR, main
    from depix.restore.synthetic import MosaicBox, pixelate_boxes, text_canvas

    marker = tmp_path / "marker.txt"
    evil = exported(tmp_path / "evil.pt", attacks(marker)["nested target in a kwarg"])
    shot = tmp_path / "shot.png"
    box = MosaicBox(20, 20, 160, 32, 8, 0, 0)
    Image.fromarray(pixelate_boxes(text_canvas(240, 80, seed=3), [box])).save(shot)
    code = main(
        [str(shot), "--ckpt", str(evil), "--box", "20,20,160,32", "-o", str(tmp_path / "o.png")]
    )
    err = capsys.readouterr().err
    assert code == EXIT_ERROR and "refusing to build" in err and "Traceback" not in err
    assert not marker.exists() and not (tmp_path / "o.png").exists()


def test_honest_files_still_load_and_arguments_are_checked():
    net = build_network({"_target_": UNET, "widths": [8, 16], "stem": 2, "norm": "group"})
    assert isinstance(net, UNet) and net.stem_factor == 2
    assert set(NETWORKS) == {UNET, "depix.reader.network.ReaderNet"}
    bad = {
        "wrong type": ({"_target_": UNET, "stem": "2"}, "stem='2' is not plain data"),
        "bool for int": ({"_target_": UNET, "blocks": True}, "blocks=True"),
        "list of str": ({"_target_": UNET, "widths": ["8"]}, "widths="),
        "class refuses value": ({"_target_": UNET, "norm": "layer"}, "unknown norm 'layer'"),
        "hydra key": ({"_target_": UNET, "_recursive_": False}, "_recursive_"),
    }
    for name, (config, match) in bad.items():
        with pytest.raises(CheckpointLoadError, match=match):
            build_network(config)
        assert name


def test_exported_model_round_trip_keeps_the_weights(tmp_path):
    source = UNet(widths=[8, 16])
    path = tmp_path / "m.pt"
    config = {"model": {"_target_": UNET, "widths": [8, 16]}}
    torch.save({"format": EXPORT_FORMAT, "config": config, "state_dict": source.state_dict()}, path)
    loaded = load_model(path)
    for key, value in source.state_dict().items():
        assert torch.equal(loaded.net.state_dict()[key], value), key


def test_a_reader_file_is_refused_as_a_restoration_model(tmp_path):
    reader = load_reader()
    config = {"_target_": "depix.reader.network.ReaderNet", "widths": [8, 16, 16], "hidden": 16}
    net = build_network(config)
    path = tmp_path / "reader.ckpt"
    state = {f"net.{k}": v for k, v in net.state_dict().items()}  # as a Lightning checkpoint
    torch.save({"state_dict": state, "depix_config": {"model": config}}, path)
    for file in (path, DEFAULT_READER):
        with pytest.raises(CheckpointLoadError, match="not a restoration model"):
            load_model(file)
    assert type(load_model(path, role=None).net) is type(reader)  # still loadable for export
    shipped = load_model(DEFAULT_READER, role=None).net  # and for init_from (fine-tuning)
    assert all(
        torch.equal(a, b)
        for a, b in zip(shipped.state_dict().values(), reader.state_dict().values())
    )
