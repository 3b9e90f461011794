"""The class names a config key accepts by short name, listed when an unknown name is given."""

from functools import cache


def _bases(key: str) -> tuple[type, ...]:
    """The base classes of the values ``key`` takes."""
    import torch
    from lightning.pytorch import LightningDataModule
    from lightning.pytorch.callbacks import Callback
    from lightning.pytorch.loggers import Logger
    from lightning.pytorch.profilers import Profiler
    from lightning.pytorch.strategies import Strategy
    from torch import nn

    from project.evaluation.evaluator import Evaluator

    last = key.rpartition(".")[2]
    table: dict[str, tuple[type, ...]] = {
        "loss": (nn.modules.loss._Loss,),
        "optimizer": (torch.optim.Optimizer,),
        "scheduler": (torch.optim.lr_scheduler.LRScheduler, torch.optim.lr_scheduler.ReduceLROnPlateau),
        "evaluator": (Evaluator,),
        "data": (LightningDataModule,),
        "callbacks": (Callback,),
        "logger": (Logger,),
        "strategy": (Strategy,),
        "profiler": (Profiler,),
    }
    return table.get(last, ())


def _subclasses(base: type) -> list[type]:
    found, todo = [], [base]
    while todo:
        for sub in todo.pop().__subclasses__():
            found.append(sub)
            todo.append(sub)
    return found


@cache
def known_class_names(key: str) -> list[str]:
    """Public classes loaded now that ``key`` accepts by short name (``model.optimizer`` -> AdamW, SGD...)."""
    if key.rpartition(".")[2] == "net":
        import project.nets

        return list(project.nets.__all__)  # any other nn.Module works by import path
    bases = _bases(key)
    names = {
        cls.__name__
        for base in bases
        for cls in _subclasses(base)
        if not cls.__name__.startswith("_")
        and "._" not in cls.__module__
        and not cls.__module__.startswith("_")
        and cls.__module__ != "__main__"
    }
    return sorted(names, key=str.lower)
