"""MLflow logging that defaults to a local sqlite store and continues the same MLflow run on resume."""

import os
from typing import Literal

from lightning.pytorch.loggers import MLFlowLogger


class RunMLFlowLogger(MLFlowLogger):
    """Lightning's MLFlowLogger with run-time defaults instead of import-time ones.

    The tracking URI is ``tracking_uri``, else ``$MLFLOW_TRACKING_URI`` read when the run starts, else
    ``sqlite:///<run.root>/mlflow.db`` (filled in by the CLI). Metrics are sent asynchronously.
    """

    def __init__(
        self,
        experiment_name: str | None = None,
        run_name: str | None = None,
        tracking_uri: str | None = None,
        tags: dict[str, str] | None = None,
        log_model: Literal[True, False, "all"] = False,
        prefix: str = "",
        artifact_location: str | None = None,
        run_id: str | None = None,
        synchronous: bool = False,
    ) -> None:
        """Configure the MLflow run.

        Args:
            experiment_name: MLflow experiment; the data set's name when not given.
            run_name: MLflow run name; the run directory's name when not given.
            tracking_uri: MLflow store or server, e.g. ``http://127.0.0.1:5000``; when not given,
                ``$MLFLOW_TRACKING_URI`` or ``sqlite:///<run.root>/mlflow.db``.
            tags: Extra tags for the run.
            log_model: Upload checkpoints as artifacts: ``true`` the best at the end, ``all`` every save
                (blocks training while uploading).
            prefix: Prefix for every metric key.
            artifact_location: Where a new experiment stores artifacts; ``<run.root>/mlartifacts`` by default.
            run_id: Continue this MLflow run (set automatically when a run resumes).
            synchronous: Wait for every metric to be stored (about 14 ms per call on sqlite) instead of
                sending in the background.
        """
        super().__init__(
            experiment_name=experiment_name or "default",
            run_name=run_name,
            tracking_uri=tracking_uri or os.environ.get("MLFLOW_TRACKING_URI"),
            tags=tags,
            log_model=log_model,
            prefix=prefix,
            artifact_location=artifact_location,
            run_id=run_id,
            synchronous=synchronous,
        )

    @property
    def known_run_id(self) -> str | None:
        """The MLflow run id if the run exists already, without contacting the server."""
        return self._run_id
