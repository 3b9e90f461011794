"""Shared fixtures: in-process CLI runs under a temporary run root, with one MLflow store per session."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"

# The bar and the summary off: only for a test that says why (tests of what users see keep the defaults on).
FAST = [
    "--trainer.enable_progress_bar=false",
    "--trainer.enable_model_summary=false",
    "--trainer.accelerator=cpu",
    "--trainer.devices=1",
]


# One CPU process: the shipped configs say `accelerator: auto`, which would take a GPU where there is one.
ON_CPU = ["--trainer.accelerator=cpu", "--trainer.devices=1"]


@pytest.fixture(scope="session", autouse=True)
def mlflow_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One sqlite store for the session: creating a fresh one costs seconds (schema migration).

    mlflow is imported here once, so in-process runs talk to MLflow from this process
    (``project.loggers.mlflow_process``) instead of starting a helper process that imports it again for
    every run (3-4 s of CPU each); the helper is what subprocess tests (``main_py``) and users run.
    """
    import mlflow  # noqa: F401

    uri = f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"
    os.environ["MLFLOW_TRACKING_URI"] = uri
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    return uri


@pytest.fixture
def run_root(tmp_path: Path) -> Path:
    return tmp_path / "result"


def run_dirs(root: Path) -> list[Path]:
    """Run dirs under a run root, oldest first."""
    return sorted(p.parent for p in root.glob("*/*/config.yaml"))


def cli(*args: str, root: Path) -> None:
    """``python main.py ARGS`` in this process, with the run root, on one CPU process, defaults on."""
    from project.cli import cli_main

    subcommand, *rest = args
    argv, sys.argv = sys.argv, ["main.py"]  # LightningCLI warns when both sys.argv and args carry arguments
    try:
        cli_main([subcommand, *rest, f"--run.root={root}", *ON_CPU])
    finally:
        sys.argv = argv


def main_py(*args: str, cwd: Path = ROOT, env: dict | None = None, timeout: float = 300):
    """``python main.py ARGS`` in a subprocess (for launchers, signals and exit statuses)."""
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
