"""MLflow's limits on names and values, applied before sending so that nothing is refused.

Batch sizes are not among them: ``MlflowClient.log_batch`` splits a long list into requests itself.

The numbers are MLflow's (``mlflow.utils.validation``, the same in 2.x and 3.x); they are copied here so that
this module does not import mlflow.
"""

import re
import zlib
from typing import Any

MAX_PARAM_VALUE_LENGTH = 6000  # MAX_PARAM_VAL_LENGTH
MAX_TAG_VALUE_LENGTH = 8000  # MAX_TAG_VAL_LENGTH
MAX_KEY_LENGTH = 250  # MAX_ENTITY_KEY_LENGTH
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
