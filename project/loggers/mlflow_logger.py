"""MLflow logging that never stops or stalls training, and continues the same MLflow run when a run resumes.

mlflow is imported only when this logger first talks to MLflow, on global rank 0; other ranks never do.
"""

import os
import warnings
from argparse import Namespace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers.logger import DummyExperiment, Logger, rank_zero_experiment
from lightning.pytorch.utilities.rank_zero import rank_zero_only

from project.loggers import mlflow_connection as connection
from project.loggers import mlflow_run_end as run_end
from project.loggers.mlflow_entities import flat_params, metric_values, new_params
from project.loggers.mlflow_run_start import open_run
from project.loggers.mlflow_sender import MLflowSender, send_batch
from project.loggers.system_metrics import start_system_metrics
from project.run.options import RunOptions

if TYPE_CHECKING:
    from mlflow import MlflowClient


class RunMLFlowLogger(Logger):
    """Logs params, metrics and the run dir's files to MLflow, on global rank 0 only.

    Metrics go through a background thread (``synchronous: false``) in one request per ``send_interval``.
    A store that is down at the start or goes down later costs seconds, not minutes: requests have bounded
    retries and timeouts, failures become one warning, and what was not sent is counted in the warning and in
    ``run_info.json`` (``mlflow_not_sent``) so that ``scripts/sync_mlflow.py`` can send it afterwards.
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
        send_interval: float = 5.0,
        request_retries: int | None = None,
        request_timeout: int | None = None,
        connect_timeout: float = 5.0,
        flush_timeout: float = 30.0,
        log_system_metrics: bool = False,
        run_dir: str | None = None,
    ) -> None:
        """Configure the MLflow run.

        Args:
            experiment_name: MLflow experiment; the data set's name when not given.
            run_name: MLflow run name; the run directory's name when not given.
            tracking_uri: MLflow store or server, e.g. ``http://127.0.0.1:5000``; when not given,
                ``$MLFLOW_TRACKING_URI`` (read when the run starts) or ``sqlite:///<run.root>/mlflow.db``.
            tags: Extra tags for the run (``data``, ``net``, ``run_dir`` and ``git_commit`` are added).
            log_model: Upload checkpoints as artifacts when training ends: ``true`` the best one, ``all``
                every file in the run's ``checkpoints/``.
            prefix: Prefix for every metric key.
            artifact_location: Where a new experiment stores artifacts; ``<run.root>/mlartifacts`` for a local
                store, the server's choice for a server.
            run_id: Continue this MLflow run (set from ``run_info.json`` when a run resumes).
            synchronous: Send every metric before training goes on (about 14 ms per call on sqlite) instead of
                from a background thread.
            send_interval: Seconds between two requests of the background thread, which sends what was
                logged in between in one request: each request holds the GIL for ~15 ms on sqlite, time
                taken from training. ``0`` sends as soon as values are logged.
            request_retries: Retries of a failed HTTP request; ``$MLFLOW_HTTP_REQUEST_MAX_RETRIES`` or 2.
            request_timeout: Seconds before an HTTP request fails; ``$MLFLOW_HTTP_REQUEST_TIMEOUT`` or 10.
            connect_timeout: Seconds the server's health check before training may take.
            flush_timeout: Seconds the end of the run waits for queued metrics before counting them as lost.
            log_system_metrics: Sample CPU, memory, disk, network and GPU use every
                ``$MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL`` seconds (10) into the run's "System metrics" tab
                (``system/...``), from the global-rank-0 process's machine; needs ``psutil``, and
                ``nvidia-ml-py`` for NVIDIA GPUs (preset ``configs/presets/monitor.yaml``).
            run_dir: The run directory (set by the CLI): its ``config.yaml`` and ``run_info.json`` become
                artifacts.
        """
        super().__init__()
        self._experiment_name = experiment_name or "default"
        self._run_name = run_name
        self._tracking_uri = tracking_uri
        self.tags = dict(tags or {})
        self._log_model = log_model
        self._prefix = prefix
        self._artifact_location = artifact_location
        self._run_id = run_id
        self._synchronous, self._send_interval = synchronous, send_interval
        self._request_retries, self._request_timeout = request_retries, request_timeout
        self._connect_timeout, self._flush_timeout = connect_timeout, flush_timeout
        self._log_system_metrics = log_system_metrics
        self._system_metrics: Any | None = None
        self.run_dir = Path(run_dir) if run_dir else None
        self._client: MlflowClient | None = None
        self._sender: MLflowSender | None = None
        self._checkpoint_callback: ModelCheckpoint | None = None
        self._existing_params: dict[str, str] = {}
        self._reported: str | None = None
        self._connect_failed = False
        self._logged_up_to: dict[str, int] = {}

    # --- where the run lives ----------------------------------------------------------------------------

    @property
    def tracking_uri(self) -> str:
        """The store: the argument, else ``$MLFLOW_TRACKING_URI`` now, else the local default."""
        default = f"sqlite:///{RunOptions.root}/mlflow.db"  # the CLI passes <run.root>/mlflow.db
        return self._tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or default

    @property
    def name(self) -> str:
        return self._experiment_name

    @property
    def version(self) -> str | None:
        return self._run_id or self._run_name

    @property
    def run_id(self) -> str | None:
        """The MLflow run id once the run exists (never contacts MLflow)."""
        return self._run_id

    @property
    def save_dir(self) -> str | None:
        return None

    @property
    @rank_zero_experiment
    def experiment(self) -> "MlflowClient | DummyExperiment":
        """The ``mlflow.MlflowClient`` of this run (``run_id`` names the run); a no-op object when offline."""
        self.connect()
        return self._client if self._client is not None else DummyExperiment()

    @property
    def sender(self) -> MLflowSender:
        if self._sender is None:
            self._sender = MLflowSender(
                self._send,
                self.tracking_uri,
                synchronous=self._synchronous,
                send_interval=self._send_interval,
            )
        return self._sender

    @rank_zero_only
    def connect(self, resuming: bool = False) -> bool:
        """Check the server, then create the run or set the existing one RUNNING again; True when online.

        Called before training starts; a failure warns and leaves the logger offline (nothing raises).
        ``resuming``: training continues from a checkpoint, so metric steps the run already has are not
        logged again (Lightning repeats a validation that was under way when ``last.ckpt`` was saved).
        """
        # One attempt only: a retry in the training loop could block it for connect_timeout seconds.
        if self._client is not None or self._connect_failed:
            return self._client is not None
        self._connect_failed = True
        connection.apply_request_limits(self._request_retries, self._request_timeout)
        uri = self.tracking_uri
        if connection.is_http(uri) and not connection.server_answers(uri, self._connect_timeout):
            self.sender.go_offline(f"{uri}/health did not answer (timeout {self._connect_timeout:g} s)")
            return False
        try:
            from mlflow import MlflowClient

            client = MlflowClient(uri)
            local = None if connection.is_http(uri) else connection.default_artifact_location(uri)
            opened = open_run(client, self._run_id, self._experiment_name, self._run_name, self.tags,
                              local and (self._artifact_location or local), resuming)  # fmt: skip
            self._run_id, self._existing_params, self._logged_up_to = opened
        except Exception as error:  # noqa: BLE001 - a broken store must not stop training
            self.sender.go_offline(error)
            return False
        self._client, self._connect_failed = client, False
        if self._log_system_metrics:
            self._system_metrics = start_system_metrics(self._run_id, uri, resuming)
        return True

    # --- what gets sent ------------------------------------------------------------------------------------

    def _send(self, kind: str, items: list[Any]) -> None:
        if self._client is None or self._run_id is None:
            raise ConnectionError("no MLflow run")
        send_batch(self._client, self._run_id, kind, items)

    @rank_zero_only
    def log_hyperparams(self, params: dict[str, Any] | Namespace, *args: Any, **kwargs: Any) -> None:
        """Log flattened params; values longer than MLflow takes are cut (``config.yaml`` has them whole)."""
        flat = flat_params(params)
        if not self.connect():
            self.sender.dropped.add("params", len(flat))
            return
        self.sender.put("params", new_params(flat, self._existing_params))

    @rank_zero_only
    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        if not self.connect():
            self.sender.dropped.add("metric values", len(metrics))
            return
        self.sender.put("metric values", metric_values(metrics, step or 0, self._prefix, self._logged_up_to))

    @rank_zero_only
    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        """Upload a file (or a directory's files) from the background thread; it is read when it is sent."""
        if not self.connect():
            self.sender.dropped.add("artifacts", 1)
            return
        self.sender.put("artifacts", [(str(path), artifact_path)])

    def after_save_checkpoint(self, checkpoint_callback: ModelCheckpoint) -> None:
        self._checkpoint_callback = checkpoint_callback

    # --- the end -------------------------------------------------------------------------------------------

    @rank_zero_only
    def finalize(self, status: str = "success") -> None:
        """Send what is queued, upload the run dir's files, set the final status; warn about what failed.

        ``finalize("finished")`` is a no-op: the run goes on (see ``run_end.REQUEUE_STATUS``).
        """
        if status == run_end.REQUEUE_STATUS:
            return
        if self._system_metrics is not None:
            self._system_metrics.finish()
            self._system_metrics = None
        if self._sender is None and self._client is None:
            return
        # A resumed run that had nothing left to train logged nothing, but its status must still be set.
        if self._client is not None:
            files = run_end.files_to_upload(self.run_dir, self._log_model, self._checkpoint_callback)
            final = run_end.final_status(self.run_dir, status)
            run_end.close_run(self._client, self._run_id, self.sender, files, final, self._flush_timeout)
        self._report()

    def _report(self) -> None:
        """Warn once about what was not sent and record it in ``run_info.json`` for ``sync_mlflow.py``."""
        summary = self.sender.summary()
        if summary is None or summary == self._reported:
            return
        self._reported = summary
        warnings.warn(summary, RuntimeWarning, stacklevel=2)
        run_end.record_not_sent(self.run_dir, self.tracking_uri, self.sender.dropped.counts)
