"""Which samples of an evaluation epoch a rank really owns, and where they sit in the data set.

Under DDP, Lightning gives validation and test loaders a ``DistributedSampler``, which pads the ranks' shares
to equal length with duplicates of the first samples (pytorch/pytorch#25162); counted twice, they bias every
metric. The padding is always at the end of a rank's share (the sampler appends it to the full index list
before dealing it out round-robin), so a rank keeps its first ``len(range(rank, N, world_size))`` samples and
drops the rest.
"""

from collections.abc import Sized

import torch
from torch.utils.data import DistributedSampler


def batch_parts(batch: object) -> tuple[object, torch.Tensor | None, torch.Tensor | None]:
    """``(input, target, index)`` of a batch: ``(x, y, index)`` from the built-in DataModules, ``(x, y)`` or
    ``x`` alone from others (missing parts are ``None``)."""
    if isinstance(batch, list | tuple):
        x = batch[0]
        y = batch[1] if len(batch) > 1 else None
        index = batch[2] if len(batch) > 2 and isinstance(batch[2], torch.Tensor) else None
        return x, y, index
    return batch, None, None


def _sampler_of(loader: object) -> object:
    """The sampler deciding the order (for predict, Lightning puts it inside the batch sampler)."""
    inner = getattr(getattr(loader, "batch_sampler", None), "sampler", None)
    if isinstance(inner, DistributedSampler):
        return inner
    return getattr(loader, "sampler", None)


class RankSamples:
    """Counts one rank's evaluation samples: trims padding, gives data set positions to unindexed batches.

    Args:
        limit: Real samples on this rank (``None``: all of them are real).
        order: Data set positions of this rank's samples in loading order (``None``: ``0, 1, 2...``).
    """

    def __init__(self, limit: int | None = None, order: list[int] | None = None) -> None:
        self.limit = limit
        self.order = order
        self.seen = 0

    @classmethod
    def of(cls, loader: object) -> "RankSamples":
        """The rank's share from a loader's distributed sampler; other loaders (and lists) trim nothing."""
        sampler = _sampler_of(loader)
        if isinstance(sampler, DistributedSampler) and isinstance(sampler.dataset, Sized):
            real = len(range(sampler.rank, len(sampler.dataset), sampler.num_replicas))
            limit = min(real, sampler.num_samples)
            # Lightning sets the sampler's epoch before the epoch-start hooks: this is the order drawn.
            return cls(limit, list(iter(sampler))[:limit])
        # A sequential sampler's order is the running count; a shuffling one's cannot be known here.
        return cls()

    def take(self, size: int, index: torch.Tensor | None) -> tuple[int, torch.Tensor]:
        """How many of the next ``size`` samples are real, and their data set positions."""
        keep = size if self.limit is None else max(0, min(size, self.limit - self.seen))
        if index is not None:
            positions = index[:keep].detach().reshape(-1).long().cpu()
        elif self.order is not None:
            positions = torch.tensor(self.order[self.seen : self.seen + keep], dtype=torch.long)
        else:
            positions = torch.arange(self.seen, self.seen + keep)
        self.seen += size
        return keep, positions
