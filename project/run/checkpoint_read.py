"""Reading checkpoint files safely: ``weights_only=True``, and a ``UserError`` naming the file when it fails.

A checkpoint is a zip archive that ``torch.save`` writes; its index sits at the end, so a truncated copy is
recognised without reading the tensors. Loading is memory-mapped, so checking a large checkpoint is cheap.
A file whose unpickling would import or call code beyond tensors and plain values is refused unless the
user passes ``--weights_only=false`` (Lightning's own flag for this), which says they trust the file.
"""

import importlib
import zipfile
from pathlib import Path
from typing import Any

import torch

from project.errors import UserError

TRUST_FLAG = "--weights_only=false"
_ZIP_MAGIC = b"PK\x03\x04"


def read_checkpoint(path: str | Path, key: str = "ckpt_path", trust: bool = False) -> dict[str, Any]:
    """The checkpoint at ``path`` (tensors memory-mapped), or a ``UserError`` naming ``key`` and the file.

    Args:
        path: The checkpoint file.
        key: The config key the path came from, for the message.
        trust: Allow the objects the file names beyond tensors and plain values (runs their code on load).
    """
    path = Path(path)
    if not path.exists():
        raise UserError(f"{key}: checkpoint file {path} does not exist")
    if not path.is_file():
        raise UserError(f"{key}: {path} is a folder, not a checkpoint file")
    unsafe = code_needed_by(path, key)
    if unsafe and not trust:
        raise UserError(
            f"{key}: {path} refused: loading it would run code ({', '.join(unsafe[:5])}), which an untrusted "
            f"file can abuse; only if you trust this file, add {TRUST_FLAG}"
        )
    if unsafe:
        allow(unsafe, path, key)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(path))
    except Exception as err:  # torch raises RuntimeError, UnpicklingError, EOFError... for a bad file
        if not zipfile.is_zipfile(path):
            reason = "neither the zip archive torch.save writes nor torch's legacy format"
        else:
            reason = str(err).strip().splitlines()[0][:200] or type(err).__name__
        raise UserError(f"{key}: {path} is not a readable PyTorch checkpoint ({reason})") from err
    if not isinstance(state, dict) or "state_dict" not in state:
        found = ", ".join(map(str, list(state)[:8])) if isinstance(state, dict) else type(state).__name__
        raise UserError(
            f"{key}: {path} is a torch file but not a Lightning checkpoint (no 'state_dict'; has {found})"
        )
    return state


def code_needed_by(path: Path, key: str) -> list[str]:
    """The classes and functions the file's pickle names that ``weights_only`` loading does not allow."""
    if not zipfile.is_zipfile(path):
        with path.open("rb") as f:
            head = f.read(4)
        if head == _ZIP_MAGIC:
            raise UserError(
                f"{key}: {path} is truncated ({path.stat().st_size} bytes; the zip index is missing)"
            )
        return []  # torch's legacy format, or not a checkpoint: the weights_only load below decides
    try:
        return torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
    except Exception as err:
        raise UserError(f"{key}: {path} is not a readable PyTorch checkpoint ({err})") from err


def allow(names: list[str], path: Path, key: str) -> None:
    """Let ``weights_only`` loads (Lightning's too) build the objects a trusted file names."""
    objects = []
    for name in names:
        module, _, attr = name.rpartition(".")
        try:
            obj: Any = importlib.import_module(module)
            for part in attr.split("."):
                obj = getattr(obj, part)
        except (ImportError, AttributeError) as err:
            raise UserError(f"{key}: {path} needs {name}, which cannot be imported here ({err})") from err
        objects.append(obj)
    torch.serialization.add_safe_globals(objects)
