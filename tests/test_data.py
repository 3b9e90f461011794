"""Each DataModule: sizes, shapes, the seeded split, the loader knobs and ImageFolder on real PNG files."""

from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import cli, run_dirs
from PIL import Image

from project.data import Digits, ImageFolder, Normalize, RandomCrop, RandomHorizontalFlip, Resize, Synthetic


def test_digits_split_sizes_and_batches() -> None:
    data = Digits(batch_size=16)
    data.setup("fit")
    sizes = {name: len(split) for name, split in data.splits.items()}
    assert sum(sizes.values()) == 1797
    assert sizes == {"train": 1258, "val": 180, "test": 359}
    x, y, index = next(iter(data.train_dataloader()))
    assert x.shape == (16, 1, 8, 8) and y.shape == (16,) and index.shape == (16,)
    assert x.min() >= 0.0 and x.max() <= 1.0


def test_digits_split_is_seeded() -> None:
    first, again, other = Digits(), Digits(), Digits(split_seed=7)
    for data in (first, again, other):
        data.setup("fit")
    assert first.splits["test"].indices == again.splits["test"].indices
    assert first.splits["test"].indices != other.splits["test"].indices
    assert not set(first.splits["train"].indices) & set(first.splits["test"].indices)


def test_loader_knobs_reach_the_dataloader() -> None:
    data = Digits(batch_size=8, num_workers=2, pin_memory=False, persistent_workers=True, prefetch_factor=3)
    data.setup("fit")
    loader = data.train_dataloader()
    assert (loader.batch_size, loader.num_workers, loader.prefetch_factor) == (8, 2, 3)
    assert loader.persistent_workers and not loader.pin_memory
    # Without workers, persistence and prefetching do not apply (DataLoader would refuse them).
    loader = Digits(num_workers=0).train_dataloader.__self__
    loader.setup("fit")
    assert loader.train_dataloader().prefetch_factor is None


def test_batch_size_zero_is_refused() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        Digits(batch_size=0)


def test_synthetic_classification_and_regression() -> None:
    data = Synthetic(input_shape=[3, 4, 4], num_classes=5, num_samples=64, num_val_samples=16)
    data.setup("fit")
    x, y, _ = next(iter(data.train_dataloader()))
    assert x.shape == (32, 3, 4, 4) and y.dtype == torch.long and int(y.max()) < 5
    assert len(data.splits["val"]) == 16
    regression = Synthetic(num_classes=2, task="regression")
    regression.setup("fit")
    _, y, _ = next(iter(regression.train_dataloader()))
    assert y.shape == (32, 2) and y.dtype == torch.float32
    same = Synthetic(num_classes=2, task="regression")
    same.setup("fit")
    assert torch.equal(regression.splits["train"].tensors[1], same.splits["train"].tensors[1])


def write_images(root: Path, classes: int = 2, per_class: int = 6, size: int = 12) -> None:
    rng = np.random.default_rng(0)
    for c in range(classes):
        (root / f"class_{c}").mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / f"class_{c}" / f"{i}.png")


def test_image_folder_reads_pngs_with_transforms(tmp_path: Path) -> None:
    write_images(tmp_path / "images")
    data = ImageFolder(
        root=str(tmp_path / "images"),
        train_transforms=[Resize(10), RandomCrop(8, padding=1), RandomHorizontalFlip()],
        eval_transforms=[Resize(8), Normalize([0.5] * 3, [0.25] * 3)],
        val_fraction=0.25,
        test_fraction=0.25,
        batch_size=4,
        num_workers=0,
    )
    assert data.num_classes == 2
    data.setup("fit")
    assert {k: len(v) for k, v in data.splits.items()} == {"train": 6, "val": 3, "test": 3}
    x, y, _ = next(iter(data.train_dataloader()))
    assert x.shape == (4, 3, 8, 8) and set(y.tolist()) <= {0, 1}
    x, _, _ = next(iter(data.val_dataloader()))
    assert x.shape == (3, 3, 8, 8) and x.min() < 0  # normalised


def test_image_folder_trains_from_yaml(tmp_path: Path, run_root: Path) -> None:
    write_images(tmp_path / "images", per_class=8)
    config = tmp_path / "folder.yaml"
    config.write_text(
        f"""
model:
  net: {{class_path: SimpleCNN, init_args: {{in_channels: 3, num_classes: 2, channels: [8]}}}}
  optimizer: {{class_path: AdamW}}
  evaluator: {{class_path: ClassificationEvaluator, init_args: {{num_classes: 2}}}}
data:
  class_path: ImageFolder
  init_args:
    root: {tmp_path / "images"}
    batch_size: 4
    num_workers: 0
    train_transforms:
      - {{class_path: RandomHorizontalFlip}}
    eval_transforms:
      - {{class_path: Resize, init_args: {{size: 12}}}}
trainer: {{max_epochs: 1, logger: false}}
"""
    )
    cli("fit", "--config", str(config), root=run_root)
    (run,) = run_dirs(run_root)
    assert (run / "checkpoints" / "last.ckpt").is_file()


def test_image_folder_without_classes_names_the_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no class sub-folders"):
        ImageFolder(root=str(tmp_path / "empty"))
    with pytest.raises(ValueError, match="does not exist"):
        ImageFolder(root=str(tmp_path / "missing"))
