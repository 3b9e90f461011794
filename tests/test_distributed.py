"""Multi-process jobs on CPU (gloo): Lightning's ddp launcher, torchrun agents, and srun-started tasks.

Whatever starts the ranks, a job gets one run dir, one config.yaml, one MLflow run, and ranks that end
with the same weights.
"""

import json
import os
import socket
import sqlite3
import subprocess
import sys
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
    """Two tasks with the variables srun sets (Lightning's SLURMEnvironment reads them), then a requeue."""
    root = tmp_path / "result"
    port = str(free_port())

    def attempt(restart: int, epochs: int) -> None:
        tasks = []
        for rank in (0, 1):
            env = {
                **os.environ, **job_env(tmp_path), "SLURM_JOB_ID": "5151", "SLURM_STEP_ID": "0",
                "SLURM_NTASKS": "2", "SLURM_NTASKS_PER_NODE": "2", "SLURM_PROCID": str(rank),
                "SLURM_LOCALID": str(rank), "SLURM_NODEID": "0", "SLURM_JOB_NAME": "train",
                "SLURM_NODELIST": "127.0.0.1", "SLURM_RESTART_COUNT": str(restart),
                "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port,
            }  # fmt: skip
            args = ["--trainer.devices=2", "--trainer.strategy=ddp", f"--trainer.max_epochs={epochs}"]
            command = [sys.executable, "main.py", "fit", "--config", DIGITS, *SHORT, *args]
            command.append(f"--run.root={root}")
            tasks.append((command, env))
        run_together(tasks)

    attempt(restart=0, epochs=1)
    run = assert_one_job_of_two_ranks(tmp_path, root)
    first_id = json.loads((run / "run_info.json").read_text())["mlflow_run_id"]
    attempt(restart=1, epochs=2)  # the requeued job: same job id, same command (here one epoch longer)
    assert assert_one_job_of_two_ranks(tmp_path, root) == run
    info = json.loads((run / "run_info.json").read_text())
    assert info["mlflow_run_id"] == first_id and len(info["resumes"]) == 1
    assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 8
