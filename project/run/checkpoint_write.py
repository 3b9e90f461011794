"""Checkpoint files that are either the previous complete file or the new complete file, never a torn one.

Lightning's ``TorchCheckpointIO`` (2.6.6) writes through an fsspec transaction whose temporary file lives in
the system temp dir (``tempfile.mkstemp``) and is then moved with ``shutil.move``: atomic only when ``/tmp``
and the run dir share a file system. On a cluster (``/tmp`` local, runs on NFS or Lustre) the move is a copy,
and a kill during that copy leaves a truncated ``last.ckpt``; nothing is fsynced either. Here the temporary
file sits next to its target, is fsynced, then renamed with ``os.replace`` (atomic on POSIX within one file
system).
"""

import os
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.utilities.types import _PATH
from lightning.pytorch.plugins.io import TorchCheckpointIO


def temporary_path(path: Path) -> Path:
    """Where ``path`` is written before the rename: hidden, beside it, never matching ``last*.ckpt``."""
    return path.with_name(f".{path.name}.tmp")


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # some file systems refuse to open directories; the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_torch_save(checkpoint: dict[str, Any], path: str | Path) -> None:
    """``torch.save`` to ``path`` so that readers see the old file or the new one, even after a kill."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(path)
    with open(tmp, "wb") as f:
        torch.save(checkpoint, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


class AtomicCheckpointIO(TorchCheckpointIO):
    """``TorchCheckpointIO`` whose local saves go through :func:`atomic_torch_save` (remote URLs as before).

    The CLI installs it on every run unless ``trainer.plugins`` names another ``CheckpointIO``.
    """

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: _PATH, storage_options: Any | None = None
    ) -> None:
        remote = "://" in str(path) and not str(path).startswith("file://")
        if storage_options is not None or remote:
            super().save_checkpoint(checkpoint, path, storage_options)
            return
        atomic_torch_save(checkpoint, str(path).removeprefix("file://"))
