"""ResNet-18/34/50 (He et al., 2016) in plain torch, with a stem for tiny images."""

from typing import Literal

import torch
from torch import nn

from project.nets.blocks import run_blocks


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a residual connection (ResNet-18/34)."""

    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = _shortcut(in_planes, planes * self.expansion, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3, 1x1 expand, with a residual connection (ResNet-50)."""

    expansion = 4

    def __init__(self, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        out_planes = planes * self.expansion
        self.conv1 = nn.Conv2d(in_planes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out_planes, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_planes)
        self.shortcut = _shortcut(in_planes, out_planes, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = torch.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return torch.relu(out + self.shortcut(x))


def _shortcut(in_planes: int, out_planes: int, stride: int) -> nn.Module:
    if stride == 1 and in_planes == out_planes:
        return nn.Identity()
    return nn.Sequential(nn.Conv2d(in_planes, out_planes, 1, stride, bias=False), nn.BatchNorm2d(out_planes))


_LAYOUTS: dict[int, tuple[type[nn.Module], list[int]]] = {
    18: (BasicBlock, [2, 2, 2, 2]),
    34: (BasicBlock, [3, 4, 6, 3]),
    50: (Bottleneck, [3, 4, 6, 3]),
}


class ResNet(nn.Module):
    """Residual network; FSDP wraps and checkpointing recomputes the residual blocks in ``blocks``."""

    def __init__(
        self,
        depth: Literal[18, 34, 50] = 18,
        num_classes: int = 10,
        in_channels: int = 3,
        small_input: bool = False,
        width: int = 64,
        gradient_checkpointing: bool = False,
    ) -> None:
        """Build the ResNet.

        Args:
            depth: 18 or 34 (basic blocks) or 50 (bottleneck blocks).
            num_classes: Number of classes.
            in_channels: Channels of the input images.
            small_input: Use a 3x3 stride-1 stem without max pooling, for images of 32 pixels or less
                (CIFAR-sized, or Digits' 8x8); the ImageNet stem (7x7 stride 2 plus pooling) otherwise.
            width: Channels of the first stage; later stages double it.
            gradient_checkpointing: Recompute each residual block's activations in backward to save memory.
        """
        super().__init__()
        block, counts = _LAYOUTS[depth]
        if small_input:
            self.stem = nn.Sequential(
                nn.Conv2d(in_channels, width, 3, 1, 1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
            )
        else:
            self.stem = nn.Sequential(
                nn.Conv2d(in_channels, width, 7, 2, 3, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(3, 2, 1),
            )
        blocks: list[nn.Module] = []
        in_planes = width
        for stage, count in enumerate(counts):
            planes = width * 2**stage
            for i in range(count):
                stride = 2 if stage > 0 and i == 0 else 1
                blocks.append(block(in_planes, planes, stride))
                in_planes = planes * block.expansion
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(in_planes, num_classes))
        self.num_classes = num_classes
        self.depth = depth
        self.gradient_checkpointing = gradient_checkpointing

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = run_blocks(self.blocks, self.stem(x), self.gradient_checkpointing and self.training)
        return self.head(x)
