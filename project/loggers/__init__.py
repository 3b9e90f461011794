"""Loggers: MLflow (local sqlite store by default) beside TensorBoard, and ``log_artifact`` for user code.

The names are imported when first used: the MLflow helper process (``mlflow_worker``) imports modules of this
package and must not pay for Lightning's import.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from project.loggers.artifacts import log_artifact
    from project.loggers.mlflow_logger import RunMLFlowLogger

__all__ = ["RunMLFlowLogger", "log_artifact"]


def __getattr__(name: str) -> Any:
    if name == "RunMLFlowLogger":
        from project.loggers.mlflow_logger import RunMLFlowLogger

        return RunMLFlowLogger
    if name == "log_artifact":
        from project.loggers.artifacts import log_artifact

        return log_artifact
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
