"""Random-generator states in every checkpoint, so a resumed run draws what the unbroken run would have.

Lightning's checkpoints hold no RNG state: after a resume, ``seed_everything`` starts the generators afresh,
and the next epoch's shuffle, data-loader worker seeds, dropout masks and augmentations repeat those of the
first epoch. With this callback, resuming from an end-of-epoch ``last.ckpt`` continues the same random stream.
"""

import random
from typing import Any

import numpy as np
import torch
from lightning.pytorch import Callback


class RNGStateCheckpoint(Callback):
    """Saves the python, numpy, torch (CPU) and CUDA generator states of this process; restores them.

    Each rank keeps its own states, but a checkpoint file is written by rank 0: on resume every rank gets rank
    0's states. Lightning's worker seeding mixes the rank in, so workers of different ranks still differ. The
    CLI adds it to every ``fit``.
    """

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "python": random.getstate(),
            "numpy": numpy_state(),
            "torch": torch.get_rng_state(),
        }
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        random.setstate(state_dict["python"])
        set_numpy_state(state_dict["numpy"])
        torch.set_rng_state(state_dict["torch"])
        cuda = state_dict.get("cuda")
        if cuda is not None and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)


def numpy_state() -> dict[str, Any]:
    """numpy's global state as tensors and numbers: checkpoints must load with ``weights_only=True``."""
    kind, keys, pos, has_gauss, cached_gaussian = np.random.get_state()
    return {
        "kind": kind,
        "keys": torch.from_numpy(keys.astype(np.int64)),
        "pos": int(pos),
        "has_gauss": int(has_gauss),
        "cached_gaussian": float(cached_gaussian),
    }


def set_numpy_state(state: dict[str, Any]) -> None:
    keys = state["keys"].numpy().astype(np.uint32)
    np.random.set_state((state["kind"], keys, state["pos"], state["has_gauss"], state["cached_gaussian"]))
