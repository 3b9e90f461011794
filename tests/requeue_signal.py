"""Test-only callback: SLURM's requeue signal (SIGUSR1) at a chosen step, timing Lightning's handler."""

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer


class RaiseRequeueSignal(Callback):
    """Raises SIGUSR1 in this process after optimizer step ``$REQUEUE_SIGNAL_AT_STEP`` (no-op when unset).

    ``srun --signal`` signals every task; raising it on every rank at the same step (instead of a kill from
    outside, which each rank would handle at a different moment) keeps Lightning's handler, which saves a
    checkpoint behind a barrier, in step across the ranks. ``signal.raise_signal`` runs the handler before it
    returns, so the time it takes is the handler's: written to ``$REQUEUE_SIGNAL_REPORT/rank<r>.json``.
    """

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if str(trainer.global_step) != os.environ.get("REQUEUE_SIGNAL_AT_STEP"):
            return
        started = time.monotonic()
        signal.raise_signal(signal.SIGUSR1)
        took = time.monotonic() - started
        report = Path(os.environ["REQUEUE_SIGNAL_REPORT"]) / f"rank{trainer.global_rank}.json"
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(json.dumps({"handler_seconds": took, "step": trainer.global_step}))
