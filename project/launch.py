"""How the processes of one job agree on values that rank 0 decides (the run directory, the seed).

Three launchers start ranks differently:
- one process (``python main.py fit``): rank 0 decides, nothing to share;
- Lightning's ``ddp`` launcher re-runs the command line in children with ``LOCAL_RANK`` set: rank 0 exports
  the value as an environment variable before ``fit`` starts them, and the children read it;
- torchrun (``scripts/torchrun.sh``, one or many nodes): every rank starts at once, so rank 0 publishes the
  value in the rendezvous store that torchrun's agent already runs, and the other ranks wait for it.
"""

import os
from collections.abc import Callable
from datetime import timedelta

ENV_PREFIX = "PROJECT_SHARED_"


def under_torchrun() -> bool:
    """True when torchrun's elastic agent started this process as one of several."""
    return "TORCHELASTIC_RUN_ID" in os.environ and int(os.environ.get("WORLD_SIZE", "1")) > 1


def is_lightning_child() -> bool:
    """True in the processes Lightning's ``ddp`` launcher starts for local ranks 1..N-1."""
    return not under_torchrun() and os.environ.get("LOCAL_RANK", "0") != "0"


def global_rank() -> int:
    for key in ("RANK", "SLURM_PROCID", "LOCAL_RANK"):
        if key in os.environ:
            return int(os.environ[key])
    return 0


def _torchrun_store():
    from torch.distributed import TCPStore

    return TCPStore(
        host_name=os.environ["MASTER_ADDR"],
        port=int(os.environ["MASTER_PORT"]),
        is_master=False,
        timeout=timedelta(seconds=600),
    )


def shared_value(key: str, decide: Callable[[], str]) -> str:
    """Rank 0's ``decide()`` on every rank of the job, whatever launched it."""
    env_key = ENV_PREFIX + key.upper()
    if is_lightning_child():
        if env_key not in os.environ:
            raise RuntimeError(f"{env_key} is not set: start multi-process runs through main.py or torchrun")
        return os.environ[env_key]
    if under_torchrun():
        store = _torchrun_store()
        attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")
        store_key = f"project/{os.environ['TORCHELASTIC_RUN_ID']}/{attempt}/{key}"
        if global_rank() == 0:
            store.set(store_key, decide())
        return store.get(store_key).decode()
    value = decide()
    # Children that Lightning's ddp launcher starts later inherit this process's environment.
    os.environ[env_key] = value
    return value
