"""Which run a command works on, from its arguments and the files on disk alone (no Trainer, no ranks).

- ``fit --config RUN/config.yaml``: resume RUN in place from its ``last.ckpt`` (or start it when it has none);
- ``fit`` with ``--ckpt_path FILE`` or without a run's config: a new run dir;
- ``validate|test|predict --config RUN/config.yaml --ckpt_path best|last``: that run's checkpoint;
- ``validate|test|predict --ckpt_path RUN/checkpoints/X.ckpt``: the run the file belongs to;
- a job that finds its new run dir already started (a requeued SLURM job, a restarted torchrun group, which
  get their first attempt's name back) continues from its newest checkpoint (``continue_requeued``).
"""

from dataclasses import dataclass, replace
from pathlib import Path

from project.run.run_dir import RunDir

# ckpt_path values Lightning resolves itself (best/last are ours when there is a run).
LIGHTNING_SHORTCUTS = ("hpc", "registry")


@dataclass(frozen=True)
class Resolved:
    """What a command works on.

    Attributes:
        run: The existing run dir, or ``None`` when the command makes a new one.
        ckpt_path: The checkpoint to load (a file path, a Lightning shortcut, or ``None``).
        resuming: True when ``fit`` continues a run from its checkpoint.
    """

    run: RunDir | None
    ckpt_path: str | None
    resuming: bool = False


def run_of_configs(config_files: list[str | Path]) -> RunDir | None:
    """The run whose ``config.yaml`` is among the ``--config`` files (the last one given wins)."""
    return next((run for path in reversed(config_files) if (run := RunDir.containing(path))), None)


def resolve(subcommand: str, config_files: list[str | Path], ckpt_path: str | None) -> Resolved:
    """The run and checkpoint of a command (see the module docstring)."""
    source = run_of_configs(config_files)
    if subcommand == "fit":
        if source is None or ckpt_path is not None:
            return Resolved(None, ckpt_path)
        last = source.last_checkpoint
        return Resolved(source, str(last), resuming=True) if last.is_file() else Resolved(source, None)
    if ckpt_path in ("best", "last") and source is not None:
        chosen = source.best_checkpoint() if ckpt_path == "best" else source.last_checkpoint
        return Resolved(source, str(chosen))
    if ckpt_path not in (None, "best", "last", *LIGHTNING_SHORTCUTS):
        return Resolved(RunDir.containing(ckpt_path) or source, ckpt_path)
    return Resolved(source, ckpt_path)


def continue_requeued(subcommand: str, resolved: Resolved, new_run: RunDir) -> Resolved:
    """A ``fit`` whose freshly named run dir was already started by an earlier attempt of the same job."""
    if subcommand != "fit" or not new_run.info.is_file():
        return replace(resolved, run=new_run)
    ckpt = new_run.newest_checkpoint()
    if ckpt is None:
        return Resolved(new_run, resolved.ckpt_path)
    return Resolved(new_run, str(ckpt), resuming=True)
