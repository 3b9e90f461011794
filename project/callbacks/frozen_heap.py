"""Keeps Python's full garbage collections from pausing training for a third of a second.

By the time training starts, the process holds a few hundred thousand long-lived objects (Lightning, torch,
MLflow, SQLAlchemy, jsonargparse). Python's oldest-generation collection walks all of them: measured at
260-310 ms on the 2-core machine, once or twice in the first few hundred steps of a run, with every thread
stopped. ``gc.freeze()`` moves the objects that exist at the start of a stage out of the collector's reach
(CPython's documented use of it); what the run allocates afterwards is collected as usual, and the frozen
objects are handed back at the end of the stage.
"""

import gc

from lightning.pytorch import Callback, LightningModule, Trainer


class FrozenStartupHeap(Callback):
    """Freezes the objects that exist when a stage starts (``gc.freeze``) and unfreezes them when it ends.

    A process that froze objects itself before (a ``gc.freeze()`` of its own) keeps its freeze: this callback
    then does nothing. The CLI adds it to every ``fit``.
    """

    def __init__(self) -> None:
        self._froze = False

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if gc.get_freeze_count() == 0:
            gc.freeze()
            self._froze = True

    def teardown(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        self._unfreeze()

    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: BaseException) -> None:
        self._unfreeze()

    def _unfreeze(self) -> None:
        if self._froze:
            gc.unfreeze()
            self._froze = False
