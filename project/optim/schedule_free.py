"""Schedule-free optimizers (schedulefree): which optimizers are, and switching them between train and eval.

A schedule-free optimizer keeps two points: ``y``, where gradients are taken (train mode), and the average
``x``, which is the model to evaluate and to save (eval mode). ``.train()`` and ``.eval()`` swap the
parameters in place and do nothing when the optimizer is already in that mode.
"""

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from importlib import import_module

from torch.optim import Optimizer


def is_schedule_free(optimizer: Optimizer) -> bool:
    """Whether ``optimizer`` has schedulefree's train/eval modes."""
    return callable(getattr(optimizer, "train", None)) and callable(getattr(optimizer, "eval", None))


def is_schedule_free_class(class_path: str) -> bool:
    """Whether the optimizer class named by ``class_path`` (a resolved import path) is schedule-free."""
    module, _, name = class_path.rpartition(".")
    try:
        cls = getattr(import_module(module), name)
    except (ImportError, AttributeError, ValueError):
        return False
    return isinstance(cls, type) and issubclass(cls, Optimizer) and is_schedule_free(cls)


def in_train_mode(optimizer: Optimizer) -> bool:
    """Whether a schedule-free optimizer's parameters are at ``y`` (the training point)."""
    group = optimizer.param_groups[0] if optimizer.param_groups else {}
    return bool(group.get("train_mode", getattr(optimizer, "train_mode", False)))


def set_mode(optimizers: Iterable[Optimizer], train: bool) -> None:
    """Put every schedule-free optimizer among ``optimizers`` in train (``y``) or eval (``x``) mode."""
    for optimizer in optimizers:
        if is_schedule_free(optimizer):
            optimizer.train() if train else optimizer.eval()


@contextmanager
def eval_mode(optimizers: Iterable[Optimizer]) -> Iterator[None]:
    """Eval mode inside the block (e.g. while a checkpoint is written), the previous mode after it."""
    switched = [opt for opt in optimizers if is_schedule_free(opt) and in_train_mode(opt)]
    set_mode(switched, train=False)
    try:
        yield
    finally:
        set_mode(switched, train=True)


def refuse_schedule(optimizer_class_path: str | None, scheduler: object) -> None:
    """Raise when a schedule is given together with a schedule-free optimizer (they would fight)."""
    if scheduler is None or not optimizer_class_path or not is_schedule_free_class(optimizer_class_path):
        return
    name = optimizer_class_path.rpartition(".")[2]
    raise ValueError(
        f"model.scheduler: {name} is schedule-free: it warms up by itself (warmup_steps) and averages its "
        "iterates instead of following a schedule; set `model.scheduler: null` (--model.scheduler=null) "
        "or choose a scheduled optimizer such as AdamW"
    )
