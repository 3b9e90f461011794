"""LinearWarmup: a linear warm-up in front of any other schedule."""

from typing import Any

from lightning.pytorch.cli import LRSchedulerCallable
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler, ReduceLROnPlateau


class LinearWarmup(LRScheduler):
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
            raise ValueError(f"model.scheduler.init_args.warmup: {warmup!r}; must be an integer >= 0")
        if not 0.0 <= start_factor <= 1.0:
            raise ValueError(f"model.scheduler.init_args.start_factor: {start_factor!r}; must be in [0, 1]")
        # Built first: it records each group's `initial_lr`, which this schedule then shares as its base.
        self.after = scheduler(optimizer) if scheduler is not None else None
        if isinstance(self.after, ReduceLROnPlateau):
            raise ValueError(
                "model.scheduler.init_args.scheduler: ReduceLROnPlateau cannot follow a warm-up; "
                "use a schedule that steps without a metric (CosineAnnealingLR, StepLR, ...)"
            )
        self.warmup, self.start_factor = warmup, start_factor
        super().__init__(optimizer, last_epoch)

    def step(self, epoch: int | None = None) -> None:
        if epoch is not None:
            raise TypeError("LinearWarmup.step() takes no epoch; call step() once per schedule step")
        if self.after is not None and self.last_epoch + 1 > self.warmup:
            self.after.step()
        super().step()

    def get_lr(self) -> list[float]:
        k = self.last_epoch
        if k < self.warmup:
            factor = self.start_factor + (1.0 - self.start_factor) * k / self.warmup
            return [base_lr * factor for base_lr in self.base_lrs]
        if self.after is None:
            return list(self.base_lrs)
        return list(self.after.get_last_lr())

    def state_dict(self) -> dict[str, Any]:
        state = {key: value for key, value in self.__dict__.items() if key not in ("optimizer", "after")}
        state["after"] = self.after.state_dict() if self.after is not None else None
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        after = state.pop("after", None)
        if self.after is not None and after is not None:
            self.after.load_state_dict(after)
        self.__dict__.update(state)
