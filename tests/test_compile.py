"""``model.compile``: a compiled run trains, and its checkpoints are plain (load with or without compile)."""

import json
from pathlib import Path

import pytest
import torch
from conftest import CONFIGS, ON_CPU, run_dirs

from project.cli import TemplateCLI
from project.nets import MLP

NET = {"class_path": "MLP", "init_args": {"in_features": 64, "num_classes": 10, "hidden": [32]}}
LIMITS = [
    "--trainer.limit_train_batches=10",
    "--trainer.limit_val_batches=2",
    "--trainer.limit_test_batches=3",
]


def run(*args: str, root: Path) -> TemplateCLI:
    return TemplateCLI(args=[*args, f"--run.root={root}", *ON_CPU, *LIMITS])


@pytest.mark.slow
def test_compiled_run_trains_and_its_checkpoint_tests_the_same_uncompiled(run_root: Path) -> None:
    fit = run(
        "fit", "--config", str(CONFIGS / "digits.yaml"), f"--model.net={json.dumps(NET)}",
        "--model.compile=true", "--model.optimizer.init_args.lr=0.02", "--trainer.max_epochs=1",
        root=run_root,
    )  # fmt: skip
    compiled_accuracy = fit.trainer.callback_metrics["test/accuracy"].item()
    assert compiled_accuracy > 0.5, "ten steps of a compiled MLP learn Digits well above chance (0.1)"
    (run_dir,) = run_dirs(run_root)
    ckpt = run_dir / "checkpoints" / "best.ckpt"
    keys = set(torch.load(ckpt, weights_only=True)["state_dict"])
    assert keys == {f"net.{k}" for k in MLP(64, 10, [32]).state_dict()}, "no `_orig_mod.` in the keys"

    uncompiled = run(
        "test", "--config", str(run_dir / "config.yaml"), "--ckpt_path", str(ckpt), "--model.compile=false",
        root=run_root,
    )  # fmt: skip
    assert uncompiled.trainer.callback_metrics["test/accuracy"].item() == pytest.approx(
        compiled_accuracy, abs=1e-6
    )
