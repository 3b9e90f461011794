"""Entry point: ``python main.py fit|validate|test|predict --config configs/digits.yaml``."""

import sys

if __name__ == "__main__":  # not in processes that import this file (spawned DataLoader workers)
    from project.loggers.mlflow_process import prestart

    prestart(sys.argv[1:])  # before Lightning's import: MLflow's import runs beside it (see mlflow_process)

from project.cli import cli_main  # noqa: E402
from project.cli.fast_exit import exit_without_teardown  # noqa: E402

if __name__ == "__main__":
    cli_main()
    exit_without_teardown()  # errors exit as usual (status 2 or 1); a finished command skips the teardown
