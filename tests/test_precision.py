"""``trainer.precision``: the four settings of the guide train on CPU (16-mixed runs as bf16-mixed there)."""

import json
from pathlib import Path

import pytest
import torch
from conftest import CONFIGS, ON_CPU, run_dirs

from project.cli import TemplateCLI

NET = {"class_path": "MLP", "init_args": {"in_features": 64, "num_classes": 10, "hidden": [32]}}
SHORT = [
    "--trainer.max_epochs=1",
    "--trainer.limit_train_batches=8",
    "--trainer.limit_val_batches=2",
    "--run.test_after_fit=false",
]
# What runs on CPU, and the dtype the saved weights have: mixed precision keeps float32 master weights.
CASES = {
    "32-true": ("32-true", torch.float32),
    "16-mixed": ("bf16-mixed", torch.float32),  # Lightning: CPU has no fp16 autocast, bf16 instead
    "bf16-mixed": ("bf16-mixed", torch.float32),
    "bf16-true": ("bf16-true", torch.bfloat16),
}


@pytest.mark.parametrize("precision", list(CASES))
def test_precision_trains_and_checkpoints(precision: str, run_root: Path) -> None:
    ran_as, weight_dtype = CASES[precision]
    fit = TemplateCLI(
        args=[
            "fit", "--config", str(CONFIGS / "digits.yaml"), f"--model.net={json.dumps(NET)}",
            f"--trainer.precision={precision}", *SHORT, f"--run.root={run_root}", *ON_CPU,
        ]
    )  # fmt: skip
    assert torch.isfinite(fit.trainer.callback_metrics["val/loss"])
    (run,) = run_dirs(run_root)
    assert json.loads((run / "run_info.json").read_text())["precision"] == ran_as
    state = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    assert {t.dtype for t in state.values() if t.is_floating_point()} == {weight_dtype}
