"""Loggers: MLflow (local sqlite store by default) beside TensorBoard."""

from project.loggers.mlflow_logger import RunMLFlowLogger

__all__ = ["RunMLFlowLogger"]
