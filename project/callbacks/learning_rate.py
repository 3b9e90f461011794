"""LearningRateLogger: Lightning's LearningRateMonitor, once per optimizer step, the rate that step used."""

from typing import Any

from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import LearningRateMonitor

from project.optim.schedule_free import is_schedule_free


class LearningRateLogger(LearningRateMonitor):
    """Logs ``lr-AdamW`` for one parameter group, ``lr-AdamW/<group name>`` for several: ``lr-AdamW/decay``
    (weights with weight decay) and ``lr-AdamW/no_decay`` (biases and norm weights, see
    ``model.no_weight_decay_on_bias_and_norm``); a group without a ``name`` is ``pg1``, ``pg2``...

    The value logged at step ``k`` is the rate optimizer step ``k`` (0-based) used, at the steps Lightning
    logs the other step metrics (``k + 1`` a multiple of ``trainer.log_every_n_steps``), also for schedules
    that step once per epoch. For a schedule-free optimizer it is the warmed-up ``scheduled_lr`` the step
    applied, not the constant ``lr``.
    """

    def __init__(self) -> None:
        super().__init__(logging_interval="step")  # every schedule's rate at every logged step
        self._last_step = -1  # with gradient accumulation, several batches share one optimizer step
        self._schedule_free = False

    def on_train_start(self, trainer: Trainer, *args: Any, **kwargs: Any) -> None:
        super().on_train_start(trainer, *args, **kwargs)
        self._schedule_free = any(is_schedule_free(optimizer) for optimizer in trainer.optimizers)

    def on_train_batch_start(self, trainer: Trainer, *args: Any, **kwargs: Any) -> None:
        # Schedules step after the optimizer: their rate for this step is set before the batch.
        if not self._schedule_free and self._first_batch_of(trainer.global_step):
            super().on_train_batch_start(trainer, *args, **kwargs)

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        # A schedule-free optimizer computes the step's rate inside `step()`: read after it (the logging step
        # has not moved on yet at this hook).
        if self._schedule_free and self._first_batch_of(trainer.global_step - 1):
            super().on_train_batch_start(trainer)

    def _first_batch_of(self, step: int) -> bool:
        if step <= self._last_step:
            return False
        self._last_step = step
        return True

    def _extract_lr(self, param_group: dict[str, Any], name: str) -> dict[str, Any]:
        lr = float(param_group.get("scheduled_lr", param_group["lr"]))
        self.lrs[name].append(lr)
        return {name: lr}
