"""The short name ``ReduceLROnPlateau`` means Lightning's variant, which carries the ``monitor`` to watch.

torch's class and Lightning's subclass share the name, so jsonargparse finds two classes for it. The module's
``scheduler`` type lists this callable first: the name resolves in Lightning's class alone, and every other
schedule falls through to ``LRSchedulerCallable``. torch's class stays reachable by its full import path.
"""

from collections.abc import Callable

from lightning.pytorch.cli import ReduceLROnPlateau
from torch.optim import Optimizer

PlateauScheduleCallable = Callable[[Optimizer], ReduceLROnPlateau]


def monitor_of(scheduler: object) -> str | None:
    """The metric a plateau schedule watches; ``None`` for schedules that step without one."""
    from torch.optim.lr_scheduler import ReduceLROnPlateau as TorchReduceLROnPlateau

    if not isinstance(scheduler, TorchReduceLROnPlateau):
        return None
    monitor = getattr(scheduler, "monitor", None)
    if not monitor:
        raise ValueError(
            "model.scheduler: torch.optim.lr_scheduler.ReduceLROnPlateau has no `monitor`; use "
            "`class_path: ReduceLROnPlateau` with `init_args: {monitor: val/loss}` (any logged metric)"
        )
    return monitor
