"""Loggers: MLflow (local sqlite store by default) beside TensorBoard, and ``log_artifact`` for user code."""

from project.loggers.artifacts import log_artifact
from project.loggers.mlflow_logger import RunMLFlowLogger

__all__ = ["RunMLFlowLogger", "log_artifact"]
