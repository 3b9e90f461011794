"""Bad input gets a clear answer: exit status 2, one message naming the key, file or value, no traceback,
no run dir left behind; checkpoints load with weights_only semantics and a pickle bomb runs nothing."""

import random
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import CONFIGS, cli, main_py, run_dirs
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

DIGITS = str(CONFIGS / "digits.yaml")


def run_bad(*args: str, root: Path, capsys: pytest.CaptureFixture) -> tuple[int, str]:
    """``python main.py ARGS`` in this process; returns the exit status and stderr."""
    from project.cli import cli_main

    argv, sys.argv = sys.argv, ["main.py"]
    try:
        cli_main([*args, f"--run.root={root}"])
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
    (
        "yaml-init-arg-typo",
        ["--config", f"{F}/init_arg_typo.yaml"],
        ["model.optimizer.init_args.lrr", "did you mean lr"],
    ),
    (
        "init-arg-typo",
        ["--data.init_args.batch_sizes=3"],
        ["data.init_args.batch_sizes", "did you mean batch_size"],
    ),
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
    (
        "unknown-optimizer",
        ["--model.optimizer=AdamWW"],
        ["model.optimizer", "'AdamWW'", "did you mean AdamW", "Lion"],
    ),
    ("unknown-schedule", ["--model.scheduler=CosineLR"], ["model.scheduler", "CosineAnnealingLR"]),
    ("unknown-net", ["--model.net=ResNett"], ["model.net", "'ResNett'", "did you mean ResNet", "SimpleCNN"]),
    ("unknown-data", ["--data=Digitz"], ["data:", "'Digitz'", "did you mean Digits"]),
    ("unknown-evaluator", ["--model.evaluator=Classifier"], ["model.evaluator", "ClassificationEvaluator"]),
    (
        "unknown-callback",
        ["--trainer.callbacks+=EarlyStoping"],
        ["trainer.callbacks", "did you mean EarlyStopping"],
    ),
    ("unknown-logger", ["--trainer.logger=MLFlowLoger"], ["trainer.logger", "did you mean MLFlowLogger"]),
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
    # A class's own argument error, named from where the config mounts it, also inside a LinearWarmup.
    (
        "warmup-nested-schedule",
        [
            "--model.scheduler=LinearWarmup",
            "--model.scheduler.warmup=2",
            "--model.scheduler.scheduler=CosineAnnealingWarmupReduceRestarts",
            "--model.scheduler.scheduler.T_0=0",
        ],
        ["model.scheduler.init_args.scheduler.init_args.T_0: 0", "integer >= 1"],
    ),
    (
        "warmup-argument",
        ["--model.scheduler=LinearWarmup", "--model.scheduler.warmup=-1"],
        ["model.scheduler.init_args.warmup: -1"],
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
    # The net does not fit the data: a dry forward of one real batch names model.net, not the sanity check.
    (
        "net-in-channels",
        ["--model.net=ResNet", "--model.net.depth=18", "--model.net.num_classes=10"],
        ["model.net", "ResNet", "[32, 1, 8, 8]", "in_channels 3", "model.net.init_args.in_channels: 1"],
    ),
    (
        "net-input-size",
        ["--model.net=MLP", "--model.net.in_features=100"],
        ["model.net", "in_features 100", "64 values", "model.net.init_args.in_features: 64"],
    ),
    ("net-outputs", ["--model.net=torch.nn.Flatten"], ["model.net", "64 outputs", "10 classes"]),
    # A second stateful callback with the state key of another: Lightning's RuntimeError names neither.
    (
        "duplicate-checkpoint",
        [
            "--trainer.callbacks+=ModelCheckpoint",
            "--trainer.callbacks.monitor=val/accuracy",
            "--trainer.callbacks.mode=max",
            "--trainer.callbacks.save_top_k=2",
        ],
        ["trainer.callbacks[0]", "the checkpoint group", "ModelCheckpoint", "--checkpoint.save_top_k"],
    ),
    (
        "duplicate-early-stopping",
        ["--trainer.callbacks+=EarlyStopping", "--trainer.callbacks.monitor=val/loss"] * 2,
        ["trainer.callbacks[1]", "trainer.callbacks[0]", "EarlyStopping", "'val/loss'"],
    ),
    # Learning rates are set by the schedule: no measure of the model to monitor.
    (
        "early-stopping-on-lr",
        ["--trainer.callbacks+=EarlyStopping", "--trainer.callbacks.monitor=lr-AdamW"],
        ["EarlyStopping", "'lr-AdamW'", "learning rate", "val/loss"],
    ),
    (
        "checkpoint-on-group-lr",
        ["--trainer.callbacks+=ModelCheckpoint", "--trainer.callbacks.monitor=lr-AdamW/decay"],
        ["ModelCheckpoint", "'lr-AdamW/decay'", "learning rate"],
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


def test_more_gpus_than_the_machine_has(monkeypatch: pytest.MonkeyPatch, run_root: Path, capsys) -> None:
    # A machine with 2 GPUs, as far as the checks can tell; they fail before anything touches CUDA.
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    # Lightning's own check in `Trainer()`, in its words behind the key: "You requested gpu: [0, 5] But your
    # machine only has: [0, 1]".
    for devices, named in (
        ("4", "But your machine only has: [0, 1]"),
        ("[0,5]", "You requested gpu: [0, 5]"),
    ):
        code, err = run_bad(
            "fit",
            "--config",
            DIGITS,
            "--trainer.accelerator=gpu",
            f"--trainer.devices={devices}",
            root=run_root,
            capsys=capsys,
        )
        assert code == 2 and "trainer.devices" in err and named in err, err
        assert "Traceback" not in err
    assert nothing_under(run_root)


def test_16_mixed_on_cpu_stays_a_warning(run_root: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.warns(UserWarning, match="Using `precision='bf16-mixed'` instead"):
        code, err = run_bad(
            "fit",
            "--config",
            DIGITS,
            "--trainer.accelerator=cpu",
            "--trainer.precision=16-mixed",
            "--trainer.fast_dev_run=true",
            "--trainer.logger=false",
            "--run.test_after_fit=false",
            root=run_root,
            capsys=capsys,
        )
    assert code == 0, err[-2000:]


def test_debug_errors_shows_the_traceback(run_root: Path, capsys: pytest.CaptureFixture, monkeypatch) -> None:
    monkeypatch.setenv("PROJECT_DEBUG_ERRORS", "0")  # the flag sets it to 1; monkeypatch restores it after
    code, err = run_bad(
        "fit", "--config", DIGITS, "--trainer.max_epochz=3", "--debug-errors", root=run_root, capsys=capsys
    )
    assert code == 2 and "Traceback" in err and "--trainer.max_epochz" in err
    monkeypatch.setenv("PROJECT_DEBUG_ERRORS", "0")
    code, err = run_bad(
        "fit", "--config", DIGITS, "--model.optimizer.init_args.lr=-1", root=run_root, capsys=capsys
    )
    assert code == 2 and "Traceback" not in err
    monkeypatch.setenv("PROJECT_DEBUG_ERRORS", "1")
    code, err = run_bad(
        "fit", "--config", DIGITS, "--model.optimizer.init_args.lr=-1", root=run_root, capsys=capsys
    )
    assert code == 2 and "Traceback" in err and "model.optimizer.init_args.lr" in err
    assert nothing_under(run_root)


# --- checkpoints --------------------------------------------------------------------------------------


def test_truncated_checkpoint_gives_the_clear_error_and_the_original_still_loads(
    trained_run: Path, tmp_path: Path, run_root: Path, capsys: pytest.CaptureFixture
) -> None:
    last = trained_run / "checkpoints" / "last.ckpt"
    data = last.read_bytes()
    offsets = sorted(random.Random(7).sample(range(len(data)), 10))
    config = str(trained_run / "config.yaml")
    for offset in offsets:
        cut = tmp_path / f"cut_{offset}.ckpt"
        cut.write_bytes(data[:offset])
        code, err = run_bad(
            "validate", "--config", config, "--ckpt_path", str(cut), root=run_root, capsys=capsys
        )
        assert code == 2, err[-2000:]
        assert str(cut) in err and ("truncated" in err or "not a readable" in err), err
        assert "Traceback" not in err
    assert last.read_bytes() == data
    code, err = run_bad(
        "validate",
        "--config",
        config,
        "--ckpt_path",
        str(last),
        "--trainer.limit_val_batches=1",
        root=run_root,
        capsys=capsys,
    )
    assert code == 0, err[-2000:]


def test_checkpoint_needing_code_loads_only_when_trusted(
    trained_run: Path, tmp_path: Path, run_root: Path, capsys: pytest.CaptureFixture
) -> None:
    import pathlib

    state = torch.load(trained_run / "checkpoints" / "last.ckpt", weights_only=True)
    state["note"] = pathlib.PurePosixPath("made/by/a/custom/callback")  # not allowed by weights_only
    ckpt = tmp_path / "custom.ckpt"
    torch.save(state, ckpt)
    config = str(trained_run / "config.yaml")
    args = ("validate", "--config", config, "--ckpt_path", str(ckpt), "--trainer.limit_val_batches=1")
    code, err = run_bad(*args, root=run_root, capsys=capsys)
    assert code == 2 and "refused" in err and "pathlib.PurePosixPath" in err and "--weights_only=false" in err
    code, err = run_bad(*args, "--weights_only=false", root=run_root, capsys=capsys)
    assert code == 0, err[-2000:]


# --- end to end: real processes -----------------------------------------------------------------------


@pytest.mark.slow
def test_exit_statuses_end_to_end(checkpoints: dict, tmp_path: Path) -> None:
    root = tmp_path / "result"
    typo = main_py("fit", "--config", DIGITS, "--trainer.max_epoch=3", f"--run.root={root}", timeout=60)
    assert typo.returncode == 2 and "--trainer.max_epochs" in typo.stderr
    assert "Traceback" not in typo.stderr
    bomb = main_py(
        "validate",
        "--config",
        DIGITS,
        "--ckpt_path",
        str(checkpoints["bomb"]),
        f"--run.root={root}",
        timeout=60,
    )
    assert bomb.returncode == 2 and "refused" in bomb.stderr and "Traceback" not in bomb.stderr
    assert not checkpoints["marker"].exists(), "the pickle bomb went off"
    assert nothing_under(root)
    # A bug (here a net whose outputs the loss cannot take) keeps its traceback and exit status 1.
    bug = main_py(
        "fit",
        "--config",
        DIGITS,
        "--model.net=torch.nn.Identity",
        "--trainer.max_epochs=1",
        f"--run.root={root}",
        timeout=120,
    )
    assert bug.returncode == 1 and "Traceback" in bug.stderr, bug.stderr[-2000:]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["--model.net=ResNet", "--model.net.depth=18", "--model.net.num_classes=10"],
            ["model.net", "[32, 1, 8, 8]", "in_channels 3"],
        ),
        (
            [
                "--trainer.callbacks+=ModelCheckpoint",
                "--trainer.callbacks.monitor=val/accuracy",
                "--trainer.callbacks.mode=max",
                "--trainer.callbacks.save_top_k=2",
            ],
            ["trainer.callbacks[0]", "the checkpoint group", "save_top_k"],
        ),
    ],
    ids=["net-in-channels", "duplicate-checkpoint"],
)
def test_issue_12_mistakes_end_to_end(args: list[str], expected: list[str], tmp_path: Path) -> None:
    """Issue 12's two commands as a user types them, every default on (bar, summary, loggers); the table
    above covers the same checks in-process (the lr-* monitor too, which fails before any of them)."""
    root = tmp_path / "result"
    done = main_py("fit", "--config", DIGITS, *args, f"--run.root={root}", timeout=120)
    assert done.returncode == 2, done.stderr[-2000:]
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and all(text in errors[0] for text in expected), done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert nothing_under(root), list(root.rglob("*"))


# --- fuzz: wrong-typed values for 20 keys ----------------------------------------------------------------

WORDS = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_", min_size=1, max_size=8
).filter(
    # Words YAML or jsonargparse read as null, booleans or numbers are not wrong for every type.
    lambda w: (
        w.lower()
        not in {
            "null",
            "none",
            "true",
            "false",
            "yes",
            "no",
            "on",
            "off",
            "y",
            "n",
            "inf",
            "nan",
            "infinity",
            "e",
            "auto",
        }
    )
)
NOT_A_NUMBER = st.one_of(WORDS, st.just("[1, 2]"), st.just("{a: 1}"))
NOT_AN_INT = st.one_of(NOT_A_NUMBER, st.sampled_from(["1.5", "0.25", "-2.75"]))
NOT_A_BOOL = st.one_of(WORDS, st.sampled_from(["2", "-1", "0.5", "[true]"]))
NOT_A_CHOICE = WORDS
NOT_A_LIST = st.one_of(WORDS, st.just("{a: 1}"), st.just("[a, b]"))
KEYS = {
    "trainer.max_epochs": NOT_AN_INT,
    "trainer.accumulate_grad_batches": NOT_AN_INT,
    "trainer.check_val_every_n_epoch": NOT_AN_INT,
    "trainer.log_every_n_steps": NOT_AN_INT,
    "trainer.num_nodes": NOT_AN_INT,
    "trainer.gradient_clip_val": NOT_A_NUMBER,
    "trainer.enable_checkpointing": NOT_A_BOOL,
    "trainer.precision": NOT_A_CHOICE,
    "model.optimizer.init_args.lr": NOT_A_NUMBER,
    "model.optimizer.init_args.weight_decay": NOT_A_NUMBER,
    "model.net.init_args.num_classes": NOT_AN_INT,
    "model.net.init_args.dropout": NOT_A_NUMBER,
    "model.net.init_args.channels": NOT_A_LIST,
    "model.compile": NOT_A_BOOL,
    "model.scheduler_interval": NOT_A_CHOICE,
    "model.evaluator.init_args.average": NOT_A_CHOICE,
    "data.init_args.batch_size": NOT_AN_INT,
    "data.init_args.val_fraction": NOT_A_NUMBER,
    "run.test_after_fit": NOT_A_BOOL,
    "seed_everything": NOT_A_NUMBER,
}


@settings(
    max_examples=20,
    phases=[
        Phase.explicit,
        Phase.generate,
    ],  # no shrinking: a failure is shown as drawn (each try costs ~1 s)
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_wrong_typed_values_never_traceback_never_pass(data: st.DataObject, run_root: Path, capsys) -> None:
    key = data.draw(st.sampled_from(sorted(KEYS)))
    value = data.draw(KEYS[key])
    # Parsing only (--print_config exits 0 after a successful parse): a wrong value must stop the parse.
    code, err = run_bad(
        "fit", "--config", DIGITS, f"--{key}={value}", "--print_config", root=run_root, capsys=capsys
    )
    assert code == 2, f"--{key}={value!r} was accepted: {err[-500:]}"
    assert "Traceback" not in err
    assert key.rpartition(".")[2] in err, err


# --- the servers the scripts start listen on 127.0.0.1 unless told otherwise -----------------------------


@pytest.mark.parametrize("script", ["run_mlflow.sh", "run_tensorboard.sh"])
def test_server_scripts_bind_localhost(script: str, tmp_path: Path) -> None:
    import os
    import subprocess

    path = CONFIGS.parent / "scripts" / script
    if not path.is_file():
        pytest.skip(f"scripts/{script} is not on this branch")
    fake = tmp_path / "bin"
    fake.mkdir()
    for tool in ("mlflow", "tensorboard"):  # stand-ins that print the arguments they were started with
        (fake / tool).write_text('#!/bin/sh\necho "$@"\n')
        (fake / tool).chmod(0o755)
    env = {**os.environ, "PATH": f"{fake}:{os.environ['PATH']}"}
    env.pop("HOST", None)
    default = subprocess.run([str(path), str(tmp_path / "result")], env=env, capture_output=True, text=True)
    assert "--host 127.0.0.1" in default.stdout, default.stdout + default.stderr
    chosen = subprocess.run(
        [str(path), str(tmp_path / "result")], env={**env, "HOST": "0.0.0.0"}, capture_output=True, text=True
    )
    assert "--host 0.0.0.0" in chosen.stdout


def test_remote_checkpoint_loads_with_weights_only() -> None:
    from jsonargparse import Namespace

    from project.cli.checks_before import check_ckpt_path

    cfg = Namespace(ckpt_path="https://example.org/model.ckpt", weights_only=None)
    check_ckpt_path("fit", cfg, has_run_dir=False)
    assert cfg.weights_only is True  # Lightning would pass weights_only=False for a URL
    trusted = Namespace(ckpt_path="https://example.org/model.ckpt", weights_only=False)
    check_ckpt_path("fit", trusted, has_run_dir=False)
    assert trusted.weights_only is False


def test_resume_from_a_truncated_last_ckpt_changes_nothing(
    trained_run: Path, tmp_path: Path, run_root: Path, capsys: pytest.CaptureFixture
) -> None:
    import shutil

    run = tmp_path / "digits" / trained_run.name
    shutil.copytree(trained_run, run)
    last = run / "checkpoints" / "last.ckpt"
    last.write_bytes(last.read_bytes()[:1000])
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    code, err = run_bad("fit", "--config", str(run / "config.yaml"), root=run_root, capsys=capsys)
    assert code == 2 and str(last) in err and "truncated" in err, err[-2000:]
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before
    assert nothing_under(run_root)
