"""Regression metrics: mean squared error, mean absolute error and the coefficient of determination R2."""

import torch
from torchmetrics import MeanAbsoluteError, MeanSquaredError, MetricCollection, R2Score

from project.evaluation.evaluator import Evaluator, chosen_metrics

METRICS = {"mse": MeanSquaredError, "mae": MeanAbsoluteError, "r2": R2Score}
"""Metric names ``metrics`` accepts. With several targets per sample, MSE and MAE average over all values and
R2 is the mean of the per-target R2s."""


class RegressionEvaluator(Evaluator):
    """Metrics over real-valued outputs of shape ``(batch,)`` or ``(batch, targets)``."""

    def __init__(
        self,
        metrics: list[str] | None = None,
        save_predictions: bool = False,
        predict_path: str | None = None,
    ) -> None:
        """Choose the metrics.

        Args:
            metrics: Any of ``mse``, ``mae``, ``r2``; all three when not given.
            save_predictions: Write per-sample validation and test predictions to
                ``RUN/predictions/<stage>.csv`` (columns ``index, target, prediction``, or ``target_<k>`` and
                ``prediction_<k>`` with several targets).
            predict_path: Where ``predict`` writes its CSV; ``RUN/predictions/predict.csv`` when not given.
        """
        super().__init__(save_predictions, predict_path)
        names = chosen_metrics(metrics, METRICS)
        self.metrics = MetricCollection({name: METRICS[name]() for name in names})

    @property
    def metric_names(self) -> list[str]:
        return list(self.metrics.keys())

    def update(self, outputs: torch.Tensor, targets: torch.Tensor) -> None:
        outputs, targets = outputs.float(), targets.float().reshape(outputs.shape)
        if outputs.dim() > 1 and outputs.shape[-1] == 1:
            outputs, targets = outputs.flatten(), targets.flatten()
        self.metrics.update(outputs, targets)

    def compute(self) -> dict[str, torch.Tensor]:
        return dict(self.metrics.compute())

    def reset(self) -> None:
        self.metrics.reset()
