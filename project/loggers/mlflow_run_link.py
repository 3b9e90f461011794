"""The training process's link to one open MLflow run: open it (a server is health-checked first), then send
to it what the run does not have yet."""

from typing import Any

from project.loggers import mlflow_connection as connection
from project.loggers.mlflow_entities import new_params, not_logged_yet
from project.loggers.mlflow_process import HelperProcess, InProcess, open_session


class ServerDown(ConnectionError):
    """A tracking server's ``/health`` did not answer in time."""


class RunLink:
    """The session that makes the MLflow calls (``mlflow_process``) and what the open run already holds.

    Empty (``session`` None) until ``open`` succeeds.
    """

    def __init__(self) -> None:
        self.session: HelperProcess | InProcess | None = None
        self.run_id: str | None = None
        self.existing_params: dict[str, str] = {}  # MLflow refuses to change a param a resumed run has
        self.logged_up_to: dict[str, int] = {}  # per metric, the last step the run has

    def open(
        self, uri: str, run: dict[str, Any], connect_timeout: float, log_system_metrics: bool
    ) -> list[str]:
        """Create the run or set an existing one RUNNING again (``run``: ``open_run``'s arguments after the
        client); returns warnings to show. Raises ``ServerDown`` when a server does not answer its health
        check within ``connect_timeout`` seconds, and whatever the store raises."""
        if connection.is_http(uri) and not connection.server_answers(uri, connect_timeout):
            raise ServerDown(f"{uri}/health did not answer (timeout {connect_timeout:g} s)")
        local = None if connection.is_http(uri) else connection.default_artifact_location(uri)
        run = {**run, "artifact_location": local and (run.get("artifact_location") or local)}
        self.session, opened = open_session(uri, run, log_system_metrics)
        self.run_id, self.existing_params, self.logged_up_to, notes = opened
        return notes

    def send(self, kind: str, items: list[Any]) -> None:
        """One request of ``kind`` (``Session.send``), leaving out params the run has and metric steps it
        logged before a resume."""
        if self.session is None:
            raise ConnectionError("no MLflow run")
        if kind == "params":
            items = new_params(dict(items), self.existing_params)
        elif kind == "metric values":
            items = not_logged_yet(items, self.logged_up_to)
        if items:
            self.session.call("send", kind, items)
