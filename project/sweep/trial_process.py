"""One trial = one ``main.py fit`` process: the base config, then the trial's config file, then nothing else.

The trial's output goes to ``<study dir>/logs/trial_NNNN.log``. Its environment is the driver's, without
``MLFLOW_RUN_ID`` (it would send the trial's metrics to that run instead of a child of the study's parent run,
mlflow/mlflow#15713) and without the values one run shares with its own ranks (``PROJECT_SHARED_*``: the
driver's config check may have set them, and every trial must choose its own run dir and seed). It runs in its
own session, so a Ctrl+C in the terminal reaches the driver only, which stops each trial once (SIGTERM).
"""

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from project.run.ranks import ENV_PREFIX
from project.sweep.search_space import write_trial_config
from project.sweep.trial_link import TRIAL_ENV, TrialLink

MAIN_PY = Path(__file__).resolve().parents[2] / "main.py"


@dataclass
class TrialProcess:
    """A running trial: its number, its Optuna trial id, the process, and its files."""

    number: int
    trial_id: int
    params: dict[str, Any]
    process: subprocess.Popen
    started: float
    log: Path
    config: Path
    slot: int


def trial_environment(link: TrialLink, gpus: list[str] | None, workers: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_RUN_ID" and not k.startswith(ENV_PREFIX)}
    env[TRIAL_ENV] = link.to_env()
    if gpus is not None:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(gpus)
    elif workers > 1 and "OMP_NUM_THREADS" not in env:
        # CPU trials side by side: a share of the cores each, not every core each (threads would contend).
        env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // workers))
    return env


def gpu_slice(slot: int, workers: int) -> list[str] | None:
    """The GPUs of worker ``slot`` when there are several workers: an even share of the visible ones."""
    import torch

    if workers == 1 or not torch.cuda.is_available():
        return None
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    ids = (
        [i for i in visible.split(",") if i]
        if visible
        else [str(i) for i in range(torch.cuda.device_count())]
    )
    share = len(ids) // workers
    return ids[slot * share : (slot + 1) * share] if share else [ids[slot % len(ids)]]


def start_trial(
    number: int,
    trial_id: int,
    params: dict[str, Any],
    base_arguments: list[str],
    study_dir: Path,
    study_name: str,
    link: TrialLink,
    slot: int,
    workers: int,
) -> TrialProcess:
    """Write the trial's config file and start ``main.py fit`` on it."""
    name = f"trial_{number:04d}"
    config = write_trial_config(
        study_dir / "trials" / f"{name}.yaml",
        params,
        header=f"Trial {number} of study {study_name} (written by main.py tune), over the base config",
        run={"group": study_name, "name": f"trial-{number}"},
    )
    log = study_dir / "logs" / f"{name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, str(MAIN_PY), "fit", *base_arguments, "--config", str(config)]
    with log.open("w") as out:
        out.write(f"$ {' '.join(command)}\n")
        out.flush()
        process = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=trial_environment(link, gpu_slice(slot, workers), workers),
            start_new_session=True,
        )
    return TrialProcess(number, trial_id, params, process, time.time(), log, config, slot)


def last_lines(path: Path, count: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-count:])
    except OSError:
        return ""
