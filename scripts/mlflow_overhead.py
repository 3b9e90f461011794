"""What MLflow logging costs the training loop: milliseconds per ``log_metrics`` call, and what a server that
is down costs.

    python scripts/mlflow_overhead.py [--calls 200]

Uses a fresh sqlite store in a temporary folder; the figures are the time spent in the calling thread.
"""

import argparse
import socket
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from project.loggers import RunMLFlowLogger  # noqa: E402


def per_call_ms(uri: str, synchronous: bool, calls: int) -> tuple[float, float]:
    """(ms per log_metrics call in this thread, s for finalize) with two metrics per call."""
    logger = RunMLFlowLogger(experiment_name="overhead", tracking_uri=uri, synchronous=synchronous)
    logger.connect()
    start = time.perf_counter()
    for step in range(calls):
        logger.log_metrics({"train/loss": 1.0 / (step + 1), "lr": 0.001}, step=step)
    per_call = (time.perf_counter() - start) / calls * 1000
    start = time.perf_counter()
    logger.finalize("success")
    return per_call, time.perf_counter() - start


def dead_server_seconds() -> float:
    """Seconds from the first contact to a training-ready logger when nothing listens on the port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    logger = RunMLFlowLogger(tracking_uri=f"http://127.0.0.1:{port}")
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logger.connect()
        logger.log_metrics({"train/loss": 1.0}, step=0)
        logger.finalize("success")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200)
    calls = parser.parse_args().calls
    with tempfile.TemporaryDirectory() as tmp:
        uri = f"sqlite:///{tmp}/mlflow.db"
        RunMLFlowLogger(experiment_name="warm-up", tracking_uri=uri).connect()  # creates the schema
        for synchronous in (True, False):
            ms, flush = per_call_ms(uri, synchronous, calls)
            mode = "synchronous" if synchronous else "background (default)"
            print(f"log_metrics, {mode}: {ms:.2f} ms per call; finalize {flush:.2f} s")
    print(f"server down at start: {dead_server_seconds():.2f} s for connect + log + finalize")


if __name__ == "__main__":
    main()
