"""How a run's loggers are set up: TensorBoard in ``RUN/tensorboard``, MLflow in ``<run.root>/mlflow.db``.

The CLI calls ``point_loggers_at_run`` once the run dir is known (every rank) and ``start_tracking`` before
``fit`` (rank 0). The paths filled in here stay out of ``config.yaml``, so a resumed run recomputes them.
"""

import os
from pathlib import Path
from typing import Any

from jsonargparse import Namespace
from lightning.pytorch import Trainer
from lightning.pytorch.loggers import MLFlowLogger, TensorBoardLogger

from project.config_tree import class_of, flatten
from project.loggers.mlflow_logger import RunMLFlowLogger
from project.run.run_dir import RunDir

DEFAULT_LOGGERS = [
    {"class_path": "project.loggers.RunMLFlowLogger"},
    {"class_path": "lightning.pytorch.loggers.TensorBoardLogger", "init_args": {"save_dir": "."}},
]


def point_loggers_at_run(trainer: Namespace, run: RunDir, root: str, tags: dict[str, str]) -> None:
    """Fill in ``trainer.logger``'s run-dependent arguments (``tags`` holds ``data`` and ``net``)."""
    loggers = trainer.logger
    if loggers in (None, True):
        loggers = trainer.logger = [Namespace(d) for d in DEFAULT_LOGGERS]
        for logger in loggers:
            logger.init_args = Namespace(logger.get("init_args") or {})
    elif isinstance(loggers, Namespace):
        loggers = [loggers]
    elif loggers is False:
        loggers = []
    for logger in loggers:
        cls = class_of(logger)
        args = logger.init_args = logger.get("init_args") or Namespace()
        if issubclass(cls, TensorBoardLogger):
            args.update(Namespace(save_dir=str(run.path), name="", version=run.tensorboard.name))
            args.default_hp_metric = False
        elif issubclass(cls, MLFlowLogger | RunMLFlowLogger):
            point_mlflow_at_run(args, run, Path(root).resolve(), tags, ours=issubclass(cls, RunMLFlowLogger))


def point_mlflow_at_run(args: Namespace, run: RunDir, root: Path, tags: dict[str, str], ours: bool) -> None:
    """Local store under the run root unless a URI is set; experiment = data name; same run when resuming."""
    if not args.get("tracking_uri") and not os.environ.get("MLFLOW_TRACKING_URI"):
        args.tracking_uri = f"sqlite:///{root / 'mlflow.db'}"
    if args.get("experiment_name") in (None, "lightning_logs", "default"):
        args.experiment_name = tags["data"]
    if not args.get("artifact_location"):
        # A server keeps its own artifact store; a local path would be this machine's, not the server's.
        uri = args.get("tracking_uri") or os.environ.get("MLFLOW_TRACKING_URI", "")
        if not uri.startswith(("http://", "https://")):
            args.artifact_location = str(root / "mlartifacts")
    args.run_name = args.get("run_name") or run.path.name
    if not args.get("run_id"):
        args.run_id = previous_mlflow_run_id(run)
    args.tags = {**tags, "run_dir": str(run.path), **(args.get("tags") or {})}
    if ours:
        args.run_dir = str(run.path)


def previous_mlflow_run_id(run: RunDir) -> str | None:
    """The MLflow run id ``run_info.json`` recorded, so that a resumed run logs to the same MLflow run."""
    return run.run_info.read().get("mlflow_run_id")


def start_tracking(trainer: Trainer, config: dict[str, Any], resuming: bool) -> None:
    """Rank 0, before ``fit``: open the run (health check, create or reopen it) in the background, log the
    config as params.

    A resumed run keeps the params it started with (MLflow refuses to change them); its ``config.yaml``
    artifact shows the config it resumed with.
    """
    for logger in trainer.loggers:
        if isinstance(logger, RunMLFlowLogger):
            logger.start(resuming=resuming)
    if not resuming:
        params = flatten(config)
        for logger in trainer.loggers:
            logger.log_hyperparams(params)
