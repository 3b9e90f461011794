"""``python main.py tune --config X.yaml --sweep configs/sweeps/X.yaml [--n_trials N] [--workers K]``.

Everything is checked before anything is written: the sweep file, the base config, each searched key at both
ends of its range, the metric. Then the study is created (or continued) in ``<run.root>/<data>/<study name>/``
and trials run there, each a ``main.py fit`` run dir of its own. Arguments ``tune`` does not know
(``--trainer.max_epochs=5``) go to every trial, after the configs.
"""

import argparse
import signal
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from project.errors import UserError, user_errors_exit_2

if TYPE_CHECKING:
    from project.sweep.base_config import BaseConfig
    from project.sweep.sweep_file import SweepFile

DESCRIPTION = (
    "Hyperparameter search with Optuna: every trial is a `main.py fit` run in <run.root>/<data>/<study>/, "
    "tracked in MLflow as a child of the study's run, pruned when the study says so. Rerunning the same"
    " command continues the study. Other --key=value arguments go to every trial."
)


def tune_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="main.py tune", description=DESCRIPTION, allow_abbrev=False)
    parser.add_argument("-c", "--config", action="append", default=[], help="training config(s), as for fit")
    parser.add_argument("--sweep", required=True, help="sweep file: study settings and search space")
    parser.add_argument("--n_trials", type=int, help="trials to finish in total (overrides study.n_trials)")
    parser.add_argument("--workers", type=int, default=1, help="trials at once on this machine (default 1)")
    parser.add_argument("--storage", help="study storage: a SQLAlchemy URL or a journal file (study.storage)")
    parser.add_argument("--timeout", type=float, help="seconds after which no trial starts (study.timeout)")
    return parser


@dataclass
class Plan:
    """A checked study, ready to run."""

    sweep: "SweepFile"
    base: "BaseConfig"
    n_trials: int
    workers: int
    study_dir: Path
    storage: str


def prepare(options: argparse.Namespace, extra: list[str]) -> Plan:
    """Check everything; nothing is written."""
    from project.sweep.algorithms import make_pruner, make_sampler
    from project.sweep.base_config import resolve
    from project.sweep.search_space import grid, grid_size
    from project.sweep.storage import storage_location
    from project.sweep.sweep_file import load_sweep_file

    if options.workers < 1:
        raise UserError(f"--workers {options.workers}: expected 1 or more")
    if options.n_trials is not None and options.n_trials < 1:
        raise UserError(f"--n_trials {options.n_trials}: expected 1 or more")
    sweep = load_sweep_file(options.sweep)
    study = sweep.study
    study.storage = options.storage or study.storage
    study.timeout = options.timeout or study.timeout
    is_grid = study.sampler.name == "grid"
    n_trials = options.n_trials or study.n_trials or (grid_size(sweep.space) if is_grid else None)
    if n_trials is None:
        raise UserError(f"--sweep {options.sweep}: study.n_trials: missing (or give --n_trials)")
    make_sampler(study.sampler, study.seed, grid(sweep.space) if is_grid else None)
    make_pruner(study.pruner)
    base = resolve([*(a for c in options.config for a in ("--config", c)), *extra], sweep)
    study_dir = Path(base.root).resolve() / base.data_name / study.name
    return Plan(
        sweep,
        base,
        int(n_trials),
        options.workers,
        study_dir,
        storage_location(study.storage, study_dir, options.workers),
    )


def tune_main(argv: list[str]) -> None:
    """The ``tune`` command; exits 2 for a user mistake, 1 when no trial completed, 128+N after signal N."""
    options, extra = tune_parser().parse_known_args(argv)
    with user_errors_exit_2():
        plan = prepare(options, extra)
        study, storage = open_study(plan)
    code = run_study(plan, study, storage)
    if code:
        raise SystemExit(code)


def open_study(plan: Plan):  # noqa: ANN201 - (optuna.Study, BaseStorage)
    import optuna

    from project.sweep.algorithms import make_pruner, make_sampler
    from project.sweep.search_space import grid
    from project.sweep.storage import open_storage, redact

    spec = plan.sweep.study
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = make_sampler(
        spec.sampler, spec.seed, grid(plan.sweep.space) if spec.sampler.name == "grid" else None
    )
    try:
        storage = open_storage(plan.storage)
        study = optuna.create_study(
            study_name=spec.name,
            storage=storage,
            sampler=sampler,
            pruner=make_pruner(spec.pruner),
            direction=spec.direction,
            load_if_exists=True,
        )
    except Exception as error:  # a server that refuses, a file that cannot be written
        if isinstance(error, UserError):
            raise
        raise UserError(f"--storage {redact(plan.storage)}: {type(error).__name__}: {error}") from None
    if study.direction.name.lower() != spec.direction:
        raise UserError(
            f"study.direction: {spec.direction}, but study {spec.name} in {redact(plan.storage)} was created "
            f"with {study.direction.name.lower()}; use another study.name"
        )
    return study, storage


def run_study(plan: Plan, study, storage) -> int:  # noqa: ANN001
    """Drive the study to its end, write ``best.yaml`` and the plots, print the table; return the status."""
    from project.sweep.driver import Driver, DriverSettings
    from project.sweep.parent_run import ParentRun
    from project.sweep.progress_display import ProgressDisplay
    from project.sweep.results import write_best_config
    from project.sweep.search_space import distributions, grid_size
    from project.sweep.storage import redact
    from project.sweep.trial_link import TrialLink

    spec, metric = plan.sweep.study, plan.sweep.study.metric
    plan.study_dir.mkdir(parents=True, exist_ok=True)
    parent = ParentRun(plan.base, plan.sweep, study, plan.study_dir)
    settings = {
        "name": spec.name,
        "metric": metric,
        "direction": spec.direction,
        "n_trials": plan.n_trials,
        "sampler": spec.sampler.name,
        "pruner": spec.pruner.name,
        "seed": spec.seed,
        "storage": redact(plan.storage),
        "base": " ".join(plan.base.arguments),
    }
    parent_id = parent.start(settings)
    link = TrialLink(plan.storage, spec.name, -1, metric, spec.direction, asdict(spec.pruner), parent_id)
    keys = [p.key for p in plan.sweep.space]
    display = ProgressDisplay(study, keys, metric)
    display.console.print(
        f"Study {spec.name}: {plan.n_trials} trials, {plan.workers} at a time, in {plan.study_dir}"
        f" (storage {redact(plan.storage)})"
        + (f"; a grid of {grid_size(plan.sweep.space)}" if spec.sampler.name == "grid" else ""),
        highlight=False,
        soft_wrap=True,
    )

    def on_event(kind: str, number: int) -> None:
        display.event(kind, number)
        if kind == "finished":
            parent.trial_finished(sum(t.state.is_finished() for t in study.get_trials(deepcopy=False)))

    driver = Driver(
        study,
        storage,
        DriverSettings(
            plan.n_trials,
            plan.workers,
            spec.timeout,
            spec.stale_after,
            plan.base.arguments,
            plan.study_dir,
            link,
            distributions(plan.sweep.space),
        ),
        on_event,
    )
    with display:
        stopped = driver.run()
    display.final()
    best = write_best_config(study, plan.base, plan.study_dir, metric)
    table = plan.study_dir / "trials.csv"
    study.trials_dataframe().to_csv(table, index=False)
    parent.finish([p for p in (best, table) if p is not None], stopped=stopped is not None)
    if stopped is not None:
        display.console.print(
            f"Stopped by {signal.Signals(stopped).name}; the same command continues the study."
        )
        return 128 + stopped
    if best is None:
        if any(t.state.name == "PRUNED" for t in study.trials):
            display.console.print("No trial completed: every trial was pruned; no best.yaml.")
            return 0
        display.console.print(
            f"error: no trial completed; see the logs in {plan.study_dir / 'logs'}", soft_wrap=True
        )
        return 1
    display.console.print(
        f"Best: trial {study.best_trial.number}, {metric} = {study.best_value:.6g}. "
        f"Train it again: python main.py fit --config {best}",
        highlight=False,
        soft_wrap=True,
    )
    return 0
