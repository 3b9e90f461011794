"""The default progress bar: Rich, redrawn every few batches instead of every batch.

Redrawing the bar and converting its metrics costs a fraction of a millisecond per batch, which is all of
the template's overhead on small steps; a person cannot read a bar that changes more than ~10 times a second
anyway. The bar still lands on the exact count at the end of every epoch.

Lightning's Rich bar also polls from a thread 100 times a second (``refresh_rate: 100``); every wake-up takes
the GIL and a core from training, which cost 0.6 ms on a 37 ms step on 2 cores. This bar polls 4 times a
second, Rich's own default.
"""

import math
from typing import Any

from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import RichProgressBar

# How often the bar is redrawn, in batches; the module logs `train/loss` at the same cadence (see module.py).
UPDATE_EVERY = 10


class SparseRichProgressBar(RichProgressBar):
    """``RichProgressBar`` that updates every ``update_every`` training and validation batches."""

    def __init__(
        self, update_every: int = UPDATE_EVERY, refresh_rate: int = 4, leave: bool = False, **kwargs: Any
    ) -> None:
        """Configure the bar.

        Args:
            update_every: Redraw every this many batches (and at the last batch of an epoch).
            refresh_rate: Times per second the display thread looks for a pending redraw (when the output is
                not a terminal); ``0`` turns the bar off.
            leave: Keep each epoch's bar on screen after it ends.
            **kwargs: Any other ``RichProgressBar`` argument (``theme``, ``console_kwargs``...).
        """
        super().__init__(refresh_rate=refresh_rate, leave=leave, **kwargs)
        self.update_every = max(1, update_every)

    def get_metrics(self, trainer: Trainer, pl_module: LightningModule) -> dict[str, Any]:
        # Lightning shows the first logger's version as `v_num`; here that is TensorBoard's "tensorboard".
        metrics = super().get_metrics(trainer, pl_module)
        metrics.pop("v_num", None)
        return metrics

    def _skip(self, batch_idx: int, total: int | float) -> bool:
        done = batch_idx + 1
        return done % self.update_every != 0 and done != total

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        last_step = 0 < trainer.max_steps <= trainer.global_step
        if last_step or not self._skip(batch_idx, self.total_train_batches):
            super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)

    def on_validation_batch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if self.is_disabled:  # ranks > 0: the bar never started its dataloader count (asserted below)
            return
        total = self.total_val_batches_current_dataloader if not trainer.sanity_checking else 0
        if trainer.sanity_checking or not self._skip(batch_idx, total):
            super().on_validation_batch_end(trainer, pl_module, outputs, batch, batch_idx, dataloader_idx)


def use_sparse_default_bar(trainer: Trainer, configured: list | None) -> None:
    """Swap the Rich bar Lightning adds by default for ``SparseRichProgressBar``; a configured bar stays.

    Args:
        trainer: The trainer, after Lightning added its default callbacks.
        configured: ``trainer.callbacks`` as parsed from the config (``class_path``/``init_args`` entries).
    """
    from lightning.pytorch.callbacks.progress import ProgressBar

    from project.config_tree import class_of

    if any(issubclass(class_of(c), ProgressBar) for c in configured or []):
        return
    for i, callback in enumerate(trainer.callbacks):
        if type(callback) is RichProgressBar:
            trainer.callbacks[i] = SparseRichProgressBar()


def train_loss_logged_at(trainer: Trainer) -> bool:
    """Whether this training step logs ``train/loss``: on every step the loggers record
    (``trainer.log_every_n_steps``) and every ``UPDATE_EVERY`` steps for the bar, not on the others.

    ``self.log`` costs about half a millisecond per call; a value logged on a step that neither the loggers
    nor the bar read is thrown away.
    """
    every = math.gcd(trainer.log_every_n_steps, UPDATE_EVERY) or 1
    return (trainer.global_step + 1) % every == 0 or trainer.fast_dev_run
