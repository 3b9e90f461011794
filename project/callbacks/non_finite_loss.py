"""A NaN or infinite training loss stops the run (naming the step and last good checkpoint), or is skipped.

The check never makes the host wait for the device on a training step: each micro-batch's detached loss is
kept (a reference, no kernel), and they are read together (one stack, one transfer) on the steps the loggers
record (every ``trainer.log_every_n_steps``), at the end of each training epoch, before every checkpoint is
written, and after ``MAX_PENDING`` micro-batches at the latest. ``loss.item()`` after every step would be a
device-to-host synchronisation per step, which stops the CPU from queueing the next kernels.
"""

import math
from typing import Any, Literal

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.utilities.rank_zero import rank_zero_warn

from project.callbacks.logging_steps import at_optimizer_step_boundary, logs_this_step

# Losses kept between two reads at most (a run that logs rarely is read every this many micro-batches).
MAX_PENDING = 1000


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite."""


class NonFiniteLossGuard(Callback):
    """Watches the training loss for NaN and infinity without a host read on the steps that do not log.

    ``action: stop`` raises at the next read (at most ``trainer.log_every_n_steps`` steps later) and always
    before a checkpoint is written, so every checkpoint on disk is good; the message names the first bad
    step. ``action: skip`` replaces the gradients of an accumulation window whose loss (or, under DDP, whose
    averaged gradient) is not finite by zeros on the device, before clipping and the optimizer step: no NaN
    reaches the weights. Deciding to skip ``optimizer.step()`` itself would need the host to read the loss
    before every step, so the optimizer still steps with a zero gradient: plain SGD leaves the weights as
    they are, while momentum, Adam's moments and weight decay carry on for that step as they would for a zero
    gradient. Skipped steps are counted and reported at the next read; more than ``max_skips`` in a row stop
    the run.

    The CLI adds ``NonFiniteLossGuard()`` (``action: stop``) to every ``fit``; put one in
    ``trainer.callbacks`` to change it.
    """

    def __init__(self, action: Literal["stop", "skip"] = "stop", max_skips: int = 10) -> None:
        """Choose what a non-finite loss does.

        Args:
            action: ``stop`` ends the run with a message; ``skip`` zeroes that optimizer step's gradients
                and goes on.
            max_skips: With ``skip``: stop after this many consecutive skipped optimizer steps.
        """
        if action not in ("stop", "skip"):
            raise ValueError(f"NonFiniteLossGuard.action: {action!r} is not allowed; use stop or skip")
        self.action = action
        self.max_skips = max_skips
        self.skipped_in_a_row = 0
        self.skipped_total = 0
        self._losses: list[torch.Tensor] = []  # each micro-batch's detached loss since the last read
        self._where: list[tuple[int, int, int]] = []  # (global step, epoch, batch) of each loss
        self._finite_windows: list[torch.Tensor] = []  # skip: one flag per optimizer step since the read
        self._windows: list[int] = []  # skip: the global step of each flag
        self._window_start = 0

    # --- on the device, every micro-batch ------------------------------------------------------------------

    def on_before_backward(self, trainer: Trainer, pl_module: LightningModule, loss: torch.Tensor) -> None:
        # Only a reference to the detached loss: no kernel, no copy, no synchronisation on this step.
        self._losses.append(loss.detach())
        loop = trainer.fit_loop.epoch_loop
        self._where.append((trainer.global_step, trainer.current_epoch, loop.batch_idx + 1))
        if len(self._losses) >= MAX_PENDING:
            self.check(trainer)

    def on_before_optimizer_step(
        self, trainer: Trainer, pl_module: LightningModule, optimizer: torch.optim.Optimizer
    ) -> None:
        if self.action != "skip" or len(self._losses) <= self._window_start:
            return
        window = self._losses[self._window_start :]
        finite = torch.isfinite(torch.stack([loss.sum() for loss in window])).all()
        grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        if grads:
            # Under DDP one rank's NaN reaches every rank through the gradient all-reduce.
            finite &= torch.isfinite(torch.stack(torch._foreach_norm(grads)).sum())
        for grad in grads:
            grad.masked_fill_(~finite, 0.0)
        self._finite_windows.append(finite)
        self._windows.append(trainer.global_step)
        self._window_start = len(self._losses)

    # --- on the host, when the buffer is read --------------------------------------------------------------

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if at_optimizer_step_boundary(trainer, batch_idx) and logs_this_step(trainer):
            self.check(trainer)

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.check(trainer)

    def on_save_checkpoint(self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict) -> None:
        # Runs before the file is written: a bad loss since the last read stops the save.
        self.check(trainer)
        checkpoint.setdefault("callbacks", {})[self.state_key] = self.state_dict()

    def check(self, trainer: Trainer) -> None:
        """Read the losses since the last read (one transfer); raise or report what was not finite."""
        if not self._losses:
            return
        values = torch.stack([loss.float().sum() for loss in self._losses]).tolist()
        where, self._where, self._losses, self._window_start = self._where, [], [], 0
        if self.action == "skip":
            self._report_skips(trainer, values, where)
            return
        bad = next((i for i, v in enumerate(values) if not math.isfinite(v)), None)
        if bad is not None:
            raise NonFiniteLossError(self.message(trainer, values[bad], *where[bad]))

    def _report_skips(self, trainer: Trainer, values: list[float], where: list[tuple[int, int, int]]) -> None:
        windows, self._windows = self._windows, []
        finite = torch.stack(self._finite_windows).tolist() if self._finite_windows else []
        self._finite_windows = []
        for step, ok in zip(windows, finite, strict=True):
            if ok:
                self.skipped_in_a_row = 0
                continue
            self.skipped_in_a_row += 1
            self.skipped_total += 1
            if self.skipped_in_a_row > self.max_skips:
                first = next((i for i, v in enumerate(values) if not math.isfinite(v)), None)
                value, at = (values[first], where[first]) if first is not None else (math.nan, (step, 0, 0))
                raise NonFiniteLossError(self.message(trainer, value, *at))
            rank_zero_warn(
                f"Non-finite loss: zeroed the gradients of the optimizer step at global step {step} "
                f"({self.skipped_total} skipped so far)."
            )

    def message(self, trainer: Trainer, value: float, step: int, epoch: int, batch: int) -> str:
        kind = "NaN" if math.isnan(value) else "infinite"
        checkpoint = last_good_checkpoint(trainer)
        where = f"the last good checkpoint is {checkpoint}" if checkpoint else "no checkpoint was saved yet"
        return (
            f"The training loss is {kind} at global step {step} (epoch {epoch}, batch {batch}); {where}. "
            "Try a lower model.optimizer.init_args.lr, trainer.gradient_clip_val: 1.0, trainer.precision: "
            "32-true, or NonFiniteLossGuard(action: skip)."
        )

    def state_dict(self) -> dict[str, Any]:
        return {"skipped_total": self.skipped_total}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.skipped_total = state_dict.get("skipped_total", 0)


def last_good_checkpoint(trainer: Trainer) -> str | None:
    """The newest checkpoint a ModelCheckpoint wrote in this process: ``last_model_path``, else the best."""
    for callback in trainer.checkpoint_callbacks:
        if isinstance(callback, ModelCheckpoint):
            path = callback.last_model_path or callback.best_model_path
            if path:
                return path
    return None
