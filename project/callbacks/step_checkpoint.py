"""ModelCheckpoint for ``every_n_train_steps`` saves that never saves at the last batch of an epoch.

Lightning 2.6.6 resumes wrongly from a checkpoint taken at ``on_train_batch_end`` of an epoch's last batch:
the resumed run is fine, but a later mid-epoch checkpoint it writes restarts the epoch's batch count at 0 when
resumed, so that epoch runs extra batches (seen in ``scripts/kill_test.py``: 310 steps instead of 300). The
end-of-epoch ``last.ckpt`` follows a moment later anyway, so this class leaves that batch out.
"""

from typing import Any

from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint


def is_last_batch_of_epoch(trainer: Trainer, batch_idx: int) -> bool:
    batches = trainer.num_training_batches
    return isinstance(batches, int) and batch_idx + 1 >= batches


class StepCheckpoint(ModelCheckpoint):
    """``ModelCheckpoint`` (same arguments) whose step-based saves skip the last batch of each epoch."""

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if not is_last_batch_of_epoch(trainer, batch_idx):
            super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
