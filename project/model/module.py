"""The LightningModule: a net, an optimizer factory, an optional schedule, a loss and an evaluator."""

from typing import Literal

import torch
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities.rank_zero import rank_zero_warn
from torch import nn

from project.callbacks.logging_steps import logs_next_step
from project.evaluation.evaluator import Evaluator
from project.evaluation.rank_samples import batch_parts
from project.model.hook_name import FastHookName
from project.model.performance import (
    MatmulPrecision,
    channels_last_input,
    set_matmul_precision,
    use_channels_last,
)
from project.model.sharded_clipping import clip_sharded_grad_norm
from project.optim import schedule_free
from project.optim.plateau import PlateauScheduleCallable, monitor_of
from project.optim.resume_warning import changed_arguments
from project.optim.resume_warning import message as resume_warning


def without_compile_prefix(state: dict) -> dict:
    """State-dict keys without the ``_orig_mod.`` that ``torch.compile``'s wrapper adds."""
    return {key.replace("_orig_mod.", ""): value for key, value in state.items()}


class SupervisedModule(FastHookName):
    """Supervised training of ``net`` on ``(input, target[, index])`` batches.

    Logs ``train/loss`` per step, ``val/loss`` and ``test/loss`` per epoch, and the evaluator's results as
    ``val/<name>`` and ``test/<name>``; ``predict`` returns the evaluator's view of the outputs (class
    probabilities for a classifier).
    """

    def __init__(
        self,
        net: nn.Module,
        optimizer: OptimizerCallable,
        scheduler: PlateauScheduleCallable | LRSchedulerCallable | None = None,
        scheduler_interval: Literal["epoch", "step"] = "epoch",
        loss: nn.Module | None = None,
        evaluator: Evaluator | None = None,
        no_weight_decay_on_bias_and_norm: bool = True,
        compile: bool = False,
        compile_mode: Literal["default", "reduce-overhead", "max-autotune"] = "default",
        gradient_checkpointing: bool = False,
        channels_last: bool = False,
        float32_matmul_precision: MatmulPrecision | None = None,
    ) -> None:
        """Assemble the model.

        Args:
            net: The network, e.g. ``{class_path: ResNet, init_args: {depth: 18}}`` or any ``nn.Module``
                by import path.
            optimizer: Optimizer class and arguments, e.g. ``{class_path: AdamW, init_args: {lr: 0.001}}``;
                called with the parameter groups.
            scheduler: Learning-rate schedule, called with the optimizer; ``null`` keeps the rate constant
                (and must be ``null`` with a schedule-free optimizer). ``ReduceLROnPlateau`` takes a
                ``monitor``.
            scheduler_interval: Step the schedule once per ``epoch`` or once per optimizer ``step`` (after
                gradient accumulation).
            loss: Loss taking ``(outputs, targets)``; cross entropy when not given.
            evaluator: Metrics over validation and test batches, e.g. ``ClassificationEvaluator``.
            no_weight_decay_on_bias_and_norm: Put biases and normalisation weights in a parameter group with
                ``weight_decay: 0``.
            compile: Compile the net with ``torch.compile`` (checkpoints keep the uncompiled key names).
            compile_mode: ``torch.compile`` mode: ``default``, ``reduce-overhead`` or ``max-autotune``.
            gradient_checkpointing: Recompute the net's block activations in backward (nets with a
                ``gradient_checkpointing`` attribute, as the built-in ones).
            channels_last: Convolutional nets: weights and image batches in channels-last (NHWC) memory
                format, faster with mixed precision on recent GPUs.
            float32_matmul_precision: ``torch.set_float32_matmul_precision``: ``high`` or ``medium`` let
                float32 matmuls use TF32/bf16 tensor cores on Ampere+ GPUs; ``null`` keeps torch's default.
        """
        super().__init__()
        self.save_hyperparameters(logger=False)
        self.net = net
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.scheduler_interval = scheduler_interval
        self.loss = loss if loss is not None else nn.CrossEntropyLoss()
        self.evaluator = evaluator if evaluator is not None else Evaluator()
        self.no_weight_decay_on_bias_and_norm = no_weight_decay_on_bias_and_norm
        self.compile_net = compile
        self.compile_mode = compile_mode
        if gradient_checkpointing:
            if not hasattr(net, "gradient_checkpointing"):
                raise ValueError(
                    f"model.gradient_checkpointing: {type(net).__name__} has no"
                    " `gradient_checkpointing` attribute"
                )
            net.gradient_checkpointing = True
        self.channels_last = channels_last
        set_matmul_precision(float32_matmul_precision)
        # Held outside the module tree so state-dict keys stay free of the `_orig_mod.` prefix.
        object.__setattr__(self, "_compiled_net", None)
        self._schedule_free: bool | None = None  # whether the fit's optimizers are; found at its first step

    def setup(self, stage: str) -> None:
        if self.channels_last:
            use_channels_last(self.net)
        if self.compile_net and self._compiled_net is None:
            object.__setattr__(self, "_compiled_net", torch.compile(self.net, mode=self.compile_mode))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        net = self._compiled_net if self._compiled_net is not None else self.net
        return net(channels_last_input(x) if self.channels_last else x)

    def training_step(self, batch: tuple, batch_idx: int) -> torch.Tensor:
        x, y = batch[0], batch[1]
        loss = self.loss(self(x), y)
        if logs_next_step(self.trainer):  # `self.log` costs ~0.5 ms; a value nothing reads is thrown away
            # Not `prog_bar=True`: Lightning turns bar values into numbers after every batch (a host read per
            # step); SparseRichProgressBar shows train/loss, read only on the steps that log.
            self.log("train/loss", loss)
        return loss

    def _evaluate(self, batch: tuple, stage: str) -> None:
        x, y, index = batch_parts(batch)
        # The evaluator averages the loss too (logged as <stage>/loss), counting each sample once under DDP.
        self.evaluator.evaluate_batch(self(x), y, index, loss=self.loss)

    def validation_step(self, batch: tuple, batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def test_step(self, batch: tuple, batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def predict_step(self, batch: tuple, batch_idx: int) -> torch.Tensor:
        x, y, index = batch_parts(batch)
        return self.evaluator.predict_batch(self(x), y, index)

    def on_validation_epoch_start(self) -> None:
        self.evaluator.start_epoch("val", self.trainer)

    def on_test_epoch_start(self) -> None:
        self.evaluator.start_epoch("test", self.trainer)

    def on_predict_epoch_start(self) -> None:
        self.evaluator.start_epoch("predict", self.trainer)

    def on_predict_epoch_end(self) -> None:
        self.evaluator.end_epoch("predict", self.trainer)

    def on_validation_epoch_end(self) -> None:
        self._log_evaluation("val")

    def on_test_epoch_end(self) -> None:
        self._log_evaluation("test")

    def _log_evaluation(self, stage: str) -> None:
        results = self.evaluator.end_epoch(stage, self.trainer)
        self.log_dict({f"{stage}/{name}": value for name, value in results.items()}, sync_dist=True)

    def monitor_keys(self) -> list[str]:
        """The keys logged during ``fit`` that a ``monitor`` may name (learning rates come as ``lr-*``)."""
        return ["train/loss", "val/loss", *(f"val/{name}" for name in self.evaluator.metric_names)]

    def configure_gradient_clipping(
        self, optimizer: torch.optim.Optimizer, gradient_clip_val: float | None = None,
        gradient_clip_algorithm: str | None = None,
    ) -> None:  # fmt: skip
        # Under FSDP, clip the whole sharded model's norm (Lightning's own norm clipping refuses FSDP).
        if not clip_sharded_grad_norm(self.trainer, gradient_clip_val, gradient_clip_algorithm):
            super().configure_gradient_clipping(optimizer, gradient_clip_val, gradient_clip_algorithm)

    def parameter_groups(self) -> list[dict]:
        """All trainable parameters; biases and norm weights in a group without weight decay if configured."""
        params = [(n, p) for n, p in self.named_parameters() if p.requires_grad]
        if not self.no_weight_decay_on_bias_and_norm:
            return [{"params": [p for _, p in params]}]
        norm_params = {
            id(p)
            for m in self.modules()
            if isinstance(m, nn.modules.batchnorm._NormBase | nn.LayerNorm | nn.GroupNorm)
            for p in m.parameters(recurse=False)
        }
        no_decay = [p for n, p in params if n.endswith(".bias") or id(p) in norm_params]
        decay = [p for n, p in params if not (n.endswith(".bias") or id(p) in norm_params)]
        # `name` keys the logged learning rate (`lr-AdamW/decay`), as in Lightning's LearningRateMonitor.
        groups = [{"params": decay, "name": "decay"}]
        if no_decay:
            groups.append({"params": no_decay, "weight_decay": 0.0, "name": "no_decay"})
        return groups

    def configure_optimizers(self) -> dict:
        optimizer = self.optimizer_factory(self.parameter_groups())
        if self.scheduler_factory is None:
            return {"optimizer": optimizer}
        if schedule_free.is_schedule_free(optimizer):
            schedule_free.refuse_schedule(f"{type(optimizer).__module__}.{type(optimizer).__name__}", True)
        scheduler = self.scheduler_factory(optimizer)
        saved = getattr(self, "_saved_schedules", None)  # set when resuming, see `on_load_checkpoint`
        if saved and (changed := changed_arguments(saved[0], scheduler.state_dict())):
            rank_zero_warn(resume_warning(changed))
        config = {"scheduler": scheduler, "interval": self.scheduler_interval}
        if monitor := monitor_of(scheduler):
            config["monitor"] = monitor
            if monitor.startswith("val/") and self.scheduler_interval == "epoch":
                # Step only in epochs that validate, so the monitored value exists when the schedule reads it.
                config["frequency"] = self.trainer.check_val_every_n_epoch or 1
        return {"optimizer": optimizer, "lr_scheduler": config}

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        # Runs before `configure_optimizers` when resuming; the schedule's state is restored after it.
        self._saved_schedules = checkpoint.get("lr_schedulers")
        # Before the weights load: checkpoints of an in-place compiled net carry `_orig_mod.` (PL#17415); the
        # raw weights an EMA run keeps beside its average (`current_model_state`) need the same fix-up.
        for key in ("state_dict", "current_model_state"):
            if key in checkpoint:
                checkpoint[key] = without_compile_prefix(checkpoint[key])

    # Schedule-free optimizers: y (train mode) for training steps, x (eval mode) for everything else. The
    # Trainer (`project.run.trainer`) writes every checkpoint in eval mode. See `project.optim.schedule_free`.

    def _optimizers(self) -> list:
        return self._trainer.optimizers if self._trainer is not None else []

    def on_train_batch_start(self, batch: tuple, batch_idx: int) -> None:
        if self._schedule_free is None:  # looked up once per fit: this runs before every training step
            self._schedule_free = any(schedule_free.is_schedule_free(opt) for opt in self._optimizers())
        if self._schedule_free:  # back to y after a validation (or a checkpoint) in eval mode
            schedule_free.set_mode(self._optimizers(), train=True)

    def on_validation_model_eval(self) -> None:
        super().on_validation_model_eval()
        if self.trainer.state.fn == TrainerFn.FITTING:
            schedule_free.set_mode(self._optimizers(), train=False)

    def on_train_end(self) -> None:
        # The trained model is x: later test/predict calls in this process see it.
        schedule_free.set_mode(self._optimizers(), train=False)
        self._schedule_free = None  # a later fit may bring other optimizers

    def on_test_model_eval(self) -> None:
        super().on_test_model_eval()
        schedule_free.set_mode(self._optimizers(), train=False)

    def on_predict_model_eval(self) -> None:
        super().on_predict_model_eval()
        schedule_free.set_mode(self._optimizers(), train=False)
