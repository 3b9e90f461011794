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


def check_unique_states(callbacks: list[tuple[str, Callback]]) -> None:
    """Refuse two stateful callbacks with one ``state_key``; each comes with the config key that made it
    (``checkpoint``, ``trainer.callbacks[2]``...), and the later one is named as the duplicate."""
    seen: dict[str, str] = {}
    for name, callback in callbacks:
        if not is_overridden("state_dict", instance=callback, parent=Callback):
            continue
        key = callback.state_key
        if key not in seen:
            seen[key] = name
            continue
        kind = type(callback).__name__
        raise UserError(
            f"{name}: a second {kind} with the same {_settings(key)} as {_named(seen[key])}; a checkpoint "
            f"keeps one state per such {kind}, so a run cannot have both. {_instead(callback, seen[key])}"
        )


def _named(key: str) -> str:
    return f"the {key} group" if key in ("checkpoint", "early_stopping") else key


def _settings(state_key: str) -> str:
    """``monitor 'val/accuracy', mode 'max', ...`` from a key such as ``ModelCheckpoint{'monitor': ...}``."""
    try:
        values = ast.literal_eval(state_key[state_key.index("{") :])
    except (ValueError, SyntaxError):
        return "settings"
    return ", ".join(f"{k} {v!r}" for k, v in values.items())


def _instead(callback: Callback, first: str) -> str:
    if first in ("checkpoint", "early_stopping"):
        return (
            f"It is what the {first} group already does: set it there instead "
            f"(e.g. --{first}.{'save_top_k=3' if first == 'checkpoint' else 'patience=5'})"
        )
    if isinstance(callback, ModelCheckpoint):
        return (
            f"To keep the best k checkpoints, set save_top_k: k (and a filename such as best-{{epoch:03d}}) "
            f"on {first} instead of adding another; or give this one another monitor, mode or every_n_epochs"
        )
    if isinstance(callback, EarlyStopping):
        return f"Change {first} (e.g. its patience) instead, or give this one another monitor or mode"
    return f"Keep one of them, or change {first} instead"
