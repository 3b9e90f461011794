"""SIGTERM and SIGINT: finish the optimizer step, save ``last.ckpt``, close the loggers, exit non-zero.

Running the same command again resumes (``fit --config RUN/config.yaml`` picks up ``last.ckpt``). The exit
status is ``128 + signal``: 143 for SIGTERM, 130 for SIGINT (Ctrl+C). A second Ctrl+C stops at once without
saving.

Lightning's own SIGTERM handling stops after the current *batch*, also in the middle of an accumulation window
whose gradients are then lost, and exits with status 0. This callback replaces it while training runs and
hands the signals back afterwards. The save goes through ``trainer.save_checkpoint`` at
``on_train_batch_end``, the same moment as ModelCheckpoint's step-based saves, so other callbacks' checkpoint
hooks apply and the loops restart exactly after that batch. Every rank stops at the same step: under DDP the
ranks agree on the stop (one all-reduce) only on the steps that log (every ``trainer.log_every_n_steps``, or
``agree_every_n_steps``) and at each epoch's start, never on the others, so a stop waits at most that many
steps; a blocking collective on every step would hold every rank's CPU until the slowest GPU is done.
"""

import signal
import sys
import threading
from pathlib import Path
from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.utilities.exceptions import SIGTERMException
from lightning.pytorch.utilities.rank_zero import rank_zero_info

from project.callbacks.logging_steps import at_optimizer_step_boundary, logs_this_step
from project.callbacks.step_checkpoint import is_last_batch_of_epoch
from project.run.run_dir import RunDir

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class GracefulStop(Callback):
    """Turns SIGTERM/SIGINT during ``fit`` into "save ``last.ckpt`` after this optimizer step, then exit".

    The CLI adds it to every ``fit``; configuring it yourself replaces the CLI's.
    """

    def __init__(self, dirpath: str | None = None, agree_every_n_steps: int | None = None) -> None:
        """Set where the checkpoint goes when no ModelCheckpoint says.

        Args:
            dirpath: Folder of ``last.ckpt`` when the run has no ModelCheckpoint; the CLI passes the run's
                ``checkpoints/``.
            agree_every_n_steps: With several processes: how often (in optimizer steps) they agree on a
                stop; ``null`` is ``trainer.log_every_n_steps``. A single process stops after the current
                optimizer step.
        """
        self.dirpath = dirpath
        self.agree_every_n_steps = agree_every_n_steps
        self.requested: int | None = None
        self._single_process = True
        self._previous: dict[int, Any] = {}

    # --- signal handlers ----------------------------------------------------------------------------------

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested is None:
            self.requested = signum
            sys.stderr.write(
                f"\nReceived {signal.Signals(signum).name}: saving last.ckpt at the end of this optimizer "
                "step, then exiting. Ctrl+C again stops at once without saving.\n"
            )
        elif signum == signal.SIGINT:
            raise KeyboardInterrupt

    def _install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in SIGNALS:
            self._previous[signum] = signal.getsignal(signum)
            signal.signal(signum, self._handle)

    def _restore(self) -> None:
        for signum, handler in self._previous.items():
            if handler is not None:
                signal.signal(signum, handler)
        self._previous = {}

    # --- hooks ------------------------------------------------------------------------------------------

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.requested = None
        self._single_process = trainer.world_size == 1
        self._install()

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._restore()

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if self.requested is None and self._single_process:  # every step of a run not asked to stop
            return
        if not at_optimizer_step_boundary(trainer, batch_idx) or is_last_batch_of_epoch(trainer, batch_idx):
            # At an epoch's last batch, the end-of-epoch last.ckpt comes next; stop after it (see below).
            return
        if self._single_process or self._agrees_now(trainer):
            self.stop_if_requested(trainer)

    def _agrees_now(self, trainer: Trainer) -> bool:
        if self.agree_every_n_steps is None:
            return logs_this_step(trainer)
        return trainer.global_step % max(1, self.agree_every_n_steps) == 0

    def on_train_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        # A signal during an epoch's last batch, validation or end: last.ckpt was written at the epoch's end
        # (Lightning resumes wrongly from a step checkpoint taken at the last batch, see StepCheckpoint).
        self.stop_if_requested(trainer, save=False)

    def stop_if_requested(self, trainer: Trainer, save: bool = True) -> None:
        requested = self.requested is not None
        if trainer.world_size > 1:
            # Ranks receive signals at different moments; all must stop (and save) at the same step.
            requested = trainer.strategy.reduce_boolean_decision(requested, all=False)
        if not requested:
            return
        signum = self.requested or signal.SIGTERM
        path = self.last_checkpoint_path(trainer)
        if save:
            trainer.save_checkpoint(path)
        rank_zero_info(
            f"Stopped by {signal.Signals(signum).name} at global step {trainer.global_step} "
            f"(epoch {trainer.current_epoch}); {'saved' if save else 'kept'} {path}. "
            "Run the same command again to resume."
        )
        raise SIGTERMException(128 + signum)

    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: BaseException) -> None:
        self._restore()
        # Lightning's own SIGTERM path (outside training, e.g. while testing) exits with status 0 otherwise.
        if isinstance(exception, SIGTERMException) and exception.code is None:
            exception.code = 128 + signal.SIGTERM

    def last_checkpoint_path(self, trainer: Trainer) -> str:
        """The file ModelCheckpoint keeps as ``last``, so that resuming finds the newest state."""
        for callback in trainer.checkpoint_callbacks:
            if isinstance(callback, ModelCheckpoint) and callback.dirpath is not None:
                return callback.format_checkpoint_name({}, filename=callback.CHECKPOINT_NAME_LAST)
        run = RunDir(Path(trainer.default_root_dir))
        return str(Path(self.dirpath) / run.last_checkpoint.name if self.dirpath else run.last_checkpoint)
