"""Test-only callbacks (``--trainer.callbacks+=sync_counter.CountHostSyncs``): count, per training step, the
host reads of tensors and the ``torch.distributed`` collectives, and who made them.

A step's interval runs from its ``on_train_batch_start`` to the next one's, so it holds every hook, logger
call, epoch end and validation that follows the step. Intervals are ``logging`` when the step logs
(``(global_step + 1) % log_every_n_steps == 0``) or ends an epoch, ``quiet`` otherwise. Installed only by
tests; the product code has no instrumentation.
"""

import json
import os
import signal
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from lightning.pytorch import Callback, LightningModule, Trainer

TORCH_DIR = str(Path(torch.__file__).parent)
PROJECT_DIR = str(Path(__file__).resolve().parents[1] / "project")
HOOK_DISPATCH = os.path.join("lightning", "pytorch", "trainer", "call.py")
READS = ("item", "tolist", "cpu", "numpy", "__bool__", "__float__", "__int__", "__index__", "__array__")
COLLECTIVES = (
    "all_reduce", "all_gather", "all_gather_into_tensor", "all_gather_object", "broadcast",
    "broadcast_object_list", "reduce", "reduce_scatter", "reduce_scatter_tensor", "barrier",
    "monitored_barrier", "gather", "gather_object", "scatter", "scatter_object_list", "all_to_all",
    "all_to_all_single", "send", "recv", "isend", "irecv",
)  # fmt: skip


def callers() -> tuple[str, str]:
    """``(innermost caller outside torch, innermost project frame or "")`` as ``file:function``.

    The project frame is looked for only up to the nearest hook dispatch of Lightning (``trainer/call.py``):
    a read inside a hook of ours, or inside a Lightning helper one of our hooks called, is ours; a read by
    Lightning's loop or a torch optimizer is not, although our CLI is further up the stack.
    """
    frame, first, ours = sys._getframe(3), None, None
    while frame is not None and ours is None:
        file = frame.f_code.co_filename
        if file.endswith(HOOK_DISPATCH):
            break
        if file != __file__:
            if first is None and not file.startswith(TORCH_DIR):
                first = frame
            if file.startswith(PROJECT_DIR):
                ours = frame
        frame = frame.f_back
    root = Path(PROJECT_DIR).parent
    name = lambda f: f"{os.path.relpath(f.f_code.co_filename, root)}:{f.f_code.co_name}"  # noqa: E731
    return (name(first) if first else "?"), (name(ours) if ours else "")


class CountHostSyncs(Callback):
    """Counts host reads (``Tensor.item``, ``tolist``, ``cpu``, ``numpy``, ``bool()``, ``float()``,
    ``int()``, ``.to("cpu")``) and ``torch.distributed`` collectives per interval kind, by caller.

    Writes ``out`` (``out.rankN`` under several processes) as JSON at every checkpoint save and at the end.
    """

    def __init__(self, out: str) -> None:
        self.out = out
        self.kind: str | None = None
        self.steps: Counter = Counter()
        self.events: Counter = Counter()
        self.saved_at: int | None = None
        self.rank = 0
        self._patched: list[tuple[Any, str, Any]] = []

    def _record(self, what: str) -> None:
        if self.kind is not None:
            first, ours = callers()
            self.events[json.dumps([self.kind, what, first, ours])] += 1

    def _wrap(self, owner: Any, name: str, label: str, check: Any = None) -> None:
        original = getattr(owner, name)
        counter = self

        def counted(*args: Any, **kwargs: Any) -> Any:
            if check is None or check(*args, **kwargs):
                counter._record(label)
            return original(*args, **kwargs)

        self._patched.append((owner, name, original))
        setattr(owner, name, counted)

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        self.rank = trainer.global_rank
        for name in READS:
            if hasattr(torch.Tensor, name):
                self._wrap(torch.Tensor, name, f"Tensor.{name}")
        self._wrap(torch.Tensor, "to", "Tensor.to(cpu)", check=to_cpu)
        if dist.is_available() and dist.is_initialized():
            for name in COLLECTIVES:
                for owner in (dist, dist.distributed_c10d):
                    if hasattr(owner, name):
                        self._wrap(owner, name, f"dist.{name}")

    def teardown(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        self.kind = None
        for owner, name, original in reversed(self._patched):
            setattr(owner, name, original)
        self._patched = []
        self.write()

    def on_train_batch_start(
        self, trainer: Trainer, pl_module: LightningModule, batch: Any, idx: int
    ) -> None:
        every = trainer.log_every_n_steps
        last = isinstance(trainer.num_training_batches, int) and idx + 1 >= trainer.num_training_batches
        self.kind = "logging" if (trainer.global_step + 1) % every == 0 or last else "quiet"
        self.steps[self.kind] += 1

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.kind = None

    def on_save_checkpoint(self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict) -> None:
        # Every rank runs this before the save's barrier: the record survives a rank killed after it.
        self.saved_at = trainer.global_step
        self.write()

    def write(self) -> None:
        path = self.out if self.rank == 0 else f"{self.out}.rank{self.rank}"
        events = [[*json.loads(key), n] for key, n in self.events.items()]
        record = {"steps": dict(self.steps), "events": events, "saved_at": self.saved_at}
        Path(path).write_text(json.dumps(record, indent=1))


def to_cpu(tensor: torch.Tensor, *args: Any, **kwargs: Any) -> bool:
    """A copy from an accelerator to the host (never true on a CPU-only run)."""
    if tensor.device.type == "cpu":
        return False
    targets = [*args, kwargs.get("device")]
    return any(str(t).startswith("cpu") for t in targets if isinstance(t, str | torch.device))


class SignalRankAt(Callback):
    """Sends SIGTERM to this process on rank ``rank`` after optimizer step ``step`` (a quiet step)."""

    def __init__(self, rank: int, step: int) -> None:
        self.rank, self.step = rank, step

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, *args: Any) -> None:
        if trainer.global_rank == self.rank and trainer.global_step == self.step:
            print(f"rank {self.rank}: SIGTERM after step {self.step}", file=sys.stderr, flush=True)
            os.kill(os.getpid(), signal.SIGTERM)
