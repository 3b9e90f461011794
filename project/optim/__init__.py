"""Optimizers and schedules reachable by short name (``class_path: Lion``) besides torch's own."""

from lion_pytorch import Lion
from schedulefree import AdamWScheduleFree, RAdamScheduleFree, SGDScheduleFree

__all__ = ["AdamWScheduleFree", "Lion", "RAdamScheduleFree", "SGDScheduleFree"]
