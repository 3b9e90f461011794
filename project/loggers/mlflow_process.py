"""Where the MLflow calls of a run go: a helper process started early, or this process.

``import mlflow`` and a sqlite store's set-up take 3-4 s of CPU, more than the rest of the template's start
together. ``main.py`` starts the helper (``project.loggers.mlflow_worker``) before it imports Lightning, so
the two imports run on two cores and training starts without waiting for MLflow; each request then costs the
training process a pipe write instead of ~15 ms of Python holding its GIL. Only the process that will be
global rank 0 starts one, and only for commands that log (``fit``, ``validate``, ``test``). A process that
has mlflow imported already (a test suite, a notebook) talks to MLflow itself: the import is paid.
"""

import atexit
import contextlib
import os
import pickle
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

LOGGING_COMMANDS = ("fit", "validate", "test")
NO_RUN_FLAGS = {"-h", "--help", "--print_config"}
# Set (to something other than 0) in every process but the global-rank-0 one, by Lightning's launcher,
# torchrun or SLURM.
RANK_VARIABLES = ("RANK", "LOCAL_RANK", "NODE_RANK", "GROUP_RANK", "SLURM_PROCID")


class MLflowError(Exception):
    """An error MLflow raised in the helper process, with its HTTP status (500 when it had none)."""

    def __init__(self, type_name: str, message: str, status: int) -> None:
        super().__init__(message)
        self.type_name, self.status = type_name, status

    def get_http_status_code(self) -> int:  # what mlflow's MlflowException answers, see is_rejection
        return self.status


class HelperProcess:
    """``call(method, *args)`` runs ``Session.method`` in the helper process and returns its result."""

    def __init__(self) -> None:
        root = str(Path(__file__).resolve().parents[2])  # the folder that holds `project`
        path = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
        debug = os.environ.get("PROJECT_DEBUG_ERRORS")  # see project.errors: show the helper's tracebacks
        self.process = subprocess.Popen(
            [sys.executable, "-m", "project.loggers.mlflow_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            # Not the terminal's or a caller's pipe: whoever reads that to its end would wait for this one.
            stderr=None if debug else subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": path},
        )
        self._lock = threading.Lock()

    def call(self, method: str, *args: Any) -> Any:
        with self._lock:
            try:
                pickle.dump((method, args), self.process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
                self.process.stdin.flush()
                reply = pickle.load(self.process.stdout)
            except (OSError, EOFError, pickle.UnpicklingError) as error:
                raise ConnectionError(f"the MLflow helper process ended ({self.process.poll()})") from error
        if reply[0] == "ok":
            return reply[1]
        raise MLflowError(*reply[1:])

    def close(self) -> None:
        """Ask the helper to end: it answers once everything is stored, then exits.

        Said rather than left to its stdin's end, which a forked DataLoader worker may hold open.
        """
        with contextlib.suppress(ConnectionError, MLflowError):
            self.call("close")
        for pipe in (self.process.stdin, self.process.stdout):
            with contextlib.suppress(OSError):
                pipe.close()


class InProcess:
    """The same calls on a ``Session`` in this process."""

    def __init__(self) -> None:
        from project.loggers.mlflow_session import Session

        self.session = Session()

    def call(self, method: str, *args: Any) -> Any:
        return getattr(self.session, method)(*args)

    def close(self) -> None:
        self.session.close()


_prestarted: HelperProcess | None = None


def prestart(argv: list[str]) -> None:
    """Start the helper now if this command will log to MLflow from this process (see the module doc)."""
    global _prestarted
    if not argv or argv[0] not in LOGGING_COMMANDS or NO_RUN_FLAGS & {a.split("=")[0] for a in argv}:
        return
    if any(os.environ.get(name, "0") != "0" for name in RANK_VARIABLES):
        return
    _prestarted = HelperProcess()


def connect_session() -> HelperProcess | InProcess:
    """The prestarted helper, else this process if it has mlflow imported, else a new helper."""
    global _prestarted
    if _prestarted is not None:
        helper, _prestarted = _prestarted, None
        return helper
    return InProcess() if "mlflow" in sys.modules else HelperProcess()


def open_session(uri: str, *arguments: Any) -> tuple[HelperProcess | InProcess, tuple]:
    """Open the run (``Session.open``'s arguments after ``uri``); ``(session, what open returned)``.

    The session is closed when this process exits (``atexit``), or at once if the run does not open.
    """
    session = connect_session()
    environment = {k: v for k, v in os.environ.items() if k.startswith("MLFLOW_")}
    try:
        opened = session.call("open", uri, *arguments, environment)
    except BaseException:
        session.close()
        raise
    atexit.register(session.close)
    return session, opened


class ClientOnFirstUse:
    """Stands for ``logger.client()`` (an ``MlflowClient`` in this process) and makes it on first use."""

    def __init__(self, logger: Any) -> None:
        self._logger = logger

    def __getattr__(self, name: str) -> Any:
        return getattr(self._logger.client(), name)
