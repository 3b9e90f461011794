"""Files an evaluator writes (figures) also go to the MLflow run, when there is one."""

from collections.abc import Iterable
from pathlib import Path

from lightning.pytorch.loggers import Logger, MLFlowLogger
from lightning.pytorch.utilities.rank_zero import rank_zero_warn


def log_artifacts(loggers: Iterable[Logger], paths: Iterable[Path]) -> None:
    """Upload ``paths`` to every MLflow logger's run; a failure warns and the run goes on (the file stays)."""
    paths = list(paths)
    for logger in loggers:
        if not isinstance(logger, MLFlowLogger) or not paths:
            continue
        for path in paths:
            try:
                logger.experiment.log_artifact(logger.run_id, str(path))
            except Exception as err:  # noqa: BLE001 - a tracking server's trouble must not end the run
                rank_zero_warn(
                    f"MLflow: {path.name} was not uploaded ({type(err).__name__}: {err}); it is in {path}"
                )
