"""Degradation vs model step in CPU seconds of one thread (load-independent), default config.

    python scripts/degradation_share.py [configs/train.yaml overrides, e.g. degradation=mixed]

``depix.bench`` measures the same in wall time, which a busy machine distorts (the model's
large convolutions use both cores, the degradation's small ops do not).
"""

import sys
import time
from collections.abc import Callable

import hydra
import torch

from depix.bench import compose_train


def cpu_seconds(fn: Callable[[], object], calls: int) -> float:
    """Mean CPU seconds of ``fn`` over ``calls`` calls after one untimed call."""
    fn()
    start = time.process_time()
    for _ in range(calls):
        fn()
    return (time.process_time() - start) / calls


def main() -> None:
    torch.set_num_threads(1)
    cfg = compose_train(sys.argv[1:])
    torch.manual_seed(0)
    net = hydra.utils.instantiate(cfg.model)
    loss = hydra.utils.instantiate(cfg.loss)
    degradation = hydra.utils.instantiate(cfg.degradation)
    optimizer = hydra.utils.instantiate(cfg.optimizer)(params=net.parameters())
    generator = torch.Generator().manual_seed(0)
    clean = torch.rand(cfg.data.batch_size, 3, *cfg.data.train.size)
    degraded = degradation(clean, generator)[0]

    def step() -> None:
        total, _ = loss(net(degraded), clean)
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        optimizer.step()

    degrade_s = cpu_seconds(lambda: degradation(clean, generator), 20)
    step_s = cpu_seconds(step, 5)
    print(
        f"batch {cfg.data.batch_size}: degradation {degrade_s * 1e3:.1f} ms, model step "
        f"{step_s * 1e3:.0f} ms, degradation share of a step {degrade_s / (degrade_s + step_s):.1%}"
    )


if __name__ == "__main__":
    main()
