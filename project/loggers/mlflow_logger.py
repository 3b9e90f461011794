"""MLflow logging that never stops or stalls training, and continues the same MLflow run when a run resumes.

The calls to MLflow run in a helper process (``mlflow_process``): importing mlflow and opening the store take
seconds of CPU that would otherwise delay the first training step. Only global rank 0 talks to MLflow.
"""

import os
import threading
import warnings
from argparse import Namespace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers.logger import DummyExperiment, Logger, rank_zero_experiment
from lightning.pytorch.utilities.rank_zero import rank_zero_only

from project.loggers import mlflow_connection as connection
from project.loggers import mlflow_run_end as run_end
from project.loggers.mlflow_entities import flat_params, metric_values
from project.loggers.mlflow_process import ClientOnFirstUse
from project.loggers.mlflow_run_link import RunLink, ServerDown
from project.loggers.mlflow_sender import MLflowSender
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
        self.run_dir = Path(run_dir) if run_dir else None
        self._client: MlflowClient | None = None
        self._link = RunLink()
        self._sender: MLflowSender | None = None
        self._started, self._resuming = False, False
        self._opened = threading.Event()
        self._checkpoint_callback: ModelCheckpoint | None = None
        self._reported: str | None = None

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

    def opened_run_id(self) -> str | None:
        """The run id, after waiting for the run to open if it is being opened; None when offline."""
        if self._started:
            self._opened.wait()
        return self._run_id

    @property
    def save_dir(self) -> str | None:
        return None

    @property
    @rank_zero_experiment
    def experiment(self) -> "MlflowClient | DummyExperiment":
        """An ``mlflow.MlflowClient`` in this process (``run_id`` names the run); a no-op object when offline.

        Made on first use, after the run is open: Lightning reads every logger's ``experiment`` as training
        sets up, and the logger itself sends from a helper process (``mlflow_process``).
        """
        return ClientOnFirstUse(self)

    def client(self) -> "MlflowClient | DummyExperiment":
        """What ``experiment`` stands for: wait for the run to open, then make the client (imports mlflow)."""
        if not self.connect():
            return DummyExperiment()
        if self._client is None:
            from mlflow import MlflowClient

            self._client = MlflowClient(self.tracking_uri)
        return self._client

    @property
    def sender(self) -> MLflowSender:
        if self._sender is None:
            self._sender = MLflowSender(
                self._link.send,
                self.tracking_uri,
                synchronous=self._synchronous,
                send_interval=self._send_interval,
            )
        return self._sender

    @rank_zero_only
    def start(self, resuming: bool = False) -> None:
        """Open the run from the background thread (``synchronous``: now); what is logged meanwhile waits.

        ``resuming``: training continues from a checkpoint, so metric steps the run already has are not
        logged again (Lightning repeats a validation that was under way when ``last.ckpt`` was saved).
        """
        if self._started:
            return
        self._started, self._resuming = True, resuming
        connection.apply_request_limits(self._request_retries, self._request_timeout)
        if self._synchronous:
            self._open()
        else:
            self.sender.start(self._open)

    @rank_zero_only
    def connect(self, resuming: bool = False) -> bool:
        """Open the run (see ``start``) and wait for it; True when it is open.

        A failure warns and leaves the logger offline (nothing raises). One attempt only: a retry in the
        training loop could block it for ``connect_timeout`` seconds.
        """
        self.start(resuming)
        self._opened.wait()
        return self._link.session is not None

    def _open(self) -> None:
        """Check the server, then create the run or set the existing one RUNNING again."""
        run = {
            "run_id": self._run_id, "experiment_name": self._experiment_name, "run_name": self._run_name,
            "tags": self.tags, "resuming": self._resuming, "artifact_location": self._artifact_location,
        }  # fmt: skip
        try:
            notes = self._link.open(self.tracking_uri, run, self._connect_timeout, self._log_system_metrics)
        except ServerDown as down:
            self.sender.go_offline(str(down))
        except Exception as error:  # noqa: BLE001 - a broken store must not stop training
            self.sender.go_offline(error)
        else:
            self._run_id = self._link.run_id
            for note in notes:
                warnings.warn(note, RuntimeWarning, stacklevel=2)
        finally:
            self._opened.set()

    # --- what gets sent ------------------------------------------------------------------------------------

    @rank_zero_only
    def log_hyperparams(self, params: dict[str, Any] | Namespace, *args: Any, **kwargs: Any) -> None:
        """Log flattened params; values longer than MLflow takes are cut (``config.yaml`` has them whole)."""
        self.start()
        self.sender.put("params", list(flat_params(params).items()))

    @rank_zero_only
    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        self.start()
        self.sender.put("metric values", metric_values(metrics, step or 0, self._prefix))

    @rank_zero_only
    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        """Upload a file (or a directory's files) from the background thread; it is read when it is sent."""
        self.start()
        self.sender.put("artifacts", [(str(path), artifact_path)])

    @rank_zero_only
    def set_tag(self, key: str, value: str) -> None:
        """Set a tag of the run from the background thread (``pruned`` for a trial a sweep stopped)."""
        self.start()
        self.sender.put("tags", [(key, str(value))])

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
        if not self._started:
            return
        self._opened.wait()
        # A resumed run that had nothing left to train logged nothing, but its status must still be set.
        if self._link.session is not None:
            files = run_end.files_to_upload(self.run_dir, self._log_model, self._checkpoint_callback)
            final = run_end.final_status(self.run_dir, status)
            run_end.close_run(self._link.session, self.sender, files, final, self._flush_timeout)
        else:
            self.sender.flush(self._flush_timeout)  # offline: what was queued is counted as not sent
        self._report()

    def _report(self) -> None:
        """Warn once about what was not sent and record it in ``run_info.json`` for ``sync_mlflow.py``."""
        summary = self.sender.summary()
        if summary is None or summary == self._reported:
            return
        self._reported = summary
        warnings.warn(summary, RuntimeWarning, stacklevel=2)
        run_end.record_not_sent(self.run_dir, self.tracking_uri, self.sender.dropped.counts)
