"""``log_artifact``: one call that sends a file to every configured logger that stores files.

Metrics need no helper: ``self.log("val/my_metric", value)`` in a LightningModule (or ``pl_module.log`` in a
callback, or a key in an evaluator's ``compute()`` result) reaches every logger. Files do::

    from project.loggers import log_artifact

    log_artifact(trainer, "confusion_matrix.png")           # RUN/artifacts/confusion_matrix.png + MLflow
    log_artifact(trainer, report_path, artifact_path="reports")
"""

import shutil
from pathlib import Path

from lightning.pytorch import Trainer
from lightning.pytorch.loggers import MLFlowLogger
from lightning.pytorch.utilities.rank_zero import rank_zero_only

from project.loggers.mlflow_logger import RunMLFlowLogger
from project.run.run_dir import RunDir


@rank_zero_only
def log_artifact(trainer: Trainer, path: str | Path, artifact_path: str | None = None) -> list[str] | None:
    """Keep ``path`` in the run dir and send it to every logger that stores files; returns where it went.

    A file outside the run dir is copied to ``RUN/artifacts/[artifact_path/]`` first, so that the run dir
    stays complete (and ``scripts/sync_mlflow.py`` can send it later) even if a server is down. MLflow gets
    the copy from a background thread. TensorBoard stores no files and is skipped. Global rank 0 only
    (other ranks get None).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"log_artifact: {path} does not exist")
    run_dir = Path(trainer.default_root_dir).resolve()
    if run_dir not in path.resolve().parents:
        folder = RunDir(run_dir).artifacts / (artifact_path or "")
        folder.mkdir(parents=True, exist_ok=True)
        copy = folder / path.name
        (shutil.copytree(path, copy, dirs_exist_ok=True) if path.is_dir() else shutil.copy2(path, copy))
        path = copy
    places = [str(path)]
    for logger in trainer.loggers:
        if isinstance(logger, RunMLFlowLogger):
            logger.log_artifact(path, artifact_path)
        elif isinstance(logger, MLFlowLogger):
            # Lightning's own MLflow logger uploads in this thread.
            logger.experiment.log_artifact(logger.run_id, str(path), artifact_path)
        else:
            continue
        places.append(f"{type(logger).__name__}:{artifact_path or '.'}/{path.name}")
    return places
