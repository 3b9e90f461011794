"""Running a stack of blocks, optionally recomputing their activations in backward."""

from collections.abc import Iterable

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint


class MLPBlock(nn.Sequential):
    """``Linear -> ReLU -> Dropout``: one hidden layer of ``MLP`` (named for FSDP policies)."""


class ConvStage(nn.Sequential):
    """``Conv -> BatchNorm -> ReLU [-> MaxPool]``: one stage of ``SimpleCNN`` (named for FSDP policies)."""


def run_blocks(blocks: Iterable[nn.Module], x: torch.Tensor, recompute: bool) -> torch.Tensor:
    """Apply ``blocks`` in order; with ``recompute`` each block's activations are rebuilt in backward.

    Recomputation trades compute for memory: only block inputs are kept between forward and backward.
    """
    for block in blocks:
        x = checkpoint(block, x, use_reentrant=False) if recompute else block(x)
    return x
