"""The helper process that talks to MLflow: ``python -m project.loggers.mlflow_worker``.

It reads ``(method, args)`` pickles on stdin, calls that method of its ``Session``, and answers each with
``("ok", result)`` or ``("error", type name, message, HTTP status)`` on the pipe that was its stdout. It
imports mlflow as soon as it starts (the training process starts it early, see ``mlflow_process.prestart``)
and creates nothing until it is told to open a run. It ignores SIGINT, SIGTERM and SIGUSR1, which a terminal,
SLURM or a launcher send to the whole process group: the training process ends the MLflow run after such a
signal, through this process. It exits when its stdin closes, after the training process ends or dies.
"""

import os
import pickle
import signal
import sys
from typing import Any, BinaryIO


def serve(requests: BinaryIO, replies: BinaryIO) -> None:
    """Answer requests until stdin closes."""
    from project.loggers.mlflow_session import Session

    session = Session()
    while True:
        try:
            method, args = pickle.load(requests)
        except (EOFError, pickle.UnpicklingError):  # the training process ended without saying so
            session.close()
            return
        try:
            reply: tuple[Any, ...] = ("ok", getattr(session, method)(*args))
        except Exception as error:  # noqa: BLE001 - every failure goes back to the training process
            status = getattr(error, "get_http_status_code", lambda: 500)()
            reply = ("error", type(error).__name__, str(error), int(status))
        pickle.dump(reply, replies, protocol=pickle.HIGHEST_PROTOCOL)
        replies.flush()
        if method == "close":
            os._exit(0)  # skip the teardown of mlflow's modules (seconds): nothing is left to write


def main() -> None:
    for name in ("SIGINT", "SIGTERM", "SIGUSR1"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
    # Replies get the real stdout; anything mlflow prints goes to stderr instead of into the replies.
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    import mlflow.store.tracking.sqlalchemy_store  # noqa: F401 - the slow part, done before it is needed

    serve(sys.stdin.buffer, replies)


if __name__ == "__main__":
    main()
