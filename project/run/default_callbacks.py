"""The callbacks every run gets, handed to the Trainer when the CLI builds it (so Lightning orders them).

For ``fit``: the ``checkpoint:`` group's best checkpoints and a ``last.ckpt`` after every epoch, the
``early_stopping:`` group, ``run_info.json``, graceful SIGTERM/SIGINT, the non-finite-loss guard, RNG states
in checkpoints, checkpoint rankings that survive a moved run dir, no full garbage collections of start-up
objects and the learning rates; for every subcommand, the sparse progress bar. A callback of the same class in
``trainer.callbacks`` (e.g. ``NonFiniteLossGuard`` with ``action: skip``) is kept instead of the default.
"""

from typing import Any

from lightning.pytorch import Callback, Trainer
from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint
from lightning.pytorch.callbacks.progress import ProgressBar
from lightning.pytorch.plugins.io import TorchCheckpointIO
from lightning.pytorch.profilers import PassThroughProfiler
from lightning.pytorch.utilities.rank_zero import rank_zero_info

from project.callbacks.frozen_heap import FrozenStartupHeap
from project.callbacks.graceful_stop import GracefulStop
from project.callbacks.learning_rate import LearningRateLogger
from project.callbacks.moved_run import MovedRunCheckpoints
from project.callbacks.non_finite_loss import NonFiniteLossGuard
from project.callbacks.progress import SparseRichProgressBar
from project.callbacks.rng_state import RNGStateCheckpoint
from project.run.callback_groups import CheckpointOptions, EarlyStoppingOptions
from project.run.checkpoint_write import AtomicCheckpointIO
from project.run.inherited_hooks import skip_epoch_checkpoints_batch_end, skip_inherited_batch_hooks
from project.run.no_profiler import NoProfiler
from project.run.run_dir import RunDir
from project.run.run_info import RunInfoWriter


def default_callbacks(
    subcommand: str,
    trainer_args: dict[str, Any],
    run_dir: RunDir,
    checkpoint: CheckpointOptions | None,
    early_stopping: EarlyStoppingOptions | None,
) -> list[tuple[str, Callback]]:
    """``(config key, callback)`` pairs to add to ``trainer.callbacks`` (see the module docstring).

    Args:
        subcommand: ``fit``, ``validate``, ``test`` or ``predict``.
        trainer_args: The ``trainer:`` section as instantiated (its ``callbacks`` are the configured ones).
        run_dir: The run's directory.
        checkpoint: The ``checkpoint:`` group.
        early_stopping: The ``early_stopping:`` group (``None``: off).
    """
    configured = list(trainer_args.get("callbacks") or [])
    present = tuple(type(c) for c in configured)
    ours: list[tuple[str, Callback]] = []
    if trainer_args.get("enable_progress_bar", True) is not False and not any(
        isinstance(c, ProgressBar) for c in configured
    ):
        ours.append(("progress bar", SparseRichProgressBar()))
    if subcommand != "fit":
        return ours
    if trainer_args.get("enable_checkpointing", True) is not False:
        if checkpoint is not None:
            ours.append(("checkpoint", checkpoint.build(run_dir.checkpoints)))
        last = last_checkpoint(run_dir)
        if not any(isinstance(c, ModelCheckpoint) and c.state_key == last.state_key for c in configured):
            ours.append(("last.ckpt", last))
    if early_stopping is not None:
        ours.append(("early_stopping", early_stopping.build()))
    ours.append((RunDir.INFO, RunInfoWriter(run_dir.info)))
    for callback in (
        GracefulStop(dirpath=str(run_dir.checkpoints)),
        NonFiniteLossGuard(),
        RNGStateCheckpoint(),
        MovedRunCheckpoints(),
        FrozenStartupHeap(),
    ):
        if not any(issubclass(p, type(callback)) for p in present):
            ours.append((type(callback).__name__, callback))
    has_rate_logger = any(issubclass(p, LearningRateMonitor | LearningRateLogger) for p in present)
    if trainer_args.get("logger") not in (False, None, []) and not has_rate_logger:
        ours.append(("learning rates", LearningRateLogger()))
    return ours


def writes_last(callback: ModelCheckpoint) -> bool:
    """An unranked ModelCheckpoint named ``last``: it rewrites ``last.ckpt`` whenever it saves."""
    return callback.filename == "last" and callback.monitor is None


def last_checkpoint(run_dir: RunDir) -> ModelCheckpoint:
    """``checkpoints/last.ckpt``, rewritten after every training epoch: what resuming starts from.

    Lightning's ``save_last: true`` copies only checkpoints that were saved: with a monitor and ``save_top_k:
    1`` it refreshes ``last.ckpt`` only when the metric improves, and a resume would go back to that epoch.
    """
    return ModelCheckpoint(
        dirpath=str(run_dir.checkpoints),
        filename=run_dir.last_checkpoint.stem,
        monitor=None,
        save_top_k=1,
        save_on_train_epoch_end=True,  # also when validation runs only every N epochs
        enable_version_counter=False,  # always last.ckpt, never last-v1.ckpt
    )


def finish_trainer(trainer: Trainer, run_dir: RunDir) -> None:
    """What the Trainer's arguments cannot say: checkpoint paths, atomic writes, the profiler's folder, no
    calls of empty per-batch hooks."""
    for callback in trainer.checkpoint_callbacks:
        if isinstance(callback, ModelCheckpoint):
            if callback.dirpath is None:
                callback.dirpath = str(run_dir.checkpoints)
            if callback.save_last and not writes_last(callback):
                # Two writers of last.ckpt would make last-v1.ckpt; ours writes it after every epoch.
                callback.save_last = False
                rank_zero_info(
                    f"ModelCheckpoint(monitor={callback.monitor!r}): save_last off; last.ckpt is written "
                    "after every epoch by the run's own ModelCheckpoint(filename='last')."
                )
    if type(trainer.strategy.checkpoint_io) is TorchCheckpointIO:
        trainer.strategy.checkpoint_io = AtomicCheckpointIO()
    # A profiler's files would follow the first logger's directory, which MLflow does not have.
    if not isinstance(trainer.profiler, PassThroughProfiler) and trainer.profiler.dirpath is None:
        trainer.profiler.dirpath = str(run_dir.profiler)
    if isinstance(trainer.profiler, NoProfiler):
        skip_inherited_batch_hooks(trainer.callbacks)
        skip_epoch_checkpoints_batch_end(trainer.callbacks)
