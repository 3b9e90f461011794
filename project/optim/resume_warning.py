"""Resuming keeps the checkpoint's schedule: say so when the config asks for a different one.

A schedule's ``load_state_dict`` restores every attribute, its arguments included, so ``T_max: 20`` in the
config loses to the ``T_max: 10`` in ``last.ckpt`` (torch 2.13; PL#5455). The warning names what the config
asked for and what the run keeps.
"""

from typing import Any

# State that changes while a schedule runs, or is derived from the optimizer: not an argument.
COUNTERS = {"last_epoch", "base_lrs", "best", "num_bad_epochs", "cooldown_counter", "T_cur", "T_i"}
COUNTERS |= {"mode_worse"}


def changed_arguments(saved: dict[str, Any], configured: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """``{name: (checkpoint's value, config's value)}`` for each schedule argument that differs."""
    changed = {}
    for name, value in configured.items():
        if name == "_schedulers" and isinstance(saved.get(name), list) and len(saved[name]) == len(value):
            # SequentialLR (LinearWarmup): its last schedule is the one its `scheduler` argument built.
            nested = changed_arguments(saved[name][-1], value[-1])
            changed.update({f"scheduler.{key}": pair for key, pair in nested.items()})
            continue
        if name.startswith("_") or name in COUNTERS or name not in saved:
            continue
        if isinstance(value, dict) and isinstance(saved[name], dict):  # a nested schedule
            nested = changed_arguments(saved[name], value)
            changed.update({f"{name}.{key}": pair for key, pair in nested.items()})
        elif isinstance(value, int | float | str | bool | list | tuple) and saved[name] != value:
            changed[name] = (saved[name], value)
    return changed


def message(changed: dict[str, tuple[Any, Any]]) -> str:
    pairs = ", ".join(f"{name}: {new!r} (checkpoint: {old!r})" for name, (old, new) in changed.items())
    return (
        f"model.scheduler: a resumed run keeps the checkpoint's schedule; the config's {pairs} take no "
        "effect (a schedule's arguments are part of its saved state)"
    )
