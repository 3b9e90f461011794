"""Speed settings of the module: channels-last memory format and float32 matmul precision."""

from typing import Literal

import torch
from torch import nn

MatmulPrecision = Literal["highest", "high", "medium"]


def use_channels_last(net: nn.Module) -> None:
    """Store 4-D weights as NHWC, which cuDNN's tensor-core kernels prefer (bf16/fp16 convolutions)."""
    net.to(memory_format=torch.channels_last)


def channels_last_input(x: torch.Tensor) -> torch.Tensor:
    """Image batches in NHWC to match channels-last weights; other inputs unchanged."""
    return x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x


def set_matmul_precision(precision: MatmulPrecision | None) -> None:
    """``torch.set_float32_matmul_precision``: ``high``/``medium`` let float32 matmuls use TF32/bf16 on
    Ampere+ GPUs (faster, fewer significant digits); ``None`` leaves torch's setting (``highest``) alone."""
    if precision is not None:
        torch.set_float32_matmul_precision(precision)
