"""The ``run:`` section of the config."""

from dataclasses import dataclass


@dataclass
class RunOptions:
    """Where runs go (the ``run:`` section of the config).

    Args:
        root: Folder that holds the run directories and the default MLflow store ``<root>/mlflow.db``.
        name: Optional experiment name, appended to the run directory's name.
        group: Optional folder between ``<root>/<data name>/`` and the run directory (``tune`` puts a study's
            trials in ``<study name>``).
        test_after_fit: After ``fit``, test the best checkpoint (the last one without a monitored metric).
    """

    root: str = "result"
    name: str | None = None
    group: str | None = None
    test_after_fit: bool = True
