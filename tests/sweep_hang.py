"""A trial that cannot finish before the test kills it (``test_sweep.py``'s kill test).

Trial 1 of a study writes its process id to ``$HANG_READY`` after its first training epoch (whose validation
was reported to the study), then waits for ever. Other trials, and runs without ``$HANG_READY``: untouched.
"""

import json
import os
import time

from lightning.pytorch import Callback, LightningModule, Trainer


class HangInTrial(Callback):
    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        link = json.loads(os.environ.get("PROJECT_SWEEP_TRIAL", "{}"))
        ready = os.environ.get("HANG_READY")
        if link.get("trial") != 1 or not ready:
            return
        tmp = f"{ready}.tmp"
        with open(tmp, "w") as out:
            out.write(str(os.getpid()))
        os.replace(tmp, ready)
        while True:
            time.sleep(1)
