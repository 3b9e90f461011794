"""Signals and kills against a real ``python main.py fit`` process (slow: each process pays the imports)."""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch
from conftest import CONFIGS, ROOT, main_py, run_dirs

DIGITS = str(CONFIGS / "digits.yaml")
TESTS = Path(__file__).resolve().parent
# The shipped config with its defaults on (bar, summary, both loggers, checkpoints), shrunk to 30 optimizer
# steps per epoch and 6 epochs; the test callback holds the run at step 45 (mid-epoch 2) until the signal.
LONG = ["--trainer.max_epochs=6", "--trainer.limit_train_batches=30", "--trainer.limit_val_batches=2",
        "--trainer.limit_test_batches=2", "--trainer.accelerator=cpu", "--trainer.devices=1"]  # fmt: skip
HOLD_STEP = 45


def counts(checkpoint: Path) -> tuple[int, int]:
    state = torch.load(checkpoint, weights_only=True)
    return state["loops"]["fit_loop"]["epoch_progress"]["current"]["processed"], state["global_step"]


def wait_for_file(path: Path, process: subprocess.Popen, timeout: float = 300) -> None:
    """Wait for ``path`` to appear (an event of the run), failing early if the process ends first."""
    deadline = time.monotonic() + timeout
    while not path.is_file():
        if process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"{path.name} never appeared: {process.communicate()[1][-3000:]}")
        time.sleep(0.05)


def mlflow_status(run: Path) -> str:
    from mlflow import MlflowClient

    run_id = json.loads((run / "run_info.json").read_text())["mlflow_run_id"]
    return MlflowClient(os.environ["MLFLOW_TRACKING_URI"]).get_run(run_id).info.status


@pytest.mark.slow
def test_sigterm_saves_the_current_step_exits_143_and_the_same_command_resumes(tmp_path: Path) -> None:
    root, held = tmp_path / "result", tmp_path / "held"
    command = [sys.executable, str(ROOT / "main.py"), "fit", "--config", DIGITS, *LONG, f"--run.root={root}",
               "--trainer.callbacks+=hold_at_step.HoldAtStep"]  # fmt: skip
    env = {**os.environ, "HOLD_AT_STEP": str(HOLD_STEP), "HOLD_FILE": str(held),
           "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}  # fmt: skip
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    wait_for_file(held, process)  # the run is at step 45 and waits for the signal: it cannot finish first
    (run,) = run_dirs(root)
    lines: list[tuple[float, str]] = []
    reader = threading.Thread(
        target=lambda: lines.extend((time.monotonic(), line) for line in process.stderr)
    )
    reader.start()
    sent = time.monotonic()
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=120)
    exited = time.monotonic() - sent
    reader.join()
    assert process.returncode == 143, "".join(line for _, line in lines)[-2000:]
    saved_at, message = next((t, line) for t, line in lines if "Stopped by SIGTERM" in line)
    # The stop and the save are ours to make fast; the rest is the interpreter's teardown, which a loaded
    # 2-core machine stretches to several seconds.
    assert saved_at - sent < 5, f"took {saved_at - sent:.1f} s to save"
    assert exited < 60, f"took {exited:.1f} s to exit"
    step = int(re.search(r"global step (\d+)", message).group(1))
    assert step in (HOLD_STEP, HOLD_STEP + 1), message
    assert counts(run / "checkpoints" / "last.ckpt")[1] == step, "last.ckpt holds the step the run stopped at"
    assert json.loads((run / "run_info.json").read_text())["status"] == "interrupted"
    assert mlflow_status(run) == "KILLED"

    # The same command (without the test's hold) resumes the run in place and trains to the end.
    resumed = main_py("fit", "--config", str(run / "config.yaml"), *LONG, f"--run.root={root}",
                      env={"PYTHONPATH": env["PYTHONPATH"]})  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "Resuming from" in resumed.stdout + resumed.stderr
    assert run_dirs(root) == [run]
    assert counts(run / "checkpoints" / "last.ckpt") == (6, 180), (
        "same epochs and steps as an uninterrupted run"
    )
    assert mlflow_status(run) == "FINISHED"


@pytest.mark.slow
def test_kill_script_resumes_from_a_loadable_checkpoint_after_every_sigkill(tmp_path: Path) -> None:
    """The short form of ``python scripts/kill_test.py --kills 20`` (docs/training.md says what it checks)."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "kill_test.py"), "--kills", "3", "--epochs", "3", "--json",
         "--workdir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["kills"] == 3
    assert summary["unloadable"] == []
    assert summary["final"] == summary["expected"]
    assert result.returncode == 0, result.stderr[-2000:]
