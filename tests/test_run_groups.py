"""The guide's checkpoint and early-stopping sections as config groups, and which run a command works on."""

import json
from pathlib import Path

import pytest
import torch
import yaml
from conftest import CONFIGS, cli, run_dirs

from project.run.resolve import continue_requeued, resolve
from project.run.run_dir import RunDir

DIGITS = str(CONFIGS / "digits.yaml")
SHORT = ["--trainer.limit_train_batches=5", "--trainer.limit_val_batches=2", "--run.test_after_fit=false"]


def test_checkpoint_group_keeps_the_three_lowest_loss_checkpoints(run_root: Path) -> None:
    cli("fit", "--config", DIGITS, "--checkpoint.save_top_k=3", "--checkpoint.monitor=val/loss",
        "--checkpoint.mode=min", "--trainer.max_epochs=5", *SHORT, root=run_root)  # fmt: skip
    (run,) = run_dirs(run_root)
    kept = sorted(p.name for p in (run / "checkpoints").glob("best-*.ckpt"))
    assert len(kept) == 3, kept
    state = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    ranked = next(
        v for k, v in state["callbacks"].items() if k.startswith("ModelCheckpoint{'monitor': 'val/loss'")
    )
    scores = {Path(path).name: float(score) for path, score in ranked["best_k_models"].items()}
    assert sorted(scores) == kept
    # The three kept are the three lowest val/loss values of the five epochs, and each file holds its score.
    for name, score in scores.items():
        saved = torch.load(run / "checkpoints" / name, weights_only=True)
        saved_state = next(
            v for k, v in saved["callbacks"].items() if k.startswith("ModelCheckpoint{'monitor': 'val/l")
        )
        assert float(saved_state["current_score"]) == pytest.approx(score)
    assert Path(ranked["best_model_path"]).name == min(scores, key=scores.get)
    saved_config = yaml.safe_load((run / "config.yaml").read_text())
    assert saved_config["checkpoint"] == {"monitor": "val/loss", "mode": "min", "save_top_k": 3,
                                          "every_n_epochs": 1, "filename": None}  # fmt: skip


def test_config_written_before_the_groups_still_resumes(run_root: Path) -> None:
    """A config.yaml with the old best/last ModelCheckpoint entries of trainer.callbacks resumes in place."""
    cli("fit", "--config", DIGITS, "--trainer.max_epochs=1", *SHORT, root=run_root)
    (run,) = run_dirs(run_root)
    config = yaml.safe_load((run / "config.yaml").read_text())
    config.pop("checkpoint")
    config.pop("early_stopping")
    config["trainer"]["callbacks"] = [
        {"class_path": "lightning.pytorch.callbacks.ModelCheckpoint",
         "init_args": {"filename": "best", "monitor": "val/accuracy", "mode": "max", "save_top_k": 1}},
        {"class_path": "lightning.pytorch.callbacks.ModelCheckpoint",
         "init_args": {"filename": "last", "monitor": None, "save_top_k": 1}},
    ]  # fmt: skip
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    cli("fit", "--config", str(run / "config.yaml"), "--trainer.max_epochs=2", *SHORT, root=run_root)
    assert run_dirs(run_root) == [run]
    state = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert state["loops"]["fit_loop"]["epoch_progress"]["current"]["processed"] == 2
    upgraded = yaml.safe_load((run / "config.yaml").read_text())
    assert upgraded["trainer"]["callbacks"] == []
    assert upgraded["checkpoint"]["monitor"] == "val/accuracy" and upgraded["checkpoint"]["mode"] == "max"


# --- resolve: no Trainer, only files ------------------------------------------------------------------------


def make_run(path: Path, last: bool = True) -> RunDir:
    run = RunDir(path)
    run.checkpoints.mkdir(parents=True)
    run.info.write_text(json.dumps({"status": "finished"}))
    run.config.write_text("{}")
    if last:  # resolve() reads last.ckpt's checkpoint states to find the best one
        torch.save({"state_dict": {}, "callbacks": {}}, run.last_checkpoint)
    return run


def test_resolve_fit_resumes_a_runs_config_and_starts_others_anew(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    resumed = resolve("fit", [DIGITS, str(run.config)], None)
    assert resumed.run == run and resumed.resuming and resumed.ckpt_path == str(run.last_checkpoint)
    assert resolve("fit", [DIGITS], None).run is None
    into_new = resolve("fit", [str(run.config)], str(run.last_checkpoint))
    assert into_new.run is None and not into_new.resuming, "--ckpt_path opens a new run dir"
    empty = make_run(tmp_path / "empty", last=False)
    assert resolve("fit", [str(empty.config)], None) == type(resumed)(empty, None, False)


def test_resolve_evaluation_shortcuts_and_checkpoint_files(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    (run.checkpoints / "best.ckpt").write_bytes(b"x")
    assert resolve("test", [str(run.config)], "last").ckpt_path == str(run.last_checkpoint)
    assert resolve("test", [str(run.config)], "best").ckpt_path == str(run.checkpoints / "best.ckpt")
    by_file = resolve("validate", [DIGITS], str(run.last_checkpoint))
    assert by_file.run == run, "a checkpoint file names its run"
    assert resolve("predict", [DIGITS], "best").run is None


def test_continue_requeued_takes_the_newest_checkpoint(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    hpc = run.path / "hpc_ckpt_1.ckpt"
    hpc.write_bytes(b"x")
    resumed = continue_requeued("fit", resolve("fit", [DIGITS], None), run)
    assert resumed.resuming and resumed.ckpt_path in (str(hpc), str(run.last_checkpoint))
    fresh = RunDir(tmp_path / "fresh")
    assert continue_requeued("fit", resolve("fit", [DIGITS], None), fresh).run == fresh
