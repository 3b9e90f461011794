"""The study's MLflow parent run: the search space as params, the best value and params, the study's plots.

Each trial's MLflow run names it in its ``mlflow.parentRunId`` tag, so the MLflow UI shows the study as one
expandable row. The parent goes to the same store and experiment as the trials (the base config's
``RunMLFlowLogger`` settings), and its id is kept in the study (user attr ``mlflow_parent_run_id``), so a
rerun or another machine reuses it.
"""

import contextlib
import warnings
from pathlib import Path
from typing import Any

import optuna
from jsonargparse import Namespace

from project.config_tree import class_of
from project.loggers.mlflow_logger import RunMLFlowLogger
from project.run.loggers import point_loggers_at_run
from project.run.run_dir import RunDir
from project.sweep.base_config import BaseConfig
from project.sweep.search_space import describe
from project.sweep.sweep_file import SweepFile

PARENT_ATTR = "mlflow_parent_run_id"


def mlflow_arguments(base: BaseConfig, study_dir: Path) -> dict[str, Any] | None:
    """The init args the trials' ``RunMLFlowLogger`` will get (store, experiment); ``None`` without one."""
    from project.cli.template_cli import net_name

    trainer = base.config.trainer.clone()
    tags = {"data": base.data_name, "net": net_name(base.config.model.net)}
    point_loggers_at_run(trainer, RunDir(study_dir), base.root, tags)
    loggers = trainer.logger if isinstance(trainer.logger, list) else [trainer.logger]
    for logger in loggers:
        if isinstance(logger, Namespace) and issubclass(class_of(logger), RunMLFlowLogger):
            return logger.init_args.as_dict()
    return None


class ParentRun:
    """The parent run of one study (a no-op when the base config has no ``RunMLFlowLogger``)."""

    def __init__(self, base: BaseConfig, sweep: SweepFile, study: optuna.Study, study_dir: Path) -> None:
        self.study, self.sweep, self.study_dir = study, sweep, study_dir
        arguments = mlflow_arguments(base, study_dir)
        self.logger: RunMLFlowLogger | None = None
        if arguments is None:
            return
        arguments.update(
            run_name=study.study_name,
            run_id=study.user_attrs.get(PARENT_ATTR),
            run_dir=None,
            tags={**arguments.get("tags", {}), "optuna_study": study.study_name, "study_dir": str(study_dir)},
        )
        self.arguments = arguments
        self.logger = RunMLFlowLogger(**arguments)

    @property
    def run_id(self) -> str | None:
        return self.logger.run_id if self.logger is not None else None

    def start(self, settings: dict[str, Any]) -> str | None:
        """Create (or reopen) the run, log the study's settings and space; returns its id."""
        if self.logger is None or not self.logger.connect(resuming=PARENT_ATTR in self.study.user_attrs):
            return None
        if self.study.user_attrs.get(PARENT_ATTR) != self.logger.run_id:
            self.study.set_user_attr(PARENT_ATTR, self.logger.run_id)
            winner = self.study.user_attrs.get(PARENT_ATTR)  # another machine may have created one too
            if winner != self.logger.run_id:
                self.logger.experiment.delete_run(self.logger.run_id)
                self.logger = RunMLFlowLogger(**{**self.arguments, "run_id": winner})
                self.logger.connect(resuming=True)
        params = {f"space.{p.key}": describe(p) for p in self.sweep.space}
        self.logger.log_hyperparams({**{f"study.{k}": v for k, v in settings.items()}, **params})
        return self.logger.run_id

    def trial_finished(self, finished: int) -> None:
        """Log the best value so far (step = trials finished) and the best values as tags and metrics."""
        if self.logger is None or self.logger.run_id is None:
            return
        with contextlib.suppress(ValueError):  # no completed trial yet
            best = self.study.best_trial
            numbers = {f"best/{k}": float(v) for k, v in best.params.items() if isinstance(v, int | float)}
            self.logger.log_metrics(
                {"best_value": best.value, "best_trial": best.number, **numbers}, finished
            )
            client = self.logger.experiment
            for key, value in {"best_trial": best.number, **best.params}.items():
                with contextlib.suppress(Exception):
                    client.set_tag(self.logger.run_id, f"best.{key}", str(value))

    def finish(self, files: list[Path], stopped: bool) -> None:
        """Upload the plots and files, then end the run (KILLED when a signal stopped the study)."""
        if self.logger is None or self.logger.run_id is None:
            return
        completed = [t for t in self.study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        plots = draw_plots(self.study, self.study_dir / "plots") if completed else []
        for path in [*plots, *files]:
            if path.is_file():
                self.logger.log_artifact(path, "plots" if path in plots else None)
        self.logger.finalize("success")
        if stopped:
            with contextlib.suppress(Exception):
                self.logger.experiment.set_terminated(self.logger.run_id, "KILLED")


def draw_plots(study: optuna.Study, folder: Path) -> list[Path]:
    """Optimization history, parameter importances, parallel coordinates as PNG files (those that can be
    drawn: importances need two completed trials with differing values)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as plots

    folder.mkdir(parents=True, exist_ok=True)
    drawn = []
    for name, draw in (
        ("optimization_history", plots.plot_optimization_history),
        ("param_importances", plots.plot_param_importances),
        ("parallel_coordinate", plots.plot_parallel_coordinate),
    ):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # optuna.visualization.matplotlib is marked experimental
                axes = draw(study)
            figure = (axes.flat[0] if hasattr(axes, "flat") else axes).figure
            figure.set_size_inches(9, 6)
            figure.tight_layout()
            figure.savefig(folder / f"{name}.png", dpi=100)
            plt.close(figure)
            drawn.append(folder / f"{name}.png")
        except (ValueError, RuntimeError, ZeroDivisionError) as error:
            print(f"tune: plot {name} skipped: {error}")
    return drawn
