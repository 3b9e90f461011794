"""The evaluator interface: what the LightningModule hands over per batch and receives per epoch."""

import torch
from torch import nn


class Evaluator(nn.Module):
    """Base class of evaluators; subclass it and name it in YAML by import path (``model.evaluator``).

    The module calls ``update`` with the net's outputs and the targets of every validation and test batch,
    ``compute`` at epoch end (results are logged as ``<stage>/<name>`` to every logger) and ``reset`` at epoch
    start. Keep metric state in torchmetrics objects held as attributes: they follow the module's device and
    synchronise across DDP ranks on ``compute``.
    """

    def __init__(self, save_predictions: bool = False) -> None:
        """Args:
        save_predictions: Write per-sample predictions to ``RUN/predictions/<stage>.csv``.
        """
        super().__init__()
        self.save_predictions = save_predictions

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
