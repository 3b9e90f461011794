"""What the MLflow logger sends: params flattened and cut to MLflow's limits, metric values at their step."""

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


def new_params(flat: dict[str, str], existing: dict[str, str]) -> list[Any]:
    """Params the run does not have yet (MLflow refuses to change a value: a resumed run keeps its own);
    ``existing`` is updated with them."""
    from mlflow.entities import Param

    new = {k: v for k, v in flat.items() if k not in existing}
    existing.update(new)
    return [Param(k, v) for k, v in new.items()]


def metric_values(
    metrics: dict[str, float], step: int, prefix: str, logged_up_to: dict[str, int]
) -> list[Any]:
    """One ``Metric`` per number at ``step``, except steps the run already has (a resumed run's repeats)."""
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    return [
        Metric(name, float(value), now, step)
        for key, value in metrics.items()
        if not isinstance(value, str) and step > logged_up_to.get(name := legal_name(prefix + key), -1)
    ]
