"""The end of an MLflow run: which files to upload, which status to set, and what to record as not sent."""

import json
import os
from pathlib import Path
from typing import Any

from lightning.pytorch.callbacks import ModelCheckpoint

# run_info.json's final status -> MLflow's run status.
MLFLOW_STATUS = {"finished": "FINISHED", "failed": "FAILED", "interrupted": "KILLED"}


def read_run_info(run_dir: Path | None) -> dict[str, Any]:
    """``RUN/run_info.json``, or ``{}`` when there is none (yet)."""
    try:
        return json.loads((run_dir / "run_info.json").read_text()) if run_dir is not None else {}
    except (OSError, ValueError):
        return {}


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
        files += [(run_dir / name, None) for name in ("config.yaml", "run_info.json")]
    if log_model is True and checkpoint is not None and checkpoint.best_model_path:
        files.append((Path(checkpoint.best_model_path), "checkpoints"))
    elif log_model == "all" and checkpoint is not None and checkpoint.dirpath:
        files += [(path, "checkpoints") for path in sorted(Path(checkpoint.dirpath).glob("*.ckpt"))]
    return [(path, folder) for path, folder in files if path.is_file()]


def record_not_sent(run_dir: Path | None, tracking_uri: str, counts: dict[str, int]) -> None:
    """Add ``mlflow_not_sent`` to ``run_info.json``, for the reader and for ``scripts/sync_mlflow.py``."""
    info = read_run_info(run_dir)
    if not info:
        return
    info["mlflow_not_sent"] = {"tracking_uri": tracking_uri, **{k: n for k, n in counts.items() if k and n}}
    tmp = run_dir / "run_info.json.tmp"
    tmp.write_text(json.dumps(info, indent=2, default=str) + "\n")
    os.replace(tmp, run_dir / "run_info.json")
