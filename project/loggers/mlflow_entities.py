"""What the MLflow logger sends: params flattened and cut to MLflow's limits, metric values at their step.

Plain tuples: the training process does not import mlflow (the helper process makes MLflow's entities).
"""

import time
from argparse import Namespace
from typing import Any

from project.config_tree import flatten
from project.loggers.mlflow_limits import legal_name, params_for_mlflow


def flat_params(params: dict[str, Any] | Namespace) -> dict[str, str]:
    """``{"model.optimizer.init_args.lr": "0.001", ...}`` from a nested config (cut to MLflow's limits)."""
    if hasattr(params, "as_dict"):  # jsonargparse's Namespace, nested
        params = params.as_dict()
    params = vars(params) if isinstance(params, Namespace) else dict(params)
    return params_for_mlflow(flatten(params))


def new_params(flat: dict[str, str], existing: dict[str, str]) -> list[tuple[str, str]]:
    """``(key, value)`` of params the run does not have yet (MLflow refuses to change a value: a resumed run
    keeps its own); ``existing`` is updated with them."""
    new = {k: v for k, v in flat.items() if k not in existing}
    existing.update(new)
    return list(new.items())


def metric_values(metrics: dict[str, float], step: int, prefix: str) -> list[tuple[str, float, int, int]]:
    """``(key, value, timestamp ms, step)`` for each number, the key made legal for MLflow."""
    now = int(time.time() * 1000)
    return [
        (legal_name(prefix + key), float(value), now, step)
        for key, value in metrics.items()
        if not isinstance(value, str)
    ]


def not_logged_yet(values: list[tuple[str, float, int, int]], logged_up_to: dict[str, int]) -> list[Any]:
    """The values at steps after the last one the run has of their metric (a resumed run's repeats go)."""
    return [value for value in values if value[3] > logged_up_to.get(value[0], -1)]
