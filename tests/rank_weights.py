"""Test-only callback: each rank saves its final weights, so a test can compare the ranks of a DDP job."""

import os
from pathlib import Path

import torch
from lightning.pytorch import Callback, LightningModule, Trainer


class SaveRankWeights(Callback):
    """Writes ``$RANK_WEIGHTS_DIR/rank<global rank>.pt`` (the module's state dict) when fit ends."""

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        folder = Path(os.environ["RANK_WEIGHTS_DIR"])
        folder.mkdir(parents=True, exist_ok=True)
        torch.save(pl_module.state_dict(), folder / f"rank{trainer.global_rank}.pt")
