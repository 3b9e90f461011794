"""Entry point: ``python main.py fit|validate|test|predict --config configs/digits.yaml``."""

import sys

if __name__ == "__main__":  # not in processes that import this file (spawned DataLoader workers)
    from project.loggers.mlflow_process import prestart

    prestart(sys.argv[1:])  # before Lightning's import: MLflow's import runs beside it (see mlflow_process)

from project.cli import cli_main  # noqa: E402
from project.cli.fast_exit import exit_without_teardown  # noqa: E402

if __name__ == "__main__":
    try:
        cli_main()
    except SystemExit as stop:  # --help (0) and user errors (2) have said everything already
        if stop.code is not None and not isinstance(stop.code, int):
            raise  # a message to print: Python's own exit prints it
        exit_without_teardown(stop.code or 0)
    exit_without_teardown()  # a finished command skips the interpreter's teardown (see fast_exit)
