"""MLflow's own system metrics (CPU, memory, disk, network, GPUs) in the run's "System metrics" tab.

MLflow starts its ``SystemMetricsMonitor`` only for a fluent ``mlflow.start_run(log_system_metrics=True)``
run, and Lightning's MLFlowLogger has no option for it; our logger talks to its run through an
``MlflowClient``, so it starts the monitor itself on the run it created or reopened. The monitor samples
every ``$MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL`` seconds (10 by default) in a daemon thread of the process
that talks to MLflow (the machine's CPU, memory and GPUs, not only that process's) and logs
``system/cpu_utilization_percentage``, ``system/gpu_0_memory_usage_megabytes``... It needs ``psutil``; GPU
metrics need ``nvidia-ml-py`` (NVIDIA) or ``pyrsmi`` (AMD).
"""

from typing import Any


def start_system_metrics(run_id: str, tracking_uri: str, resuming: bool) -> tuple[Any | None, str | None]:
    """``(started SystemMetricsMonitor, None)``, or ``(None, why not)`` when it cannot start."""
    try:
        from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor

        # resume_logging: a resumed run continues the steps of its earlier samples, not overwriting them.
        monitor = SystemMetricsMonitor(run_id, resume_logging=resuming, tracking_uri=tracking_uri)
    except Exception as error:  # noqa: BLE001 - e.g. psutil missing: training goes on without them
        return None, f"MLflow system metrics are off: {type(error).__name__}: {error}"
    monitor.start()
    return monitor, None
