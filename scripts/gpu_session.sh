#!/usr/bin/env bash
# Issue 14's prepared GPU session: one script for a 15-minute lease of one H200 (16 cores, a
# stock PyTorch image, no internet). About 9 minutes of command time: environment check, the
# bench at batch 16 and 256 (bf16 and fp32, switches), the bf16 metric check (validation of
# the shipped model under 32-true vs bf16-mixed), 4 minutes of experiments/gpu_short.yaml,
# and the export of its best checkpoint. Everything it writes goes to $OUT.
#
# Prepare on the CPU machine first (the GPU host is offline):
#   .venv/bin/python -m depix.bundle bundle --python-version <the GPU image's Python>
# then run it from the repository root there, carrying bundle/site and bundle/fonts (~60 MB):
#   OUT=/path/to/out bash scripts/gpu_session.sh
# Afterwards, on the CPU: depix-eval ckpt_path=$OUT/depix-gpu-short.pt benchmark=text, and ship
# it (make ship) only if it beats the shipped model on the text benchmark.
set -u
OUT=${OUT:-runs/gpu_session}
PY=${PY:-python}
TRAIN_TIME=${TRAIN_TIME:-00:00:04:00}
mkdir -p "$OUT"
export PYTHONPATH=$PWD:$PWD/bundle/site${PYTHONPATH:+:$PYTHONPATH}
export DEPIX_FONT_DIRS=$PWD/bundle/fonts
log() { echo "[$(date +%T)] $*" | tee -a "$OUT/session.log"; }

log "environment"
{ nvidia-smi; $PY -V; $PY -c "import torch, pytorch_lightning, torchmetrics, hydra, kornia, rich
print(torch.__version__, torch.cuda.get_device_name(), torch.cuda.is_available())"; } \
  > "$OUT/env.txt" 2>&1 || { log "imports failed: see $OUT/env.txt"; exit 1; }

log "bench, bf16 (batch 16 and 256, 14 workers, channels_last and compile)"
timeout 200 $PY -m depix.bench --device cuda --workers 14 > "$OUT/bench_bf16.txt" 2>&1
log "bench, fp32 (the issue's before figures were fp32: 640 / 6,040 lines/s at 16 / 256)"
timeout 90 $PY -m depix.bench --device cuda --precision 32 --workers 14 --switch channels_last \
  > "$OUT/bench_fp32.txt" 2>&1

log "bf16 metric check: the shipped model validated under 32-true and bf16-mixed"
timeout 120 $PY - > "$OUT/bf16_metrics.txt" 2>&1 <<'PYEOF'
import hydra
import pytorch_lightning as pl

from depix.bench import compose_train
from depix.models.loading import init_weights

results = {}
for precision in ("32-true", "bf16-mixed"):
    cfg = compose_train(["experiment=gpu_short", "data.num_workers=8"])
    datamodule = hydra.utils.instantiate(cfg.data, degradation=hydra.utils.instantiate(cfg.degradation))
    module = hydra.utils.instantiate(cfg.module)
    init_weights(module.net, "depix/weights/depix-small.pt")
    trainer = pl.Trainer(accelerator="gpu", devices=1, precision=precision, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False)
    results[precision] = trainer.validate(module, datamodule=datamodule, verbose=False)[0]
for key in sorted(results["32-true"]):
    a, b = results["32-true"][key], results["bf16-mixed"][key]
    print(f"{key:24s} 32-true {a:9.4f}  bf16-mixed {b:9.4f}  diff {b - a:+.4f}")
PYEOF

log "training experiments/gpu_short.yaml for $TRAIN_TIME"
timeout 330 $PY -m depix.train experiment=gpu_short trainer.max_time=$TRAIN_TIME \
  > "$OUT/train.txt" 2>&1
find runs/gpu_short -name metrics.csv -exec cp {} "$OUT/" \;

log "export"
$PY -c "from depix.models.loading import export_model
p = export_model('runs/gpu_short/checkpoints/best.ckpt', '$OUT/depix-gpu-short.pt', half=True)
print(p, p.stat().st_size // 1024, 'kB')" >> "$OUT/session.log" 2>&1
log "done"
