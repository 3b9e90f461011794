"""A small convolutional classifier for small images."""

import torch
from torch import nn

from project.nets.blocks import ConvStage, run_blocks


class SimpleCNN(nn.Module):
    """``Conv -> BatchNorm -> ReLU`` stages with max pooling, global average pooling and a linear head."""

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 10,
        channels: list[int] | None = None,
        dropout: float = 0.0,
        gradient_checkpointing: bool = False,
    ) -> None:
        """Build the CNN.

        Args:
            in_channels: Channels of the input images (1 for Digits, 3 for RGB).
            num_classes: Number of classes.
            channels: Output channels of each stage; ``[32, 64]`` when not given. Every stage but the last
                halves the spatial size.
            dropout: Dropout probability before the head.
            gradient_checkpointing: Recompute each stage's activations in backward to save memory.
        """
        super().__init__()
        widths = [in_channels, *(channels if channels is not None else [32, 64])]
        stages = []
        for i, (a, b) in enumerate(zip(widths, widths[1:])):
            layers = [nn.Conv2d(a, b, 3, padding=1, bias=False), nn.BatchNorm2d(b), nn.ReLU(inplace=True)]
            if i < len(widths) - 2:
                layers.append(nn.MaxPool2d(2))
            stages.append(ConvStage(*layers))
        self.blocks = nn.ModuleList(stages)
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(b, num_classes)
        )
        self.num_classes = num_classes
        self.gradient_checkpointing = gradient_checkpointing

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = run_blocks(self.blocks, x, self.gradient_checkpointing and self.training)
        return self.head(x)
