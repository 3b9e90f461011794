"""Per-sample predictions of an epoch: collected on every rank, gathered on rank 0, written as one CSV."""

import csv
from pathlib import Path

import torch
import torch.distributed as dist


class PredictionTable:
    """Rows of ``(index, target, values)`` from one rank; ``gather`` merges all ranks in data set order."""

    def __init__(self) -> None:
        self.index: list[torch.Tensor] = []
        self.target: list[torch.Tensor] = []
        self.values: list[torch.Tensor] = []

    def add(self, index: torch.Tensor, target: torch.Tensor | None, values: torch.Tensor) -> None:
        """Keep one batch (moved to the CPU so that long epochs do not hold device memory)."""
        self.index.append(index.detach().cpu())
        if target is not None:
            self.target.append(target.detach().cpu())
        self.values.append(values.detach().float().cpu())

    def _local(self) -> dict[str, torch.Tensor]:
        parts = {"index": self.index, "target": self.target, "values": self.values}
        return {name: torch.cat(tensors) for name, tensors in parts.items() if tensors}

    def gather(self) -> dict[str, torch.Tensor] | None:
        """Every rank's rows on rank 0 (``None`` elsewhere), sorted by index, each index once.

        A collective call under DDP: every rank must make it.
        """
        local = self._local()
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            shares: list[dict[str, torch.Tensor]] | None = (
                [{} for _ in range(dist.get_world_size())] if dist.get_rank() == 0 else None
            )
            dist.gather_object(local, shares, dst=0)
            if shares is None:
                return None
            shares = [share for share in shares if share]
            if not shares:
                return {}
            local = {name: torch.cat([share[name] for share in shares]) for name in shares[0]}
        if not local:
            return local
        # Sort by index; among equal indices keep the first (a sampler's padding repeats samples).
        order = torch.argsort(local["index"], stable=True)
        index = local["index"][order]
        first = torch.ones_like(index, dtype=torch.bool)
        first[1:] = index[1:] != index[:-1]
        return {name: tensor[order][first] for name, tensor in local.items()}


def columns(prefix: str, tensor: torch.Tensor) -> dict[str, torch.Tensor]:
    """``{prefix: tensor}`` for one value per sample, ``{prefix_0: ..., prefix_1: ...}`` for several."""
    if tensor.dim() <= 1:
        return {prefix: tensor}
    flat = tensor.reshape(len(tensor), -1)
    if flat.shape[1] == 1:
        return {prefix: flat[:, 0]}
    return {f"{prefix}_{k}": flat[:, k] for k in range(flat.shape[1])}


def write_csv(path: Path, table: dict[str, torch.Tensor | list[str]]) -> None:
    """Write equal-length 1-D tensors or lists of strings as CSV columns; floats with 7 significant digits."""
    path.parent.mkdir(parents=True, exist_ok=True)
    names = list(table)
    cells = []
    for name in names:
        tensor = table[name]
        if isinstance(tensor, list):
            cells.append([str(v) for v in tensor])
        elif tensor.is_floating_point():
            cells.append([f"{v:.7g}" for v in tensor.tolist()])
        else:
            cells.append([str(v) for v in tensor.tolist()])
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(names)
        writer.writerows(zip(*cells, strict=True))
    tmp.replace(path)
