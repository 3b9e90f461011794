"""The sampler and pruner a sweep file names, as Optuna objects.

The pruner is built twice: by the driver (it owns the study) and inside each trial (``should_prune`` asks the
pruner of the study object it was given, and Optuna does not store pruners).
"""

import inspect
from typing import TYPE_CHECKING, Any

from project.errors import UserError, did_you_mean
from project.sweep.sweep_file import Algorithm

if TYPE_CHECKING:
    from optuna.pruners import BasePruner
    from optuna.samplers import BaseSampler


def _build(cls: type, options: dict[str, Any], key: str) -> Any:
    accepted = [p for p in inspect.signature(cls).parameters if p != "self"]
    for name in options:
        if name not in accepted:
            raise UserError(
                f"{key}.{name}: unknown option of {cls.__name__}; accepted: {', '.join(accepted)}"
                f"{did_you_mean(name, accepted)}"
            )
    try:
        return cls(**options)
    except (TypeError, ValueError) as err:
        raise UserError(f"{key}: {cls.__name__}({options}): {err}") from None


def make_sampler(
    spec: Algorithm, seed: int | None, grid: dict[str, list[Any]] | None = None
) -> "BaseSampler":
    import optuna

    options = dict(spec.options)
    if seed is not None:
        options.setdefault("seed", seed)
    if spec.name == "grid":
        return _build(_grid_sampler_class(), {"search_space": grid, **options}, "study.sampler")
    cls = optuna.samplers.TPESampler if spec.name == "tpe" else optuna.samplers.RandomSampler
    return _build(cls, options, "study.sampler")


def make_pruner(spec: Algorithm) -> "BasePruner":
    import optuna

    classes = {
        "median": optuna.pruners.MedianPruner,
        "hyperband": optuna.pruners.HyperbandPruner,
        "threshold": optuna.pruners.ThresholdPruner,
        "none": optuna.pruners.NopPruner,
    }
    return _build(classes[spec.name], spec.options, "study.pruner")


def _grid_sampler_class() -> type:
    from optuna.samplers import GridSampler

    class GridWithoutStop(GridSampler):
        """GridSampler for ask-and-tell: its ``after_trial`` calls ``Study.stop``, which raises outside
        ``Study.optimize`` (after the trial's state is stored). The driver stops at ``n_trials`` instead."""

        def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
            pass

    return GridWithoutStop
