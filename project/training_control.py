"""What the CLI adds to every ``fit`` so that runs survive kills and signals (see ``project.callbacks``)."""

from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.plugins.io import TorchCheckpointIO
from lightning.pytorch.profilers import PassThroughProfiler
from lightning.pytorch.utilities.rank_zero import rank_zero_info

from project.callbacks.frozen_heap import FrozenStartupHeap
from project.callbacks.graceful_stop import GracefulStop
from project.callbacks.non_finite_loss import NonFiniteLossGuard
from project.callbacks.rng_state import RNGStateCheckpoint
from project.checkpoint_io import AtomicCheckpointIO
from project.no_profiler import use_no_profiler
from project.run_dir import RunDir


def add_training_control(trainer: Trainer, run_dir: RunDir) -> None:
    """Atomic checkpoint writes, RNG states in checkpoints, graceful SIGTERM/SIGINT, the non-finite-loss
    guard, no full garbage collections of start-up objects, profiler output in ``<run dir>/profiler``, and no
    per-hook cost of the default profiler (``NoProfiler``).

    A callback of the same class in ``trainer.callbacks`` (e.g. ``NonFiniteLossGuard`` with ``action: skip``)
    is kept instead of the default; a ``CheckpointIO`` in ``trainer.plugins`` is kept as it is.
    """
    present = {type(callback) for callback in trainer.callbacks}
    defaults = [
        GracefulStop(dirpath=str(run_dir.checkpoints)),
        NonFiniteLossGuard(),
        RNGStateCheckpoint(),
        FrozenStartupHeap(),
    ]
    trainer.callbacks.extend(c for c in defaults if not any(issubclass(p, type(c)) for p in present))
    if type(trainer.strategy.checkpoint_io) is TorchCheckpointIO:
        trainer.strategy.checkpoint_io = AtomicCheckpointIO()
    # A profiler's files would follow the first logger's directory, which MLflow does not have: use the run
    # dir.
    if not isinstance(trainer.profiler, PassThroughProfiler) and trainer.profiler.dirpath is None:
        trainer.profiler.dirpath = str(run_dir.path / "profiler")
    use_no_profiler(trainer)


def writes_last(callback: ModelCheckpoint) -> bool:
    """An unranked ModelCheckpoint named ``last``: it rewrites ``last.ckpt`` whenever it saves."""
    return callback.filename == "last" and callback.monitor is None


def ensure_last_checkpoint(trainer: Trainer, run_dir: RunDir) -> None:
    """Make sure ``checkpoints/last.ckpt`` is rewritten after every training epoch.

    Lightning's ``save_last: true`` copies only checkpoints that were saved: with a monitor and ``save_top_k:
    1`` it refreshes ``last.ckpt`` only when the metric improves, and a resume would go back to that epoch.
    Unless a config already has an unranked ModelCheckpoint named ``last`` (as ``configs/digits.yaml``), one
    is added and ``save_last`` is turned off on the others (two writers of one file would make
    ``last-v1.ckpt``).
    """
    checkpoints = [c for c in trainer.checkpoint_callbacks if isinstance(c, ModelCheckpoint)]
    if any(writes_last(c) for c in checkpoints):
        return
    for callback in checkpoints:
        if callback.save_last:
            callback.save_last = False
            rank_zero_info(
                f"ModelCheckpoint(monitor={callback.monitor!r}): save_last off; last.ckpt is written "
                "after every epoch by an added ModelCheckpoint(filename='last')."
            )
    trainer.callbacks.append(
        ModelCheckpoint(
            dirpath=str(run_dir.checkpoints),
            filename="last",
            monitor=None,
            save_top_k=1,
            save_on_train_epoch_end=True,
            enable_version_counter=False,
        )
    )
