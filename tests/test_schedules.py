"""Schedules: each one's per-step rates equal its closed form, in a real run, through a resume, and drawn."""

import math
from contextlib import nullcontext
from pathlib import Path

import pytest
import torch
from conftest import cli, run_dirs
from lr_logs import SYNTHETIC, logged_lrs

from project.optim import CosineAnnealingWarmupReduceRestarts, LinearWarmup, PolynomialLRDecay

TOL = 1e-9
BASE_LRS = (0.002, 0.0005)  # two parameter groups: each follows its own base rate


def cawrr(base: float, k: int, T_0: int, T_mult: int, eta_min: float, T_up: int, gamma: float) -> float:
    """DESIGN §4: cycle i lasts T_0*T_mult^i; rise over T_up from eta_min to base*gamma^i; cosine down."""
    i, start, length = 0, 0, T_0
    while k >= start + length:
        start, i, length = start + length, i + 1, length * T_mult
    t, peak = k - start, base * gamma**i
    if t < T_up:
        return eta_min + (peak - eta_min) * t / T_up
    return eta_min + (peak - eta_min) * (1 + math.cos(math.pi * (t - T_up) / (length - T_up))) / 2


def cosine_restarts(base: float, k: int, T_0: int, T_mult: int, eta_min: float) -> float:
    return cawrr(base, k, T_0, T_mult, eta_min, 0, 1.0)


def optimizer() -> torch.optim.Optimizer:
    groups = [{"params": [torch.zeros(1, requires_grad=True)], "lr": lr} for lr in BASE_LRS]
    return torch.optim.SGD(groups, lr=BASE_LRS[0])


def rates(scheduler, steps: int, by_epoch: bool = False) -> list[list[float]]:
    out = []
    for k in range(steps):
        out.append([g["lr"] for g in scheduler.optimizer.param_groups])
        scheduler.optimizer.step()
        with pytest.warns(UserWarning) if by_epoch else nullcontext():
            scheduler.step(k + 1) if by_epoch else scheduler.step()
    return out


@pytest.mark.parametrize("T_mult", [1, 2])
@pytest.mark.parametrize("by_epoch", [False, True], ids=["step()", "step(epoch)"])
def test_cosine_warmup_reduce_restarts_matches_closed_form(T_mult: int, by_epoch: bool) -> None:
    args = {"T_0": 6, "T_mult": T_mult, "eta_min": 1e-5, "T_up": 2, "gamma": 0.5}
    steps = 6 * 4 if T_mult == 1 else 6 + 12 + 24 + 5  # at least three full cycles and into the next
    got = rates(CosineAnnealingWarmupReduceRestarts(optimizer(), **args), steps, by_epoch)
    for k, row in enumerate(got):
        for base, lr in zip(BASE_LRS, row, strict=True):
            assert abs(lr - cawrr(base, k, **args)) < TOL, (k, lr)
    assert got[0][0] == pytest.approx(1e-5)  # position 0 is the start of a warm-up
    assert max(r[0] for r in got) == pytest.approx(BASE_LRS[0])


def test_polynomial_and_warmup_match_closed_form() -> None:
    got = rates(PolynomialLRDecay(optimizer(), max_decay_steps=10, end_learning_rate=1e-5, power=2.0), 15)
    for k, row in enumerate(got):
        for base, lr in zip(BASE_LRS, row, strict=True):
            assert abs(lr - ((base - 1e-5) * (1 - min(k, 10) / 10) ** 2 + 1e-5)) < TOL

    def after(opt: torch.optim.Optimizer) -> torch.optim.lr_scheduler.LRScheduler:
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=8, eta_min=1e-5)

    got = rates(LinearWarmup(optimizer(), warmup=4, scheduler=after, start_factor=0.1), 13)
    for k, row in enumerate(got):
        for base, lr in zip(BASE_LRS, row, strict=True):
            if k < 4:
                want = base * (0.1 + 0.9 * k / 4)
            else:
                want = 1e-5 + (base - 1e-5) * (1 + math.cos(math.pi * (k - 4) / 8)) / 2
            assert abs(lr - want) < TOL, (k, lr, want)


# Each schedule in a real run (16 optimizer steps: 2 epochs of 8 batches, or 4 of 8 with accumulation 2).
SCHEDULES = {
    "CosineAnnealingWarmupReduceRestarts": (
        ["--model.scheduler.T_0=3", "--model.scheduler.T_mult=2", "--model.scheduler.T_up=1"]
        + ["--model.scheduler.gamma=0.5", "--model.scheduler.eta_min=1e-5"],
        lambda b, k: cawrr(b, k, 3, 2, 1e-5, 1, 0.5),
    ),
    "CosineAnnealingWarmRestarts": (
        ["--model.scheduler.T_0=4", "--model.scheduler.T_mult=2", "--model.scheduler.eta_min=1e-5"],
        lambda b, k: cosine_restarts(b, k, 4, 2, 1e-5),
    ),
    "StepLR": (
        ["--model.scheduler.step_size=5", "--model.scheduler.gamma=0.5"],
        lambda b, k: b * 0.5 ** (k // 5),
    ),
    "MultiStepLR": (
        ["--model.scheduler.milestones=[3, 10]", "--model.scheduler.gamma=0.1"],
        lambda b, k: b * 0.1 ** sum(k >= m for m in (3, 10)),
    ),
    "LinearLR": (
        [
            "--model.scheduler.start_factor=1.0",
            "--model.scheduler.end_factor=0.1",
            "--model.scheduler.total_iters=10",
        ],
        lambda b, k: b * (1.0 - 0.9 * min(k, 10) / 10),
    ),
    "PolynomialLRDecay": (
        ["--model.scheduler.max_decay_steps=12", "--model.scheduler.end_learning_rate=1e-5"],
        lambda b, k: (b - 1e-5) * (1 - min(k, 12) / 12) + 1e-5,
    ),
    "LinearWarmup": (
        [
            "--model.scheduler.warmup=4",
            '--model.scheduler.scheduler={"class_path": "StepLR", "init_args": '
            '{"step_size": 3, "gamma": 0.5}}',
        ],
        lambda b, k: b * k / 4 if k < 4 else b * 0.5 ** ((k - 4) // 3),
    ),
}


def expected(run_lrs: dict[str, list[float]], closed_form, lr: float) -> None:
    assert set(run_lrs) == {"lr-AdamW/decay", "lr-AdamW/no_decay"}
    for values in run_lrs.values():
        assert len(values) == 16
        for k, value in enumerate(values):
            assert abs(value - closed_form(lr, k)) < TOL, (k, value, closed_form(lr, k))


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_schedule_per_optimizer_step_in_a_run_matches_closed_form(name: str, run_root: Path) -> None:
    args, closed_form = SCHEDULES[name]
    accumulate = ["--trainer.accumulate_grad_batches=2", "--trainer.max_epochs=4"]
    steps = accumulate if name == "StepLR" else ["--trainer.max_epochs=2"]  # steps count after accumulation
    cli(
        "fit",
        *SYNTHETIC,
        *steps,
        "--model.optimizer.lr=0.002",
        f"--model.scheduler={name}",
        *args,
        "--model.scheduler_interval=step",
        "--trainer.limit_val_batches=1",
        root=run_root,
    )
    (run,) = run_dirs(run_root)
    expected(logged_lrs(run), closed_form, 0.002)


@pytest.mark.parametrize("name", ["CosineAnnealingWarmupReduceRestarts", "LinearWarmup"])
def test_resumed_run_logs_the_same_rates_as_one_straight_through(name: str, tmp_path: Path) -> None:
    args, closed_form = SCHEDULES[name]
    common = [*SYNTHETIC, "--model.optimizer.lr=0.002", f"--model.scheduler={name}", *args]
    common += ["--model.scheduler_interval=step", "--trainer.limit_val_batches=1"]
    cli("fit", *common, "--trainer.max_epochs=2", root=tmp_path / "straight")
    (straight,) = run_dirs(tmp_path / "straight")
    cli("fit", *common, "--trainer.max_epochs=1", root=tmp_path / "resumed")
    (resumed,) = run_dirs(tmp_path / "resumed")
    cli("fit", "--config", str(resumed / "config.yaml"), "--trainer.max_epochs=2", root=tmp_path / "resumed")
    assert logged_lrs(resumed) == logged_lrs(straight)
    expected(logged_lrs(resumed), closed_form, 0.002)


def test_resume_with_changed_schedule_arguments_warns(run_root: Path) -> None:
    args = ["--model.scheduler=StepLR", "--model.scheduler.step_size=5", "--trainer.limit_val_batches=1"]
    cli("fit", *SYNTHETIC, *args, "--trainer.max_epochs=1", root=run_root)
    (run,) = run_dirs(run_root)
    with pytest.warns(UserWarning, match=r"step_size: 7 \(checkpoint: 5\)"):
        cli(
            "fit",
            "--config",
            str(run / "config.yaml"),
            "--model.scheduler.step_size=7",
            "--trainer.max_epochs=2",
            root=run_root,
        )


def test_epoch_interval_steps_once_per_epoch(run_root: Path) -> None:
    cli(
        "fit",
        *SYNTHETIC,
        "--trainer.max_epochs=3",
        "--model.optimizer.lr=0.002",
        "--model.scheduler=StepLR",
        "--model.scheduler.step_size=1",
        "--model.scheduler.gamma=0.5",
        "--trainer.limit_val_batches=1",
        root=run_root,
    )
    (run,) = run_dirs(run_root)
    pg1 = logged_lrs(run)["lr-AdamW/decay"]
    assert pg1 == pytest.approx([0.002 * 0.5 ** (k // 8) for k in range(24)], abs=TOL)


def test_reduce_on_plateau_lowers_the_rate_when_val_loss_stalls(run_root: Path) -> None:
    # A rate of 1e-6 leaves val/loss flat: after `patience` epochs without improvement the rate halves.
    cli(
        "fit",
        *SYNTHETIC,
        "--trainer.max_epochs=5",
        "--trainer.limit_train_batches=2",
        "--model.optimizer.lr=1e-6",
        "--model.scheduler=ReduceLROnPlateau",
        "--model.scheduler.monitor=val/loss",
        "--model.scheduler.patience=1",
        "--model.scheduler.factor=0.5",
        root=run_root,
    )
    (run,) = run_dirs(run_root)
    per_epoch = logged_lrs(run)["lr-AdamW/decay"][::2]
    assert per_epoch == pytest.approx([1e-6, 1e-6, 1e-6, 5e-7, 5e-7], rel=1e-6)


def test_reduce_on_plateau_monitor_never_logged_is_refused_naming_it(
    run_root: Path, capsys: pytest.CaptureFixture
) -> None:
    with pytest.raises(SystemExit) as error:
        cli(
            "fit",
            *SYNTHETIC,
            "--trainer.max_epochs=2",
            "--trainer.limit_train_batches=2",
            "--model.scheduler=ReduceLROnPlateau",
            "--model.scheduler.monitor=val/no_such_metric",
            root=run_root,
        )
    assert error.value.code == 2
    assert (
        "model.scheduler.init_args.monitor: 'val/no_such_metric' is never logged" in capsys.readouterr().err
    )
    assert not run_dirs(run_root), "refused before training"


def test_reduce_on_plateau_short_name_is_lightnings_with_monitor(
    capsys: pytest.CaptureFixture, run_root: Path
) -> None:
    with pytest.raises(SystemExit) as stop:
        cli(
            "fit",
            *SYNTHETIC,
            "--model.scheduler=ReduceLROnPlateau",
            "--model.scheduler.monitor=val/loss",
            "--print_config",
            root=run_root,
        )
    assert stop.value.code == 0
    out = capsys.readouterr().out
    assert "class_path: lightning.pytorch.cli.ReduceLROnPlateau" in out
    assert "monitor: val/loss" in out


def test_plot_lr_draws_a_config_without_training(tmp_path: Path) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    from conftest import CONFIGS
    from plot_lr import main

    out = main(
        [
            str(CONFIGS / "digits.yaml"),
            str(CONFIGS / "scheduler" / "cosine_warmup_reduce_restarts.yaml"),
            "--out",
            str(tmp_path / "s.png"),
            "--steps",
            "40",
            "--run.root",
            str(tmp_path / "result"),
        ]
    )
    assert out.is_file() and out.read_bytes()[:4] == b"\x89PNG"
    assert not (tmp_path / "result").exists(), "drawing a schedule creates no run"
