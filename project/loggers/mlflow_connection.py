"""Reaching an MLflow server: bounded retries and timeouts, and a health check that answers in seconds.

MLflow's HTTP client retries 7 times with a backoff factor of 2 and a 120 s timeout by default: a dead server
blocks one call for about four minutes. The limits below make it cost seconds.
"""

import os
import urllib.error
import urllib.request
from pathlib import Path

# (environment variable, default here); the variables are read by mlflow at request time.
REQUEST_LIMITS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": 2,
    "MLFLOW_HTTP_REQUEST_TIMEOUT": 10,
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": 1,
}


def is_http(uri: str) -> bool:
    return uri.startswith(("http://", "https://"))


def default_artifact_location(uri: str) -> str | None:
    """``mlartifacts/`` beside a sqlite store's file: artifacts never land in ``./mlruns`` of the CWD."""
    if uri.startswith("sqlite:///"):
        return str(Path(uri.removeprefix("sqlite:///")).resolve().parent / "mlartifacts")
    return None


def apply_request_limits(retries: int | None = None, timeout: int | None = None) -> None:
    """Bound mlflow's HTTP retries and timeouts: arguments first, then the environment, then the defaults.

    Done when the logger first connects (not at import), so that the process's own settings win.
    """
    given = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": retries, "MLFLOW_HTTP_REQUEST_TIMEOUT": timeout}
    for name, default in REQUEST_LIMITS.items():
        if given.get(name) is not None:
            os.environ[name] = str(given[name])
        else:
            os.environ.setdefault(name, str(default))


def server_answers(uri: str, timeout: float) -> bool:
    """True when the server's ``/health`` endpoint answers within ``timeout`` seconds."""
    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout) as response:  # noqa: S310
            return 200 <= response.status < 300
    except (OSError, urllib.error.URLError, ValueError):
        return False
