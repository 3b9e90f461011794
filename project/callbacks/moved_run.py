"""Checkpoint rankings that survive moving or copying a run dir.

A ``ModelCheckpoint`` saves absolute paths in its state: its ``dirpath``, its best checkpoints, the last one.
When a run dir that was moved (from a cluster's scratch disk, to another machine) resumes, Lightning 2.6.6
finds another ``dirpath`` and drops the ranking with a "dirpath has changed" warning: the next validation's
checkpoint becomes the best one even when it is worse, and the earlier best files stay on disk, no longer
counted. This callback re-roots those paths on the folder the checkpoints are in now, before the
ModelCheckpoints load their state (Lightning calls every ``on_load_checkpoint`` before any
``load_state_dict``).
"""

from pathlib import Path
from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint

PATH_KEYS = ("best_model_path", "kth_best_model_path", "last_model_path")


def rerooted(state: dict[str, Any], dirpath: str) -> dict[str, Any]:
    """``state`` of a ModelCheckpoint with its paths moved from its saved ``dirpath`` to ``dirpath``; the same
    ``state`` when a path lies outside the saved ``dirpath`` or a checkpoint it ranks is not in ``dirpath``
    (a checkpoint of another run: the new run ranks its own checkpoints, as in Lightning)."""
    old = state.get("dirpath")
    if not old or Path(old) == Path(dirpath):
        return state

    def moved(path: str) -> Path:
        return Path(dirpath) / Path(path).relative_to(old)

    try:
        ranked = {str(moved(path)): score for path, score in state.get("best_k_models", {}).items()}
        paths = {key: str(moved(state[key])) if state.get(key) else state.get(key) for key in PATH_KEYS}
    except ValueError:  # a path outside the saved dirpath
        return state
    if not all(Path(path).is_file() for path in [*ranked, *filter(None, paths.values())]):
        return state
    return {**state, "dirpath": dirpath, "best_k_models": ranked, **paths}


class MovedRunCheckpoints(Callback):
    """Re-roots the saved state of every ``ModelCheckpoint`` of a resumed run whose run dir has moved.

    The CLI adds it to every ``fit``.
    """

    def on_load_checkpoint(
        self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        states = checkpoint.get("callbacks") or {}
        for callback in trainer.checkpoint_callbacks:
            state = states.get(callback.state_key)
            if isinstance(callback, ModelCheckpoint) and state and callback.dirpath:
                states[callback.state_key] = rerooted(state, callback.dirpath)
