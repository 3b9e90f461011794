"""What every DataModule here shares: the guide's DataLoader knobs and a seeded train/val/test split."""

import os
from pathlib import Path

import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader, Dataset, Subset


class IndexedDataset(Dataset):
    """Yields ``(input, target, index)``, so evaluators can write one prediction row per dataset sample."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> tuple:
        x, y = self.dataset[index]
        return x, y, index


def seeded_split(n: int, fractions: tuple[float, float], seed: int) -> tuple[list[int], list[int], list[int]]:
    """Split ``range(n)`` into train, val and test indices; a seed gives the same split on every rank."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    n_val, n_test = (round(n * f) for f in fractions)
    return order[n_val + n_test :], order[:n_val], order[n_val : n_val + n_test]


class BaseDataModule(LightningDataModule):
    """Loaders for ``train``, ``val``, ``test`` and ``predict`` built from ``self.splits``.

    Subclasses fill ``self.splits`` (a dict with the keys ``train``, ``val``, ``test``) in ``setup`` and may
    set ``num_classes``, which is checked against the net's output size, and ``classes`` (class names).
    ``predict`` reads the test split, or with ``predict_root`` the image files in that folder: subclasses
    that read images set ``image_mode`` (a PIL mode) and ``eval_transforms``.
    """

    def __init__(
        self,
        batch_size: int = 32,
        num_workers: int | None = None,
        pin_memory: bool | None = None,
        persistent_workers: bool = True,
        prefetch_factor: int | None = 2,
        drop_last: bool = False,
        predict_root: str | None = None,
    ) -> None:
        """Set the DataLoader knobs.

        Args:
            batch_size: Samples per batch on each device; the global batch is
                ``batch_size * devices * num_nodes * accumulate_grad_batches``.
            num_workers: Loader worker processes; ``null`` takes ``min(4, CPU count - 1)``.
            pin_memory: Page-locked host memory for faster copies to a GPU; ``null`` turns it on only when
                CUDA is available.
            persistent_workers: Keep workers alive between epochs (only with ``num_workers > 0``).
            prefetch_factor: Batches each worker loads ahead (only with ``num_workers > 0``).
            drop_last: Drop the last incomplete training batch (keeps shapes fixed for ``torch.compile``).
            predict_root: ``predict`` reads every file in this folder (images, read like the evaluation
                images) and writes ``RUN/predictions/<folder name>.csv``; ``null`` predicts the test split.
        """
        super().__init__()
        if batch_size < 1:
            raise ValueError(f"batch_size: must be at least 1, got {batch_size}")
        self.batch_size = batch_size
        self.num_workers = min(4, max((os.cpu_count() or 1) - 1, 0)) if num_workers is None else num_workers
        self.pin_memory = torch.cuda.is_available() if pin_memory is None else pin_memory
        self.persistent_workers = persistent_workers
        self.prefetch_factor = prefetch_factor
        self.drop_last = drop_last
        self.splits: dict[str, Dataset] = {}
        self.num_classes: int | None = None
        self.classes: list[str] | None = None
        self.predict_root = predict_root
        self.image_mode: str | None = None  # the PIL mode image files are read in; None: not image data
        self.eval_transforms: list = []
        self.predict_files: list[Path] | None = None

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        workers = self.num_workers
        return DataLoader(
            IndexedDataset(self.splits[split]),
            batch_size=self.batch_size,
            shuffle=shuffle,
            num_workers=workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.persistent_workers and workers > 0,
            prefetch_factor=self.prefetch_factor if workers > 0 else None,
            drop_last=self.drop_last and shuffle,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        if self.predict_root is not None and "predict" not in self.splits:
            from project.data.predict_files import predict_dataset

            self.predict_files, self.splits["predict"] = predict_dataset(self)
        return self._loader("predict" if self.predict_root is not None else "test", shuffle=False)


def subsets(dataset: Dataset, indices: tuple[list[int], list[int], list[int]]) -> dict[str, Dataset]:
    """``{"train": ..., "val": ..., "test": ...}`` views of ``dataset``."""
    return {name: Subset(dataset, idx) for name, idx in zip(("train", "val", "test"), indices)}
