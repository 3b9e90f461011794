"""A new local MLflow store (``sqlite:///<run.root>/mlflow.db``) in milliseconds instead of seconds.

MLflow creates a sqlite store by running its whole Alembic migration history (over 100 scripts): 2-3 s on
a quiet 2-core machine, 10 s under load, as long as importing Lightning. The migrated, empty database is the
same for every store of one MLflow version, so it is built once per machine and MLflow version in a cache
folder (``$XDG_CACHE_HOME`` or ``~/.cache``, ``lightning-train-template/``) and copied for each new store. The
copy holds no experiment: MLflow adds its ``Default`` experiment (id 0, with this store's artifact root) when
it opens the store, as for a store it made itself. Anything unexpected (no cache folder, another MLflow
version, a non-sqlite URI) leaves the store to MLflow.
"""

import contextlib
import os
import shutil
import sqlite3
import tempfile
from importlib import metadata
from pathlib import Path


def sqlite_path(uri: str) -> Path | None:
    """The file of a ``sqlite:///`` URI (absolute or relative), else ``None``."""
    prefix = "sqlite:///"
    if not uri.startswith(prefix) or "?" in uri:
        return None
    return Path(uri[len(prefix) :])


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "lightning-train-template"


def empty_store(version: str) -> Path:
    """The cached empty, migrated store of this MLflow version; built (2-3 s) when missing."""
    cached = cache_dir() / f"mlflow-{version}-empty.db"
    if cached.is_file():
        return cached
    cached.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cached.parent) as tmp:
        build = Path(tmp) / "mlflow.db"
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

        store = SqlAlchemyStore(f"sqlite:///{build}", str(Path(tmp) / "artifacts"))
        store.engine.dispose()
        with contextlib.closing(sqlite3.connect(build)) as db, db:
            db.execute("DELETE FROM experiments")  # MLflow recreates `Default` with the real store's paths
        os.replace(build, cached)  # atomic: a concurrent builder's file is just as good
    return cached


def prepare_local_store(uri: str) -> None:
    """Give a sqlite store that does not exist yet a copy of the cached empty one (never overwrites)."""
    path = sqlite_path(uri)
    if path is None or path.exists():
        return
    try:
        template = empty_store(metadata.version("mlflow"))
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        shutil.copyfile(template, partial)
        try:
            os.link(partial, path)  # fails if another process created the store meanwhile: keep theirs
        except FileExistsError:
            pass
        finally:
            partial.unlink(missing_ok=True)
    except Exception:  # noqa: BLE001 - the cache is an optimisation: MLflow creates the store itself
        return
