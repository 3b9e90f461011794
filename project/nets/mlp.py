"""A multilayer perceptron over flattened inputs."""

import torch
from torch import nn

from project.nets.blocks import MLPBlock, run_blocks


class MLP(nn.Module):
    """Fully connected classifier or regressor: ``Linear -> ReLU -> Dropout`` blocks, then a linear head."""

    def __init__(
        self,
        in_features: int = 64,
        num_classes: int = 10,
        hidden: list[int] | None = None,
        dropout: float = 0.0,
        gradient_checkpointing: bool = False,
    ) -> None:
        """Build the MLP.

        Args:
            in_features: Size of one flattened input (8x8 Digits images: 64).
            num_classes: Number of outputs (classes, or regression targets).
            hidden: Widths of the hidden layers; ``[256, 256]`` when not given.
            dropout: Dropout probability after each hidden layer.
            gradient_checkpointing: Recompute each hidden block's activations in backward to save memory.
        """
        super().__init__()
        widths = [in_features, *(hidden if hidden is not None else [256, 256])]
        self.blocks = nn.ModuleList(
            MLPBlock(nn.Linear(a, b), nn.ReLU(), nn.Dropout(dropout)) for a, b in zip(widths, widths[1:])
        )
        self.head = nn.Linear(widths[-1], num_classes)
        self.num_classes = num_classes
        self.gradient_checkpointing = gradient_checkpointing

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = run_blocks(self.blocks, x.flatten(1), self.gradient_checkpointing and self.training)
        return self.head(x)
