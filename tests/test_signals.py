"""Signals and kills against a real ``python main.py fit`` process (slow: each process pays the imports)."""

import json
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch
from conftest import CONFIGS, FAST, ROOT, main_py, run_dirs

DIGITS = str(CONFIGS / "digits.yaml")
# 30 optimizer steps per epoch, 6 epochs: long enough to be interrupted in the middle of an epoch.
LONG = ["--trainer.max_epochs=6", "--trainer.limit_train_batches=30", "--trainer.limit_val_batches=2",
        "--trainer.logger=false", "--run.test_after_fit=false", *FAST]  # fmt: skip


def counts(checkpoint: Path) -> tuple[int, int]:
    state = torch.load(checkpoint, weights_only=True)
    return state["loops"]["fit_loop"]["epoch_progress"]["current"]["processed"], state["global_step"]


def wait_for_training(root: Path, process: subprocess.Popen, timeout: float = 120) -> Path:
    """The run dir, once training has started and written a first last.ckpt."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        runs = run_dirs(root)
        if runs and (runs[0] / "checkpoints" / "last.ckpt").is_file():
            return runs[0]
        time.sleep(0.05)
    raise AssertionError(f"training did not start: {process.communicate()[1][-2000:]}")


@pytest.mark.slow
def test_sigterm_saves_the_current_step_exits_143_and_the_same_command_resumes(tmp_path: Path) -> None:
    root = tmp_path / "result"
    command = [sys.executable, str(ROOT / "main.py"), "fit", "--config", DIGITS, *LONG, f"--run.root={root}"]
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    run = wait_for_training(root, process)
    time.sleep(0.7)  # into the second epoch, between checkpoints
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
    # 2-core machine stretches to several seconds (see the README's measured figures).
    assert saved_at - sent < 5, f"took {saved_at - sent:.1f} s to save"
    assert exited < 60, f"took {exited:.1f} s to exit"
    step = int(re.search(r"global step (\d+)", message).group(1))
    assert counts(run / "checkpoints" / "last.ckpt")[1] == step, "last.ckpt holds the step the run stopped at"
    assert json.loads((run / "run_info.json").read_text())["status"] == "interrupted"

    resumed = main_py("fit", "--config", str(run / "config.yaml"), *LONG, f"--run.root={root}")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "Resuming from" in resumed.stdout + resumed.stderr
    assert run_dirs(root) == [run]
    assert counts(run / "checkpoints" / "last.ckpt") == (6, 180), (
        "same epochs and steps as an uninterrupted run"
    )


@pytest.mark.slow
def test_kill_script_resumes_from_a_loadable_checkpoint_after_every_sigkill(tmp_path: Path) -> None:
    """The short form of ``python scripts/kill_test.py --kills 20`` (see the README for the full result)."""
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
