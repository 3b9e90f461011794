"""The MLflow helper process of ``main.py`` (``project.loggers.mlflow_process``): the training process never
imports mlflow, the run is complete in MLflow, and the helper does not outlive a killed run."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
from conftest import CONFIGS, ROOT, run_dirs

DIGITS = str(CONFIGS / "digits.yaml")
WORKER = "project.loggers.mlflow_worker"


def without_shared_store() -> dict[str, str]:
    """The environment of a user's shell: the default store under the run root, not the suite's."""
    return {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}


def test_a_run_imports_mlflow_only_in_its_helper_and_mlflow_has_the_whole_run(tmp_path: Path) -> None:
    # What main.py does, then a look at this process's modules (main.py itself ends with os._exit).
    code = (
        "import sys\n"
        "from project.loggers.mlflow_process import prestart\n"
        "args = sys.argv[1:]\n"
        "prestart(args)\n"
        "from project.cli import cli_main\n"
        "cli_main(args)\n"
        "print('mlflow modules:', sorted(m for m in sys.modules if m.split('.')[0] == 'mlflow'))\n"
    )
    args = ["fit", "--config", DIGITS, "--trainer.max_epochs=2", "--trainer.limit_train_batches=5",
            "--trainer.limit_val_batches=2", "--trainer.limit_test_batches=2", "--trainer.accelerator=cpu",
            "--trainer.devices=1", f"--run.root={tmp_path}"]  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True, timeout=300,
        env=without_shared_store(),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "mlflow modules: []"
    (run,) = run_dirs(tmp_path)
    info = json.loads((run / "run_info.json").read_text())

    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    found = client.get_run(info["mlflow_run_id"])
    assert found.info.status == "FINISHED"
    assert found.data.params["trainer.max_epochs"] == "2"
    assert [m.step for m in client.get_metric_history(found.info.run_id, "val/loss")] == [4, 9]
    assert "test/accuracy" in found.data.metrics
    assert {a.path for a in client.list_artifacts(found.info.run_id)} >= {"config.yaml", "run_info.json"}


def test_the_helper_process_ends_with_a_killed_run(tmp_path: Path) -> None:
    hold_file = tmp_path / "held"
    env = {**without_shared_store(), "PYTHONPATH": str(ROOT / "tests"), "HOLD_AT_STEP": "3",
           "HOLD_FILE": str(hold_file), "HOLD_SECONDS": "600"}  # fmt: skip
    cmd = [sys.executable, str(ROOT / "main.py"), "fit", "--config", DIGITS, "--trainer.accelerator=cpu",
           "--trainer.devices=1", f"--run.root={tmp_path / 'result'}",
           "--trainer.callbacks+=hold_at_step.HoldAtStep"]  # fmt: skip
    log = tmp_path / "stderr.txt"
    with log.open("w") as stderr:
        process = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        deadline = time.monotonic() + 300
        while not hold_file.exists():  # held at step 3 until killed: it cannot finish first
            assert process.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "the run never reached step 3"
            time.sleep(0.1)
        (helper,) = [p for p in psutil.Process(process.pid).children() if WORKER in " ".join(p.cmdline())]
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(60)
    helper.wait(60)  # raises psutil.TimeoutExpired if the helper outlives the run
    assert not helper.is_running()
