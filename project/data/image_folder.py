"""A user's own images: one sub-folder per class, read with PIL."""

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from project.data.base import BaseDataModule, seeded_split
from project.data.transforms import Transform

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


class ImageFiles(Dataset):
    """``(image tensor, class index)`` pairs from a list of files; transforms run on ``(C, H, W)`` floats."""

    def __init__(
        self, samples: list[tuple[Path, int]], mode: str, transforms: list[Callable], key: str = "data.root"
    ) -> None:
        self.key = key  # the config key named when a file cannot be read
        self.samples = samples
        self.mode = mode
        self.transforms = transforms

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        from PIL import Image

        path, target = self.samples[index]
        try:
            with Image.open(path) as image:
                array = np.asarray(image.convert(self.mode), dtype=np.float32) / 255.0
        except OSError as err:  # a user error (exit status 2), named in the DataLoader worker's report too
            raise ValueError(f"{self.key}: cannot read image {path} ({err}); fix or remove the file") from err
        x = torch.from_numpy(array.reshape(array.shape[0], array.shape[1], -1)).permute(2, 0, 1).contiguous()
        for transform in self.transforms:
            x = transform(x)
        return x, target


# The first bytes of each image format ImageFolder reads (WebP: RIFF....WEBP).
IMAGE_SIGNATURES = (
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",
    b"GIF87a",
    b"GIF89a",
    b"BM",
    b"II*\x00",
    b"MM\x00*",
    b"RIFF",
)


def check_readable(samples: list[tuple[Path, int]], key: str = "root") -> None:
    """Every file starts like an image, so an empty or foreign file is named before training.

    Reading 12 bytes costs about 25 us per file (PIL's header parse about 150 us); a file that is damaged
    further in is named when it is loaded.
    """
    for path, _ in samples:
        try:
            with path.open("rb") as f:
                head = f.read(12)
        except OSError as err:
            raise ValueError(f"{key}: cannot read image {path} ({err.strerror})") from None
        if not head.startswith(IMAGE_SIGNATURES) or (head.startswith(b"RIFF") and head[8:12] != b"WEBP"):
            what = "empty" if not head else "not an image (PNG, JPEG, GIF, BMP, TIFF or WebP)"
            raise ValueError(f"{key}: cannot read image {path}: the file is {what}; fix or remove it")


class ImageFolder(BaseDataModule):
    """Images under ``root/<class name>/*.png|jpg|...``; classes are the sub-folder names in sorted order."""

    def __init__(
        self,
        root: str,
        train_transforms: list[Transform | Callable] | None = None,
        eval_transforms: list[Transform | Callable] | None = None,
        mode: str = "RGB",
        val_fraction: float = 0.1,
        test_fraction: float = 0.1,
        split_seed: int = 42,
        batch_size: int = 32,
        num_workers: int | None = None,
        pin_memory: bool | None = None,
        persistent_workers: bool = True,
        prefetch_factor: int | None = 2,
        drop_last: bool = False,
        predict_root: str | None = None,
    ) -> None:
        """Configure the folder, transforms, split and loaders.

        Args:
            root: Folder with one sub-folder of images per class.
            train_transforms: Callables applied in order to each training image, e.g.
                ``{class_path: RandomCrop, init_args: {size: 32, padding: 4}}``.
            eval_transforms: Callables applied to validation, test and predict images.
            mode: PIL mode images are converted to: ``RGB`` (3 channels) or ``L`` (grey, 1 channel).
            val_fraction: Share of the images held out for validation.
            test_fraction: Share held out for testing.
            split_seed: Seed of the split.
            batch_size: Samples per batch on each device.
            num_workers: Loader worker processes; ``null`` takes ``min(4, CPU count - 1)``.
            pin_memory: Page-locked host memory; ``null`` means only when CUDA is available.
            persistent_workers: Keep workers alive between epochs (only with ``num_workers > 0``).
            prefetch_factor: Batches each worker loads ahead (only with ``num_workers > 0``).
            drop_last: Drop the last incomplete training batch.
            predict_root: ``predict`` reads the images in this folder (with ``mode`` and ``eval_transforms``)
                instead of the test split and writes ``RUN/predictions/<folder name>.csv``.
        """
        super().__init__(
            batch_size, num_workers, pin_memory, persistent_workers, prefetch_factor, drop_last, predict_root
        )
        self.root = Path(root)
        self.train_transforms = list(train_transforms or [])
        self.eval_transforms = list(eval_transforms or [])
        self.mode = self.image_mode = mode
        self.fractions = (val_fraction, test_fraction)
        self.split_seed = split_seed
        self.classes, self.samples = self.scan(self.root)
        self.num_classes = len(self.classes)

    @staticmethod
    def scan(root: Path) -> tuple[list[str], list[tuple[Path, int]]]:
        """Class names and ``(file, class index)`` pairs; raises ``ValueError`` naming what is missing."""
        if not root.is_dir():
            raise ValueError(f"root: folder {root} does not exist")
        classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        if not classes:
            raise ValueError(f"root: {root} has no class sub-folders (expected {root}/<class>/<image>)")
        samples = [
            (path, index)
            for index, name in enumerate(classes)
            for path in sorted((root / name).rglob("*"))
            if path.suffix.lower() in IMAGE_SUFFIXES
        ]
        if not samples:
            raise ValueError(f"root: no images ({', '.join(sorted(IMAGE_SUFFIXES))}) under {root}")
        check_readable(samples)
        return classes, samples

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        train, val, test = seeded_split(len(self.samples), self.fractions, self.split_seed)
        pick = (
            [self.samples[i] for i in train],
            [self.samples[i] for i in val],
            [self.samples[i] for i in test],
        )
        self.splits = {
            "train": ImageFiles(pick[0], self.mode, self.train_transforms),
            "val": ImageFiles(pick[1], self.mode, self.eval_transforms),
            "test": ImageFiles(pick[2], self.mode, self.eval_transforms),
        }
