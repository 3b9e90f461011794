"""Schedule-free optimizers: train at y, evaluate and save at x, refuse a schedule, log the warm-up."""

from pathlib import Path

import pytest
import torch
from conftest import CONFIGS, cli, run_dirs
from lr_logs import SYNTHETIC, logged_lrs

SCHEDULE_FREE = ["--config", str(CONFIGS / "optimizer" / "adamw_schedule_free.yaml")]


def test_every_checkpoint_holds_eval_mode_weights_and_best_reproduces_validation(
    run_root: Path, capsys: pytest.CaptureFixture
) -> None:
    # SimpleCNN has BatchNorm; a step-based checkpoint is written mid-epoch, between validations.
    cli(
        "fit",
        *SYNTHETIC,
        *SCHEDULE_FREE,
        "--model.net=SimpleCNN",
        "--model.net.channels=[8, 16]",
        "--model.net.in_channels=1",
        "--model.optimizer.warmup_steps=4",
        "--trainer.max_epochs=3",
        "--trainer.callbacks+=ModelCheckpoint",
        "--trainer.callbacks.every_n_train_steps=5",
        "--trainer.callbacks.filename=step{step}",
        "--trainer.callbacks.auto_insert_metric_name=false",
        "--trainer.callbacks.save_top_k=-1",
        root=run_root,
    )
    (run,) = run_dirs(run_root)
    checkpoints = sorted((run / "checkpoints").glob("*.ckpt"))
    assert {"best.ckpt", "last.ckpt", "step5.ckpt"} <= {c.name for c in checkpoints}
    for path in checkpoints:
        state = torch.load(path, weights_only=True)["optimizer_states"][0]
        assert all(group["train_mode"] is False for group in state["param_groups"]), path.name

    best = torch.load(run / "checkpoints" / "best.ckpt", weights_only=False)
    callback = next(v for k, v in best["callbacks"].items() if "'monitor': 'val/accuracy'" in k)
    best_score = float(callback["best_model_score"])
    capsys.readouterr()
    cli("validate", "--config", str(run / "config.yaml"), "--ckpt_path", "best", root=run_root)
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if "val/accuracy" in line)
    assert float(line.split()[-2]) == pytest.approx(best_score, abs=1e-6)
    cli("test", "--config", str(run / "config.yaml"), "--ckpt_path", "best", root=run_root)


def test_checkpoints_saved_without_validation_hold_eval_mode_weights(run_root: Path) -> None:
    cli(
        "fit",
        *SYNTHETIC,
        *SCHEDULE_FREE,
        "--trainer.max_epochs=2",
        "--trainer.limit_val_batches=0",
        "--checkpoint.monitor=null",  # no validation: nothing to rank by
        root=run_root,
    )
    (run,) = run_dirs(run_root)
    last = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["global_step"] == 16
    assert all(group["train_mode"] is False for group in last["optimizer_states"][0]["param_groups"])
    # Resuming turns x back into y and trains on.
    cli("fit", "--config", str(run / "config.yaml"), "--trainer.max_epochs=3", root=run_root)
    assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 24


def test_warmed_up_rate_is_logged(run_root: Path) -> None:
    cli(
        "fit",
        *SYNTHETIC,
        *SCHEDULE_FREE,
        "--model.optimizer.warmup_steps=10",
        "--trainer.max_epochs=2",
        "--trainer.limit_val_batches=1",
        root=run_root,
    )
    (run,) = run_dirs(run_root)
    rates = logged_lrs(run)["lr-AdamWScheduleFree/decay"]
    assert rates == pytest.approx([0.004 * min(1.0, (k + 1) / 10) for k in range(16)], rel=1e-6)


def test_schedule_with_schedule_free_optimizer_is_refused_before_training(
    run_root: Path, capsys: pytest.CaptureFixture
) -> None:
    with pytest.raises(SystemExit) as error:
        cli(
            "fit",
            *SYNTHETIC,
            *SCHEDULE_FREE,
            "--model.scheduler=StepLR",
            "--model.scheduler.step_size=2",
            root=run_root,
        )
    assert error.value.code == 2
    assert "model.scheduler: AdamWScheduleFree is schedule-free" in capsys.readouterr().err
    assert not run_dirs(run_root) and not list(run_root.glob("*/*")), "nothing is created"
