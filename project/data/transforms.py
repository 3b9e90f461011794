"""Image transforms in plain torch, on ``(C, H, W)`` float tensors; random ones draw from torch's RNG.

torch's RNG is what Lightning seeds per worker and per rank, so augmentations differ between workers and
epochs and repeat for the same seed. Any callable (torchvision's included) can stand in by its import path.
"""

import torch
import torch.nn.functional as F


class Transform:
    """Base of the built-in transforms; subclasses resolve by short name in YAML (``class_path: Resize``)."""

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        return image


class Resize(Transform):
    """Resize to ``size`` (an int for a square, or ``[height, width]``) with bilinear interpolation."""

    def __init__(self, size: int | list[int]) -> None:
        """Args:
        size: Target size: an int for a square, or ``[height, width]``.
        """
        self.size = [size, size] if isinstance(size, int) else list(size)

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        return F.interpolate(image[None], size=self.size, mode="bilinear", align_corners=False)[0]


class RandomCrop(Transform):
    """Crop a random ``size`` window, after zero padding of ``padding`` pixels on each side."""

    def __init__(self, size: int | list[int], padding: int = 0) -> None:
        """Args:
        size: Crop size: an int for a square, or ``[height, width]``.
        padding: Zero padding added on each side before cropping.
        """
        self.size = [size, size] if isinstance(size, int) else list(size)
        self.padding = padding

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        if self.padding:
            image = F.pad(image, [self.padding] * 4)
        h, w = self.size
        top = int(torch.randint(0, image.shape[-2] - h + 1, ()).item())
        left = int(torch.randint(0, image.shape[-1] - w + 1, ()).item())
        return image[..., top : top + h, left : left + w]


class RandomHorizontalFlip(Transform):
    """Mirror left-right with probability ``p``."""

    def __init__(self, p: float = 0.5) -> None:
        """Args:
        p: Probability of flipping.
        """
        self.p = p

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        return image.flip(-1) if torch.rand(()) < self.p else image


class Normalize(Transform):
    """Subtract ``mean`` and divide by ``std``, per channel."""

    def __init__(self, mean: list[float], std: list[float]) -> None:
        """Args:
        mean: Per-channel means.
        std: Per-channel standard deviations.
        """
        self.mean = torch.tensor(mean).view(-1, 1, 1)
        self.std = torch.tensor(std).view(-1, 1, 1)

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        return (image - self.mean) / self.std
