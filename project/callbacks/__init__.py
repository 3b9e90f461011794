"""Callbacks the CLI adds to every run."""

from project.callbacks.learning_rate import LearningRateLogger
from project.callbacks.run_info import RunInfoWriter

__all__ = ["LearningRateLogger", "RunInfoWriter"]
