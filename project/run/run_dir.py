"""The run directory: ``<root>/<data name>/[<group>/]<YYYYmmdd_HHMMSS>_<net name>[_<name>]/``.

It holds ``config.yaml``, ``run_info.json``, ``checkpoints/``, ``tensorboard/``, ``predictions/`` and
``export/``; a ``config.yaml`` found in such a directory marks the directory as a run to resume or evaluate.
"""

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from project.run.checkpoint_read import read_checkpoint
from project.run.options import RunOptions
from project.run.ranks import global_rank, shared_value

if TYPE_CHECKING:
    from project.run.run_info import RunInfo


@dataclass(frozen=True)
class RunDir:
    """Paths inside one run directory: the only place that spells them."""

    path: Path

    CONFIG: ClassVar[str] = "config.yaml"
    INFO: ClassVar[str] = "run_info.json"
    CHECKPOINTS: ClassVar[str] = "checkpoints"
    TENSORBOARD: ClassVar[str] = "tensorboard"
    PREDICTIONS: ClassVar[str] = "predictions"
    PROFILER: ClassVar[str] = "profiler"
    EXPORT: ClassVar[str] = "export"
    ARTIFACTS: ClassVar[str] = "artifacts"

    @property
    def config(self) -> Path:
        return self.path / self.CONFIG

    @property
    def info(self) -> Path:
        return self.path / self.INFO

    @property
    def run_info(self) -> "RunInfo":
        """``run_info.json``, read and written atomically."""
        from project.run.run_info import RunInfo

        return RunInfo(self.info)

    @property
    def checkpoints(self) -> Path:
        return self.path / self.CHECKPOINTS

    @property
    def last_checkpoint(self) -> Path:
        return self.checkpoints / "last.ckpt"

    @property
    def predictions(self) -> Path:
        return self.path / self.PREDICTIONS

    def prediction_file(self, name: str) -> Path:
        """``predictions/<name>.csv``: predictions of a stage or of a folder of new files."""
        return self.predictions / f"{name}.csv"

    @property
    def tensorboard(self) -> Path:
        return self.path / self.TENSORBOARD

    @property
    def profiler(self) -> Path:
        return self.path / self.PROFILER

    @property
    def export(self) -> Path:
        """``export/``: the exported model files and ``export.json`` (``python main.py export``)."""
        return self.path / self.EXPORT

    @property
    def artifacts(self) -> Path:
        """Files sent to MLflow as artifacts (``log_artifact``), kept here too."""
        return self.path / self.ARTIFACTS

    def newest_checkpoint(self) -> Path | None:
        """The checkpoint a requeued job continues from: Lightning's SLURM ``hpc_ckpt_*.ckpt`` (saved on the
        preemption signal, in the run dir) or ``last.ckpt``, whichever is newer."""
        found = [*self.path.glob("hpc_ckpt_*.ckpt"), *filter(Path.is_file, [self.last_checkpoint])]
        return max(found, key=lambda p: p.stat().st_mtime) if found else None

    @staticmethod
    def containing(file: str | Path) -> "RunDir | None":
        """The run a file belongs to: its ``config.yaml``, or a checkpoint in its ``checkpoints/``."""
        file = Path(file).resolve()
        for folder in (file.parent, file.parent.parent):
            if RunDir(folder).info.is_file():
                return RunDir(folder)
        return None

    def best_checkpoint(self) -> Path:
        """The best checkpoint recorded in ``last.ckpt``, re-rooted on this dir; else ``best.ckpt``."""
        if self.last_checkpoint.is_file():
            state = read_checkpoint(self.last_checkpoint, "ckpt_path (the run's last.ckpt)")
            for key, value in state.get("callbacks", {}).items():
                ranked = key.startswith("ModelCheckpoint") and value.get(
                    "monitor"
                )  # not the one writing last.ckpt
                best = value.get("best_model_path") if ranked else None
                if best and (self.checkpoints / Path(best).name).is_file():
                    return self.checkpoints / Path(best).name
        return self.checkpoints / "best.ckpt"


def new_run_dir(options: RunOptions, data_name: str, net_name: str) -> RunDir:
    """Create a fresh run dir (rank 0 names it, every rank of the job gets the same one)."""

    def decide() -> str:
        stamp = time.strftime("%Y%m%d_%H%M%S")
        base = (
            Path(options.root)
            / data_name
            / (options.group or "")
            / "_".join(filter(None, [stamp, net_name, options.name]))
        )
        path, n = base, 1
        while True:
            try:
                path.mkdir(parents=True)
                return str(path.resolve())
            except FileExistsError:
                # Two runs started in the same second: the later one gets a suffix.
                path, n = base.with_name(f"{base.name}-{n}"), n + 1

    return RunDir(Path(shared_value("run_dir", decide, options.root)))


def is_global_zero() -> bool:
    return global_rank() == 0
