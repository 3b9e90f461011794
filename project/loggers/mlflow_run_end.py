"""The end of an MLflow run: which files to upload, which status to set, and what to record as not sent."""

from pathlib import Path
from typing import Any

from lightning.pytorch.callbacks import ModelCheckpoint

from project.run.run_dir import RunDir

# Lightning ends a run with finalize("success") or finalize("failed"). Only its SLURM auto-requeue handler
# (`_SignalConnector._slurm_sigusr_handler_fn`, Lightning 2.6) passes "finished": it runs inside the SIGUSR1
# signal handler, *before* the job is requeued, while training goes on until SLURM stops it. Closing the run
# there would block the handler for up to `flush_timeout` seconds and mark the MLflow run FINISHED while it
# still trains (and again after the requeued job resumes it). So that call leaves the run RUNNING; the real
# end comes later: finalize("failed") when SLURM's SIGTERM stops this job (KILLED, from run_info.json's
# "interrupted"), and the requeued job reopens the same run and finishes it. Recognising the status is the
# only public hook: the handler is Lightning's, and replacing it would mean patching the signal connector.
REQUEUE_STATUS = "finished"

# run_info.json's final status -> MLflow's run status.
MLFLOW_STATUS = {"finished": "FINISHED", "failed": "FAILED", "interrupted": "KILLED"}


def read_run_info(run_dir: Path | None) -> dict[str, Any]:
    """``RUN/run_info.json``, or ``{}`` when there is none (yet)."""
    return RunDir(run_dir).run_info.read() if run_dir is not None else {}


def final_status(run_dir: Path | None, finalize_status: str) -> str:
    """KILLED for an interrupted or pruned run (``tune``), FAILED when Lightning says so, else what
    ``run_info.json`` says."""
    info = read_run_info(run_dir)
    recorded = info.get("status")
    if recorded == "interrupted" or info.get("pruned"):
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


def close_run(
    session: Any, sender: Any, files: list[tuple[Path, str | None]], status: str, timeout: float
) -> None:
    """Send what is queued (waiting at most ``timeout`` seconds), upload ``files``, set ``status``.

    ``session`` is where the MLflow calls run (``mlflow_process``); the run can be reopened afterwards (the
    test after ``fit`` logs to it and ends it again).
    """
    sender.flush(timeout)
    for path, artifact_path in files:
        sender.send_now("artifacts", [(str(path), artifact_path)])
    if sender.online:
        try:
            session.call("end", status)
        except Exception as error:  # noqa: BLE001 - counted and reported like every failed request
            sender.dropped.add("status updates", 1, error)
