"""The config key where a class is mounted, put in front of its errors about its own arguments.

A reusable class says ``ValueError("batch_size: must be at least 1, got 0")``; built as ``data`` the user
reads ``data.batch_size: must be at least 1, got 0``. jsonargparse wraps such errors while it builds the
classes, so the class that raised is found in the original error's traceback (``self`` of its ``__init__``).
"""

import traceback
from importlib import import_module

from jsonargparse import Namespace

from project.errors import UserError, at_key, error_chain, names_argument, user_message

# Where the CLI mounts reusable classes, as the keys the user writes (`--data.batch_size` reaches init_args).
MOUNTS = ("data", "model.net", "model.evaluator")


def mounted_classes(cfg: Namespace) -> dict[str, type]:
    """``{key: class}`` for each mount of ``MOUNTS`` that ``cfg`` sets with a ``class_path``."""
    found = {}
    for key in MOUNTS:
        value = cfg.get(key)
        module, _, name = str(value.get("class_path") if isinstance(value, Namespace) else "").rpartition(".")
        try:
            found[key] = getattr(import_module(module), name)
        except (ImportError, AttributeError, ValueError):
            continue
    return found


def with_mount_key(exc: BaseException, mounts: dict[str, type]) -> UserError | None:
    """``exc`` as a ``UserError`` naming the full key, if it is a mounted class's error about its argument."""
    if user_message(exc) is not None:
        return None  # already says which key
    for err in error_chain(exc):
        if not (isinstance(err, ValueError) and names_argument(str(err))):
            continue
        for frame, _ in traceback.walk_tb(err.__traceback__):
            owner = frame.f_locals.get("self")
            key = next((k for k, cls in mounts.items() if isinstance(owner, cls)), None)
            if key is not None:
                return UserError(at_key(key, str(err)))
    return None
