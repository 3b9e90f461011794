"""LearningRateLogger: the learning rate of every parameter group, as ``lr-*``, to every logger."""

from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer

from project.optim.schedule_free import is_schedule_free


class LearningRateLogger(Callback):
    """Logs the rate each optimizer step uses, named like Lightning's LearningRateMonitor: ``lr-AdamW`` for
    one parameter group, ``lr-AdamW/<group name>`` for several: ``lr-AdamW/decay`` (weights with weight decay)
    and ``lr-AdamW/no_decay`` (biases and norm weights, see ``model.no_weight_decay_on_bias_and_norm``).
    A group without a ``name`` key is numbered as Lightning does: ``pg1``, ``pg2``...

    The value logged at step ``k`` is the rate optimizer step ``k`` (0-based) used, logged at
    ``k = 0, n, 2n...`` with ``n = trainer.log_every_n_steps``. For a schedule-free optimizer it is the
    warmed-up ``scheduled_lr`` the step applied, not the constant ``lr``.
    """

    def __init__(self) -> None:
        self._last_logged = {False: -1, True: -1}

    def on_train_batch_start(
        self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int
    ) -> None:
        # Schedules step right after the optimizer, before `on_train_batch_end`: read their rate before.
        self._log(trainer, trainer.global_step, schedule_free=False)

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        # A schedule-free optimizer computes the step's rate inside `step()`: read it after.
        self._log(trainer, trainer.global_step - 1, schedule_free=True)

    def _log(self, trainer: Trainer, step: int, schedule_free: bool) -> None:
        if step <= self._last_logged[schedule_free] or step % max(trainer.log_every_n_steps, 1) != 0:
            return
        optimizers = [
            (i, opt) for i, opt in enumerate(trainer.optimizers) if is_schedule_free(opt) == schedule_free
        ]
        if not optimizers:
            return
        self._last_logged[schedule_free] = step
        rates = learning_rates(trainer.optimizers, only=[i for i, _ in optimizers])
        for logger in trainer.loggers:
            logger.log_metrics(rates, step=step)


def learning_rates(optimizers: list, only: list[int] | None = None) -> dict[str, float]:
    """``{"lr-AdamW/decay": 0.001, ...}``: each parameter group's rate (``scheduled_lr`` if it has one)."""
    rates: dict[str, float] = {}
    names = [type(opt).__name__ for opt in optimizers]
    for index, optimizer in enumerate(optimizers):
        if only is not None and index not in only:
            continue
        name = f"lr-{names[index]}" + (f"-{index}" if names.count(names[index]) > 1 else "")
        groups = optimizer.param_groups
        for number, group in enumerate(groups, start=1):
            key = name if len(groups) == 1 else f"{name}/{group.get('name', f'pg{number}')}"
            rates[key] = float(group.get("scheduled_lr", group["lr"]))
    return rates
