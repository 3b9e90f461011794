"""The default progress bar: Rich, redrawn every few batches instead of every batch.

Redrawing the bar and converting its metrics costs a fraction of a millisecond per batch, which is all of
the template's overhead on small steps; a person cannot read a bar that changes more than ~10 times a second
anyway. The bar still lands on the exact count at the end of every epoch.

Lightning's Rich bar also polls from a thread 100 times a second (``refresh_rate: 100``); every wake-up takes
the GIL and a core from training, which cost 0.6 ms on a 37 ms step on 2 cores. This bar polls 4 times a
second, Rich's own default.
"""

from typing import Any

from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import RichProgressBar

from project.callbacks.logging_steps import logs_this_step

# How often the bar is redrawn, in batches; it reads metrics only on steps that log (logging_steps.py).
UPDATE_EVERY = 10
# Logged without `prog_bar=True` (see module.py), shown all the same.
SHOWN_WITHOUT_PROG_BAR = ("train/loss",)


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
        self._shown: dict[str, Any] | None = None

    def get_metrics(self, trainer: Trainer, pl_module: LightningModule) -> dict[str, Any]:
        # Lightning turns the logged tensors into numbers here (`.item()`, a host read): during training only
        # on the steps that log; in between the bar shows the values it read last.
        if trainer.training and self._shown is not None and not logs_this_step(trainer):
            return self._shown
        metrics = super().get_metrics(trainer, pl_module)
        # Lightning shows the first logger's version as `v_num`; here that is TensorBoard's folder name.
        metrics.pop("v_num", None)
        for key in SHOWN_WITHOUT_PROG_BAR:
            if (value := trainer.callback_metrics.get(key)) is not None:
                metrics[key] = float(value)
        self._shown = metrics
        return metrics

    def _skip(self, batch_idx: int, total: int | float) -> bool:
        done = batch_idx + 1
        return done % self.update_every != 0 and done != total

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if self.is_disabled:  # Lightning disables the bar on ranks other than 0: nothing to draw
            return
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
        if self.is_disabled:
            # Ranks other than 0 never set the current dataloader, so reading its total would assert there.
            return
        total = self.total_val_batches_current_dataloader if not trainer.sanity_checking else 0
        if trainer.sanity_checking or not self._skip(batch_idx, total):
            super().on_validation_batch_end(trainer, pl_module, outputs, batch, batch_idx, dataloader_idx)
