"""Callbacks the CLI adds to every run; they resolve by short name (``class_path: GracefulStop``)."""

from project.callbacks.ema import EMA
from project.callbacks.frozen_heap import FrozenStartupHeap
from project.callbacks.graceful_stop import GracefulStop
from project.callbacks.learning_rate import LearningRateLogger
from project.callbacks.moved_run import MovedRunCheckpoints
from project.callbacks.non_finite_loss import NonFiniteLossError, NonFiniteLossGuard
from project.callbacks.rng_state import RNGStateCheckpoint
from project.callbacks.step_checkpoint import StepCheckpoint

__all__ = [
    "EMA",
    "FrozenStartupHeap",
    "GracefulStop",
    "LearningRateLogger",
    "MovedRunCheckpoints",
    "NonFiniteLossError",
    "NonFiniteLossGuard",
    "RNGStateCheckpoint",
    "StepCheckpoint",
]
