"""A NaN or infinite training loss stops the run (naming the step and last good checkpoint), or is skipped."""

import math
from typing import Any, Literal

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.utilities.rank_zero import rank_zero_warn


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite."""


class NonFiniteLossGuard(Callback):
    """Checks the loss before each backward pass.

    ``action: stop`` raises before the bad gradients reach the weights, so every checkpoint on disk is good.
    ``action: skip`` drops the optimizer step of the accumulation window that contained the bad loss (the
    gradients are set to ``None``, which torch optimizers skip: no update, no momentum, no weight decay) and
    stops after ``max_skips`` skipped steps in a row.

    The CLI adds ``NonFiniteLossGuard()`` (``action: stop``) to every ``fit``; put one in
    ``trainer.callbacks`` to change it. The check costs one host-device synchronisation per micro-batch.
    """

    def __init__(self, action: Literal["stop", "skip"] = "stop", max_skips: int = 10) -> None:
        """Choose what a non-finite loss does.

        Args:
            action: ``stop`` ends the run with a message; ``skip`` drops that optimizer step and goes on.
            max_skips: With ``skip``: stop after this many consecutive skipped optimizer steps.
        """
        if action not in ("stop", "skip"):
            raise ValueError(f"NonFiniteLossGuard.action: {action!r} is not allowed; use stop or skip")
        self.action = action
        self.max_skips = max_skips
        self.bad_in_window = False
        self.skipped_in_a_row = 0
        self.skipped_total = 0

    def on_before_backward(self, trainer: Trainer, pl_module: LightningModule, loss: torch.Tensor) -> None:
        # A scalar read costs 1 us on CPU against 10 us for `isfinite().all()`; on GPU both are one sync.
        loss = loss.detach()
        if math.isfinite(loss.item()) if loss.numel() == 1 else bool(torch.isfinite(loss).all()):
            return
        if self.action == "stop" or self.skipped_in_a_row + 1 > self.max_skips:
            raise NonFiniteLossError(self.message(trainer, loss))
        self.bad_in_window = True

    def on_before_optimizer_step(
        self, trainer: Trainer, pl_module: LightningModule, optimizer: torch.optim.Optimizer
    ) -> None:
        if not self.bad_in_window:
            self.skipped_in_a_row = 0
            return
        self.bad_in_window = False
        self.skipped_in_a_row += 1
        self.skipped_total += 1
        optimizer.zero_grad(set_to_none=True)
        rank_zero_warn(
            f"Non-finite loss: skipped the optimizer step at global step {trainer.global_step} "
            f"({self.skipped_total} skipped so far)."
        )

    def message(self, trainer: Trainer, loss: torch.Tensor) -> str:
        value = "NaN" if bool(torch.isnan(loss.detach()).any()) else "infinite"
        checkpoint = last_good_checkpoint(trainer)
        where = f"the last good checkpoint is {checkpoint}" if checkpoint else "no checkpoint was saved yet"
        return (
            f"The training loss is {value} at global step {trainer.global_step} "
            f"(epoch {trainer.current_epoch}, batch {trainer.fit_loop.epoch_loop.batch_idx + 1}); {where}. "
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
