"""Optimizers: each shipped config trains; a switched class starts from its own defaults; param groups."""

from pathlib import Path

import pytest
import torch
import yaml
from conftest import CONFIGS, cli, run_dirs
from lr_logs import DIGITS, SYNTHETIC, scalars

OPTIMIZERS = sorted(p.stem for p in (CONFIGS / "optimizer").glob("*.yaml"))


def param_groups_after_short_fit(run_root: Path, *args: str) -> list[dict]:
    """The optimizer's param groups as ``last.ckpt`` stores them after a two-batch Digits fit."""
    short = ["--trainer.max_epochs=1", "--trainer.limit_train_batches=2", "--trainer.limit_val_batches=1"]
    cli("fit", "--config", DIGITS, *args, *short, "--run.test_after_fit=false", root=run_root)
    (run,) = run_dirs(run_root)
    return torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["optimizer_states"][0][
        "param_groups"
    ]


def test_a_config_per_optimizer() -> None:
    names = {
        yaml.safe_load(p.read_text())["model"]["optimizer"]["class_path"]
        for p in (CONFIGS / "optimizer").iterdir()
    }
    assert names == {
        "AdamW",
        "Adam",
        "SGD",
        "Lion",
        "AdamWScheduleFree",
        "RAdamScheduleFree",
        "SGDScheduleFree",
    }


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_short_fit_lowers_training_loss(name: str, run_root: Path) -> None:
    config = CONFIGS / "optimizer" / f"{name}.yaml"
    # Two classes: a task a few dozen steps visibly improve, whatever the optimizer.
    cli(
        "fit",
        *SYNTHETIC,
        "--config",
        str(config),
        "--data.num_classes=2",
        "--model.net.num_classes=2",
        "--model.evaluator.num_classes=2",
        "--trainer.max_epochs=6",
        "--trainer.limit_val_batches=1",
        root=run_root,
    )
    (run,) = run_dirs(run_root)
    saved = yaml.safe_load((run / "config.yaml").read_text())["model"]["optimizer"]
    assert saved["class_path"].endswith(
        yaml.safe_load(config.read_text())["model"]["optimizer"]["class_path"]
    )
    losses = scalars(run, "train/loss")["train/loss"]
    steps = sorted(losses)
    first, last = [losses[s] for s in steps[:4]], [losses[s] for s in steps[-4:]]
    assert sum(last) / 4 < 0.95 * sum(first) / 4, (first, last)


def print_config(capsys: pytest.CaptureFixture, root: Path, *args: str) -> dict:
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        cli("fit", "--config", DIGITS, *args, "--print_config", root=root)
    assert stop.value.code == 0
    return yaml.safe_load(capsys.readouterr().out)["model"]


def test_lion_after_adamw_starts_from_lions_defaults(capsys: pytest.CaptureFixture, run_root: Path) -> None:
    optimizer = print_config(capsys, run_root, "--model.optimizer=Lion")["optimizer"]
    assert optimizer["class_path"] == "lion_pytorch.Lion"
    assert optimizer["init_args"] == {
        "lr": 0.0001,
        "betas": [0.9, 0.99],
        "weight_decay": 0.0,
        "use_triton": False,
        "decoupled_weight_decay": False,
    }
    given = print_config(capsys, run_root, "--model.optimizer=Lion", "--model.optimizer.lr=3e-4")["optimizer"]
    assert given["init_args"]["lr"] == 0.0003 and given["init_args"]["weight_decay"] == 0.0
    # A later config file: its values carry, nothing of AdamW's does.
    stacked = print_config(capsys, run_root, "--config", str(CONFIGS / "optimizer" / "lion.yaml"))[
        "optimizer"
    ]
    assert stacked["init_args"]["lr"] == 0.0003 and stacked["init_args"]["weight_decay"] == 0.05


def test_lion_after_adamw_trains_with_lions_defaults(run_root: Path) -> None:
    groups = param_groups_after_short_fit(run_root, "--model.optimizer=Lion", "--model.scheduler=null")
    assert [(g["lr"], tuple(g["betas"]), g["weight_decay"]) for g in groups] == [(1e-4, (0.9, 0.99), 0.0)] * 2


def test_sgd_after_adamw_carries_no_weight_decay(capsys: pytest.CaptureFixture, run_root: Path) -> None:
    optimizer = print_config(capsys, run_root, "--model.optimizer=SGD")["optimizer"]
    assert optimizer["class_path"] == "torch.optim.SGD"
    assert optimizer["init_args"]["weight_decay"] == 0.0 and optimizer["init_args"]["lr"] == 0.001
    given = print_config(capsys, run_root, "--model.optimizer=SGD", "--model.optimizer.momentum=0.9")[
        "optimizer"
    ]
    assert given["init_args"]["momentum"] == 0.9 and given["init_args"]["weight_decay"] == 0.0


def test_other_switched_classes_start_from_their_defaults(
    capsys: pytest.CaptureFixture, run_root: Path
) -> None:
    model = print_config(
        capsys, run_root, "--model.net=MLP", "--model.scheduler=StepLR", "--model.scheduler.step_size=3"
    )
    assert model["net"]["init_args"]["dropout"] == 0.0  # SimpleCNN's 0.1 in digits.yaml does not carry
    assert model["scheduler"]["init_args"] == {"step_size": 3, "gamma": 0.1, "last_epoch": -1}
    kept = print_config(capsys, run_root, "--model.net=MLP", "--model.net.dropout=0.3")
    assert kept["net"]["init_args"]["dropout"] == 0.3
    same = print_config(capsys, run_root, "--model.optimizer.lr=0.1")["optimizer"]  # no switch: values stay
    assert same["class_path"] == "torch.optim.AdamW" and same["init_args"]["weight_decay"] == 0.01


@pytest.mark.parametrize("switch", [True, False])
def test_no_weight_decay_on_biases_and_norms(switch: bool, run_root: Path) -> None:
    groups = param_groups_after_short_fit(run_root, f"--model.no_weight_decay_on_bias_and_norm={switch}")
    if switch:
        assert [g["weight_decay"] for g in groups] == [0.01, 0.0]
        # decay: conv and linear weights (4); no_decay: linear bias, BatchNorm weights and biases (1 + 3*2).
        assert [len(g["params"]) for g in groups] == [4, 7]
    else:
        assert [g["weight_decay"] for g in groups] == [0.01]
