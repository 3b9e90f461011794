"""Everything that talks to MLflow itself: open the run, send batches, tag it, end it.

A ``Session`` runs either in the helper process (``mlflow_worker``, the default: ``import mlflow`` and the
store's set-up, 3-4 s of CPU, run on another core while training starts) or in the training process when
mlflow is imported there already (see ``mlflow_process.connect_session``). Its methods take and return plain
values (strings, numbers, tuples), so that the training process never needs mlflow's classes.
"""

import os
from pathlib import Path
from typing import Any

from project.loggers.mlflow_run_start import open_run
from project.loggers.mlflow_store import prepare_local_store
from project.loggers.system_metrics import start_system_metrics


class Session:
    """One MLflow run seen through an ``MlflowClient``; created by ``open``."""

    def __init__(self) -> None:
        self.client: Any = None
        self.run_id: str | None = None
        self.system_metrics: Any = None

    def open(
        self, uri: str, run: dict[str, Any], log_system_metrics: bool, environment: dict[str, str]
    ) -> tuple[str, dict[str, str], dict[str, int], list[str]]:
        """Create or reopen the run; ``(run_id, params it has, last step per metric, warnings)``.

        ``run`` holds ``open_run``'s arguments after the client (run id, experiment, name, tags, ...).

        ``environment`` is the training process's ``MLFLOW_*`` variables now (request limits, credentials):
        this process may have started before they were set.
        """
        os.environ.update(environment)
        from mlflow import MlflowClient

        prepare_local_store(uri)  # a new sqlite store: a copy, not 2-3 s of migrations
        self.client = MlflowClient(uri)
        opened = open_run(self.client, **run)
        self.run_id = opened.run_id
        notes: list[str] = []
        if log_system_metrics:
            self.system_metrics, note = start_system_metrics(self.run_id, uri, run["resuming"])
            notes += [note] if note else []
        return opened.run_id, opened.existing_params, opened.logged_up_to, notes

    def send(self, kind: str, items: list[Any]) -> None:
        """One request (or one per file) of ``kind``: ``params`` ``(key, value)``, ``metric values``
        ``(key, value, timestamp ms, step)``, ``tags`` ``(key, value)``, ``artifacts`` ``(path, folder)``."""
        from mlflow.entities import Metric, Param

        client, run_id = self.client, self.run_id
        if kind == "params":
            client.log_batch(run_id, params=[Param(k, v) for k, v in items], synchronous=True)
        elif kind == "metric values":
            client.log_batch(run_id, metrics=[Metric(*item) for item in items], synchronous=True)
        elif kind == "tags":
            for key, value in items:
                client.set_tag(run_id, key, value)
        else:
            for path, artifact_path in items:
                if Path(path).is_dir():
                    folder = "/".join(filter(None, [artifact_path, Path(path).name]))
                    client.log_artifacts(run_id, path, folder)
                else:
                    client.log_artifact(run_id, path, artifact_path)

    def end(self, status: str) -> None:
        """Stop the system metrics and set the run's final status (FINISHED, FAILED or KILLED)."""
        self.stop_system_metrics()
        self.client.set_terminated(self.run_id, status)

    def stop_system_metrics(self) -> None:
        if self.system_metrics is not None:
            self.system_metrics.finish()
            self.system_metrics = None

    def close(self) -> None:
        """The training process is done with MLflow (the helper process exits after answering)."""
        self.stop_system_metrics()
