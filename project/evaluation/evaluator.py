"""The evaluator interface: what the LightningModule hands over per batch and receives per epoch."""

from pathlib import Path

import torch
from lightning.pytorch import Trainer
from torch import nn
from torchmetrics import MeanMetric

from project.evaluation.predictions import PredictionTable, columns, write_csv
from project.evaluation.rank_samples import RankSamples
from project.loggers.artifacts import log_artifact
from project.run.run_dir import RunDir

STAGES = ("val", "test", "predict")


class Evaluator(nn.Module):
    """Base class of evaluators; subclass it and name it in YAML by import path (``model.evaluator``).

    A subclass overrides ``update`` (one batch of net outputs and targets), ``compute`` (a dict of results at
    epoch end, logged as ``val/<name>`` or ``test/<name>`` to every logger), ``reset`` and ``metric_names``;
    optionally ``predict`` / ``decide`` / ``prediction_columns`` (what the predictions file holds) and
    ``save_figures``. Keep metric state in torchmetrics objects held as attributes: they follow the module's
    device and synchronise across DDP ranks on ``compute``.

    The module drives an epoch through ``start_epoch``, ``evaluate_batch`` / ``predict_batch`` and
    ``end_epoch``, which also drop the padding a distributed sampler adds (so each sample counts once) and
    write ``RUN/predictions/<stage>.csv``.
    """

    def __init__(self, save_predictions: bool = False, predict_path: str | None = None) -> None:
        """Args:
        save_predictions: Write per-sample validation and test predictions to ``RUN/predictions/<stage>.csv``.
        predict_path: Where ``predict`` writes its CSV; ``RUN/predictions/predict.csv`` when not given.
        """
        super().__init__()
        self.save_predictions = save_predictions
        self.predict_path = predict_path
        self._samples = RankSamples()
        self._table: PredictionTable | None = None
        # Not `self.log` per batch: under DDP, Lightning divides integer sample counts (uneven shares).
        # Weighted by samples, summed over ranks; NaN stays NaN (a diverging loss must show, not be dropped).
        self._loss = MeanMetric(nan_strategy=float("nan"))

    # --- what a subclass overrides ---------------------------------------------------------------------

    @property
    def metric_names(self) -> list[str]:
        """Names ``compute`` returns; ``monitor`` keys are checked against ``val/<name>``."""
        return []

    def update(self, outputs: torch.Tensor, targets: torch.Tensor) -> None:
        """Accumulate one batch."""

    def compute(self) -> dict[str, torch.Tensor]:
        """Results of the epoch so far, keyed by metric name."""
        return {}

    def reset(self) -> None:
        """Forget the accumulated batches."""

    def predict(self, outputs: torch.Tensor) -> torch.Tensor:
        """What ``predict`` returns for a batch of net outputs (class probabilities, regression values...)."""
        return outputs

    def decide(self, predictions: torch.Tensor) -> torch.Tensor:
        """The ``prediction`` column of the predictions file, from ``predict``'s output."""
        return predictions

    def prediction_columns(self, predictions: torch.Tensor) -> dict[str, torch.Tensor]:
        """Columns after ``index, target, prediction`` in the predictions file (none by default)."""
        return {}

    def save_figures(self, stage: str, directory: Path, is_global_zero: bool) -> list[Path]:
        """Write pictures of the epoch into the run dir and return their paths (they also go to MLflow).

        Called on every rank at the end of each validation and test epoch (synchronise metrics here); only
        rank zero (``is_global_zero``) writes.
        """
        return []

    # --- what the module calls ---------------------------------------------------------------------------

    def start_epoch(self, stage: str, trainer: object) -> None:
        """Reset the metrics; find this rank's share of the ``stage`` loader (val, test, predict)."""
        self.reset()
        self._loss.reset()
        loaders = getattr(trainer, f"{stage}_dataloaders", None) if stage in STAGES else None
        self._samples = RankSamples.of(loaders)
        keep_rows = stage == "predict" or (
            self.save_predictions and not getattr(trainer, "sanity_checking", False)
        )
        self._table = PredictionTable() if keep_rows else None

    def evaluate_batch(
        self,
        outputs: torch.Tensor,
        targets: torch.Tensor,
        index: torch.Tensor | None = None,
        loss: nn.Module | None = None,
    ) -> None:
        """Update the metrics (and the mean of ``loss(outputs, targets)``) with the batch's real samples."""
        keep, positions = self._samples.take(len(outputs), index)
        if not keep:
            return
        outputs, targets = outputs[:keep], targets[:keep]
        if loss is not None:
            self._loss.update(loss(outputs, targets).detach(), weight=keep)
        self.update(outputs, targets)
        if self._table is not None:
            self._table.add(positions, targets, self.predict(outputs))

    def predict_batch(
        self, outputs: torch.Tensor, targets: torch.Tensor | None = None, index: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``predict(outputs)``, also kept for the predictions file."""
        predictions = self.predict(outputs)
        keep, positions = self._samples.take(len(outputs), index)
        if self._table is not None and keep:
            self._table.add(positions, None if targets is None else targets[:keep], predictions[:keep])
        return predictions

    def end_epoch(self, stage: str, trainer: object) -> dict[str, torch.Tensor]:
        """The epoch's results (``loss`` first); writes predictions and figures (a collective call)."""
        results = {}
        if stage != "predict":
            if self._loss.update_called:
                results["loss"] = self._loss.compute()
            results.update(self.compute())
        run_dir = Path(getattr(trainer, "default_root_dir", "."))
        is_global_zero = bool(getattr(trainer, "is_global_zero", True))
        datamodule = getattr(trainer, "datamodule", None)
        files = getattr(datamodule, "predict_files", None) if stage == "predict" else None
        if self._table is not None and files is not None:  # data.predict_root: a folder of new files
            from project.evaluation.file_predictions import write_file_predictions

            path = RunDir(run_dir).prediction_file(Path(datamodule.predict_root).resolve().name)
            write_file_predictions(self, self._table, files, getattr(datamodule, "classes", None), path)
            self._table = None
        elif self._table is not None:
            path = self.predictions_path(stage, run_dir)
            self.write_predictions(self._table, path)
            self._table = None
        if stage != "predict" and not getattr(trainer, "sanity_checking", False):
            figures = self.save_figures(stage, run_dir, is_global_zero)
            if is_global_zero and isinstance(trainer, Trainer):
                for figure in figures:
                    log_artifact(trainer, figure)
        return results

    def predictions_path(self, stage: str, run_dir: Path) -> Path:
        """``RUN/predictions/<stage>.csv``, or ``predict_path`` for ``predict``."""
        if stage == "predict" and self.predict_path:
            return Path(self.predict_path)
        return RunDir(run_dir).prediction_file(stage)

    def write_predictions(self, table: PredictionTable, path: Path) -> None:
        """Gather every rank's rows; rank 0 writes ``index, target, prediction, <prediction_columns>``."""
        rows = table.gather()
        if rows is None or not rows:
            return
        out = {"index": rows["index"]}
        if "target" in rows:
            out.update(columns("target", rows["target"]))
        out.update(columns("prediction", self.decide(rows["values"])))
        out.update(self.prediction_columns(rows["values"]))
        write_csv(path, out)


def chosen_metrics(metrics: list[str] | None, known: dict) -> list[str]:
    """The metric names an evaluator computes: ``metrics``, or every known one; unknown names are refused."""
    names = list(metrics) if metrics is not None else list(known)
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(f"metrics: unknown metric {', '.join(unknown)}; known: {', '.join(known)}")
    return names
