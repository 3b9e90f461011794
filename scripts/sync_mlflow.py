"""Send a run's metrics, params and files to MLflow after the fact, e.g. after the server was down.

    python scripts/sync_mlflow.py RUN_DIR [--tracking-uri URI] [--checkpoints]

The run dir is the source: metrics come from its TensorBoard event files, params from ``config.yaml``, files
from ``config.yaml``, ``run_info.json`` and ``artifacts/``. Points MLflow already has (same key and step) are
not sent again, so running it twice is harmless. The MLflow run is the one ``run_info.json`` names, or a new
one (whose id is then written to ``run_info.json``). The store is ``--tracking-uri``, else the one the run
could not reach, else ``$MLFLOW_TRACKING_URI``, else ``sqlite:///<run root>/mlflow.db``.
"""

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from project.config_tree import flatten  # noqa: E402
from project.loggers.mlflow_connection import apply_request_limits  # noqa: E402
from project.loggers.mlflow_experiment import EXPERIMENT_TAGS  # noqa: E402
from project.loggers.mlflow_limits import legal_name, params_for_mlflow  # noqa: E402
from project.loggers.mlflow_run_end import MLFLOW_STATUS  # noqa: E402
from project.run.run_dir import RunDir  # noqa: E402


def tensorboard_scalars(folder: Path) -> dict[str, list[tuple[int, float, float]]]:
    """``{tag: [(step, value, wall_time), ...]}`` from every event file in ``folder``."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    if not folder.is_dir():
        return {}
    events = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    events.Reload()
    return {
        tag: [(e.step, e.value, e.wall_time) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]
    }


def tracking_uri_for(run: Path, info: dict, given: str | None) -> str:
    not_sent = info.get("mlflow_not_sent") or {}
    return (
        given
        or not_sent.get("tracking_uri")
        or os.environ.get("MLFLOW_TRACKING_URI")
        or f"sqlite:///{run.parent.parent.resolve() / 'mlflow.db'}"
    )


def open_run(client, run: Path, info: dict) -> tuple[str, bool]:  # noqa: ANN001
    """The MLflow run ``run_info.json`` names if the store has it, else a new one; True when new."""
    run_id = info.get("mlflow_run_id")
    if run_id:
        try:
            client.get_run(run_id)
            return run_id, False
        except Exception:  # noqa: BLE001 - not in this store: make a new run
            pass
    name = run.parent.name
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        # A local store keeps artifacts beside the runs, as training does; a server picks its own place.
        local = not client.tracking_uri.startswith(("http://", "https://"))
        location = str(run.parent.parent.resolve() / "mlartifacts") if local else None
        experiment_id = client.create_experiment(name, artifact_location=location, tags=EXPERIMENT_TAGS)
    else:
        experiment_id = experiment.experiment_id
    tags = {"data": name, "run_dir": str(run.resolve()), "synced_by": "scripts/sync_mlflow.py"}
    tags.update({k: str(v) for k in ("git_commit",) if (v := info.get(k))})
    created = client.create_run(experiment_id, tags=tags, run_name=run.name)
    return created.info.run_id, True


def sync(run: Path, tracking_uri: str | None = None, checkpoints: bool = False) -> dict[str, int]:
    """Send what MLflow lacks; returns how many metric values, params and files were sent."""
    import yaml
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param

    folder = RunDir(run)
    info = folder.run_info.read()
    config = yaml.safe_load(folder.config.read_text()) if folder.config.is_file() else {}
    apply_request_limits()
    uri = tracking_uri_for(run, info, tracking_uri)
    client = MlflowClient(uri)
    run_id, new = open_run(client, run, info)
    sent = {"metric values": 0, "params": 0, "files": 0}

    existing = client.get_run(run_id).data.params
    params = [Param(k, v) for k, v in params_for_mlflow(flatten(config)).items() if k not in existing]
    client.log_batch(run_id, params=params)  # MLflow splits it into requests of its size limits
    sent["params"] = len(params)

    metrics = []
    for tag, points in tensorboard_scalars(folder.tensorboard).items():
        key = legal_name(tag)
        have = {m.step for m in client.get_metric_history(run_id, key)}
        # A step TensorBoard recorded twice (a resumed run) is sent once, with its last value.
        latest = {step: (value, wall) for step, value, wall in points}
        metrics += [Metric(key, v, int(w * 1000), s) for s, (v, w) in sorted(latest.items()) if s not in have]
    client.log_batch(run_id, metrics=metrics)
    sent["metric values"] = len(metrics)

    info["mlflow_run_id"] = run_id
    info.pop("mlflow_not_sent", None)
    folder.run_info.write(info)
    files = [folder.config, folder.info]
    for path, artifact_path in [(p, None) for p in files if p.is_file()]:
        client.log_artifact(run_id, str(path), artifact_path)
        sent["files"] += 1
    if folder.artifacts.is_dir():
        client.log_artifacts(run_id, str(folder.artifacts))
        sent["files"] += sum(1 for p in folder.artifacts.rglob("*") if p.is_file())
    best = folder.best_checkpoint()
    if checkpoints and best.is_file():
        client.log_artifact(run_id, str(best), RunDir.CHECKPOINTS)
        sent["files"] += 1
    if info.get("status") in MLFLOW_STATUS:
        client.set_terminated(run_id, MLFLOW_STATUS[info["status"]])
    print(
        f"{run}: MLflow run {run_id}{' (new)' if new else ''} at {uri}: sent "
        + ", ".join(f"{n} {kind}" for kind, n in sent.items())
    )
    return sent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, nargs="+", help="run dirs (each holds run_info.json)")
    parser.add_argument("--tracking-uri", help="MLflow store or server, e.g. http://127.0.0.1:5000")
    parser.add_argument("--checkpoints", action="store_true", help="also upload checkpoints/best.ckpt")
    args = parser.parse_args(argv)
    for run in args.run:
        if not RunDir(run).info.is_file():
            print(f"{run}: no run_info.json: not a run dir", file=sys.stderr)
            return 2
    for run in args.run:
        sync(run, args.tracking_uri, args.checkpoints)
    return 0


if __name__ == "__main__":
    sys.exit(main())
