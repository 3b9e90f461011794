"""Pieces ``scripts/gpu_check.py`` plugs into ``main.py fit`` (``--trainer.callbacks+=`` and ``data``).

- ``DeviceBatches``: ImageNet-shaped synthetic batches made once on the device, so the check measures the
  training step and not host-to-device copies;
- ``StepWindowTimer``: wall time of ``steps`` optimizer steps after ``warmup`` (one device synchronisation at
  each end of the window), written as JSON;
- ``SyncDebugOnQuietSteps``: ``torch.cuda.set_sync_debug_mode("error")`` during every step that does not log,
  so that any host-device synchronisation there raises.
"""

import json
import time
from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule, Trainer

from project.callbacks.logging_steps import logs_next_step
from project.data.base import BaseDataModule


def device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class Batches:
    """``length`` batches cycling through a few fixed ``(x, y, index)`` batches that live on the device."""

    def __init__(self, pool: list[tuple[torch.Tensor, ...]], length: int) -> None:
        self.pool, self.length = pool, length

    def __len__(self) -> int:
        return self.length

    def __iter__(self):
        return (self.pool[i % len(self.pool)] for i in range(self.length))


class DeviceBatches(BaseDataModule):
    """Random images (channels-last) and labels made on the GPU (or CPU) once, served as fixed batches."""

    def __init__(
        self, input_shape: list[int] | None = None, num_classes: int = 1000, batch_size: int = 256,
        train_batches: int = 220, val_batches: int = 2, pool: int = 4, data_seed: int = 0,
    ) -> None:  # fmt: skip
        """Shape the data.

        Args:
            input_shape: One image, ``[3, 224, 224]`` when not given.
            num_classes: Label range.
            batch_size: Images per batch.
            train_batches: Batches per training epoch.
            val_batches: Batches per validation.
            pool: Distinct batches made (and cycled through).
            data_seed: Seed of the images and labels.
        """
        super().__init__(batch_size=batch_size, num_workers=0, pin_memory=False)
        self.input_shape = list(input_shape or [3, 224, 224])
        self.num_classes = num_classes
        self.train_batches, self.val_batches, self.pool_size, self.data_seed = (
            train_batches, val_batches, pool, data_seed,
        )  # fmt: skip
        self.pool: list[tuple[torch.Tensor, ...]] = []

    def setup(self, stage: str) -> None:
        if self.pool:
            return
        generator = torch.Generator(device()).manual_seed(self.data_seed)
        shape = (self.batch_size, *self.input_shape)
        for _ in range(self.pool_size):
            x = torch.randn(shape, generator=generator, device=device())
            x = x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x
            y = torch.randint(0, self.num_classes, (self.batch_size,), generator=generator, device=device())
            self.pool.append((x, y, torch.arange(self.batch_size, device=device())))

    def train_dataloader(self) -> Batches:
        return Batches(self.pool, self.train_batches)

    def val_dataloader(self) -> Batches:
        return Batches(self.pool, self.val_batches)

    def test_dataloader(self) -> Batches:
        return Batches(self.pool, self.val_batches)

    def predict_dataloader(self) -> Batches:
        return Batches(self.pool, self.val_batches)


def synchronize() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


class StepWindowTimer(Callback):
    """Times optimizer steps ``warmup + 1`` to ``warmup + steps`` and writes ``out``: seconds, steps, loss."""

    def __init__(self, warmup: int, steps: int, out: str) -> None:
        self.warmup, self.steps, self.out = warmup, steps, out
        self.start = 0.0

    def on_train_batch_start(
        self, trainer: Trainer, pl_module: LightningModule, batch: Any, idx: int
    ) -> None:
        if trainer.global_step == self.warmup:
            synchronize()
            self.start = time.perf_counter()

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, *args: Any
    ) -> None:
        if trainer.global_step == self.warmup + self.steps:
            synchronize()
            seconds = time.perf_counter() - self.start
            loss = outputs["loss"] if isinstance(outputs, dict) else outputs
            result = {"seconds": seconds, "steps": self.steps, "loss": float(loss)}
            with open(self.out, "w") as f:
                json.dump(result, f)


class SyncDebugOnQuietSteps(Callback):
    """Host-device synchronisations raise during training steps that do not log (CUDA only)."""

    def __init__(self) -> None:
        self.quiet_steps = 0

    def _mode(self, mode: str) -> None:
        if torch.cuda.is_available():
            torch.cuda.set_sync_debug_mode(mode)

    def on_train_batch_start(
        self, trainer: Trainer, pl_module: LightningModule, batch: Any, idx: int
    ) -> None:
        last = isinstance(trainer.num_training_batches, int) and idx + 1 >= trainer.num_training_batches
        quiet = not logs_next_step(trainer) and not last
        self.quiet_steps += quiet
        self._mode("error" if quiet else "default")

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._mode("default")

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._mode("default")
        print(
            f"sync-debug: {self.quiet_steps} quiet steps ran under set_sync_debug_mode('error')", flush=True
        )

    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: BaseException) -> None:
        self._mode("default")
