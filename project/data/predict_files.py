"""Unlabelled image files to predict (``data.predict_root``), read the way the run's evaluation images are."""

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from project.data.image_folder import ImageFiles, check_readable

KEY = "data.predict_root"
NO_TARGET = -1  # predict batches carry a target column like the others; files have none


def predict_dataset(datamodule: object) -> tuple[list[Path], Dataset]:
    """Every file under ``datamodule.predict_root`` (sorted, hidden ones skipped) and a dataset over them.

    All files are checked before any prediction: one that is not an image is named (exit status 2) and no
    predictions file is written.
    """
    mode = getattr(datamodule, "image_mode", None)
    if mode is None:
        raise ValueError(f"{KEY}: {type(datamodule).__name__} does not read image files")
    root = Path(datamodule.predict_root)
    if not root.is_dir():
        raise ValueError(f"{KEY}: folder {root} does not exist")
    files = sorted(
        path
        for path in root.rglob("*")
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(root).parts)
    )
    if not files:
        raise ValueError(f"{KEY}: {root} holds no files")
    samples = [(path, NO_TARGET) for path in files]
    check_readable(samples, KEY)
    return files, ImageFiles(samples, mode, list(datamodule.eval_transforms), key=KEY)


def image_tensor(image: object, mode: str, transforms: list[Callable]) -> torch.Tensor:
    """A PIL image as the ``(C, H, W)`` float tensor in [0, 1] the net sees, after ``transforms``."""
    array = np.asarray(image.convert(mode), dtype=np.float32) / 255.0
    x = torch.from_numpy(array.reshape(array.shape[0], array.shape[1], -1)).permute(2, 0, 1).contiguous()
    for transform in transforms:
        x = transform(x)
    return x
