"""Lightning's own refusals of Trainer arguments (devices, accelerator, strategy...) as user errors.

``Trainer()`` already refuses more GPUs than the machine has, ``gpu`` without one, FSDP on a CPU, devices of
the wrong form...; its messages are clear but do not say which config key they are about, and some come as
``MisconfigurationException``, some as ``ValueError`` or ``TypeError``. This names the key and the value.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from lightning.fabric.utilities.exceptions import MisconfigurationException

from project.errors import UserError

# Words in Lightning's messages and the Trainer argument they are about (the earliest in a message wins).
_ARGUMENT_WORDS = {
    "strategy": "strategy",
    "accelerator": "accelerator",
    "gpu backend": "accelerator",
    "devices": "devices",
    "requested gpu": "devices",
    "num_nodes": "num_nodes",
    "precision": "precision",
}


def argument_named(message: str) -> str | None:
    """The Trainer argument a message of Lightning's is about, if it names one."""
    lowered = message.lower()
    found = [(lowered.find(word), key) for word, key in _ARGUMENT_WORDS.items() if word in lowered]
    return min(found)[1] if found else None


@contextmanager
def trainer_errors(trainer_args: dict[str, Any]) -> Iterator[None]:
    """Inside the block (``Trainer(**trainer_args)``), Lightning's refusal of an argument is a ``UserError``
    naming ``trainer.<argument>`` and its value; other errors pass unchanged."""
    try:
        yield
    except (MisconfigurationException, ValueError, TypeError) as err:
        if isinstance(err, UserError):
            raise
        message = " ".join(str(err).split())
        key = argument_named(message)
        if key is not None:
            value = trainer_args.get(key)
            raise UserError(f"trainer.{key}: {value!r} refused by Lightning: {message}") from err
        if isinstance(err, MisconfigurationException):
            raise UserError(f"trainer: {message}") from err
        raise
