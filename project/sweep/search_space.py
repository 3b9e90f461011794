"""From the sweep file's ``space:`` to Optuna distributions, and from a trial's values to a config file.

A trial's values are written as a nested YAML file (``model: {optimizer: {init_args: {lr: 0.003}}}``) that
``main.py fit`` reads after the base config, so the trial's run dir holds the complete merged config.
"""

from pathlib import Path
from typing import TYPE_CHECKING, Any

from project.sweep.sweep_file import Param, grid_values

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution


def distributions(space: list[Param]) -> dict[str, "BaseDistribution"]:
    """``{config key: distribution}`` for ``study.ask``."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    out: dict[str, BaseDistribution] = {}
    for param in space:
        if param.type == "categorical":
            out[param.key] = CategoricalDistribution(param.choices)
        elif param.type == "int":
            out[param.key] = IntDistribution(param.low, param.high, log=param.log, step=param.step or 1)
        else:
            out[param.key] = FloatDistribution(param.low, param.high, log=param.log, step=param.step)
    return out


def grid(space: list[Param]) -> dict[str, list[Any]]:
    """``{config key: values}`` for the grid sampler: every combination is one trial."""
    return {param.key: grid_values(param) for param in space}


def grid_size(space: list[Param]) -> int:
    size = 1
    for values in grid(space).values():
        size *= len(values)
    return size


def describe(param: Param) -> str:
    """``float [0.0001, 0.1] log``, ``categorical [16, 32, 64]``: a param's range, for MLflow."""
    if param.type == "categorical":
        return f"categorical {param.choices}"
    extras = " log" if param.log else (f" step {param.step}" if param.step is not None else "")
    return f"{param.type} [{param.low}, {param.high}]{extras}"


def nested(values: dict[str, Any]) -> dict[str, Any]:
    """``{"a.b.c": 1}`` -> ``{"a": {"b": {"c": 1}}}``."""
    tree: dict[str, Any] = {}
    for key, value in values.items():
        node = tree
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return tree


def as_arguments(values: dict[str, Any]) -> list[str]:
    """``--key=value`` command-line arguments for ``values`` (used to check the extremes of the space)."""
    import json

    return [
        f"--{key}={json.dumps(value) if not isinstance(value, str) else value}"
        for key, value in values.items()
    ]


def write_trial_config(path: Path, values: dict[str, Any], header: str, run: dict[str, Any]) -> Path:
    """The trial's config file: its sampled values and its ``run:`` settings, layered over the base config."""
    import yaml

    path.parent.mkdir(parents=True, exist_ok=True)
    tree = nested(values)
    tree.setdefault("run", {}).update(run)
    body = yaml.safe_dump(tree, sort_keys=False)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(f"# {header}\n{body}")
    tmp.replace(path)
    return path
