"""Lightning's floor, which ``scripts/bench.py`` and ``tests/test_step_overhead.py`` measure the template
against: a LightningModule that only computes the loss, in a Trainer with logger, progress bar, model summary,
checkpointing, sanity check and validation off."""

from collections.abc import Callable, Iterable
from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule, Trainer


class Bare(LightningModule):
    """``net`` trained with cross-entropy and the optimizer ``optimizer(parameters)`` makes; nothing else.

    Args:
        net: The network.
        optimizer: Makes the optimizer from the net's parameters.
    """

    def __init__(
        self, net: torch.nn.Module, optimizer: Callable[[Iterable[torch.nn.Parameter]], torch.optim.Optimizer]
    ) -> None:
        super().__init__()
        self.net, self.loss, self.optimizer = net, torch.nn.CrossEntropyLoss(), optimizer

    def training_step(self, batch: tuple, batch_idx: int) -> torch.Tensor:
        return self.loss(self.net(batch[0]), batch[1])

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.optimizer(self.net.parameters())


def bare_trainer(callback: Callback, **length: Any) -> Trainer:
    """A CPU Trainer with only ``callback`` (a timer or a counter); ``length``: ``max_steps`` or
    ``max_epochs``."""
    return Trainer(
        accelerator="cpu", devices=1, logger=False, enable_progress_bar=False, enable_model_summary=False,
        enable_checkpointing=False, num_sanity_val_steps=0, limit_val_batches=0, callbacks=[callback],
        **length,
    )  # fmt: skip
