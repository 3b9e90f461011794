"""``run_info.json``: what ran, where, with what, and how it ended."""

import json
import os
import platform
import socket
import sys
import time
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities.rank_zero import rank_zero_only

from project.loggers.mlflow_logger import RunMLFlowLogger
from project.provenance import git, package_versions


class RunInfo:
    """``run_info.json`` of one run: read whole, written atomically, so a kill never leaves half a file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def read(self) -> dict[str, Any]:
        """The recorded values, or ``{}`` when there is no (readable) file yet."""
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}

    def write(self, info: dict[str, Any]) -> None:
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(info, indent=2, default=str) + "\n")
        os.replace(tmp, self.path)

    def update(self, **values: Any) -> dict[str, Any]:
        """Add ``values`` to an existing file (nothing happens when there is none); returns the result."""
        info = self.read()
        if info:
            info.update(values)
            self.write(info)
        return info


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


class RunInfoWriter(Callback):
    """Writes ``run_info.json`` at fit start and again when the run ends (finished, failed or interrupted).

    A resumed run keeps the original start time and appends to ``resumes``.
    """

    def __init__(self, path: str | Path) -> None:
        self.file = RunInfo(path)
        self.info: dict[str, Any] = {}
        self.extra: dict[str, Any] = {}
        self.awaiting_mlflow_id = False

    def update(self, **fields: Any) -> None:
        """Add fields to ``run_info.json`` (``tune`` adds the study, the trial and the MLflow parent run)."""
        self.extra.update(fields)
        if self.info:
            self.info.update(fields)
            self._write()

    def _write(self) -> None:
        self.file.write(self.info)

    @rank_zero_only
    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        previous = self.file.read()
        status = git("status", "--porcelain")
        now = _now()
        self.info = {
            "command": [sys.executable, *sys.argv],
            "cwd": os.getcwd(),
            "git_commit": git("rev-parse", "HEAD"),
            "git_dirty": None if status is None else bool(status),
            "host": socket.gethostname(),
            "platform": platform.platform(),
            "versions": package_versions(),
            "accelerator": type(trainer.accelerator).__name__,
            "devices": trainer.num_devices,
            "num_nodes": trainer.num_nodes,
            "world_size": trainer.world_size,
            "cuda_devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
            "precision": str(trainer.precision),
            "mlflow_run_id": self._mlflow_run_id(trainer) or previous.get("mlflow_run_id"),
            "start_time": previous.get("start_time", now),
            "resumes": [*previous.get("resumes", []), now] if previous else [],
            "end_time": None,
            "status": "running",
            **self.extra,
        }
        self._write()
        self.awaiting_mlflow_id = not self.info["mlflow_run_id"] and any(
            isinstance(logger, RunMLFlowLogger) for logger in trainer.loggers
        )

    @staticmethod
    def _mlflow_run_id(trainer: Trainer, wait: bool = False) -> str | None:
        """The MLflow run's id; ``wait``: for the run to open if it is being opened (in the background)."""
        for logger in trainer.loggers:
            if isinstance(logger, RunMLFlowLogger):
                run_id = logger.opened_run_id() if wait else logger.run_id
                if run_id:
                    return run_id
        return None

    @rank_zero_only
    def on_train_batch_end(self, trainer: Trainer, *args: Any) -> None:
        # The MLflow run opens in the background: its id is recorded once known, so that a run killed early
        # still resumes into the same MLflow run. One attribute test per step until then, nothing after.
        if self.awaiting_mlflow_id and (run_id := self._mlflow_run_id(trainer)):
            self.awaiting_mlflow_id = False
            self.info["mlflow_run_id"] = run_id
            self._write()

    def _finish(self, trainer: Trainer, status: str) -> None:
        if not self.info or self.info.get("status") != "running":
            return
        self.info.update(
            status=status,
            end_time=_now(),
            global_step=trainer.global_step,
            epoch=trainer.current_epoch,
            mlflow_run_id=self._mlflow_run_id(trainer, wait=True) or self.info.get("mlflow_run_id"),
        )
        self._write()

    @rank_zero_only
    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._finish(trainer, "interrupted" if trainer.interrupted else "finished")

    @rank_zero_only
    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: BaseException) -> None:
        interrupted = isinstance(exception, KeyboardInterrupt) or trainer.interrupted
        self._finish(trainer, "interrupted" if interrupted else "failed")
