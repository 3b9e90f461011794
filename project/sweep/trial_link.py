"""How a ``fit`` run learns it is a trial of ``main.py tune``: ``PROJECT_SWEEP_TRIAL`` in its environment.

The driver sets it for the trial's process; Lightning's ``ddp`` launcher and torchrun pass it to every rank.
It is not part of the config, so the trial's ``config.yaml`` reproduces the trial alone, without the study.
When it is set, the CLI adds the pruning callback, makes the MLflow run a child of the study's parent run, and
records the study and trial in ``run_info.json``. optuna is imported only here, in a trial.
"""

import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any

from lightning.pytorch import Trainer

from project.run.run_dir import RunDir

TRIAL_ENV = "PROJECT_SWEEP_TRIAL"
PARENT_TAG = "mlflow.parentRunId"  # what the MLflow UI nests runs by


@dataclass
class TrialLink:
    """What a trial needs to talk to its study.

    Args:
        storage: The study's storage (URL or journal file path).
        study: The study's name.
        trial: The trial's number in the study.
        metric: The logged key the study optimises (reported after each validation).
        direction: ``maximize`` or ``minimize``.
        pruner: The sweep file's pruner, ``{"name": ..., "options": {...}}``.
        parent_run_id: The study's MLflow parent run, if MLflow is on.
    """

    storage: str
    study: str
    trial: int
    metric: str
    direction: str
    pruner: dict[str, Any] = field(default_factory=lambda: {"name": "none", "options": {}})
    parent_run_id: str | None = None

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls) -> "TrialLink | None":
        text = os.environ.get(TRIAL_ENV)
        return cls(**json.loads(text)) if text else None


def join_study(trainer: Trainer, run_dir: RunDir) -> None:
    """When this ``fit`` is a trial: the pruning callback, the MLflow parent, ``run_info.json``."""
    link = TrialLink.from_env()
    if link is None:
        return
    from project.loggers.mlflow_logger import RunMLFlowLogger
    from project.run.run_info import RunInfoWriter
    from project.sweep.pruning import StudyPruning
    from project.sweep.storage import redact

    trainer.callbacks.append(StudyPruning(link))
    tags = {"optuna_study": link.study, "optuna_trial": str(link.trial)}
    if link.parent_run_id:
        tags[PARENT_TAG] = link.parent_run_id
    for logger in trainer.loggers:
        if isinstance(logger, RunMLFlowLogger):
            logger.tags.update(tags)  # read when the run is created, before fit
    fields = {
        "mlflow_parent_run_id": link.parent_run_id,
        "optuna": {"study": link.study, "trial": link.trial, "storage": redact(link.storage)},
    }
    for callback in trainer.callbacks:
        if isinstance(callback, RunInfoWriter):
            callback.update(**fields)
