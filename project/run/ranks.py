"""How the processes of one job agree on values that rank 0 decides (the run directory, the seed).

Four launchers start ranks differently:
- one process (``python main.py fit``): rank 0 decides, nothing to share;
- Lightning's ``ddp`` launcher re-runs the command line in children with ``LOCAL_RANK`` set: rank 0 exports
  the value as an environment variable before ``fit`` starts them, and the children read it;
- torchrun (``scripts/torchrun.sh``, one or many nodes): every rank starts at once, so rank 0 publishes the
  value in the rendezvous store that torchrun's agent already runs, and the other ranks wait for it;
- SLURM (``srun`` in ``scripts/slurm.sbatch``): every task starts at once and there is no store before the
  process group exists, so rank 0 writes the value to ``<run.root>/.launch/slurm-<job>-<step>/`` (the run root
  must be on a filesystem all nodes share, as the run dir must) and the other tasks wait for the file.

Values outlive restarts: a requeued SLURM job (same job id) or a restarted torchrun worker group gets the
value of its first attempt, so it continues in the same run dir with the same seed.
"""

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

ENV_PREFIX = "PROJECT_SHARED_"
# How long ranks wait for rank 0 (it may be importing, or creating a fresh MLflow store).
WAIT_SECONDS = 600


def under_torchrun() -> bool:
    """True when torchrun's elastic agent started this process as one of several."""
    return "TORCHELASTIC_RUN_ID" in os.environ and int(os.environ.get("WORLD_SIZE", "1")) > 1


def is_lightning_child() -> bool:
    """True in the processes Lightning's ``ddp`` launcher starts for local ranks 1..N-1."""
    return not under_torchrun() and os.environ.get("LOCAL_RANK", "0") != "0"


def under_srun() -> bool:
    """True in one of several tasks that ``srun`` started (what Lightning's SLURMEnvironment detects)."""
    return (
        not under_torchrun()
        and "SLURM_PROCID" in os.environ
        and int(os.environ.get("SLURM_NTASKS", "1")) > 1
        and os.environ.get("SLURM_JOB_NAME") not in ("bash", "interactive")
    )


def global_rank() -> int:
    for key in ("RANK", "SLURM_PROCID", "LOCAL_RANK"):
        if key in os.environ:
            return int(os.environ[key])
    return 0


def _torchrun_store():
    from torch.distributed import TCPStore

    if os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "False":
        # The store at MASTER_PORT would be rank 0's own, created only when the process group starts.
        raise RuntimeError(
            "torchrun must share its rendezvous store: unset TORCH_DISABLE_SHARE_RDZV_TCP_STORE"
        )

    return TCPStore(
        host_name=os.environ["MASTER_ADDR"],
        port=int(os.environ["MASTER_PORT"]),
        is_master=False,
        timeout=timedelta(seconds=WAIT_SECONDS),
    )


def _slurm_folder(root: str | Path) -> Path:
    job, step = os.environ.get("SLURM_JOB_ID", "0"), os.environ.get("SLURM_STEP_ID", "0")
    return Path(root).resolve() / ".launch" / f"slurm-{job}-{step}"


def _write_atomically(path: Path, value: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(value)
    os.replace(tmp, path)


def _wait_for_file(path: Path) -> str:
    deadline = time.monotonic() + WAIT_SECONDS
    while not path.is_file():
        if time.monotonic() > deadline:
            raise TimeoutError(f"rank {global_rank()}: rank 0 did not write {path} within {WAIT_SECONDS} s")
        time.sleep(0.2)
    return path.read_text()


def shared_value(key: str, decide: Callable[[], str], root: str | Path = "result") -> str:
    """Rank 0's ``decide()`` on every rank of the job, whatever launched it.

    Args:
        key: Name of the value (``run_dir``, ``seed``).
        decide: Called on rank 0 only, and only on a job's first attempt.
        root: The run root; under SLURM the value is exchanged through a file below it.
    """
    env_key = ENV_PREFIX + key.upper()
    if is_lightning_child():
        if env_key not in os.environ:
            raise RuntimeError(f"{env_key} is not set: start multi-process runs through main.py or torchrun")
        return os.environ[env_key]
    if under_torchrun():
        store = _torchrun_store()
        store_key = f"project/{os.environ['TORCHELASTIC_RUN_ID']}/{key}"
        if global_rank() == 0 and not store.check([store_key]):
            store.set(store_key, decide())
        return store.get(store_key).decode()
    if under_srun():
        path = _slurm_folder(root) / key
        if global_rank() == 0 and not path.is_file():
            _write_atomically(path, decide())
        return _wait_for_file(path)
    value = decide()
    # Children that Lightning's ddp launcher starts later inherit this process's environment.
    os.environ[env_key] = value
    return value


@contextmanager
def rank_zero_first(key: str, root: str | Path = "result") -> Iterator[None]:
    """Run the body on rank 0 before the other ranks start it (torchrun and SLURM; the others need no wait).

    Creating a fresh MLflow sqlite store from several ranks at once fails (two schema migrations race), so
    the other ranks build their loggers once rank 0 has. Rank 0 signals even when its body fails, so the
    other ranks go on and fail with their own message rather than waiting out the timeout.
    """
    if not (under_torchrun() or under_srun()) or global_rank() == 0:
        try:
            yield
        finally:
            _signal_done(key, root)
        return
    _wait_done(key, root)
    yield


def _attempt() -> str:
    return os.environ.get("TORCHELASTIC_RESTART_COUNT") or os.environ.get("SLURM_RESTART_COUNT") or "0"


def _signal_done(key: str, root: str | Path) -> None:
    if under_torchrun():
        _torchrun_store().set(f"project/{os.environ['TORCHELASTIC_RUN_ID']}/{_attempt()}/{key}", "done")
    elif under_srun():
        _write_atomically(_slurm_folder(root) / f"{key}.{_attempt()}", "done")


def _wait_done(key: str, root: str | Path) -> None:
    if under_torchrun():
        _torchrun_store().get(f"project/{os.environ['TORCHELASTIC_RUN_ID']}/{_attempt()}/{key}")
    else:
        _wait_for_file(_slurm_folder(root) / f"{key}.{_attempt()}")
