"""Test-only callback: hold training at a step until a stop signal arrives, so a signal test cannot race.

With ``HOLD_AT_STEP=N`` and ``HOLD_FILE=PATH`` in the environment, the run writes ``PATH`` after
optimizer step ``N`` and then waits (at most ``HOLD_SECONDS``, default 300) until the CLI's ``GracefulStop``
has received a signal. The stop therefore happens at step ``N`` on any machine, however fast. Without
``HOLD_AT_STEP`` it does nothing, so a resumed run (started without it) trains normally.
"""

import os
import time
from pathlib import Path
from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer


class HoldAtStep(Callback):
    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        step = os.environ.get("HOLD_AT_STEP")
        if step is None or trainer.global_step != int(step):
            return
        Path(os.environ["HOLD_FILE"]).write_text(str(trainer.global_step))
        deadline = time.monotonic() + float(os.environ.get("HOLD_SECONDS", "300"))
        # The signal handler runs between these sleeps; GracefulStop acts right after this hook returns.
        while not signal_received(trainer) and time.monotonic() < deadline:
            time.sleep(0.01)


def signal_received(trainer: Trainer) -> bool:
    return any(getattr(c, "requested", None) is not None for c in trainer.callbacks)
