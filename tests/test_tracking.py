"""Experiment tracking: MLflow (local store or a server) and TensorBoard; nothing lost when MLflow fails."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import CONFIGS, ROOT, cli, main_py, run_dirs
from lightning.pytorch import Callback, LightningModule, Trainer

DIGITS = str(CONFIGS / "digits.yaml")
SHORT = ["--trainer.max_epochs=2", "--trainer.limit_train_batches=5", "--trainer.limit_val_batches=2"]


class SavesAReport(Callback):
    """User code logging a file: ``log_artifact`` sends it to every logger that stores files."""

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        from project.loggers import log_artifact

        report = Path(trainer.default_root_dir).parent / "report.txt"
        report.write_text("a custom report\n")
        log_artifact(trainer, report, artifact_path="reports")


class SlowEpochs(Callback):
    """Epochs of at least a second, so that a server killed after the first one dies mid-run."""

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        time.sleep(1.0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tensorboard_scalars(run: Path, tag: str) -> list[tuple[int, float]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"scalars": 0})
    events.Reload()
    return [(e.step, e.value) for e in events.Scalars(tag)]


def history(client, run_id: str, key: str = "val/loss") -> list[tuple[int, float]]:  # noqa: ANN001
    return sorted((m.step, m.value) for m in client.get_metric_history(run_id, key))


def run_info(run: Path) -> dict:
    return json.loads((run / "run_info.json").read_text())


def test_help_does_not_import_mlflow() -> None:
    # main.py itself (it ends with os._exit, so the modules are seen as they are imported): Python lists every
    # import on stderr, and with PROJECT_DEBUG_ERRORS an MLflow helper started by mistake would list its
    # imports there too (its stderr is the parent's then).
    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1", "PROJECT_DEBUG_ERRORS": "1"}
    result = subprocess.run([sys.executable, "main.py", "fit", "--help"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "--trainer.max_epochs" in result.stdout
    imported = [
        line.rsplit("|", 1)[-1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:")
    ]
    assert "lightning" in imported, "the import list is there"
    assert [m for m in imported if m.split(".")[0] == "mlflow"] == []


def test_default_store_and_tensorboard_agree(run_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import mlflow

    monkeypatch.delenv("MLFLOW_TRACKING_URI")  # the default store, not the session's shared one
    monkeypatch.chdir(run_root.parent)  # relative paths must not follow the working directory
    cli("fit", "--config", DIGITS, *SHORT, "--trainer.callbacks+=test_tracking.SavesAReport", root=run_root)
    (run,) = run_dirs(run_root)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{run_root / 'mlflow.db'}")
    (found,) = mlflow.search_runs(experiment_names=["digits"], output_format="list")
    assert found.info.run_id == run_info(run)["mlflow_run_id"]
    assert found.info.status == "FINISHED"
    assert found.data.params["trainer.max_epochs"] == "2"
    assert found.data.params["model.optimizer.init_args.lr"] == "0.002"
    assert {"data": "digits", "net": "simplecnn", "run_dir": str(run)}.items() <= found.data.tags.items()
    assert len(found.data.tags["git_commit"]) == 40
    client = mlflow.MlflowClient()
    mlflow_loss = history(client, found.info.run_id)
    tensorboard_loss = tensorboard_scalars(run, "val/loss")
    assert [step for step, _ in mlflow_loss] == [4, 9]
    assert dict(mlflow_loss) == pytest.approx(dict(tensorboard_loss))
    assert "test/accuracy" in found.data.metrics
    assert {"lr-AdamW/decay", "lr-AdamW/no_decay"} <= found.data.metrics.keys(), "named parameter groups"
    experiment = client.get_experiment_by_name("digits")
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development", "opens as model training"
    artifacts = {a.path for a in client.list_artifacts(found.info.run_id)}
    assert {"config.yaml", "run_info.json", "reports"} <= artifacts
    assert (run / "artifacts" / "reports" / "report.txt").is_file()
    assert found.info.artifact_uri.startswith(str(run_root / "mlartifacts"))
    assert not (run_root.parent / "mlruns").exists()
    uploaded = json.loads(Path(client.download_artifacts(found.info.run_id, "run_info.json")).read_text())
    assert uploaded["status"] == "finished"


def test_resume_logs_to_the_same_mlflow_run(run_root: Path, mlflow_store: str) -> None:
    from mlflow import MlflowClient

    cli("fit", "--config", DIGITS, *SHORT, "--run.test_after_fit=false", root=run_root)
    (run,) = run_dirs(run_root)
    first_id = run_info(run)["mlflow_run_id"]
    cli("fit", "--config", str(run / "config.yaml"), "--trainer.max_epochs=3", root=run_root)
    assert run_info(run)["mlflow_run_id"] == first_id
    client = MlflowClient(mlflow_store)
    assert client.get_run(first_id).info.status == "FINISHED"
    steps = [step for step, _ in history(client, first_id)]
    assert steps == [4, 9, 14], "one val/loss per epoch, steps continuing, none repeated"
    # last.ckpt is written at the training epoch's end, after its validation: a resume does not repeat it.
    assert dict(history(client, first_id)) == pytest.approx(dict(tensorboard_scalars(run, "val/loss")))
    assert [step for step, _ in tensorboard_scalars(run, "val/loss")] == [4, 9, 14], "one point per epoch"
    assert "resumed_at" in client.get_run(first_id).data.tags
    cli("test", "--config", str(run / "config.yaml"), "--ckpt_path", "best", root=run_root)
    tested = client.get_run(first_id)
    assert "test/accuracy" in tested.data.metrics, "evaluating a run logs to its MLflow run"
    assert tested.info.status == "FINISHED"


@pytest.mark.parametrize(
    ("recorded", "finalized", "expected"),
    [("interrupted", "success", "KILLED"), ("failed", "failed", "FAILED")],
)
def test_mlflow_status_follows_run_info(
    tmp_path: Path, mlflow_store: str, recorded: str, finalized: str, expected: str
) -> None:
    from mlflow import MlflowClient

    from project.loggers import RunMLFlowLogger

    (tmp_path / "run_info.json").write_text(json.dumps({"status": recorded}))
    logger = RunMLFlowLogger(experiment_name="status", tracking_uri=mlflow_store, run_dir=str(tmp_path))
    logger.log_metrics({"train/loss": 1.0}, step=1)
    logger.finalize(finalized)
    assert MlflowClient(mlflow_store).get_run(logger.run_id).info.status == expected


def test_long_param_values_and_odd_metric_names_are_stored(tmp_path: Path, mlflow_store: str) -> None:
    from mlflow import MlflowClient

    from project.loggers import RunMLFlowLogger

    logger = RunMLFlowLogger(experiment_name="limits", tracking_uri=mlflow_store)
    long_key = "model." + "k" * 300
    logger.log_hyperparams({"prompt": "x" * 10_000, long_key: 1, "dims": list(range(3000))})
    logger.log_metrics({"val/odd name (%)": 0.5}, step=3)
    logger.finalize("success")
    run = MlflowClient(mlflow_store).get_run(logger.run_id)
    assert run.data.params["prompt"].startswith("x" * 5000)
    assert len(run.data.params["prompt"]) <= 6000
    assert len(run.data.params) == 3
    assert run.data.metrics == {"val/odd name ___": 0.5}
    assert run.info.status == "FINISHED"


def test_background_sends_batch_everything_logged_within_send_interval() -> None:
    from project.loggers.mlflow_sender import MLflowSender

    requests: list[tuple[float, list[int]]] = []
    sender = MLflowSender(
        lambda kind, items: requests.append((time.monotonic(), items)), "fake", send_interval=1.0
    )
    start = time.monotonic()
    sender.put("metric values", [0])  # the first request goes at once
    time.sleep(0.2)
    for step in range(1, 6):  # logged within one interval: one request, one interval after the first
        sender.put("metric values", [step])
        time.sleep(0.05)
    sender.put("metric values", [6])
    time.sleep(1.2)
    sender.put("metric values", [7])
    sender.flush(timeout=5.0)  # the end of a run does not wait for the interval
    flushed = time.monotonic()
    assert [items for _, items in requests] == [[0], [1, 2, 3, 4, 5, 6], [7]]
    assert requests[0][0] - start < 0.5
    assert requests[1][0] - requests[0][0] >= 1.0
    assert flushed - requests[1][0] < 1.5


def test_server_down_at_start_leaves_a_complete_run_dir(
    run_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{free_port()}")
    start = time.monotonic()
    with pytest.warns(RuntimeWarning, match="cannot be reached") as caught:
        cli("fit", "--config", DIGITS, *SHORT, "--run.test_after_fit=false", root=run_root)
    (run,) = run_dirs(run_root)
    info = run_info(run)
    assert info["status"] == "finished"
    assert info["mlflow_run_id"] is None
    assert info["mlflow_not_sent"]["metric values"] > 0
    assert info["mlflow_not_sent"]["params"] > 0
    assert (run / "checkpoints" / "last.ckpt").is_file()
    assert any("did not receive" in str(w.message) for w in caught)
    assert time.monotonic() - start < 60


# --- against a real `mlflow server` ------------------------------------------------------------------------


class Server:
    """``scripts/run_mlflow.sh`` on a free loopback port, in its own process group."""

    def __init__(self, root: Path) -> None:
        self.root, self.port = root, free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "PORT": str(self.port), "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        env.pop("MLFLOW_TRACKING_URI", None)
        self.log = open(root / "server.log", "w")  # noqa: SIM115 - open while the server runs
        self.process = subprocess.Popen(
            [str(ROOT / "scripts" / "run_mlflow.sh"), str(root)],
            env={**env, "PATH": f"{Path(sys.executable).parent}:{env['PATH']}"},
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        from project.loggers.mlflow_connection import server_answers

        deadline = time.monotonic() + 120
        while not server_answers(self.uri, 1):
            assert self.process.poll() is None, (root / "server.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "mlflow server did not start in 120 s"
            time.sleep(0.5)

    def client(self):  # noqa: ANN201
        from mlflow import MlflowClient

        return MlflowClient(self.uri)

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        self.log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    started = Server(tmp_path_factory.mktemp("mlflow-server"))
    yield started
    started.kill()


@pytest.mark.slow
def test_ddp_fit_against_a_real_server(server: Server, tmp_path: Path) -> None:
    root = tmp_path / "result"
    ddp = ["--trainer.strategy=ddp", "--trainer.devices=2", "--trainer.accelerator=cpu"]
    args = [
        "fit",
        "--config",
        DIGITS,
        *SHORT,
        "--trainer.max_epochs=3",
        *ddp,
        "--run.test_after_fit=false",
    ]
    result = main_py(*args, f"--run.root={root}", env={"MLFLOW_TRACKING_URI": server.uri})
    assert result.returncode == 0, result.stderr[-3000:]
    (run,) = run_dirs(root)
    info = run_info(run)
    assert info["world_size"] == 2
    client = server.client()
    experiment = client.get_experiment_by_name("digits")
    (found,) = client.search_runs([experiment.experiment_id])
    assert found.info.run_id == info["mlflow_run_id"]
    assert found.info.status == "FINISHED"
    assert found.data.params["trainer.devices"] == "2"
    assert found.data.params["data.init_args.batch_size"] == "32"
    # 5 batches per process and epoch: one val/loss per epoch, the mean over both processes' batches.
    assert [step for step, _ in history(client, found.info.run_id)] == [4, 9, 14]
    assert dict(history(client, found.info.run_id)) == pytest.approx(
        dict(tensorboard_scalars(run, "val/loss"))
    )
    assert {"config.yaml", "run_info.json"} <= {a.path for a in client.list_artifacts(found.info.run_id)}


@pytest.mark.slow
def test_server_killed_mid_run_costs_seconds_and_loses_nothing(
    server: Server, tmp_path: Path, mlflow_store: str
) -> None:
    args = ["fit", "--config", DIGITS, *SHORT, "--trainer.max_epochs=6", "--trainer.log_every_n_steps=1"]
    args += ["--run.test_after_fit=false", "--trainer.callbacks+=test_tracking.SlowEpochs"]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "tests")}
    baseline_start = time.monotonic()
    baseline = main_py(*args, f"--run.root={tmp_path / 'baseline'}", env=env)
    baseline_seconds = time.monotonic() - baseline_start
    assert baseline.returncode == 0, baseline.stderr[-2000:]

    root = tmp_path / "result"
    env["MLFLOW_TRACKING_URI"] = server.uri
    env.pop("MLFLOW_HTTP_REQUEST_MAX_RETRIES", None)  # the logger's own bounds, not the test session's 0
    start = time.monotonic()
    fit = subprocess.Popen(
        [sys.executable, str(ROOT / "main.py"), *args, f"--run.root={root}"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    client = server.client()
    while fit.poll() is None:  # kill the server once the first epoch's val/loss has arrived
        runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
        if runs and any(
            m.key == "val/loss" for m in client.get_metric_history(runs[0].info.run_id, "val/loss")
        ):
            break
        time.sleep(0.5)
    server.kill()
    _, stderr = fit.communicate(timeout=300)
    seconds = time.monotonic() - start
    assert fit.returncode == 0, stderr[-3000:]
    assert "cannot be reached" in stderr
    assert "scripts/sync_mlflow.py" in stderr
    print(f"server killed mid-run: {seconds:.1f} s; same run with the local store: {baseline_seconds:.1f} s")
    assert seconds - baseline_seconds <= 30, (seconds, baseline_seconds)
    (run,) = run_dirs(root)
    info = run_info(run)
    assert info["status"] == "finished" and info["epoch"] == 6
    assert info["mlflow_not_sent"]["metric values"] > 0
    assert {"last.ckpt", "best.ckpt"} <= {p.name for p in (run / "checkpoints").iterdir()}

    # What the server missed is sent afterwards from the run dir (here to the session's local store).
    sync = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "sync_mlflow.py"), str(run), "--tracking-uri", mlflow_store],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert sync.returncode == 0, sync.stderr[-2000:]
    from mlflow import MlflowClient

    synced = MlflowClient(mlflow_store)
    run_id = run_info(run)["mlflow_run_id"]
    assert "mlflow_not_sent" not in run_info(run)
    assert dict(history(synced, run_id)) == pytest.approx(dict(tensorboard_scalars(run, "val/loss")))
    assert len(history(synced, run_id)) == 6
    assert synced.get_run(run_id).info.status == "FINISHED"


def test_log_model_uploads_the_best_checkpoint(
    tmp_path: Path, mlflow_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lightning.pytorch.callbacks import ModelCheckpoint
    from mlflow import MlflowClient

    from project.loggers import RunMLFlowLogger

    monkeypatch.chdir(tmp_path)

    best = tmp_path / "checkpoints" / "best.ckpt"
    best.parent.mkdir()
    best.write_bytes(b"weights")
    checkpoint = ModelCheckpoint(dirpath=best.parent)
    checkpoint.best_model_path = str(best)
    logger = RunMLFlowLogger(experiment_name="log-model", tracking_uri=mlflow_store, log_model=True)
    logger.log_metrics({"val/loss": 1.0}, step=1)
    logger.after_save_checkpoint(checkpoint)
    logger.finalize("success")
    client = MlflowClient(mlflow_store)
    assert [a.path for a in client.list_artifacts(logger.run_id, "checkpoints")] == ["checkpoints/best.ckpt"]
    store_folder = Path(mlflow_store.removeprefix("sqlite:///")).parent
    assert client.get_run(logger.run_id).info.artifact_uri.startswith(str(store_folder / "mlartifacts"))
    assert not (tmp_path / "mlruns").exists()
