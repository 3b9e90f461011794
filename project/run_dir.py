"""The run directory: ``<root>/<data name>/[<group>/]<YYYYmmdd_HHMMSS>_<net name>[_<name>]/``.

It holds ``config.yaml``, ``run_info.json``, ``checkpoints/``, ``tensorboard/`` and ``predictions/``; a
``config.yaml`` found in such a directory marks the directory as a run to resume or evaluate.
"""

import time
from dataclasses import dataclass
from pathlib import Path

from project.checkpoint_file import read_checkpoint
from project.launch import global_rank, shared_value


@dataclass
class RunOptions:
    """Where runs go (the ``run:`` section of the config).

    Args:
        root: Folder that holds the run directories and the default MLflow store ``<root>/mlflow.db``.
        name: Optional experiment name, appended to the run directory's name.
        group: Optional folder between ``<root>/<data name>/`` and the run directory (``tune`` puts a study's
            trials in ``<study name>``).
        test_after_fit: After ``fit``, test the best checkpoint (the last one without a monitored metric).
    """

    root: str = "result"
    name: str | None = None
    group: str | None = None
    test_after_fit: bool = True


@dataclass(frozen=True)
class RunDir:
    """Paths inside one run directory."""

    path: Path

    @property
    def config(self) -> Path:
        return self.path / "config.yaml"

    @property
    def info(self) -> Path:
        return self.path / "run_info.json"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def last_checkpoint(self) -> Path:
        return self.checkpoints / "last.ckpt"

    @property
    def predictions(self) -> Path:
        return self.path / "predictions"

    @property
    def tensorboard(self) -> Path:
        return self.path / "tensorboard"

    @staticmethod
    def containing(file: str | Path) -> "RunDir | None":
        """The run a file belongs to: its ``config.yaml``, or a checkpoint in its ``checkpoints/``."""
        file = Path(file).resolve()
        for folder in (file.parent, file.parent.parent):
            if (folder / "run_info.json").is_file():
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
