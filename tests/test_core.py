"""The core promise: one YAML trains, writes a run dir, resumes from it and evaluates its checkpoints."""

import json
from pathlib import Path

import pytest
import torch
import yaml
from conftest import CONFIGS, cli, main_py, run_dirs

DIGITS = str(CONFIGS / "digits.yaml")
SHORT = ["--trainer.max_epochs=2", "--trainer.limit_train_batches=5", "--trainer.limit_val_batches=2"]


def test_fit_writes_run_dir_with_resolved_config(run_root: Path) -> None:
    cli("fit", "--config", DIGITS, *SHORT, "--run.name=smoke", "--run.test_after_fit=false", root=run_root)
    (run,) = run_dirs(run_root)
    assert run.parent.name == "digits"
    assert run.name.endswith("_simplecnn_smoke")
    assert (run / "checkpoints" / "last.ckpt").is_file()
    assert (run / "checkpoints" / "best.ckpt").is_file()
    assert list((run / "tensorboard").glob("events.out.tfevents.*"))
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["seed_everything"] == 42
    assert saved["trainer"]["max_epochs"] == 2
    assert saved["ckpt_path"] is None
    info = json.loads((run / "run_info.json").read_text())
    assert info["status"] == "finished"
    assert info["global_step"] == 10


def test_unset_seed_is_drawn_and_recorded(run_root: Path) -> None:
    cli(
        "fit",
        "--config",
        DIGITS,
        *SHORT,
        "--seed_everything=true",
        "--run.test_after_fit=false",
        root=run_root,
    )
    (run,) = run_dirs(run_root)
    seed = yaml.safe_load((run / "config.yaml").read_text())["seed_everything"]
    assert isinstance(seed, int) and not isinstance(seed, bool)


def test_resume_from_run_config_continues_epochs(run_root: Path, capsys: pytest.CaptureFixture) -> None:
    cli("fit", "--config", DIGITS, *SHORT, "--run.test_after_fit=false", root=run_root)
    (run,) = run_dirs(run_root)
    cli("fit", "--config", str(run / "config.yaml"), "--trainer.max_epochs=3", root=run_root)
    assert run_dirs(run_root) == [run], "resuming must reuse the run dir"
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["loops"]["fit_loop"]["epoch_progress"]["current"]["processed"] == 3  # epochs trained
    assert ckpt["global_step"] == 15
    assert yaml.safe_load((run / "config.yaml").read_text())["trainer"]["max_epochs"] == 3


def test_subcommands_evaluate_best_last_and_path(run_root: Path) -> None:
    cli("fit", "--config", DIGITS, *SHORT, "--run.test_after_fit=false", root=run_root)
    (run,) = run_dirs(run_root)
    config = str(run / "config.yaml")
    for subcommand in ("validate", "test", "predict"):
        for ckpt in ("best", "last", str(run / "checkpoints" / "last.ckpt")):
            cli(subcommand, "--config", config, "--ckpt_path", ckpt, root=run_root)
    assert run_dirs(run_root) == [run], "evaluation writes into the checkpoint's run dir"
    rows = (run / "predictions" / "predict.csv").read_text().splitlines()
    assert len(rows) == 1 + 359  # header + one row per Digits test image


@pytest.mark.slow
def test_test_subcommand_prints_the_accuracy_fit_reported(tmp_path: Path) -> None:
    root = tmp_path / "result"
    fit = main_py("fit", "--config", DIGITS, "--trainer.max_epochs=3", f"--run.root={root}")
    assert fit.returncode == 0, fit.stderr[-2000:]
    (run,) = run_dirs(root)
    test = main_py("test", "--config", str(run / "config.yaml"), "--ckpt_path", "best", f"--run.root={root}")
    assert test.returncode == 0, test.stderr[-2000:]

    def accuracy(text: str) -> str:
        line = next(line for line in text.splitlines() if "test/accuracy" in line)
        return f"{float(line.split()[-2]):.4f}"

    assert accuracy(fit.stdout) == accuracy(test.stdout)
    assert float(accuracy(fit.stdout)) >= 0.9


def test_misspelt_key_exits_2_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(Path(DIGITS).read_text().replace("max_epochs:", "max_epoch:"))
    result = main_py("fit", "--config", str(bad), f"--run.root={tmp_path / 'result'}")
    assert result.returncode == 2
    assert "max_epoch" in result.stderr
    assert not (tmp_path / "result").exists()
