"""``main.py tune``: sweep files, grids, pruning, MLflow parent and children, kills, workers, PostgreSQL.

Trials are `main.py fit` runs of configs/digits.yaml with its defaults (loggers, checkpoints, progress bar),
shrunk to a few batches. Studies run as subprocesses (they launch processes and take signals).
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import CONFIGS, ROOT, main_py

DIGITS = str(CONFIGS / "digits.yaml")
TINY = [
    "--trainer.max_epochs=2",
    "--trainer.limit_train_batches=3",
    "--trainer.limit_val_batches=2",
    "--trainer.limit_test_batches=2",
]
TESTS = str(Path(__file__).parent)


def sweep_file(folder: Path, study: dict, space: dict, name: str = "sweep.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump({"study": study, "space": space}, sort_keys=False))
    return path


def tune_args(sweep: Path, root: Path, *args: str) -> list[str]:
    return ["tune", "--config", DIGITS, "--sweep", str(sweep), f"--run.root={root}", *TINY, *args]


def tune(sweep: Path, root: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    result = main_py(*tune_args(sweep, root, *args), env=env, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def load_study(root: Path, name: str, storage: str | None = None):  # noqa: ANN201
    import optuna

    from project.sweep.storage import open_storage

    if storage is None:
        folder = root / "digits" / name
        db = folder / "study.db"
        storage = f"sqlite:///{db}" if db.is_file() else str(folder / "study.journal")
    return optuna.load_study(study_name=name, storage=open_storage(storage))


def finished(study) -> list:  # noqa: ANN001
    from optuna.trial import TrialState

    return [t for t in study.trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]


# --- bad sweep files: exit 2 naming the problem, nothing left behind ---------------------------------------

GOOD_STUDY = {"name": "bad", "metric": "val/accuracy", "n_trials": 2}
GOOD_SPACE = {"model.optimizer.init_args.lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True}}
BAD_SWEEPS = {
    "unknown key": ({**GOOD_STUDY, "n_trails": 3}, GOOD_SPACE, "study.n_trails: unknown key"),
    "key not in the config": (
        GOOD_STUDY,
        {"model.optimizer.init_args.lrr": [0.1, 0.2]},
        "space.model.optimizer.init_args.lrr: not a key of the training config; did you mean "
        "model.optimizer.init_args.lr",
    ),
    "empty range": (
        GOOD_STUDY,
        {"model.net.init_args.dropout": {"type": "float", "low": 0.5, "high": 0.5}},
        "space.model.net.init_args.dropout: empty range",
    ),
    "value the optimizer refuses": (
        GOOD_STUDY,
        {"model.optimizer.init_args.lr": {"type": "float", "low": -1.0, "high": 0.1}},
        "model.optimizer.init_args.lr",
    ),
    "unknown metric": (
        {**GOOD_STUDY, "metric": "val/acc"},
        GOOD_SPACE,
        "study.metric: 'val/acc' is never logged",
    ),
    "unknown sampler": (
        {**GOOD_STUDY, "sampler": "cmaes2"},
        GOOD_SPACE,
        "study.sampler: 'cmaes2' is unknown",
    ),
    "grid without values": (
        {**GOOD_STUDY, "sampler": "grid"},
        GOOD_SPACE,
        "space.model.optimizer.init_args.lr: sampler grid needs choices",
    ),
}


@pytest.mark.parametrize("case", [*BAD_SWEEPS, "malformed YAML"])
def test_bad_sweep_file_exits_2_and_leaves_nothing(
    case: str, tmp_path: Path, capsys, mlflow_store: str
) -> None:  # noqa: ANN001
    from mlflow import MlflowClient

    from project.cli import cli_main

    if case == "malformed YAML":
        sweep, expected = tmp_path / "sweep.yaml", "not valid YAML at line 3"
        sweep.write_text("study:\n  metric: [val/accuracy\n")
    else:
        study, space, expected = BAD_SWEEPS[case]
        sweep = sweep_file(tmp_path, study, space)
    client = MlflowClient(mlflow_store)
    runs_before = sum(len(client.search_runs([e.experiment_id])) for e in client.search_experiments())
    root = tmp_path / "result"
    argv, sys.argv = sys.argv, ["main.py"]
    try:
        with pytest.raises(SystemExit) as exit_info:
            cli_main(tune_args(sweep, root))
    finally:
        sys.argv = argv
    err = capsys.readouterr().err
    assert exit_info.value.code == 2, err
    assert expected in err
    assert not root.exists()  # no study dir, no study database, no run dir
    runs_after = sum(len(client.search_runs([e.experiment_id])) for e in client.search_experiments())
    assert runs_after == runs_before


def test_sweep_file_grid_and_defaults(tmp_path: Path) -> None:
    from project.sweep.search_space import grid, nested
    from project.sweep.sweep_file import load_sweep_file

    sweep = load_sweep_file(
        sweep_file(
            tmp_path,
            {"metric": "val/loss", "sampler": "grid"},
            {"a.b": [1, 2, 3], "a.c": {"type": "int", "low": 0, "high": 4, "step": 2}},
        )
    )
    assert sweep.study.name == "sweep"  # the file's name
    assert grid(sweep.space) == {"a.b": [1, 2, 3], "a.c": [0, 2, 4]}
    assert nested({"a.b": 1, "a.c": 2, "d": 3}) == {"a": {"b": 1, "c": 2}, "d": 3}


def test_help_mentions_tune_and_fit_does_not_import_optuna() -> None:
    code = "import sys, project.cli; print(sorted(m for m in ('optuna', 'sqlalchemy') if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stderr[-2000:]
    result = main_py("--help")
    assert result.returncode == 0
    assert "main.py tune --config" in " ".join(result.stdout.split())
    result = main_py("tune", "--help")
    assert result.returncode == 0 and "--workers" in result.stdout


# --- a grid, pruning, MLflow parent and children ---


@pytest.mark.slow
def test_grid_runs_each_combination_once_prunes_and_nests_mlflow_runs(
    tmp_path: Path, mlflow_store: str
) -> None:
    from mlflow import MlflowClient

    # lr 1e-7: the net does not learn, and stays below the threshold at its first validation (the grid's order
    # is shuffled, so a median pruner could meet the bad trials first and keep them).
    study = {
        "name": "grid",
        "metric": "val/accuracy",
        "sampler": "grid",
        "pruner": {"type": "threshold", "lower": 0.1},
    }
    space = {"model.optimizer.init_args.lr": [0.01, 1.0e-7], "model.net.init_args.dropout": [0.0, 0.1]}
    root = tmp_path / "result"
    result = tune(sweep_file(tmp_path, study, space), root)
    assert "a grid of 4" in result.stdout

    optuna_study = load_study(root, "grid")
    trials = optuna_study.trials
    assert len(trials) == 4
    combos = {
        (t.params["model.optimizer.init_args.lr"], t.params["model.net.init_args.dropout"]) for t in trials
    }
    assert combos == {(lr, d) for lr in space["model.optimizer.init_args.lr"] for d in (0.0, 0.1)}
    pruned = [t for t in trials if t.state.name == "PRUNED"]
    assert pruned and {t.params["model.optimizer.init_args.lr"] for t in pruned} == {1.0e-7}
    assert all(t.state.name in ("COMPLETE", "PRUNED") for t in trials)

    study_dir = root / "digits" / "grid"
    runs = {t.number: Path(t.user_attrs["run_dir"]) for t in trials}
    assert all(run.parent == study_dir for run in runs.values())  # <run.root>/<data>/<study name>/<run>
    for t in pruned:
        info = json.loads((runs[t.number] / "run_info.json").read_text())
        assert info["pruned"]["after_validation"] == 0 and info["epoch"] == 1  # stopped after its first epoch
        assert (runs[t.number] / "checkpoints" / "last.ckpt").is_file()

    best = yaml.safe_load((study_dir / "best.yaml").read_text())
    lr = best["model"]["optimizer"]["init_args"]["lr"]
    assert lr == optuna_study.best_params["model.optimizer.init_args.lr"]

    client = MlflowClient(mlflow_store)
    experiment = client.get_experiment_by_name("digits")
    (parent,) = client.search_runs(
        [experiment.experiment_id], "tags.optuna_study = 'grid' and tags.study_dir != ''"
    )
    parent_id = parent.info.run_id
    assert parent.data.params["space.model.optimizer.init_args.lr"] == "categorical [0.01, 1e-07]"
    assert parent.data.params["study.sampler"] == "grid"
    assert parent.data.metrics["best_value"] == pytest.approx(optuna_study.best_value)
    artifacts = {a.path for a in client.list_artifacts(parent_id, "plots")}
    assert {"plots/optimization_history.png", "plots/parallel_coordinate.png"} <= artifacts
    children = client.search_runs([experiment.experiment_id], f"tags.`mlflow.parentRunId` = '{parent_id}'")
    assert len(children) == 4
    by_trial = {int(c.data.tags["optuna_trial"]): c for c in children}
    assert set(by_trial) == set(runs)
    for number, child in by_trial.items():
        run = runs[number]
        assert json.loads((run / "run_info.json").read_text())["mlflow_parent_run_id"] == parent_id
        local = client.download_artifacts(child.info.run_id, "config.yaml", str(tmp_path / f"dl{number}"))
        assert Path(local).read_text() == (run / "config.yaml").read_text()
        if number in {t.number for t in pruned}:
            assert child.info.status == "KILLED" and child.data.tags["pruned"] == "true"
        else:
            assert child.info.status == "FINISHED" and "pruned" not in child.data.tags


# --- several workers, kills, PostgreSQL ---

TPE = {"metric": "val/accuracy", "sampler": "tpe", "pruner": "none", "seed": 0}
LR = {"model.optimizer.init_args.lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True}}


def assert_landed_once(study, n_trials: int) -> None:  # noqa: ANN001
    done = finished(study)
    assert len(done) == n_trials, [(t.number, t.state.name, t.user_attrs) for t in study.trials]
    assert len({t.number for t in done}) == n_trials
    run_dirs = [t.user_attrs["run_dir"] for t in done]
    assert len(set(run_dirs)) == n_trials and all(Path(r, "config.yaml").is_file() for r in run_dirs)


@pytest.mark.slow
def test_two_workers_with_the_journal_storage(tmp_path: Path) -> None:
    root = tmp_path / "result"
    tune(sweep_file(tmp_path, {**TPE, "name": "two", "n_trials": 4}, LR), root, "--workers", "2")
    assert (root / "digits" / "two" / "study.journal").is_file()
    study = load_study(root, "two")
    assert len(study.trials) == 4
    assert_landed_once(study, 4)
    # Both workers ran at once: some trial started before the previous one ended.
    spans = sorted((t.datetime_start, t.datetime_complete) for t in study.trials)
    assert any(later[0] < earlier[1] for earlier, later in zip(spans, spans[1:]))


@pytest.mark.slow
def test_killed_driver_and_trial_resume_without_duplicates(tmp_path: Path) -> None:
    root, ready = tmp_path / "result", tmp_path / "trial-1-ready"
    sweep = sweep_file(tmp_path, {**TPE, "name": "killed", "n_trials": 2}, LR)
    args = tune_args(sweep, root, "--trainer.callbacks+=sweep_hang.HangInTrial")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([TESTS, str(ROOT)]), "HANG_READY": str(ready)}
    driver = subprocess.Popen(
        [sys.executable, str(ROOT / "main.py"), *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 300
    while not ready.is_file():  # trial 1 has trained an epoch and reported to the study
        assert driver.poll() is None, driver.stdout.read()[-3000:]
        assert time.monotonic() < deadline, "trial 1 never got going"
        time.sleep(0.2)
    trial_pid = int(ready.read_text())
    os.kill(driver.pid, signal.SIGKILL)
    os.kill(trial_pid, signal.SIGKILL)
    driver.wait()
    driver.stdout.close()

    study = load_study(root, "killed")
    assert [t.state.name for t in study.trials] == ["COMPLETE", "RUNNING"]
    result = main_py(*args, env={**env, "HANG_READY": str(tmp_path / "never")}, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "re-queued" in result.stdout

    study = load_study(root, "killed")
    states = [(t.number, t.state.name) for t in study.trials]
    assert states == [(0, "COMPLETE"), (1, "FAIL"), (2, "COMPLETE")], states
    interrupted, rerun = study.trials[1], study.trials[2]
    assert "interrupted" in interrupted.user_attrs
    assert rerun.user_attrs["retry_of"] == 1 and rerun.params == interrupted.params
    assert_landed_once(study, 2)


@pytest.mark.slow
def test_two_machines_share_a_postgresql_study(tmp_path: Path) -> None:
    from postgres_server import postgres_url

    with postgres_url() as url:
        sweep = sweep_file(tmp_path, {**TPE, "name": "shared", "n_trials": 4}, LR)
        root = tmp_path / "result"
        drivers = [
            subprocess.Popen(
                [sys.executable, str(ROOT / "main.py"), *tune_args(sweep, root, "--storage", url)],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for _ in range(2)
        ]
        outputs = [d.communicate(timeout=600)[0] for d in drivers]
        assert [d.returncode for d in drivers] == [0, 0], "\n".join(o[-3000:] for o in outputs)
        study = load_study(root, "shared", storage=url)
        assert_landed_once(study, 4)
        surplus = [t for t in study.trials if "surplus" in t.user_attrs]
        assert len(study.trials) == 4 + len(surplus)
        assert {t.user_attrs["driver_pid"] for t in finished(study)} == {d.pid for d in drivers}


@pytest.mark.slow
def test_ddp_trial_is_pruned_on_every_rank(tmp_path: Path) -> None:
    # A threshold no accuracy reaches: pruned at its first validation. Rank 0 alone asks the study; if rank 1
    # missed the decision it would train on alone and the job would hang in its next collective.
    study = {**TPE, "name": "ddp", "n_trials": 1, "pruner": {"type": "threshold", "lower": 2.0}}
    root = tmp_path / "result"
    tune(
        sweep_file(tmp_path, study, LR),
        root,
        "--trainer.devices=2",
        "--trainer.strategy=ddp",
        "--trainer.max_epochs=3",
    )
    (trial,) = load_study(root, "ddp").trials
    assert trial.state.name == "PRUNED" and list(trial.intermediate_values) == [0]
    info = json.loads((Path(trial.user_attrs["run_dir"]) / "run_info.json").read_text())
    assert info["world_size"] == 2 and info["epoch"] == 1 and info["pruned"]["after_validation"] == 0


def test_shipped_sweep_file_searches_keys_the_digits_config_has() -> None:
    """``make tune``'s sweep file: the issue's space (log lr, dropout, batch size), a median pruner."""
    from project.sweep.sweep_file import load_sweep_file

    sweep = load_sweep_file(ROOT / "configs" / "sweeps" / "digits.yaml")
    keys = {param.key for param in sweep.space}
    assert {
        "model.optimizer.init_args.lr",
        "model.net.init_args.dropout",
        "data.init_args.batch_size",
    } <= keys
    assert sweep.study.metric == "val/accuracy" and sweep.study.n_trials == 12
    assert sweep.study.sampler.name == "tpe" and sweep.study.pruner.name == "median"
