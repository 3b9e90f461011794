"""Training control: signals, non-finite losses, early stopping, accumulation, worker seeding, presets."""

import gc
import json
import os
import signal
import time
from pathlib import Path

import pytest
import torch
import yaml
from conftest import CONFIGS, cli, run_dirs
from lightning.pytorch import Callback
from torch import nn
from torch.utils.data import Dataset, get_worker_info

from project.callbacks.non_finite_loss import NonFiniteLossError
from project.data.base import BaseDataModule
from project.run.checkpoint_write import atomic_torch_save, temporary_path

DIGITS = str(CONFIGS / "digits.yaml")
PRESETS = CONFIGS / "presets"
# Testing after fit adds a phase these tests of training state do not look at (test_doc_commands runs it).
QUIET = ["--run.test_after_fit=false"]


def overlay(tmp_path: Path, text: str, name: str = "overlay.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def last(run: Path) -> dict:
    return torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)


# --- SIGTERM / SIGINT ---------------------------------------------------------------------------------------


class SignalAtBatch(Callback):
    """Sends a signal to this process at the end of training batch ``batch`` of epoch ``epoch`` (0-based)."""

    def __init__(self, batch: int, signum: int = 15, epoch: int = 0) -> None:
        self.batch = batch
        self.signum = signum
        self.epoch = epoch

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        if trainer.current_epoch == self.epoch and batch_idx == self.batch:
            os.kill(os.getpid(), self.signum)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_mid_accumulation_saves_after_the_optimizer_step_and_exits_nonzero(
    run_root: Path, signum: int
) -> None:
    handlers = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    callback = (
        "--trainer.callbacks+={class_path: test_training_control.SignalAtBatch, "
        f"init_args: {{batch: 2, signum: {int(signum)}}}}}"
    )
    with pytest.raises(SystemExit) as exit_info:
        cli(
            "fit",
            "--config",
            DIGITS,
            *QUIET,
            "--trainer.max_epochs=2",
            "--trainer.accumulate_grad_batches=2",
            callback,
            root=run_root,
        )
    assert exit_info.value.code == 128 + signum
    (run,) = run_dirs(run_root)
    # Batches 0-1 and 2-3 make optimizer steps 1 and 2: the signal after batch 2 waits for step 2 to finish.
    assert last(run)["global_step"] == 2
    assert json.loads((run / "run_info.json").read_text())["status"] == "interrupted"
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == handlers, (
        "handlers restored"
    )


# --- non-finite loss
# --------------------------------------------------------------------------------------------


class NaNAfter(nn.Module):
    """A linear classifier on 8x8 images whose output turns NaN from the ``step``-th training forward on."""

    def __init__(self, step: int, times: int = 1000, num_classes: int = 10) -> None:
        super().__init__()
        self.linear = nn.Linear(64, num_classes)
        self.step, self.times, self.calls = step, times, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.linear(x.flatten(1))
        if self.training:
            self.calls += 1
            if self.step <= self.calls < self.step + self.times:
                out = out * float("nan")
        return out


def nan_net(step: int, times: int = 1000) -> list[str]:
    return [
        "--model.net=test_training_control.NaNAfter",
        f"--model.net.init_args.step={step}",
        f"--model.net.init_args.times={times}",
    ]


def test_non_finite_loss_stops_naming_the_step_and_last_good_checkpoint(run_root: Path) -> None:
    steps = overlay(
        run_root.parent, (PRESETS / "checkpoint_every_n_steps.yaml").read_text().replace("100", "2")
    )
    with pytest.raises(NonFiniteLossError) as error:
        cli("fit", "--config", DIGITS, "--config", steps, *QUIET, *nan_net(step=6), root=run_root)
    (run,) = run_dirs(run_root)
    message = str(error.value)
    assert "NaN at global step 5" in message
    assert str(run / "checkpoints" / "last.ckpt") in message
    saved = last(run)
    assert saved["global_step"] == 4
    assert all(torch.isfinite(t).all() for t in saved["state_dict"].values())


def test_non_finite_loss_skip_drops_the_step_and_trains_on(run_root: Path, tmp_path: Path) -> None:
    skip = overlay(
        tmp_path,
        "trainer:\n  callbacks+:\n    - {class_path: NonFiniteLossGuard, init_args: {action: skip}}\n",
    )
    cli(
        "fit",
        "--config",
        DIGITS,
        "--config",
        skip,
        *QUIET,
        *nan_net(step=3, times=2),
        "--trainer.max_epochs=1",
        "--trainer.limit_train_batches=8",
        root=run_root,
    )
    (run,) = run_dirs(run_root)
    saved = last(run)
    assert saved["global_step"] == 8
    assert all(torch.isfinite(t).all() for t in saved["state_dict"].values())
    assert saved["callbacks"]["NonFiniteLossGuard"]["skipped_total"] == 2


# --- early stopping and best checkpoint
# -------------------------------------------------------------------------


def test_early_stopping_ends_a_stalled_run_and_best_ckpt_holds_the_best_value(
    run_root: Path, tmp_path: Path
) -> None:
    cli(
        "fit",
        "--config",
        DIGITS,
        "--early_stopping.patience=2",  # the early_stopping: group, off in digits.yaml, on with val/loss
        "--run.test_after_fit=false",
        "--trainer.max_epochs=20",
        "--trainer.limit_train_batches=5",
        # Learning for 2 epochs, then a learning rate of 0: val/loss stalls from epoch 3 on (no batch norm,
        # whose
        # running statistics would still move).
        "--model.net=MLP",
        "--model.scheduler=StepLR",
        "--model.scheduler.init_args.step_size=2",
        "--model.scheduler.init_args.gamma=0",
        root=run_root,
    )
    (run,) = run_dirs(run_root)
    state = last(run)
    epochs = state["loops"]["fit_loop"]["epoch_progress"]["current"]["processed"]
    assert epochs == 4, "2 learning epochs, then 2 stalled ones use up the patience"
    early = next(v for k, v in state["callbacks"].items() if k.startswith("EarlyStopping"))
    assert early["wait_count"] == 2 and early["stopped_epoch"] == 3
    best = torch.load(run / "checkpoints" / "best.ckpt", weights_only=True)
    checkpoint = next(v for k, v in state["callbacks"].items() if k.startswith("ModelCheckpoint"))
    assert Path(checkpoint["best_model_path"]).name == "best.ckpt"
    # The best value of val/accuracy was reached in epoch 2 at the latest (no learning after), and best.ckpt
    # is it.
    assert best["global_step"] <= 10
    assert float(checkpoint["best_model_score"]) == float(
        next(v for k, v in best["callbacks"].items() if k.startswith("ModelCheckpoint"))["best_model_score"]
    )


# --- gradient accumulation
# -----------------------------------------------------------------------------------


def test_accumulating_4_batches_of_8_equals_one_batch_of_32(tmp_path: Path) -> None:
    common = [
        "--config",
        DIGITS,
        *QUIET,
        "--trainer.max_epochs=1",
        "--trainer.num_sanity_val_steps=0",
        "--trainer.limit_val_batches=0",
        "--model.net=MLP",
        "--model.net.init_args.dropout=0",
        "--model.optimizer=SGD",
        "--model.optimizer.init_args.lr=0.5",
        "--model.optimizer.init_args.weight_decay=0",
        "--model.scheduler=null",
    ]
    cli(
        "fit",
        *common,
        "--data.init_args.batch_size=8",
        "--trainer.accumulate_grad_batches=4",
        "--trainer.limit_train_batches=4",
        root=tmp_path / "accumulated",
    )
    cli(
        "fit",
        *common,
        "--data.init_args.batch_size=32",
        "--trainer.limit_train_batches=1",
        root=tmp_path / "big",
    )
    (accumulated,) = run_dirs(tmp_path / "accumulated")
    (big,) = run_dirs(tmp_path / "big")
    a, b = last(accumulated), last(big)
    assert a["global_step"] == b["global_step"] == 1
    for key in a["state_dict"]:
        torch.testing.assert_close(a["state_dict"][key], b["state_dict"][key], rtol=1e-5, atol=1e-6)


# --- worker seeding -----------------------------------------------------------------------------------------


class DrawingDataset(Dataset):
    """Each item is a fresh random draw (as a random augmentation makes) plus the id of the worker that drew
    it."""

    def __len__(self) -> int:
        return 32

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        info = get_worker_info()
        worker = -1 if info is None else info.id
        return torch.tensor([torch.rand(()).item(), float(worker)]), index % 2


class RandomDraws(BaseDataModule):
    """32 samples of :class:`DrawingDataset` for train, val and test."""

    def setup(self, stage: str | None = None) -> None:
        self.splits = {name: DrawingDataset() for name in ("train", "val", "test")}


class RecordDraws(Callback):
    """Writes ``draws.json`` into the run dir: per epoch, ``[worker, index, draw]`` of every training
    sample."""

    def __init__(self) -> None:
        self.draws: dict[int, list] = {}

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        x, _, index = batch
        rows = [[int(w), int(i), float(d)] for (d, w), i in zip(x.tolist(), index.tolist(), strict=True)]
        self.draws.setdefault(trainer.current_epoch, []).extend(rows)

    def on_train_end(self, trainer, pl_module) -> None:
        Path(trainer.default_root_dir, "draws.json").write_text(json.dumps(self.draws))


def draws(root: Path, persistent: bool, seed: int = 7) -> dict[str, list]:
    cli(
        "fit",
        "--config",
        DIGITS,
        *QUIET,
        f"--seed_everything={seed}",
        "--trainer.max_epochs=2",
        "--trainer.limit_val_batches=0",
        "--trainer.num_sanity_val_steps=0",
        "--data=test_training_control.RandomDraws",
        "--data.init_args.batch_size=4",
        "--data.init_args.num_workers=2",
        f"--data.init_args.persistent_workers={str(persistent).lower()}",
        "--model.net=MLP",
        "--model.net.init_args.in_features=2",
        "--model.net.init_args.num_classes=2",
        "--model.evaluator.init_args.num_classes=2",
        "--trainer.callbacks+=test_training_control.RecordDraws",
        root=root,
    )
    (run,) = run_dirs(root)
    return json.loads((run / "draws.json").read_text())


@pytest.mark.parametrize("persistent", [False, True])
def test_workers_draw_differently_per_worker_and_epoch_and_repeat_with_the_seed(
    tmp_path: Path, persistent: bool
) -> None:
    first = draws(tmp_path / "a", persistent)
    by_worker = {w: {d for ww, _, d in first["0"] if ww == w} for w in (0, 1)}
    assert by_worker[0] and by_worker[1], "both workers loaded batches"
    assert not by_worker[0] & by_worker[1], "two workers drew the same numbers"
    epoch = [{i: d for _, i, d in first[e]} for e in ("0", "1")]
    assert all(epoch[0][i] != epoch[1][i] for i in epoch[0]), "a sample drew the same number in two epochs"
    if not persistent:
        assert draws(tmp_path / "b", persistent) == first, "the same seed must give the same draws"


# --- checkpoint writes
# ------------------------------------------------------------------------------------------


class Unpicklable:
    def __reduce__(self):
        raise RuntimeError("killed mid-save")


def test_a_save_that_dies_midway_leaves_the_previous_checkpoint_intact(tmp_path: Path) -> None:
    path = tmp_path / "last.ckpt"
    atomic_torch_save({"global_step": 1, "weights": torch.ones(1000)}, path)
    with pytest.raises(RuntimeError, match="killed mid-save"):
        atomic_torch_save({"global_step": 2, "weights": torch.ones(1000), "x": Unpicklable()}, path)
    assert torch.load(path, weights_only=True)["global_step"] == 1
    assert temporary_path(path).name == ".last.ckpt.tmp", (
        "the partial file is hidden and never named last*.ckpt"
    )


# --- presets stacked on the example
# ------------------------------------------------------------------------------

CALLBACK_PRESETS = ["checkpoint_every_n_epochs", "checkpoint_every_n_steps", "ema", "monitor"]


@pytest.mark.parametrize("preset", sorted(p.stem for p in PRESETS.glob("*.yaml")))
def test_each_preset_stacks_on_digits_keeping_its_checkpointing(
    preset: str, capsys: pytest.CaptureFixture, run_root: Path
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli(
            "fit",
            "--config",
            DIGITS,
            "--config",
            str(PRESETS / f"{preset}.yaml"),
            "--print_config",
            root=run_root,
        )
    assert exit_info.value.code in (0, None)
    config = yaml.safe_load(capsys.readouterr().out)
    assert config["checkpoint"]["monitor"] == "val/accuracy", "the example's checkpoint group must survive"
    callbacks = config["trainer"]["callbacks"]
    assert len(callbacks) == (1 if preset in CALLBACK_PRESETS else 0), "a preset appends its callback"
    if preset == "early_stopping":
        assert config["early_stopping"]["patience"] == 20


def test_callback_presets_stacked_together_all_take_effect(run_root: Path, tmp_path: Path) -> None:
    every_2 = overlay(
        tmp_path, (PRESETS / "checkpoint_every_n_epochs.yaml").read_text().replace(": 10", ": 2"), "e.yaml"
    )
    steps_3 = overlay(
        tmp_path, (PRESETS / "checkpoint_every_n_steps.yaml").read_text().replace("100", "3"), "s.yaml"
    )
    cli(
        "fit",
        "--config",
        DIGITS,
        "--config",
        str(PRESETS / "early_stopping.yaml"),
        "--config",
        every_2,
        "--config",
        steps_3,
        "--config",
        str(PRESETS / "accumulate.yaml"),
        *QUIET,
        "--trainer.max_epochs=4",
        "--trainer.limit_train_batches=8",
        "--trainer.limit_val_batches=2",
        root=run_root,
    )
    (run,) = run_dirs(run_root)
    files = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert files == ["best.ckpt", "epoch001.ckpt", "epoch003.ckpt", "last.ckpt"]
    state = last(run)
    assert state["global_step"] == 8, "4 epochs of 8 batches with accumulation 4"
    assert any(k.startswith("EarlyStopping") for k in state["callbacks"])


# --- debug and profile presets
# ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_debug_preset_runs_in_under_30_seconds_and_leaves_a_marked_run_dir_without_checkpoints(
    tmp_path: Path,
) -> None:
    from conftest import main_py

    started = time.monotonic()
    result = main_py(
        "fit", "--config", DIGITS, "--config", str(PRESETS / "debug.yaml"), f"--run.root={tmp_path}"
    )
    seconds = time.monotonic() - started
    assert result.returncode == 0, result.stderr[-2000:]
    assert seconds < 30, f"the debug preset took {seconds:.1f} s"
    (run,) = run_dirs(tmp_path)
    assert run.name.endswith("_debug")
    names = {p.name for p in run.iterdir()}
    assert {"config.yaml", "run_info.json"} <= names
    assert not names & {"checkpoints", "tensorboard"}, "no checkpoints, no logger output"
    assert not (tmp_path / "mlflow.db").exists(), "nothing sent to MLflow"


@pytest.mark.slow
def test_profile_preset_leaves_a_trace_in_the_run_dir(tmp_path: Path) -> None:
    from conftest import main_py

    # A subprocess with the preset as a user runs it: with fewer batches than the profiler's schedule needs,
    # torch 2.13's profiler can fail to decode its own events and crash the process at exit.
    result = main_py("fit", "--config", DIGITS, "--config", str(PRESETS / "profile.yaml"), *QUIET,
                     f"--run.root={tmp_path}")  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    (run,) = run_dirs(tmp_path)
    traces = sorted((run / "profiler").glob("*.pt.trace.json"))
    assert any("training_step" in t.name for t in traces), traces
    assert "traceEvents" in json.loads(traces[0].read_text())
    assert "fit-profile.txt" in {p.name for p in (run / "profiler").iterdir()}


def test_a_config_with_lightnings_save_last_still_gets_last_ckpt_after_every_epoch(tmp_path: Path) -> None:
    """Lightning's save_last alone would refresh last.ckpt only when the metric improves (never, at lr 0)."""
    single = overlay(
        tmp_path,
        "trainer:\n  callbacks:\n    - class_path: ModelCheckpoint\n"
        "      init_args: {monitor: val/accuracy, mode: max, save_last: true, filename: best}\n",
    )
    root = tmp_path / "result"
    short = ["--trainer.max_epochs=3", "--trainer.limit_train_batches=5", "--trainer.limit_val_batches=2"]
    cli(
        "fit",
        "--config",
        DIGITS,
        "--config",
        single,
        *QUIET,
        *short,
        "--model.optimizer.init_args.lr=0",
        root=root,
    )
    (run,) = run_dirs(root)
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["best.ckpt", "last.ckpt"]
    assert last(run)["global_step"] == 15
    assert torch.load(run / "checkpoints" / "best.ckpt", weights_only=True)["global_step"] == 5


# --- garbage collection -------------------------------------------------------------------------------------

FROZEN_DURING_TRAINING: list[int] = []


class CountsFrozenObjects(Callback):
    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        FROZEN_DURING_TRAINING.append(gc.get_freeze_count())


def test_full_collections_skip_start_up_objects_during_fit_only(run_root: Path, tmp_path: Path) -> None:
    # A full collection walks every object; with the start-up heap frozen it walks only what training made.
    counting = overlay(tmp_path, "trainer:\n  callbacks+:\n    - test_training_control.CountsFrozenObjects\n")
    FROZEN_DURING_TRAINING.clear()
    before = gc.get_freeze_count()
    cli("fit", "--config", DIGITS, "--config", counting, *QUIET, "--trainer.max_steps=3", root=run_root)
    assert len(FROZEN_DURING_TRAINING) == 3
    assert min(FROZEN_DURING_TRAINING) > 100_000  # Lightning, torch and jsonargparse objects
    assert gc.get_freeze_count() == before == 0  # handed back after fit
