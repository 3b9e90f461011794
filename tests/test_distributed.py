"""Multi-process jobs on CPU (gloo): Lightning's ddp launcher, torchrun agents, and srun-started tasks.

Whatever starts the ranks, a job gets one run dir, one config.yaml, one MLflow run, and ranks that end
with the same weights.
"""

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import CONFIGS, ROOT, main_py, run_dirs

TESTS = Path(__file__).resolve().parent
DIGITS = str(CONFIGS / "digits.yaml")
SHORT = [
    "--trainer.accelerator=cpu",
    "--trainer.max_epochs=1",
    "--trainer.limit_train_batches=4",
    "--trainer.limit_val_batches=2",
    "--run.test_after_fit=false",
    "--trainer.callbacks+=rank_weights.SaveRankWeights",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def job_env(tmp_path: Path) -> dict[str, str]:
    """A fresh MLflow store (so ranks racing to create it are caught), and the test callback importable."""
    return {
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
        "RANK_WEIGHTS_DIR": str(tmp_path / "weights"),
        "PYTHONPATH": os.pathsep.join([str(TESTS), str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "OMP_NUM_THREADS": "1",
    }


def run_together(commands: list[tuple[list[str], dict]]) -> None:
    """Start every ``(command, env)`` at once (they rendezvous with each other); each must exit 0."""
    processes = [
        subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for cmd, env in commands
    ]
    outputs = [process.communicate(timeout=300)[0] for process in processes]
    for process, output in zip(processes, outputs, strict=True):
        assert process.returncode == 0, output[-3000:]


def assert_one_job_of_two_ranks(tmp_path: Path, root: Path) -> Path:
    (run,) = run_dirs(root)
    assert len(list(root.glob("*/*/config.yaml"))) == 1
    info = json.loads((run / "run_info.json").read_text())
    assert info["status"] == "finished"
    assert info["world_size"] == 2
    with sqlite3.connect(tmp_path / "mlflow.db") as db:
        assert db.execute("select run_uuid from runs").fetchall() == [(info["mlflow_run_id"],)]
    rank0, rank1 = (torch.load(tmp_path / "weights" / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert rank0.keys() == rank1.keys()
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key
    return run


@pytest.mark.slow
def test_lightning_ddp_two_cpu_processes_make_one_run(tmp_path: Path) -> None:
    root = tmp_path / "result"
    args = ["--trainer.devices=2", "--trainer.strategy=ddp", f"--run.root={root}"]
    result = main_py("fit", "--config", DIGITS, *SHORT, *args, env=job_env(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    assert_one_job_of_two_ranks(tmp_path, root)


@pytest.mark.slow
def test_two_torchrun_agents_run_one_job_of_world_size_two(tmp_path: Path) -> None:
    root = tmp_path / "result"
    port = free_port()
    env = {**os.environ, **job_env(tmp_path), "PYTHON": sys.executable}
    agents = [
        [
            str(ROOT / "scripts" / "torchrun.sh"),
            "1",
            "--nnodes=2",
            f"--node_rank={node}",
            "--master_addr=127.0.0.1",
            f"--master_port={port}",
            "main.py",
            "fit",
            "--config",
            DIGITS,
            *SHORT,
            f"--run.root={root}",
        ]  # fmt: skip
        for node in (0, 1)
    ]
    run_together([(agent, env) for agent in agents])
    assert_one_job_of_two_ranks(tmp_path, root)


@pytest.mark.slow
def test_srun_job_trains_as_one_run_and_a_requeue_resumes_it(tmp_path: Path) -> None:
    """Two tasks with the variables srun sets (Lightning's SLURMEnvironment reads them), SLURM's requeue
    signal (SIGUSR1) then its SIGTERM, and the requeued job: one run dir, one MLflow run, FINISHED at the end.
    """
    from mlflow import MlflowClient
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    root = tmp_path / "result"
    port = str(free_port())
    # `scontrol requeue` as Lightning's SIGUSR1 handler calls it: here it only records the call.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "scontrol").write_text(f'#!/bin/sh\necho "$@" >> {tmp_path / "scontrol.log"}\n')
    (bin_dir / "scontrol").chmod(0o755)
    report = tmp_path / "requeue_signal"

    def start(restart: int, epochs: int, signal_at_step: str = "") -> list[subprocess.Popen]:
        tasks = []
        for rank in (0, 1):
            env = {
                **os.environ, **job_env(tmp_path), "SLURM_JOB_ID": "5151", "SLURM_STEP_ID": "0",
                "SLURM_NTASKS": "2", "SLURM_NTASKS_PER_NODE": "2", "SLURM_PROCID": str(rank),
                "SLURM_LOCALID": str(rank), "SLURM_NODEID": "0", "SLURM_JOB_NAME": "train",
                "SLURM_NODELIST": "127.0.0.1", "SLURM_RESTART_COUNT": str(restart),
                "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port,
                "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
                "REQUEUE_SIGNAL_AT_STEP": signal_at_step, "REQUEUE_SIGNAL_REPORT": str(report),
            }  # fmt: skip
            args = ["--trainer.devices=2", "--trainer.strategy=ddp", f"--trainer.max_epochs={epochs}"]
            command = [sys.executable, "main.py", "fit", "--config", DIGITS, *SHORT, *args]
            command += ["--trainer.callbacks+=requeue_signal.RaiseRequeueSignal", f"--run.root={root}"]
            tasks.append(
                subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            )
        return tasks

    # The first job: so many epochs that it is still training when SLURM stops it after the requeue.
    tasks = start(restart=0, epochs=100000, signal_at_step="2")
    deadline = time.monotonic() + 240
    while not (report / "rank0.json").is_file() or not (report / "rank1.json").is_file():
        assert all(t.poll() is None for t in tasks) and time.monotonic() < deadline, tasks[0].communicate()[0]
        time.sleep(0.05)
    (run,) = run_dirs(root)
    first_id = json.loads((run / "run_info.json").read_text())["mlflow_run_id"]
    client = MlflowClient(job_env(tmp_path)["MLFLOW_TRACKING_URI"])
    for rank in (0, 1):
        took = json.loads((report / f"rank{rank}.json").read_text())["handler_seconds"]
        assert took < 1, f"rank {rank}: the SIGUSR1 handler blocked training for {took:.1f} s"
    assert (tmp_path / "scontrol.log").read_text() == "requeue 5151\n"
    assert list(run.glob("hpc_ckpt_*.ckpt")), "Lightning's requeue checkpoint"
    assert client.get_run(first_id).info.status == "RUNNING", "still training: not FINISHED by the requeue"
    for task in tasks:  # what SLURM does to a requeued job's tasks
        task.send_signal(signal.SIGTERM)
    for task in tasks:
        output = task.communicate(timeout=120)[0].decode()
        assert task.returncode == 143, output[-3000:]
    assert client.get_run(first_id).info.status == "KILLED"

    # The requeued job: same job id, same command, here with an epoch count it reaches.
    stopped = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    epochs = stopped["loops"]["fit_loop"]["epoch_progress"]["current"]["completed"] + 2
    for task in start(restart=1, epochs=epochs):
        output = task.communicate(timeout=300)[0].decode()
        assert task.returncode == 0, output[-3000:]
    assert assert_one_job_of_two_ranks(tmp_path, root) == run
    info = json.loads((run / "run_info.json").read_text())
    assert info["mlflow_run_id"] == first_id and len(info["resumes"]) == 1
    assert client.get_run(first_id).info.status == "FINISHED"
    assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 4 * epochs
    one_per_epoch = [4 * e + 3 for e in range(epochs)]
    assert sorted(m.step for m in client.get_metric_history(first_id, "val/loss")) == one_per_epoch
    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"scalars": 0})
    events.Reload()
    assert [e.step for e in events.Scalars("val/loss")] == one_per_epoch, "TensorBoard: none repeated"
