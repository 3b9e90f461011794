"""Random inputs with learnable targets, for smoke tests and benchmarks."""

from typing import Literal

import torch
from torch.utils.data import TensorDataset

from project.data.base import BaseDataModule


class Synthetic(BaseDataModule):
    """Gaussian inputs of ``input_shape``; targets from a fixed random linear teacher, so nets can learn them.

    ``classification`` labels are the teacher's argmax over ``num_classes`` outputs; ``regression`` targets
    are its ``num_classes`` outputs plus Gaussian noise of ``noise`` standard deviation.
    """

    def __init__(
        self,
        input_shape: list[int] | None = None,
        num_classes: int = 10,
        task: Literal["classification", "regression"] = "classification",
        num_samples: int = 1024,
        num_val_samples: int = 256,
        num_test_samples: int = 256,
        noise: float = 0.1,
        data_seed: int = 0,
        batch_size: int = 32,
        num_workers: int | None = 0,
        pin_memory: bool | None = None,
        persistent_workers: bool = True,
        prefetch_factor: int | None = 2,
        drop_last: bool = False,
    ) -> None:
        """Configure the data and the loaders.

        Args:
            input_shape: Shape of one input; ``[1, 8, 8]`` when not given.
            num_classes: Classes (classification) or target dimensions (regression).
            task: ``classification`` or ``regression``.
            num_samples: Training samples.
            num_val_samples: Validation samples.
            num_test_samples: Test (and predict) samples.
            noise: Standard deviation of the noise added to regression targets.
            data_seed: Seed of inputs and teacher; independent of ``seed_everything``.
            batch_size: Samples per batch on each device.
            num_workers: Loader worker processes (the data is in memory: 0 is fastest).
            pin_memory: Page-locked host memory; ``null`` means only when CUDA is available.
            persistent_workers: Keep workers alive between epochs (only with ``num_workers > 0``).
            prefetch_factor: Batches each worker loads ahead (only with ``num_workers > 0``).
            drop_last: Drop the last incomplete training batch.
        """
        super().__init__(batch_size, num_workers, pin_memory, persistent_workers, prefetch_factor, drop_last)
        self.input_shape = list(input_shape) if input_shape is not None else [1, 8, 8]
        self.num_classes = num_classes if task == "classification" else None
        self.num_outputs = num_classes
        self.task = task
        self.sizes = {"train": num_samples, "val": num_val_samples, "test": num_test_samples}
        self.noise = noise
        self.data_seed = data_seed

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        gen = torch.Generator().manual_seed(self.data_seed)
        features = int(torch.tensor(self.input_shape).prod())
        teacher = torch.randn(features, self.num_outputs, generator=gen) / features**0.5
        for split, n in self.sizes.items():
            x = torch.randn(n, *self.input_shape, generator=gen)
            scores = x.flatten(1) @ teacher
            if self.task == "classification":
                y = scores.argmax(dim=1)
            else:
                y = scores + self.noise * torch.randn(scores.shape, generator=gen)
            self.splits[split] = TensorDataset(x, y)
