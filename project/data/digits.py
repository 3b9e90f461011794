"""The handwritten digits that scikit-learn ships: 1,797 grey 8x8 images of 10 classes, no download."""

import importlib.util
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import TensorDataset

from project.data.base import BaseDataModule, seeded_split, subsets


class Digits(BaseDataModule):
    """scikit-learn's ``load_digits`` as ``(1, 8, 8)`` tensors scaled to [0, 1], split train/val/test."""

    def __init__(
        self,
        val_fraction: float = 0.1,
        test_fraction: float = 0.2,
        split_seed: int = 42,
        batch_size: int = 32,
        num_workers: int | None = 0,
        pin_memory: bool | None = None,
        persistent_workers: bool = True,
        prefetch_factor: int | None = 2,
        drop_last: bool = False,
        predict_root: str | None = None,
    ) -> None:
        """Configure the split and the loaders.

        Args:
            val_fraction: Share of the 1,797 images held out for validation.
            test_fraction: Share held out for testing.
            split_seed: Seed of the split; independent of ``seed_everything``, so runs share their data.
            batch_size: Samples per batch on each device.
            num_workers: Loader worker processes (the data is in memory: 0 is fastest).
            pin_memory: Page-locked host memory; ``null`` means only when CUDA is available.
            persistent_workers: Keep workers alive between epochs (only with ``num_workers > 0``).
            prefetch_factor: Batches each worker loads ahead (only with ``num_workers > 0``).
            drop_last: Drop the last incomplete training batch.
            predict_root: ``predict`` reads the images in this folder (8x8 grey, e.g. PNG) instead of the test
                split and writes ``RUN/predictions/<folder name>.csv``.
        """
        super().__init__(
            batch_size, num_workers, pin_memory, persistent_workers, prefetch_factor, drop_last, predict_root
        )
        self.fractions = (val_fraction, test_fraction)
        self.split_seed = split_seed
        self.num_classes = 10
        self.classes = [str(digit) for digit in range(10)]
        self.image_mode = "L"  # image files: grey, scaled to [0, 1] like the 0..16 pixels of the data set

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        images, targets = read_digits()
        x = torch.tensor(images, dtype=torch.float32).reshape(-1, 1, 8, 8) / 16.0
        y = torch.tensor(targets, dtype=torch.long)
        self.splits = subsets(TensorDataset(x, y), seeded_split(len(y), self.fractions, self.split_seed))


def read_digits() -> tuple[np.ndarray, np.ndarray]:
    """``(images (1797, 64), targets (1797,))`` from the file scikit-learn ships.

    Read directly: ``sklearn.datasets.load_digits`` reads the same file but imports scikit-learn first, which
    costs more than the rest of a short run's data set-up (0.7 s). Falls back to it if the file moved.
    """
    spec = importlib.util.find_spec("sklearn")  # finds the package without importing it
    path = Path(spec.origin).parent / "datasets" / "data" / "digits.csv.gz" if spec and spec.origin else None
    if path is None or not path.is_file():
        from sklearn.datasets import load_digits

        return load_digits(return_X_y=True)
    data = np.loadtxt(path, delimiter=",")
    return data[:, :-1], data[:, -1].astype(int)
