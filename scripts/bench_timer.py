"""Benchmark-only callback (``scripts/bench.py`` adds it): times the training loop inside ``main.py fit``.

Writes ``$BENCH_OUT`` as JSON: seconds from ``on_train_start`` to ``on_train_end`` (every per-step cost of
the template is inside: hooks, ``self.log``, loggers, progress bar, checkpoint callbacks), the steps done, the
last training loss and the thread count.
"""

import json
import os
import time

import torch
from lightning.pytorch import Callback, LightningModule, Trainer


class LoopTimer(Callback):
    """Wall time of the training loop, and the final ``train/loss``."""

    def __init__(self) -> None:
        self.start = self.cpu_start = 0.0

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.start = time.perf_counter()
        self.cpu_start = time.process_time()

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs, batch, batch_idx
    ) -> None:
        self.loss = outputs["loss"] if isinstance(outputs, dict) else outputs

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        seconds = time.perf_counter() - self.start
        result = {
            "seconds": seconds,
            "cpu_seconds": time.process_time() - self.cpu_start,
            "steps": trainer.global_step,
            "loss": float(self.loss),
            "threads": torch.get_num_threads(),
        }
        with open(os.environ["BENCH_OUT"], "w") as f:
            json.dump(result, f)
