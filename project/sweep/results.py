"""What a study shows: a table of its trials (live in a terminal) and ``best.yaml`` in the study dir."""

from pathlib import Path
from typing import Any

import optuna
import yaml
from optuna.trial import FrozenTrial, TrialState
from rich.markup import escape
from rich.table import Table

from project.run.run_dir import RunDir
from project.sweep.base_config import BaseConfig
from project.sweep.search_space import nested

STATE_STYLE = {"COMPLETE": "green", "PRUNED": "yellow", "FAIL": "red", "RUNNING": "cyan", "WAITING": "dim"}


def short_key(key: str) -> str:
    """``model.optimizer.init_args.lr`` -> ``optimizer.lr``: the table's column names."""
    parts = [p for p in key.split(".") if p != "init_args"]
    return ".".join(parts[-2:])


def show_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def state_of(trial: FrozenTrial) -> str:
    state = trial.state.name
    if "interrupted" in trial.user_attrs:
        return "FAIL, re-queued"
    if "retry_of" in trial.user_attrs:
        return f"{state} (#{trial.user_attrs['retry_of']} again)"
    return state


def duration(trial: FrozenTrial) -> str:
    if "duration" in trial.user_attrs:
        return f"{trial.user_attrs['duration']:.0f} s"
    if trial.datetime_start and trial.datetime_complete:
        return f"{(trial.datetime_complete - trial.datetime_start).total_seconds():.0f} s"
    return ""


def trials_table(study: optuna.Study, keys: list[str], metric: str) -> Table:
    """One row per trial (surplus trials, never run, left out): number, params, value, state, duration."""
    table = Table(title=f"study {study.study_name}: {metric} ({study.direction.name.lower()})")
    table.add_column("#", justify="right")
    for key in keys:
        table.add_column(short_key(key), justify="right")
    table.add_column(metric, justify="right")
    table.add_column("state")
    table.add_column("time", justify="right")
    best = best_number(study)
    for trial in study.get_trials(deepcopy=False):
        if "surplus" in trial.user_attrs:
            continue
        value = trial.value if trial.value is not None else trial.user_attrs.get("value")
        if trial.state == TrialState.PRUNED and trial.intermediate_values:
            value = trial.intermediate_values[max(trial.intermediate_values)]
        style = "bold" if trial.number == best else None
        table.add_row(
            str(trial.number),
            *(escape(show_value(trial.params.get(k, ""))) for k in keys),
            "" if value is None else f"{value:.4f}",
            f"[{STATE_STYLE.get(trial.state.name, '')}]{state_of(trial)}[/]",
            duration(trial),
            style=style,
        )
    return table


def best_number(study: optuna.Study) -> int | None:
    try:
        return study.best_trial.number
    except ValueError:
        return None


def trial_line(trial: FrozenTrial, metric: str) -> str:
    """One line per finished trial, for logs and terminals without a live table."""
    params = ", ".join(f"{short_key(k)}={show_value(v)}" for k, v in trial.params.items())
    value = trial.value
    if trial.state == TrialState.PRUNED and trial.intermediate_values:
        value = trial.intermediate_values[max(trial.intermediate_values)]
    shown = f" {metric}={value:.4f}" if value is not None else ""
    return f"trial {trial.number} {state_of(trial)}{shown} ({params}) {duration(trial)}"


def write_best_config(study: optuna.Study, base: BaseConfig, study_dir: Path, metric: str) -> Path | None:
    """``<study dir>/best.yaml``: the best trial's full config (its ``config.yaml``, seed included), or the
    base config with the best values merged when that file is not on this machine. ``main.py fit --config``
    runs it (as a new run in the study's folder, named ``best``)."""
    try:
        best = study.best_trial
    except ValueError:
        return None
    run_dir = best.user_attrs.get("run_dir")
    source = RunDir(Path(run_dir)).config if run_dir else None
    if source is not None and source.is_file():
        config = yaml.safe_load(source.read_text())
        origin = f"the config.yaml of trial {best.number} ({run_dir})"
    else:
        from project.sweep.base_config import parse

        cli = parse([*base.arguments, "--config", yaml.safe_dump(nested(best.params))])
        config = yaml.safe_load(cli.parser.dump(cli.config, skip_none=False))
        config.pop("config", None)
        origin = f"the base config with the values of trial {best.number}"
    config.setdefault("run", {}).update(group=study.study_name, name="best")
    path = study_dir / "best.yaml"
    values = ", ".join(f"{k}={show_value(v)}" for k, v in best.params.items())
    header = (
        f"# Best trial of study {study.study_name}: trial {best.number}, {metric} = {best.value:.6g}\n"
        f"# Values: {values}\n# From {origin}.\n"
        f"# Train it again: python main.py fit --config {path}\n"
    )
    path.write_text(header + yaml.safe_dump(config, sort_keys=False))
    return path
