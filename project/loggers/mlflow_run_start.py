"""The start of an MLflow run: reopen the run a resumed run names, or create one in its experiment."""

import time
import warnings
from typing import TYPE_CHECKING, NamedTuple

from project.loggers.mlflow_experiment import EXPERIMENT_TAGS
from project.loggers.mlflow_limits import MAX_TAG_VALUE_LENGTH, fit_value, legal_name

if TYPE_CHECKING:
    from mlflow import MlflowClient


class OpenedRun(NamedTuple):
    run_id: str
    existing_params: dict[str, str]  # MLflow refuses to change a param: a resumed run keeps these
    logged_up_to: dict[str, int]  # per metric, the last step the run has: a resume does not log it again


def open_run(
    client: "MlflowClient",
    run_id: str | None,
    experiment_name: str,
    run_name: str | None,
    tags: dict[str, str],
    artifact_location: str | None,
    resuming: bool,
) -> OpenedRun:
    """Set ``run_id`` RUNNING again, or (without one, or when the store lacks it) create a run."""
    if run_id is not None:
        try:
            run = client.get_run(run_id)
        except Exception as error:  # noqa: BLE001
            if not _not_found(error):
                raise
            warnings.warn(f"MLflow run {run_id} is not in the store; starting a new one", stacklevel=3)
        else:
            client.update_run(run_id, status="RUNNING")
            logged_up_to = {}
            if resuming:
                client.set_tag(run_id, "resumed_at", time.strftime("%Y-%m-%dT%H:%M:%S%z"))
                logged_up_to = {
                    key: max(m.step for m in client.get_metric_history(run_id, key))
                    for key in run.data.metrics
                }
            return OpenedRun(run_id, dict(run.data.params), logged_up_to)
    experiment = client.get_experiment_by_name(experiment_name)
    if experiment is None or experiment.lifecycle_stage == "deleted":
        experiment_id = client.create_experiment(
            experiment_name, artifact_location=artifact_location, tags=EXPERIMENT_TAGS
        )
    else:
        experiment_id = experiment.experiment_id
    tags = {**tags, **_git_tags()}
    if run_name:
        tags["mlflow.runName"] = run_name
    tags = {legal_name(k): fit_value(v, MAX_TAG_VALUE_LENGTH) for k, v in tags.items() if v is not None}
    return OpenedRun(client.create_run(experiment_id, tags=tags, run_name=run_name).info.run_id, {}, {})


def _not_found(error: BaseException) -> bool:
    return getattr(error, "error_code", "") == "RESOURCE_DOES_NOT_EXIST" or "not found" in str(error).lower()


def _git_tags() -> dict[str, str | None]:
    from project.provenance import git

    status = git("status", "--porcelain")
    return {
        "git_commit": git("rev-parse", "HEAD"),
        "git_dirty": None if status is None else str(bool(status)),
    }
