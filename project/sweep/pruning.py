"""The trial's side of pruning: report the study's metric after each validation, stop when the study says so.

optuna-integration's ``PyTorchLightningPruningCallback`` raises ``TrialPruned`` inside ``fit``: Lightning then
finalizes the loggers as failed (MLflow shows FAILED), it reads private Trainer attributes, and reports once
per epoch. Here global rank 0 alone reports and asks ``should_prune``, every rank receives the answer by
broadcast, and a pruned trial sets ``trainer.should_stop``: the epoch ends, ``last.ckpt`` is written,
the loggers close normally; ``run_info.json`` records ``pruned``, and the MLflow run ends KILLED with a
``pruned`` tag.
"""

import math
import threading
from typing import Any

import optuna
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities.rank_zero import rank_zero_info

from project.sweep.algorithms import make_pruner
from project.sweep.storage import open_storage
from project.sweep.sweep_file import Algorithm
from project.sweep.trial_link import TrialLink


def open_trial(link: TrialLink) -> optuna.trial.Trial:
    """The running trial ``link.trial`` of the study, with the study's pruner."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = open_storage(link.storage)
    pruner = make_pruner(Algorithm(**link.pruner))
    # The sampler is unused here (the values are already in the trial); RandomSampler costs nothing.
    study = optuna.load_study(
        study_name=link.study, storage=storage, pruner=pruner, sampler=optuna.samplers.RandomSampler()
    )
    trial_id = storage.get_trial_id_from_study_id_trial_number(
        storage.get_study_id_from_name(link.study), link.trial
    )
    return optuna.trial.Trial(study, trial_id)


class StudyPruning(Callback):
    """Reports ``link.metric`` to the trial after each validation (step = the validation's index) and
    stops training when the study's pruner says so; sets the trial's ``value`` (the best reported value)."""

    def __init__(self, link: TrialLink) -> None:
        self.link = link
        self.trial: optuna.trial.Trial | None = None
        self.validations = 0
        self.best: float | None = None
        self.pruned_at: int | None = None
        self._opening: threading.Thread | None = None
        self._error: BaseException | None = None

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.is_global_zero:
            # Opening the study takes a second or two (imports, schema check): done while training starts.
            self._opening = threading.Thread(target=self._open, args=(str(trainer.default_root_dir),))
            self._opening.start()

    def _open(self, run_dir: str) -> None:
        try:
            trial = open_trial(self.link)
            trial.set_user_attr("run_dir", run_dir)
            self.trial = trial
        except BaseException as error:  # noqa: BLE001 - raised in the training thread by `_opened`
            self._error = error

    def _opened(self) -> optuna.trial.Trial:
        if self._opening is not None:
            self._opening.join()
            self._opening = None
        if self._error is not None:
            raise RuntimeError(
                f"trial {self.link.trial} could not reach its study: {self._error}"
            ) from self._error
        return self.trial

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.sanity_checking:
            return
        prune = False
        if trainer.is_global_zero:
            prune = self._report(trainer.callback_metrics.get(self.link.metric))
        self.validations += 1
        prune = trainer.strategy.broadcast(prune, src=0)
        if prune and self.pruned_at is None:
            self.pruned_at = self.validations - 1
            trainer.should_stop = True
            if trainer.is_global_zero:
                self._mark_pruned(trainer)

    def _report(self, value: Any) -> bool:
        if value is None:
            return False
        value = float(value)
        if math.isfinite(value):
            better = max if self.link.direction == "maximize" else min
            self.best = value if self.best is None else better(self.best, value)
        trial = self._opened()
        trial.report(value, self.validations)
        return trial.should_prune()

    def _mark_pruned(self, trainer: Trainer) -> None:
        from project.loggers.mlflow_logger import RunMLFlowLogger
        from project.run.run_info import RunInfoWriter

        value = trainer.callback_metrics.get(self.link.metric)
        rank_zero_info(
            f"Trial {self.link.trial} pruned by the study after validation {self.pruned_at} "
            f"({self.link.metric}={float(value):.4f}); stopping at the end of this epoch"
        )
        for callback in trainer.callbacks:
            if isinstance(callback, RunInfoWriter):
                callback.update(pruned={"after_validation": self.pruned_at, "step": trainer.global_step})
        for logger in trainer.loggers:
            if isinstance(logger, RunMLFlowLogger):
                logger.set_tag("pruned", "true")  # sent in the background; a failure is counted like a metric

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.is_global_zero:
            trial = self._opened()
            trial.set_user_attr("pruned", self.pruned_at is not None)
            trial.set_user_attr("validations", self.validations)
            if self.best is not None:
                trial.set_user_attr("value", self.best)
