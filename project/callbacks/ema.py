"""EMA of the weights: Lightning's ``EMAWeightAveraging``, and the combinations where it would be wrong.

Lightning's callback swaps the averaged weights in for every validation (so ``best.ckpt``, early stopping and
plateau schedules see the average), saves the average as the checkpoint's ``state_dict`` and the raw weights
as ``current_model_state``, and copies the average into the model when training ends.
"""

from importlib import import_module
from typing import Any

from jsonargparse import Namespace
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import EMAWeightAveraging
from lightning.pytorch.callbacks.weight_averaging import WeightAveraging
from lightning.pytorch.trainer.states import TrainerFn
from torch import nn

from project.errors import UserError
from project.optim.schedule_free import is_schedule_free_class

CURRENT_WEIGHTS = "current_model_state"
"""The checkpoint key under which the callback keeps the raw (not averaged) weights."""


class EMA(EMAWeightAveraging):
    """``EMAWeightAveraging`` whose evaluation of a checkpoint uses the averaged weights, and which copies
    the module without its Trainer.

    Lightning's callback keeps its averaged model after ``fit``; a later ``trainer.test(ckpt_path=...)`` in
    the same process (``run.test_after_fit``) then loads the checkpoint's raw weights
    (``current_model_state``) into the model and tests those. Here checkpoints restore both copies only
    while fitting (resume); any other stage keeps the checkpoint's ``state_dict``, which is the average.
    """

    def __init__(
        self,
        decay: float = 0.999,
        update_every_n_steps: int = 1,
        update_starting_at_step: int | None = None,
        update_starting_at_epoch: int | None = None,
        use_buffers: bool = True,
        device: str | None = None,
    ) -> None:
        """Average the weights after every optimizer step.

        Args:
            decay: Weight of the old average in each update, ``avg = decay * avg + (1 - decay) * w``; the
                average spans about ``1 / (1 - decay)`` steps.
            update_every_n_steps: Update the average every N optimizer steps.
            update_starting_at_step: First optimizer step (0-based) that updates the average; before it the
                average is the initial weights. ``null`` starts at once.
            update_starting_at_epoch: Also update at the end of each epoch from this one on (``null``: never).
            use_buffers: Average buffers (BatchNorm statistics) too; ``false`` is refused for nets with
                BatchNorm, whose statistics would no longer match the averaged weights.
            device: Where the average lives (e.g. ``cpu`` to save GPU memory); ``null``: with the model.
        """
        super().__init__(
            device=device,
            use_buffers=use_buffers,
            decay=decay,
            update_every_n_steps=update_every_n_steps,
            update_starting_at_step=update_starting_at_step,
            update_starting_at_epoch=update_starting_at_epoch,
        )

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        # The average is a deepcopy of the module, which would also copy the Trainer it references and the
        # optimizer/schedule factories (whose closures reach the CLI and its Trainer): loggers' locks fail to
        # copy ("cannot pickle '_thread.lock' object"). The average needs the weights only: copy it without.
        detached = {k: v for k, v in vars(pl_module).items() if callable(v) and not isinstance(v, nn.Module)}
        vars(pl_module).update(dict.fromkeys(detached))
        pl_module.trainer = None
        try:
            super().setup(trainer, pl_module, stage)
        finally:
            pl_module.trainer = trainer
            vars(pl_module).update(detached)

    def on_load_checkpoint(
        self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        if trainer.state.fn == TrainerFn.FITTING:
            super().on_load_checkpoint(trainer, pl_module, checkpoint)


def averaging_callback(cfg: Namespace) -> str | None:
    """The class name of a weight-averaging callback in the config's ``trainer.callbacks``, if any."""
    for entry in cfg.trainer.get("callbacks") or []:
        class_path = entry.get("class_path", "") if isinstance(entry, Namespace) else ""
        module, _, name = class_path.rpartition(".")
        try:
            cls = getattr(import_module(module), name)
        except (ImportError, AttributeError, ValueError):
            continue
        if isinstance(cls, type) and issubclass(cls, WeightAveraging):
            return name
    return None


def refuse_weight_averaging_combinations(cfg: Namespace) -> None:
    """Before anything is built: weight averaging with FSDP or a schedule-free optimizer is refused."""
    averaging = averaging_callback(cfg)
    if averaging is None:
        return
    name = f"trainer.callbacks ({averaging})"
    strategy = cfg.trainer.get("strategy")
    strategy = strategy.get("class_path", "") if isinstance(strategy, Namespace) else str(strategy or "")
    if "fsdp" in strategy.lower() or "modelparallel" in strategy.lower():
        raise UserError(
            f"{name} with trainer.strategy ({strategy.rpartition('.')[2]}): weight averaging keeps a "
            "whole copy of the model and does not support sharded models; use ddp, or drop the EMA preset"
        )
    optimizer = (cfg.model.get("optimizer") or Namespace()).get("class_path") or ""
    if is_schedule_free_class(optimizer):
        raise UserError(
            f"{name} with model.optimizer ({optimizer.rpartition('.')[2]}): a schedule-free optimizer "
            "already averages its iterates, and its train/eval swap would act on the EMA weights (and EMA "
            "would average the training point y, not the model x); use one of them, not both"
        )


def refuse_stale_batch_norm(trainer: Trainer, model: LightningModule) -> None:
    """``use_buffers: false`` with BatchNorm layers is refused: the statistics would not fit the average."""
    for callback in trainer.callbacks:
        if (
            isinstance(callback, WeightAveraging) and not callback._use_buffers
        ):  # Lightning keeps it only here
            norms = [n for n, m in model.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
            if norms:
                raise UserError(
                    f"trainer.callbacks ({type(callback).__name__}) init_args.use_buffers: false, but "
                    f"model.net has BatchNorm layers ({norms[0]}...): their running statistics would not "
                    "match the averaged weights; set use_buffers: true"
                )
