"""LinearWarmup: a linear warm-up in front of any other schedule, as torch's ``SequentialLR``."""

from lightning.pytorch.cli import LRSchedulerCallable
from torch.optim import Optimizer
from torch.optim.lr_scheduler import ConstantLR, LambdaLR, LRScheduler, ReduceLROnPlateau, SequentialLR

from project.errors import nested_errors


class LinearWarmup(SequentialLR):
    """Rise linearly from ``start_factor * base_lr`` to ``base_lr`` over ``warmup`` steps, then hand over to
    ``scheduler``, which starts at its own position 0: position ``k >= warmup`` of this schedule is position
    ``k - warmup`` of ``scheduler``. Without ``scheduler`` the rate stays at ``base_lr`` after the warm-up.

    Example (YAML)::

        scheduler:
          class_path: LinearWarmup
          init_args:
            warmup: 5
            scheduler: {class_path: CosineAnnealingLR, init_args: {T_max: 25}}
    """

    def __init__(
        self,
        optimizer: Optimizer,
        warmup: int,
        scheduler: LRSchedulerCallable | None = None,
        start_factor: float = 0.0,
        last_epoch: int = -1,
    ) -> None:
        """Build the schedule.

        Args:
            optimizer: The optimizer whose learning rates this schedule sets.
            warmup: Steps of the warm-up (epochs, or optimizer steps with ``model.scheduler_interval: step``).
            scheduler: The schedule that follows, e.g. ``{class_path: CosineAnnealingLR, init_args:
                {T_max: 25}}``; its own step counts start after the warm-up.
            start_factor: The warm-up starts at ``start_factor * base_lr`` (0 <= start_factor <= 1).
            last_epoch: Index of the last step, for resuming by hand (-1 starts afresh).
        """
        if not (isinstance(warmup, int) and warmup >= 0):
            raise ValueError(f"warmup: {warmup!r}; must be an integer >= 0")
        if not 0.0 <= start_factor <= 1.0:
            raise ValueError(f"start_factor: {start_factor!r}; must be in [0, 1]")
        # Built first: it records each group's `initial_lr`, which the warm-up then shares as its base.
        with nested_errors("scheduler"):
            after = scheduler(optimizer) if scheduler is not None else ConstantLR(optimizer, factor=1.0)
        if isinstance(after, ReduceLROnPlateau):
            raise ValueError(
                "scheduler: ReduceLROnPlateau cannot follow a warm-up; "
                "use a schedule that steps without a metric (CosineAnnealingLR, StepLR, ...)"
            )
        self.followed = scheduler is not None
        self.warmup, self.start_factor = warmup, start_factor  # in the state: a resume compares them
        # Not LinearLR: it refuses start_factor 0, the usual warm-up from zero (pytorch/pytorch#86454).
        rise = LambdaLR(optimizer, lambda k: start_factor + (1.0 - start_factor) * k / max(warmup, 1))
        super().__init__(optimizer, [rise, after], milestones=[warmup], last_epoch=last_epoch)

    @property
    def after(self) -> LRScheduler | None:
        """The schedule that follows the warm-up (``None`` when none was given)."""
        return self._schedulers[1] if self.followed else None
