"""The Trainer: Lightning's, writing every checkpoint with schedule-free optimizers in eval mode."""

from typing import Any

import lightning.pytorch as pl

from project.optim.schedule_free import eval_mode


class Trainer(pl.Trainer):
    """``lightning.Trainer`` whose checkpoints hold a schedule-free optimizer's averaged weights (x).

    Every save goes through ``save_checkpoint``: ModelCheckpoint's (best, last, step- and time-based, with or
    without validation) and a save on a signal. The model tensors and the optimizer state are collected
    before any ``on_save_checkpoint`` hook runs, so the switch to eval mode happens here, around the whole
    save, and training continues in the mode it was in. Other optimizers are untouched.
    """

    def save_checkpoint(
        self, filepath: Any, weights_only: bool | None = None, storage_options: Any = None
    ) -> None:
        with eval_mode(self.optimizers):
            super().save_checkpoint(filepath, weights_only=weights_only, storage_options=storage_options)
