"""A sample-weighted mean over batches and DDP processes that keeps NaN and infinity visible."""

import torch
from torchmetrics import Metric


class WeightedMean(Metric):
    """``sum(value * weight) / sum(weight)``, summed over processes on ``compute``.

    torchmetrics' ``MeanMetric`` drops NaN values (``nan_strategy`` ``warn``/``ignore``) or, with ``disable``,
    ignores the weights (torchmetrics 1.9); a diverging validation loss must show as NaN instead.
    """

    def __init__(self) -> None:
        super().__init__()
        self.add_state("total", default=torch.tensor(0.0), dist_reduce_fx="sum")
        self.add_state("weight", default=torch.tensor(0.0), dist_reduce_fx="sum")

    def update(self, value: torch.Tensor, weight: float) -> None:
        self.total += value.detach().float() * weight
        self.weight += weight

    def compute(self) -> torch.Tensor:
        return self.total / self.weight
