"""Two callbacks that would keep their state under the same key are refused before the Trainer is built.

A checkpoint holds one state per ``Callback.state_key``; Lightning refuses a second stateful callback with the
same key in ``Trainer.__init__`` with a ``RuntimeError`` (``_validate_callbacks_list``) that names neither
entry. The usual way to get there: ``--trainer.callbacks+=ModelCheckpoint`` with the monitor and mode of the
config's own best-checkpoint entry, meaning "keep the best k" (which that entry's ``save_top_k`` does).
"""

import ast

from lightning.pytorch import Callback
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from lightning.pytorch.utilities.model_helpers import is_overridden

from project.errors import UserError


def check_unique_states(callbacks: list[Callback]) -> None:
    """Refuse two stateful ``trainer.callbacks`` entries (``trainer.callbacks[i]``) with one ``state_key``."""
    seen: dict[str, str] = {}
    for name, callback in ((f"trainer.callbacks[{i}]", c) for i, c in enumerate(callbacks)):
        if not is_overridden("state_dict", instance=callback, parent=Callback):
            continue
        key = callback.state_key
        if key not in seen:
            seen[key] = name
            continue
        kind = type(callback).__name__
        raise UserError(
            f"{name}: a second {kind} with the same {_settings(key)} as {seen[key]}; a checkpoint keeps one "
            f"state per such {kind}, so a run cannot have both. {_instead(callback, seen[key])}"
        )


def _settings(state_key: str) -> str:
    """``monitor 'val/accuracy', mode 'max', ...`` from a key such as ``ModelCheckpoint{'monitor': ...}``."""
    try:
        values = ast.literal_eval(state_key[state_key.index("{") :])
    except (ValueError, SyntaxError):
        return "settings"
    return ", ".join(f"{k} {v!r}" for k, v in values.items())


def _instead(callback: Callback, first: str) -> str:
    if isinstance(callback, ModelCheckpoint):
        return (
            f"To keep the best k checkpoints, set save_top_k: k (and a filename such as best-{{epoch:03d}}) "
            f"on {first} instead of adding another; or give this one another monitor, mode or every_n_epochs"
        )
    if isinstance(callback, EarlyStopping):
        return f"Change {first} (e.g. its patience) instead, or give this one another monitor or mode"
    return f"Keep one of them, or change {first} instead"
