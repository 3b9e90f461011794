"""Benchmark-only callbacks (``scripts/bench.py`` adds them): ``LoopTimer`` times the training loop inside
``main.py fit``, ``BatonTimer`` times its blocks of steps in lock-step with the other kinds
(``bench_lockstep``), ``CallCounter`` counts the calls of a training step, ``InstructionWindow`` its
instructions under callgrind.

``LoopTimer`` writes ``$BENCH_OUT`` as JSON: seconds from ``on_train_start`` to ``on_train_end`` (every
per-step cost of the template is inside: hooks, ``self.log``, loggers, progress bar, checkpoint callbacks),
the steps done, the last training loss and the thread count.
"""

import json
import os
import sys
import time

import torch
from lightning.pytorch import Callback, LightningModule, Trainer


class LoopTimer(Callback):
    """Wall time of the training loop, and the final ``train/loss``."""

    def __init__(self) -> None:
        self.start = self.cpu_start = 0.0

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        # The MLflow run opens in the background while the first steps run (a one-time cost the start-up
        # figure has): wait for it so that it does not land in one of the two timed runs and not the other.
        for logger in trainer.loggers:
            if hasattr(logger, "opened_run_id"):
                logger.opened_run_id()
        self.start = time.perf_counter()
        self.cpu_start = time.process_time()

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs, batch, batch_idx
    ) -> None:
        self.loss = outputs["loss"] if isinstance(outputs, dict) else outputs

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        seconds = time.perf_counter() - self.start
        result = {
            "seconds": seconds,
            "cpu_seconds": time.process_time() - self.cpu_start,
            "steps": trainer.global_step,
            "loss": float(self.loss),
            "threads": torch.get_num_threads(),
        }
        with open(os.environ["BENCH_OUT"], "w") as f:
            json.dump(result, f)


class CallCounter(Callback):
    """Python and C calls made by the main thread per training step, from batch ``first`` to ``last``.

    Unlike time on a shared machine (on the 2-core machine the project is tested on, the same pure-Python loop
    ran at 37 and at 72 ms per block, phase to phase), the count is nearly the same from run to run: a figure
    of what a run adds to each step that no neighbour can move. Writes
    ``{"calls_per_step": ..., "steps": ...}`` as JSON to ``out``.

    Args:
        out: JSON file to write at ``last``.
        first: Batch index where counting starts.
        last: Batch index where it stops (a multiple of ``log_every_n_steps`` after ``first`` counts the
            logging steps at their share).
    """

    def __init__(self, out: str, first: int = 10, last: int = 30) -> None:
        self.out, self.first, self.last, self.calls = out, first, last, 0

    def _count(self, frame, event: str, arg) -> None:
        if event in ("call", "c_call"):
            self.calls += 1

    def on_train_batch_start(
        self, trainer: Trainer, pl_module: LightningModule, batch, batch_idx: int
    ) -> None:
        if batch_idx == self.first:
            sys.setprofile(self._count)

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs, batch, batch_idx: int
    ) -> None:
        if batch_idx == self.last - 1:
            sys.setprofile(None)
            steps = self.last - self.first
            with open(self.out, "w") as f:
                json.dump({"calls_per_step": self.calls / steps, "steps": steps}, f)


class InstructionWindow(Callback):
    """``bench_instructions.Window`` at each ``on_train_batch_start``: counts batches ``first`` to ``last-1``
    under callgrind (the run must reach batch ``last``).

    Args:
        first: Batch index where counting starts.
        last: Batch index where it stops.
    """

    def __init__(self, first: int = 10, last: int = 60) -> None:
        from bench_instructions import Window

        self.window = Window(first, last)

    def on_train_batch_start(
        self, trainer: Trainer, pl_module: LightningModule, batch, batch_idx: int
    ) -> None:
        self.window.at(batch_idx)


class BatonTimer(Callback):
    """``bench_lockstep.Baton`` after each training step; writes its block times, the last loss and the thread
    count to ``$BENCH_OUT`` at the end of training.

    Args:
        first: Steps before the first block.
        block: Steps per block.
        blocks: Blocks to time.
    """

    def __init__(self, first: int, block: int, blocks: int) -> None:
        from bench_lockstep import Baton

        self.baton = Baton(first, block, blocks)

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        for logger in trainer.loggers:  # as LoopTimer: the MLflow run is open before the first block
            if hasattr(logger, "opened_run_id"):
                logger.opened_run_id()

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs, batch, batch_idx: int
    ) -> None:
        self.loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        self.baton.after(batch_idx + 1)

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        result = {**self.baton.result(), "loss": float(self.loss), "threads": torch.get_num_threads()}
        with open(os.environ["BENCH_OUT"], "w") as f:
            json.dump(result, f)
