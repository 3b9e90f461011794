"""Resuming, the guide's three ways: from a run's config.yaml, to more epochs, and from a checkpoint file.

A resumed run must end where the unbroken run ends: same weights, optimizer and schedule, same loop counters,
same early-stopping and best-checkpoint state, same logged metrics, nothing counted twice.
"""

import shutil
import warnings
from pathlib import Path

import pytest
import torch
from conftest import CONFIGS, cli, run_dirs

DIGITS = str(CONFIGS / "digits.yaml")
DETERMINISTIC = [
    "--trainer.deterministic=true",
    "--trainer.limit_train_batches=6",
    "--trainer.limit_val_batches=3",
    "--trainer.log_every_n_steps=2",
    "--run.test_after_fit=false",
    # A schedule that does not depend on max_epochs, so that 4 epochs and 2 + 2 follow the same rates.
    "--model.scheduler=StepLR",
    "--model.scheduler.init_args.step_size=1",
    "--model.scheduler.init_args.gamma=0.7",
]


def overlay(tmp_path: Path) -> str:
    """TensorBoard only (its event files are the logged metrics compared below), and an EarlyStopping whose
    patience is never used up: its counters must continue across the resume."""
    path = tmp_path / "overlay.yaml"
    path.write_text(
        "trainer:\n"
        "  logger:\n"
        "    - class_path: TensorBoardLogger\n"
        "      init_args: {save_dir: .}\n"
        "  callbacks+:\n"
        "    - class_path: EarlyStopping\n"
        "      init_args: {monitor: val/loss, mode: min, patience: 100}\n"
    )
    return str(path)


def args(tmp_path: Path) -> list[str]:
    return ["--config", overlay(tmp_path), *DETERMINISTIC]


def logged_scalars(run: Path) -> list[tuple[str, int, float]]:
    """Every scalar point in the run's TensorBoard event files (all of them: a point logged twice shows
    twice)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    points = []
    for events in (run / "tensorboard").glob("events.out.tfevents.*"):
        accumulator = EventAccumulator(str(events))
        accumulator.Reload()
        for tag in accumulator.Tags()["scalars"]:
            points += [(tag, event.step, event.value) for event in accumulator.Scalars(tag)]
    return sorted(points)


def assert_same_training_state(a: dict, b: dict) -> None:
    assert (a["epoch"], a["global_step"]) == (b["epoch"], b["global_step"])
    assert a["state_dict"].keys() == b["state_dict"].keys()
    for key in a["state_dict"]:
        assert torch.equal(a["state_dict"][key], b["state_dict"][key]), key
    for opt_a, opt_b in zip(a["optimizer_states"], b["optimizer_states"], strict=True):
        for p in opt_a["state"]:
            for name, value in opt_a["state"][p].items():
                assert torch.equal(torch.as_tensor(value), torch.as_tensor(opt_b["state"][p][name])), name
    assert a["lr_schedulers"] == b["lr_schedulers"]
    assert a["loops"]["fit_loop"]["epoch_progress"] == b["loops"]["fit_loop"]["epoch_progress"]
    for key, state in a["callbacks"].items():
        other = b["callbacks"][key]
        if key.startswith("EarlyStopping"):
            assert state == other, key
        elif key.startswith("ModelCheckpoint"):
            assert state["best_model_score"] == other["best_model_score"]
            assert Path(state["best_model_path"]).name == Path(other["best_model_path"]).name


def last(run: Path) -> dict:
    return torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)


def epochs_trained(checkpoint: dict) -> int:
    """Training epochs behind a checkpoint (its ``epoch`` field lags by one when saved at an epoch's end)."""
    return checkpoint["loops"]["fit_loop"]["epoch_progress"]["current"]["processed"]


@pytest.fixture(scope="module")
def straight(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 epochs without a break: the reference."""
    tmp = tmp_path_factory.mktemp("straight")
    root = tmp / "result"
    cli("fit", "--config", DIGITS, *args(tmp), "--trainer.max_epochs=4", root=root)
    (run,) = run_dirs(root)
    return run


def test_resume_from_run_config_for_more_epochs_matches_straight_run(straight: Path, tmp_path: Path) -> None:
    root = tmp_path / "result"
    cli("fit", "--config", DIGITS, *args(tmp_path), "--trainer.max_epochs=2", root=root)
    (run,) = run_dirs(root)
    assert epochs_trained(last(run)) == 2
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cli("fit", "--config", str(run / "config.yaml"), "--trainer.max_epochs=4", root=root)
    assert run_dirs(root) == [run], "resuming from config.yaml continues in the same run dir"
    # The run's own checkpoints are what it resumes from: Lightning's warning about them is not shown.
    assert not [w for w in caught if "exists and is not empty" in str(w.message)]
    assert_same_training_state(last(run), last(straight))
    logged = logged_scalars(run)
    assert {tag for tag, _, _ in logged} >= {"train/loss", "val/loss", "val/accuracy", "lr-AdamW/decay"}
    assert logged == logged_scalars(straight)


def test_resume_from_checkpoint_file_into_new_run_dir(straight: Path, tmp_path: Path) -> None:
    root = tmp_path / "result"
    cli("fit", "--config", DIGITS, *args(tmp_path), "--trainer.max_epochs=2", root=root)
    (first,) = run_dirs(root)
    checkpoint = first / "checkpoints" / "last.ckpt"
    cli(
        "fit",
        "--config",
        DIGITS,
        *args(tmp_path),
        "--trainer.max_epochs=4",
        "--ckpt_path",
        str(checkpoint),
        root=root,
    )
    runs = run_dirs(root)
    assert len(runs) == 2, "--ckpt_path starts a new run dir"
    second = runs[1]
    assert epochs_trained(last(first)) == 2, "the source run is left as it was"
    final = last(second)
    assert (epochs_trained(final), final["global_step"]) == (4, 24)
    assert_same_training_state(final, last(straight))


def test_a_moved_run_dir_resumes_with_its_checkpoint_ranking(straight: Path, tmp_path: Path) -> None:
    root = tmp_path / "result"
    cli("fit", "--config", DIGITS, *args(tmp_path), "--trainer.max_epochs=2", root=root)
    # The whole run root moves (another disk, another machine) and the old place is gone.
    moved_root = tmp_path / "elsewhere"
    shutil.move(root, moved_root)
    (moved,) = run_dirs(moved_root)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cli("fit", "--config", str(moved / "config.yaml"), "--trainer.max_epochs=4", root=moved_root)
    # Without the re-rooting Lightning drops the ranking ("dirpath has changed"): epoch 3 would become the
    # best checkpoint whatever its loss, and the best score of epochs 1-2 would be forgotten.
    assert not [w for w in caught if "dirpath has changed" in str(w.message)]
    final = last(moved)
    assert_same_training_state(final, last(straight))
    for key, state in final["callbacks"].items():
        if key.startswith("ModelCheckpoint"):
            assert Path(state["dirpath"]) == moved / "checkpoints", key
            assert all(Path(path).parent == moved / "checkpoints" for path in state["best_k_models"]), key
    assert not root.exists(), "nothing was written to the old place"
