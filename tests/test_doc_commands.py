"""Shipped-defaults tier: every command README.md and docs/ show, run as a user types it (see doc_commands).

Only the run root, the epoch count and batch limits change; bar, summary, both loggers and checkpoints stay
on. A command that cannot run here is listed in ``doc_commands.NOT_RUN_HERE`` with the test that covers it.
"""

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import torch
from conftest import ROOT, run_dirs
from doc_commands import NOT_RUN_HERE, Command, all_commands, makefile_recipe, split

pytestmark = pytest.mark.slow
TESTS = Path(__file__).resolve().parent
COMMANDS = all_commands()
RUNNABLE = [c for c in COMMANDS if c.not_run_because is None]
SHRINK = ["--trainer.limit_train_batches=4", "--trainer.limit_val_batches=2",
          "--trainer.limit_test_batches=2", "--trainer.limit_predict_batches=2"]  # fmt: skip
SERVERS = {"mlflow": "run_mlflow.sh", "tensorboard": "run_tensorboard.sh"}


def placeholders(text: str, run: Path | None, tmp: Path) -> str:
    """Fill in what the documents leave to the reader."""
    text = text.replace("path/to.ckpt", "RUN/checkpoints/last.ckpt")
    text = re.sub(r"result/\w+/\d{8}_\d{6}_\w+", "RUN", text)
    text = text.replace("configs/X.yaml", "configs/digits.yaml").replace(
        "--config ...", "--config configs/digits.yaml"
    )
    text = re.sub(r"=out\.csv\b", f"={tmp / 'out.csv'}", text)
    return re.sub(r"\bRUN\b", str(run), text) if run is not None else text


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What ``RUN`` stands for: a run of ``make train``'s own command, one epoch of a few batches."""
    root = tmp_path_factory.mktemp("trained") / "result"
    run_main(shlex.split(makefile_recipe("train"))[2:], root, epochs=1, env={})
    (run,) = run_dirs(root)
    return run


def copy_of(run: Path, tmp: Path) -> Path:
    """A copy of the trained run under this test's own root (commands may resume or extend it)."""
    target = tmp / "result" / run.parent.name / run.name
    shutil.copytree(run, target)
    return target


def subprocess_env(extra: dict[str, str]) -> dict[str, str]:
    path = os.pathsep.join([str(TESTS), str(ROOT), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1", **extra}


def run_main(args: list[str], root: Path, epochs: int, env: dict[str, str]) -> None:
    """``python main.py ARGS`` + the run root and the shrink; in process unless it starts several ranks."""
    devices = next((int(m.group(1)) for a in args if (m := re.match(r"--trainer\.devices=(\d+)$", a))), 1)
    extra = [f"--run.root={root}", f"--trainer.max_epochs={epochs}", *SHRINK]
    if args[0] not in ("fit", "validate", "test", "predict"):
        extra = []  # export and serve are not Trainer commands: nothing to shrink
    if devices > 1 or env:
        # Several processes (Lightning's ddp launcher re-runs main.py), or variables the process must start
        # with: a subprocess, on CPU, with at most 2 ranks on this 2-core machine.
        args = [re.sub(r"^--trainer\.devices=\d+$", f"--trainer.devices={min(devices, 2)}", a) for a in args]
        if devices > 1:
            extra.append("--trainer.accelerator=cpu")
        done = subprocess.run([sys.executable, str(ROOT / "main.py"), *args, *extra], cwd=ROOT, text=True,
                              capture_output=True, env=subprocess_env(env), timeout=600)  # fmt: skip
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
        return
    from project.cli import cli_main

    argv, sys.argv = sys.argv, ["main.py"]
    try:
        cli_main([*args, *extra])
    except SystemExit as exit_:  # --help and --print_config exit 0
        assert exit_.code in (0, None), f"exit {exit_.code}"
    finally:
        sys.argv = argv


def run_torchrun(words: list[str], root: Path, epochs: int) -> None:
    nproc, rest = min(int(words[1]), 2), words[2:]
    extra = [f"--run.root={root}", f"--trainer.max_epochs={epochs}", "--trainer.accelerator=cpu", *SHRINK]
    env = subprocess_env({"PYTHON": sys.executable})
    done = subprocess.run([str(ROOT / "scripts" / "torchrun.sh"), str(nproc), *rest, *extra], cwd=ROOT,
                          text=True, capture_output=True, env=env, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]


def serve(script: str, root: Path) -> None:
    """Start a server script on a free loopback port, wait until it answers HTTP, stop its process group."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PORT": str(port), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
           "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}  # fmt: skip
    log = root.parent / f"{script}.log"
    root.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        process = subprocess.Popen([str(ROOT / "scripts" / script), str(root)], env=env, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while True:
            assert process.poll() is None, log.read_text()[-2000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as answer:
                    assert answer.status == 200
                    return
            except OSError:
                assert time.monotonic() < deadline, "server did not answer in 180 s"
                time.sleep(0.5)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)


@pytest.mark.parametrize("command", RUNNABLE, ids=[f"{c.source} {c.text[:60]}" for c in RUNNABLE])
def test_documented_command_runs(command: Command, trained: Path, tmp_path: Path) -> None:
    uses_run = bool(re.search(r"\bRUN\b|path/to\.ckpt|result/\w+/\d{8}_", command.text))
    run = copy_of(trained, tmp_path) if uses_run else None
    root = tmp_path / "result"
    env, words = split(placeholders(command.text, run, tmp_path))
    if words[0] == "make" and words[1] in SERVERS:
        serve(SERVERS[words[1]], root)
        return
    if words[0] == "make":
        env_, words = split(makefile_recipe(words[1]))
        env = {**env, **env_}
    before = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] if run else 0
    # Resuming or restoring a checkpoint trains one epoch more than the trained run's one.
    epochs = 2 if uses_run else 1
    if words[0] == "./scripts/torchrun.sh":
        run_torchrun(words, root, epochs)
    elif words[:2] == ["python", "main.py"]:
        run_main(words[2:], root, epochs, env)
    elif words[0] == "python":
        done = subprocess.run([sys.executable, *words[1:]], cwd=ROOT, text=True, capture_output=True,
                              env=subprocess_env(env), timeout=600)  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        return
    else:
        pytest.fail(f"{command.source}: no way to run `{command.text}`; add it to doc_commands.NOT_RUN_HERE")
    if "fit" in words and not {"--help", "--print_config"} & set(words) and "debug.yaml" not in command.text:
        runs = run_dirs(root)
        assert runs, "fit made no run dir"
        trained_to = torch.load(runs[-1] / "checkpoints" / "last.ckpt", weights_only=True)["global_step"]
        if run is not None and "fit" in words and "--ckpt_path" not in words:
            assert runs == [run] and trained_to > before, "resuming continues the run in place"


def test_commands_not_run_here_say_which_test_covers_them() -> None:
    for pattern, why in NOT_RUN_HERE.items():
        for test_file in re.findall(r"tests/\w+\.py", why):
            assert (ROOT / test_file).is_file(), f"{pattern}: {test_file} does not exist"
    assert COMMANDS, "no commands found in README.md and docs/"
