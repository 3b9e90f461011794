"""The end of an MLflow run: which files to upload, which status to set, and what to record as not sent."""

from pathlib import Path
from typing import Any

from lightning.pytorch.callbacks import ModelCheckpoint

from project.run.run_dir import RunDir

# run_info.json's final status -> MLflow's run status.
MLFLOW_STATUS = {"finished": "FINISHED", "failed": "FAILED", "interrupted": "KILLED"}


def read_run_info(run_dir: Path | None) -> dict[str, Any]:
    """``RUN/run_info.json``, or ``{}`` when there is none (yet)."""
    return RunDir(run_dir).run_info.read() if run_dir is not None else {}


def final_status(run_dir: Path | None, finalize_status: str) -> str:
    """KILLED for an interrupted run, FAILED when Lightning says so, else what ``run_info.json`` says."""
    recorded = read_run_info(run_dir).get("status")
    if recorded == "interrupted":
        return "KILLED"
    return "FAILED" if finalize_status == "failed" else MLFLOW_STATUS.get(recorded, "FINISHED")


def files_to_upload(
    run_dir: Path | None, log_model: bool | str, checkpoint: ModelCheckpoint | None
) -> list[tuple[Path, str | None]]:
    """``(file, artifact folder)``: ``config.yaml``, ``run_info.json``, and checkpoints if asked."""
    files: list[tuple[Path, str | None]] = []
    if run_dir is not None:
        files += [(RunDir(run_dir).config, None), (RunDir(run_dir).info, None)]
    folder = RunDir.CHECKPOINTS  # the artifact folder has the run dir's folder name
    if log_model is True and checkpoint is not None and checkpoint.best_model_path:
        files.append((Path(checkpoint.best_model_path), folder))
    elif log_model == "all" and checkpoint is not None and checkpoint.dirpath:
        files += [(path, folder) for path in sorted(Path(checkpoint.dirpath).glob("*.ckpt"))]
    return [(path, folder) for path, folder in files if path.is_file()]


def record_not_sent(run_dir: Path | None, tracking_uri: str, counts: dict[str, int]) -> None:
    """Add ``mlflow_not_sent`` to ``run_info.json``, for the reader and for ``scripts/sync_mlflow.py``."""
    if run_dir is None:
        return
    not_sent = {"tracking_uri": tracking_uri, **{k: n for k, n in counts.items() if k and n}}
    RunDir(run_dir).run_info.update(mlflow_not_sent=not_sent)
