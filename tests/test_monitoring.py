"""The monitoring preset: accelerator stats in TensorBoard and MLflow, MLflow's system metrics in the run."""

import json
from pathlib import Path

import pytest
from conftest import CONFIGS, cli, run_dirs

DIGITS = str(CONFIGS / "digits.yaml")
MONITOR = str(CONFIGS / "presets" / "monitor.yaml")


@pytest.mark.slow
def test_monitor_preset_logs_device_stats_and_system_metrics(
    run_root: Path, mlflow_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow import MlflowClient
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    # MLflow samples every 10 s by default; a one-epoch run takes less.
    monkeypatch.setenv("MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL", "0.1")
    # One epoch of 10 batches: DeviceStatsMonitor logs at every log_every_n_steps (10) step.
    args = ["--trainer.max_epochs=1", "--trainer.limit_train_batches=10", "--trainer.limit_val_batches=2"]
    cli("fit", "--config", DIGITS, "--config", MONITOR, *args, "--run.test_after_fit=false", root=run_root)
    (run,) = run_dirs(run_root)

    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"scalars": 0})
    events.Reload()
    device_stats = [tag for tag in events.Tags()["scalars"] if tag.startswith("DeviceStatsMonitor.")]
    assert "DeviceStatsMonitor.on_train_batch_end/cpu_percent" in device_stats, events.Tags()["scalars"]

    run_id = json.loads((run / "run_info.json").read_text())["mlflow_run_id"]
    found = MlflowClient(mlflow_store).get_run(run_id)
    assert found.info.status == "FINISHED"
    assert "system/cpu_utilization_percentage" in found.data.metrics, sorted(found.data.metrics)
    assert "system/system_memory_usage_megabytes" in found.data.metrics
    assert "DeviceStatsMonitor.on_train_batch_end/cpu_percent" in found.data.metrics
