"""Optimizers and schedules reachable by short name (``class_path: Lion``) besides torch's own.

Importing a class here is what lets jsonargparse resolve its short name.
"""

from lightning.pytorch.cli import ReduceLROnPlateau
from lion_pytorch import Lion
from schedulefree import AdamWScheduleFree, RAdamScheduleFree, SGDScheduleFree

from project.optim.cosine_warmup_restarts import CosineAnnealingWarmupReduceRestarts
from project.optim.linear_warmup import LinearWarmup
from project.optim.plateau import PlateauScheduleCallable
from project.optim.polynomial import PolynomialLRDecay

__all__ = [
    "AdamWScheduleFree",
    "CosineAnnealingWarmupReduceRestarts",
    "Lion",
    "LinearWarmup",
    "PlateauScheduleCallable",
    "PolynomialLRDecay",
    "RAdamScheduleFree",
    "ReduceLROnPlateau",
    "SGDScheduleFree",
]
