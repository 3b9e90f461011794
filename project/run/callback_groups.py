"""The guide's ``checkpoint:`` and ``early_stopping:`` sections as named config groups.

``--checkpoint.save_top_k=3 --early_stopping.patience=5`` set them from the command line, where a list
entry of ``trainer.callbacks`` could not be reached; the CLI builds Lightning's ModelCheckpoint and
EarlyStopping from them. ``trainer.callbacks`` stays for any other callback.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint


@dataclass
class CheckpointOptions:
    """The best checkpoints by a monitored metric (``last.ckpt`` is written after every epoch regardless).

    Args:
        monitor: Metric that ranks checkpoints: any logged key (val/loss, val/accuracy, val/f1_score...);
            null keeps the newest ones instead.
        mode: ``min`` for losses, ``max`` for accuracy-like metrics.
        save_top_k: How many best checkpoints to keep (0: none, -1: every one).
        every_n_epochs: Consider a checkpoint every N epochs (the guide's ``save_frequency``).
        filename: File name without ``.ckpt``; by default ``best`` for one checkpoint, ``best-{epoch:03d}``
            for several (``epoch{epoch:03d}`` without a monitor).
    """

    monitor: str | None = "val/loss"
    mode: Literal["min", "max"] = "min"
    save_top_k: int = 1
    every_n_epochs: int = 1
    filename: str | None = None

    def build(self, dirpath: Path) -> ModelCheckpoint:
        if self.filename:
            filename = self.filename
        elif self.monitor is None:
            filename = "epoch{epoch:03d}"
        else:
            filename = "best" if self.save_top_k == 1 else "best-{epoch:03d}"
        return ModelCheckpoint(
            dirpath=str(dirpath),
            filename=filename,
            monitor=self.monitor,
            mode=self.mode,
            save_top_k=self.save_top_k,
            every_n_epochs=self.every_n_epochs,
            save_last=False,  # last.ckpt has its own writer (see default_callbacks.last_checkpoint)
            auto_insert_metric_name=False,  # metric names hold "/", which must not become folders
        )


@dataclass
class EarlyStoppingOptions:
    """Stop when a monitored metric stops improving (``early_stopping: null`` turns it off).

    Args:
        monitor: Metric to watch: any logged key (val/loss, val/accuracy...).
        mode: ``min`` for losses, ``max`` for accuracy-like metrics.
        patience: Validations without improvement before stopping.
        min_delta: Smallest change that counts as an improvement.
    """

    monitor: str = "val/loss"
    mode: Literal["min", "max"] = "min"
    patience: int = 10
    min_delta: float = 0.0

    def build(self) -> EarlyStopping:
        return EarlyStopping(
            monitor=self.monitor, mode=self.mode, patience=self.patience, min_delta=self.min_delta
        )
