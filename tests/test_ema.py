"""EMA of the weights (configs/presets/ema.yaml): smoother validation, averaged checkpoints, exact resume, and
the refused combinations."""

import contextlib
import io
import statistics
from pathlib import Path

import pytest
import torch
import yaml
from conftest import CONFIGS, FAST, cli, run_dirs
from test_resume import args as resume_args
from test_resume import assert_same_training_state, last, logged_scalars

from project.callbacks.ema import EMA
from project.cli import TemplateCLI, cli_main

DIGITS = str(CONFIGS / "digits.yaml")
EMA_PRESET = CONFIGS / "presets" / "ema.yaml"
# A noisy schedule: a high constant learning rate makes val/accuracy jump from epoch to epoch.
NOISY = ["--model.scheduler=null", "--model.optimizer.init_args.lr=0.03", "--trainer.max_epochs=6"]


def ema_preset(tmp_path: Path, decay: float) -> str:
    """The shipped preset with another decay: 6 Digits epochs are 240 steps, shorter than the 1,000-step span
    of the preset's 0.999."""
    preset = yaml.safe_load(EMA_PRESET.read_text())
    preset["trainer"]["callbacks+"][0]["init_args"]["decay"] = decay
    path = tmp_path / "ema.yaml"
    path.write_text(yaml.safe_dump(preset))
    return str(path)


def fit(*args: str, root: Path) -> TemplateCLI:
    return TemplateCLI(args=["fit", "--config", DIGITS, *args, f"--run.root={root}", *FAST])


def val_accuracy(run: Path) -> list[float]:
    points = sorted((step, value) for tag, step, value in logged_scalars(run) if tag == "val/accuracy")
    return [value for _, value in points]


def roughness(curve: list[float]) -> float:
    """Variance of the epoch-to-epoch changes."""
    return statistics.pvariance([b - a for a, b in zip(curve, curve[1:])])


@pytest.mark.slow
def test_ema_smooths_validation_and_tests_at_least_as_well(tmp_path: Path) -> None:
    plain = fit(*NOISY, root=tmp_path / "plain")
    averaged = fit("--config", ema_preset(tmp_path, 0.95), *NOISY, root=tmp_path / "ema")
    (plain_run,), (ema_run,) = run_dirs(tmp_path / "plain"), run_dirs(tmp_path / "ema")
    plain_curve, ema_curve = val_accuracy(plain_run), val_accuracy(ema_run)
    print(f"val/accuracy plain {plain_curve}\nval/accuracy EMA   {ema_curve}")
    print(
        f"roughness after epoch 1: plain {roughness(plain_curve[1:]):.3g}, EMA {roughness(ema_curve[1:]):.3g}"
    )
    assert len(plain_curve) == len(ema_curve) == 6
    # From the second epoch on: in the first, the 40-step average still carries the initial weights (0.95^40).
    assert roughness(ema_curve[1:]) < roughness(plain_curve[1:])
    plain_test = plain.trainer.callback_metrics["test/accuracy"].item()
    ema_test = averaged.trainer.callback_metrics["test/accuracy"].item()
    print(f"test/accuracy plain {plain_test:.4f}, EMA {ema_test:.4f}")
    assert ema_test >= plain_test

    # last.ckpt holds the callback's average as its weights, and the raw weights beside them.
    callback = next(c for c in averaged.trainer.callbacks if isinstance(c, EMA))
    saved = last(ema_run)
    average = {k.removeprefix("module."): v for k, v in callback._average_model.state_dict().items()}
    for key, value in saved["state_dict"].items():
        assert torch.equal(value, average[key]), key
    assert any(not torch.equal(v, saved["current_model_state"][k]) for k, v in saved["state_dict"].items())
    # best.ckpt holds the weights that scored its val/accuracy: validated again, they score the same.
    best = ema_run / "checkpoints" / "best.ckpt"
    states = torch.load(best, weights_only=True)["callbacks"]
    score = next(v["best_model_score"] for k, v in states.items() if "'monitor': 'val/accuracy'" in k)
    validate = TemplateCLI(
        args=["validate", "--config", str(ema_run / "config.yaml"), "--ckpt_path", "best", *FAST]
    )
    assert validate.trainer.callback_metrics["val/accuracy"].item() == pytest.approx(score.item(), abs=1e-6)
    # ...and test_after_fit tested them (not the raw weights kept in the checkpoint).
    test = TemplateCLI(args=["test", "--config", str(ema_run / "config.yaml"), "--ckpt_path", "best", *FAST])
    assert test.trainer.callback_metrics["test/accuracy"].item() == pytest.approx(ema_test, abs=1e-6)


def test_resume_of_an_ema_run_matches_straight_run(tmp_path: Path) -> None:
    common = ["--config", str(EMA_PRESET), *resume_args(tmp_path)]
    straight_root, root = tmp_path / "straight", tmp_path / "result"
    cli("fit", "--config", DIGITS, *common, "--trainer.max_epochs=4", root=straight_root)
    cli("fit", "--config", DIGITS, *common, "--trainer.max_epochs=2", root=root)
    (straight,), (run,) = run_dirs(straight_root), run_dirs(root)
    cli("fit", "--config", str(run / "config.yaml"), "--trainer.max_epochs=4", root=root)
    resumed, reference = last(run), last(straight)
    assert_same_training_state(resumed, reference)
    for part in ("current_model_state", "averaging_state"):
        assert resumed[part].keys() == reference[part].keys()
        for key in reference[part]:
            assert torch.equal(resumed[part][key], reference[part][key]), (part, key)
    assert logged_scalars(run) == logged_scalars(straight)


@pytest.mark.parametrize(
    ("override", "keys"),
    [
        (["--trainer.strategy=fsdp"], ["trainer.callbacks (EMA)", "trainer.strategy (fsdp)"]),
        (
            ["--model.optimizer=AdamWScheduleFree", "--model.scheduler=null"],
            ["trainer.callbacks (EMA)", "model.optimizer (AdamWScheduleFree)"],
        ),
        (
            ["--trainer.callbacks.init_args.use_buffers=false"],
            ["use_buffers: false", "model.net", "BatchNorm"],
        ),
    ],
    ids=["fsdp", "schedule-free", "use_buffers-with-batchnorm"],
)
def test_wrong_combinations_are_refused_before_training(
    override: list[str], keys: list[str], tmp_path: Path
) -> None:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as exit_info:
        cli_main(
            [
                "fit",
                "--config",
                DIGITS,
                "--config",
                str(EMA_PRESET),
                *override,
                f"--run.root={tmp_path}",
                *FAST,
            ]
        )
    assert exit_info.value.code == 2
    for key in keys:
        assert key in err.getvalue(), err.getvalue()
    assert not list(tmp_path.rglob("config.yaml")), "no run dir left behind"
