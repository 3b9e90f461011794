"""Bad input gets a clear answer: exit status 2, one message naming the key, file or value, no traceback,
no run dir left behind; checkpoints load with weights_only semantics and a pickle bomb runs nothing."""

import random
import string
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import CONFIGS, cli, main_py, run_dirs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

DIGITS = str(CONFIGS / "digits.yaml")
QUIET = ["--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false"]


def run_bad(*args: str, root: Path, capsys: pytest.CaptureFixture) -> tuple[int, str]:
    """``python main.py ARGS`` in this process; returns the exit status and stderr."""
    from project.cli import cli_main

    argv, sys.argv = sys.argv, ["main.py"]
    try:
        cli_main([*args, f"--run.root={root}", *QUIET])
        code = 0
    except SystemExit as exit:
        code = exit.code
    finally:
        sys.argv = argv
    return code, capsys.readouterr().err


def nothing_under(root: Path) -> bool:
    return not root.exists() or not any(root.rglob("*"))


# --- files the bad commands point at -------------------------------------------------------------------


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("bad_input")
    digits = Path(DIGITS).read_text()
    made = {
        "typo.yaml": digits.replace("max_epochs:", "max_epoch:"),
        "init_arg_typo.yaml": digits.replace("      lr: 0.002", "      lrr: 0.002"),
        "broken.yaml": "trainer:\n  max_epochs: [1\n  devices: 2\n",
        "list.yaml": "- trainer\n- model\n",
        "checkpoint_monitor.yaml": "trainer:\n  callbacks:\n    - class_path: ModelCheckpoint\n"
        "      init_args: {monitor: val/acc, mode: max}\n",
        "plateau.yaml": "model:\n  scheduler:\n    class_path: lightning.pytorch.cli.ReduceLROnPlateau\n"
        "    init_args: {monitor: val/los, mode: min}\n",
        "not_a_checkpoint.ckpt": "hello, I am text\n",
    }
    for name, text in made.items():
        (tmp / name).write_text(text)
    (tmp / "no_classes").mkdir()
    (tmp / "no_images" / "cat").mkdir(parents=True)
    (tmp / "no_images" / "cat" / "notes.txt").write_text("not an image")
    (tmp / "bad_image" / "cat").mkdir(parents=True)
    (tmp / "bad_image" / "cat" / "broken.png").write_text("<html>404</html>")
    return {
        **{name: tmp / name for name in made},
        **{d: tmp / d for d in ("no_classes", "no_images", "bad_image")},
    }


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real, finished run (one short epoch) whose checkpoints the checkpoint cases start from."""
    root = tmp_path_factory.mktemp("trained") / "result"
    short = ["--trainer.max_epochs=1", "--trainer.limit_train_batches=2", "--trainer.limit_val_batches=1"]
    # With the default loggers: the first MLflow client start (seconds) is paid here, not in a timed case.
    cli("fit", "--config", DIGITS, *short, "--run.test_after_fit=false", root=root)
    (run,) = run_dirs(root)
    return run


@pytest.fixture(scope="module")
def checkpoints(trained_run: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("checkpoints")
    last = trained_run / "checkpoints" / "last.ckpt"
    data = last.read_bytes()
    (tmp / "truncated.ckpt").write_bytes(data[: len(data) // 2])
    state = torch.load(last, weights_only=True)
    state.pop("hyper_parameters")  # a checkpoint of another net, without hparams to rebuild that net from
    torch.save(state, tmp / "simplecnn_weights.ckpt")
    torch.save({"state_dict": {}, "payload": PickleBomb(tmp / "PWNED")}, tmp / "bomb.ckpt")
    return {
        "last": last,
        "truncated": tmp / "truncated.ckpt",
        "foreign": tmp / "simplecnn_weights.ckpt",
        "bomb": tmp / "bomb.ckpt",
        "marker": tmp / "PWNED",
    }


class PickleBomb:
    """Unpickling this object runs ``touch MARKER``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        import os

        return os.system, (f"touch {self.marker}",)


# --- the table: (id, command after `fit|validate ...`, strings the message must contain) ----------------

F = "{files}"  # replaced by the fixture folder
C = "{ckpts}"
CASES = [
    ("abbreviated-key", ["--trainer.max_epoch=3"], ["--trainer.max_epoch", "--trainer.max_epochs"]),
    ("misspelt-key", ["--trainer.max_epochz=3"], ["--trainer.max_epochz", "--trainer.max_epochs"]),
    ("yaml-typo", ["--config", f"{F}/typo.yaml"], ["trainer.max_epoch:", "trainer.max_epochs"]),
    ("yaml-init-arg-typo", ["--config", f"{F}/init_arg_typo.yaml"], ["model.optimizer.init_args.lrr", "did you mean lr"]),
    ("init-arg-typo", ["--data.init_args.batch_sizes=3"], ["data.init_args.batch_sizes", "did you mean batch_size"]),
    ("wrong-type", ["--trainer.max_epochs=ten"], ["trainer.max_epochs", "'ten'", "int"]),
    ("wrong-type-nested", ["--model.optimizer.init_args.lr=fast"], ["model.optimizer.init_args.lr", "float"]),
    ("wrong-choice", ["--model.scheduler_interval=epochs"], ["model.scheduler_interval", "'epoch', 'step'"]),
    ("negative-lr", ["--model.optimizer.init_args.lr=-1"], ["model.optimizer.init_args.lr", "-1"]),
    ("batch-size-0", ["--data.init_args.batch_size=0"], ["data.batch_size", "0"]),
    (
        "accumulate-0",
        ["--trainer.accumulate_grad_batches=0"],
        ["trainer.accumulate_grad_batches", "1 or more"],
    ),
    ("unknown-optimizer", ["--model.optimizer=AdamWW"], ["model.optimizer", "'AdamWW'", "did you mean AdamW", "Lion"]),
    ("unknown-schedule", ["--model.scheduler=CosineLR"], ["model.scheduler", "CosineAnnealingLR"]),
    ("unknown-net", ["--model.net=ResNett"], ["model.net", "'ResNett'", "did you mean ResNet", "SimpleCNN"]),
    ("unknown-data", ["--data=Digitz"], ["data:", "'Digitz'", "did you mean Digits"]),
    ("unknown-evaluator", ["--model.evaluator=Classifier"], ["model.evaluator", "ClassificationEvaluator"]),
    (
        "unknown-metric",
        ["--model.evaluator.init_args.metrics=[acc]"],
        ["model.evaluator.metrics", "accuracy"],
    ),
    (
        "checkpoint-monitor",
        ["--config", f"{F}/checkpoint_monitor.yaml"],
        ["ModelCheckpoint", "'val/acc'", "val/accuracy"],
    ),
    (
        "early-stopping-monitor",
        ["--trainer.callbacks+=EarlyStopping", "--trainer.callbacks.monitor=val/los"],
        ["EarlyStopping", "'val/los'", "val/loss"],
    ),
    (
        "plateau-monitor",
        ["--config", f"{F}/plateau.yaml"],
        ["model.scheduler.init_args.monitor", "'val/los'"],
    ),
    ("unknown-strategy", ["--trainer.strategy=dpp"], ["trainer.strategy", "'dpp'", "did you mean ddp"]),
    (
        "fsdp-on-cpu",
        ["--trainer.accelerator=cpu", "--trainer.strategy=fsdp"],
        ["trainer.strategy", "fsdp", "GPU"],
    ),
    ("unknown-precision", ["--trainer.precision=17"], ["trainer.precision", "'17'", "bf16-mixed"]),
    ("devices-garbage", ["--trainer.devices=two"], ["trainer.devices", "'two'"]),
    (
        "data-path-missing",
        ["--data=ImageFolder", "--data.init_args.root=/no/such/folder"],
        ["data.root", "/no/such/folder"],
    ),
    (
        "no-class-folders",
        ["--data=ImageFolder", f"--data.init_args.root={F}/no_classes"],
        ["data.root", "no class sub-folders"],
    ),
    ("no-images", ["--data=ImageFolder", f"--data.init_args.root={F}/no_images"], ["data.root", "no images"]),
    (
        "unreadable-image",
        ["--data=ImageFolder", f"--data.init_args.root={F}/bad_image"],
        ["data.root", "broken.png"],
    ),
    (
        "net-classes",
        ["--model.net.init_args.num_classes=5"],
        ["model.net.init_args.num_classes", "5", "10 classes"],
    ),
    (
        "evaluator-classes",
        ["--model.evaluator.init_args.num_classes=3"],
        ["model.evaluator.init_args.num_classes", "3"],
    ),
    ("config-missing", ["--config", f"{F}/nope.yaml"], ["--config", "nope.yaml", "does not exist"]),
    ("config-invalid-yaml", ["--config", f"{F}/broken.yaml"], ["broken.yaml", "line 3, column 10"]),
    ("config-not-mapping", ["--config", f"{F}/list.yaml"], ["list.yaml", "mapping"]),
    ("ckpt-missing", ["--ckpt_path", f"{C}/nope.ckpt"], ["ckpt_path", "nope.ckpt", "does not exist"]),
    ("ckpt-truncated", ["--ckpt_path", f"{C}/truncated.ckpt"], ["ckpt_path", "truncated.ckpt", "truncated"]),
    (
        "ckpt-not-a-checkpoint",
        ["--ckpt_path", f"{F}/not_a_checkpoint.ckpt"],
        ["ckpt_path", "not_a_checkpoint.ckpt"],
    ),
    (
        "ckpt-other-net",
        ["--model.net=MLP", "--ckpt_path", f"{C}/simplecnn_weights.ckpt"],
        ["ckpt_path", "simplecnn_weights.ckpt", "another net", "missing", "unexpected"],
    ),
    (
        "ckpt-best-without-run",
        ["validate", "--ckpt_path", "best"],
        ["ckpt_path", "'best'", "RUN/config.yaml"],
    ),
    (
        "ckpt-pickle-bomb",
        ["--ckpt_path", f"{C}/bomb.ckpt"],
        ["ckpt_path", "bomb.ckpt", "refused", "--weights_only=false"],
    ),
]


@pytest.mark.parametrize(("args", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_command_exits_2_naming_the_problem(
    args: list[str],
    expected: list[str],
    files: dict,
    checkpoints: dict,
    run_root: Path,
    capsys: pytest.CaptureFixture,
) -> None:
    folder, ckpts = str(files["typo.yaml"].parent), str(checkpoints["truncated"].parent)
    args = [a.replace(F, folder).replace(C, ckpts) for a in args]
    subcommand = args.pop(0) if args[0] in ("validate", "test", "predict") else "fit"
    start = time.monotonic()
    code, err = run_bad(subcommand, "--config", DIGITS, *args, root=run_root, capsys=capsys)
    assert code == 2, err[-2000:]
    assert time.monotonic() - start < 20
    for text in expected:
        assert text in err, f"{text!r} missing from: {err}"
    assert "Traceback" not in err
    assert nothing_under(run_root), list(run_root.rglob("*"))
    assert not checkpoints["marker"].exists(), "the pickle bomb went off"
