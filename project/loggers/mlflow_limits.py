"""MLflow's limits on names, values and batch sizes, applied before sending so that nothing is refused.

The numbers are MLflow's (``mlflow.utils.validation``, the same in 2.x and 3.x); they are copied here so that
this module does not import mlflow.
"""

import re
import zlib
from collections.abc import Iterator
from typing import Any

MAX_PARAM_VALUE_LENGTH = 6000  # MAX_PARAM_VAL_LENGTH
MAX_TAG_VALUE_LENGTH = 8000  # MAX_TAG_VAL_LENGTH
MAX_KEY_LENGTH = 250  # MAX_ENTITY_KEY_LENGTH
MAX_PER_BATCH = {"params": 100, "tags": 100, "metric values": 1000}
TRUNCATED = "...[truncated; see config.yaml]"

# Characters MLflow accepts in metric and param names.
_ILLEGAL_NAME_CHARS = re.compile(r"[^\w/.\- :]")


def legal_name(name: str) -> str:
    """``name`` with characters MLflow refuses replaced by ``_``, cut to MLflow's key length."""
    name = _ILLEGAL_NAME_CHARS.sub("_", name)
    return (
        name
        if len(name) <= MAX_KEY_LENGTH
        else name[: MAX_KEY_LENGTH - 9] + f"_{zlib.crc32(name.encode()):08x}"
    )


def fit_value(value: Any, limit: int = MAX_PARAM_VALUE_LENGTH) -> str:
    """``str(value)``, cut to ``limit`` characters with a marker saying so."""
    text = str(value)
    return text if len(text) <= limit else text[: limit - len(TRUNCATED)] + TRUNCATED


def params_for_mlflow(params: dict[str, Any]) -> dict[str, str]:
    """Flat params as MLflow takes them: legal names, values as strings within the length limit."""
    return {legal_name(key): fit_value(value) for key, value in params.items()}


def batches(items: list[Any], kind: str) -> Iterator[list[Any]]:
    """``items`` in chunks no larger than MLflow takes in one ``log_batch``."""
    size = MAX_PER_BATCH.get(kind, 100)
    for start in range(0, len(items), size):
        yield items[start : start + size]
