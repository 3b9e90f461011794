"""Where a study lives: sqlite (one worker), a journal file (several workers), or a database server.

- no ``storage``: ``<study dir>/study.db`` (sqlite) for one worker, ``<study dir>/study.journal`` (Optuna's
  ``JournalStorage``) for ``--workers`` > 1; a study that already exists keeps the file it has;
- a SQLAlchemy URL (``postgresql://user:pass@host/db``, ``mysql+pymysql://...``, ``sqlite:///path``):
  shared by every machine that runs the same ``tune`` command;
- any other value: a journal file path (on a shared file system for several machines).

SQLite takes one writer at a time and fails with "database is locked" under several workers (optuna#820), so
it is refused with ``--workers`` > 1. The study database is never MLflow's ``mlflow.db``.
"""

import random
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING

from project.errors import UserError

if TYPE_CHECKING:
    from optuna.storages import BaseStorage

SQLITE_FILE = "study.db"
JOURNAL_FILE = "study.journal"
SCHEMA_ATTEMPTS = 5


def storage_location(given: str | None, study_dir: Path, workers: int) -> str:
    """The storage URL or journal path this command uses."""
    sqlite, journal = study_dir / SQLITE_FILE, study_dir / JOURNAL_FILE
    if given:
        location = str(given)
    elif sqlite.is_file() or (workers == 1 and not journal.is_file()):
        location = f"sqlite:///{sqlite.resolve()}"
    else:
        location = str(journal.resolve())
    if location.startswith("sqlite:") and workers > 1:
        raise UserError(
            f"--workers {workers}: the study is in sqlite ({location}), which takes one writer at a time; "
            "use --workers 1, or --storage with a journal file path or a database URL"
        )
    if "mlflow.db" in Path(location.split("://")[-1]).name:
        raise UserError(f"--storage {location}: keep the study apart from MLflow's store; use another file")
    return location


def is_url(location: str) -> bool:
    return "://" in location


def redact(location: str) -> str:
    """The location without a password (for logs, MLflow and ``run_info.json``)."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", location)


def open_storage(location: str) -> "BaseStorage":
    """The Optuna storage at ``location`` (created if missing)."""
    import optuna

    if is_url(location):
        # A bare postgresql:// means psycopg2 to SQLAlchemy 2.0 and psycopg (3) to 2.1: take psycopg, the one
        # the `postgres` extra installs.
        location = re.sub(r"^postgres(ql)?://", "postgresql+psycopg://", location)
        kwargs = (
            {"connect_args": {"timeout": 60}} if location.startswith("sqlite:") else {"pool_pre_ping": True}
        )
        if location.startswith("sqlite:///"):
            Path(location.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        for attempt in range(SCHEMA_ATTEMPTS):
            try:
                return optuna.storages.RDBStorage(location, engine_kwargs=kwargs)
            except ImportError as err:
                raise UserError(
                    f"--storage {redact(location)}: {err} (install the database's driver)"
                ) from None
            except Exception as err:
                # Machines that start at once on an empty database race to create the tables ("duplicate
                # key"); the losers find them made when they try again.
                if "duplicate" not in str(err).lower() or attempt == SCHEMA_ATTEMPTS - 1:
                    raise
                time.sleep(0.5 + random.random())
    from optuna.storages.journal import JournalFileBackend

    Path(location).parent.mkdir(parents=True, exist_ok=True)
    return optuna.storages.JournalStorage(JournalFileBackend(location))
