"""Callbacks the CLI adds to every run."""

from project.callbacks.run_info import RunInfoWriter

__all__ = ["RunInfoWriter"]
