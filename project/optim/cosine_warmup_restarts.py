"""The guide's CosineAnnealingWarmupReduceRestarts: warm-up and cosine cycles, shrinking peaks."""

import math

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler


class CosineAnnealingWarmupReduceRestarts(LRScheduler):
    """Cycle ``i`` lasts ``T_0 * T_mult**i`` steps: a linear rise over its first ``T_up`` steps from
    ``eta_min`` to ``base_lr * gamma**i``, then a cosine down to ``eta_min``.

    ``base_lr`` is each parameter group's own learning rate, so groups keep their ratios. As with torch's
    schedules, the rate after ``k`` calls of ``step()`` is the value at position ``k`` (position 0 right after
    construction); a step counts epochs or optimizer steps, as ``model.scheduler_interval`` says.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        T_0: int,
        T_mult: int = 1,
        eta_min: float = 0.0,
        T_up: int = 0,
        gamma: float = 1.0,
        last_epoch: int = -1,
    ) -> None:
        """Build the schedule.

        Args:
            optimizer: The optimizer whose learning rates this schedule sets.
            T_0: Length of the first cycle, in steps (epochs or optimizer steps).
            T_mult: Each cycle is this many times longer than the one before (an integer >= 1).
            eta_min: Lowest learning rate, reached at the end of every cycle and where each warm-up starts.
            T_up: Warm-up steps at the start of every cycle (0 <= T_up < T_0).
            gamma: Peak of cycle ``i`` is ``base_lr * gamma**i`` (0 < gamma <= 1 shrinks it).
            last_epoch: Index of the last step, for resuming by hand (-1 starts afresh).
        """
        if not (isinstance(T_0, int) and T_0 >= 1):
            raise ValueError(f"T_0: {T_0!r}; must be an integer >= 1")
        if not (isinstance(T_mult, int) and T_mult >= 1):
            raise ValueError(f"T_mult: {T_mult!r}; must be an integer >= 1")
        if not (isinstance(T_up, int) and 0 <= T_up < T_0):
            raise ValueError(f"T_up: {T_up!r}; must be an integer with 0 <= T_up < T_0")
        if gamma <= 0:
            raise ValueError(f"gamma: {gamma!r}; must be > 0")
        self.T_0, self.T_mult, self.eta_min, self.T_up, self.gamma = T_0, T_mult, eta_min, T_up, gamma
        super().__init__(optimizer, last_epoch)

    def cycle_and_position(self, step: int) -> tuple[int, int, int]:
        """``(cycle index, position within the cycle, cycle length)`` of schedule position ``step``."""
        if self.T_mult == 1:
            return step // self.T_0, step % self.T_0, self.T_0
        cycle, length = 0, self.T_0
        while step >= length:
            step -= length
            cycle, length = cycle + 1, length * self.T_mult
        return cycle, step, length

    def lr_at(self, base_lr: float, step: int) -> float:
        """The closed form: the rate at position ``step`` for a group whose base rate is ``base_lr``."""
        cycle, t, length = self.cycle_and_position(max(step, 0))
        peak = base_lr * self.gamma**cycle
        if t < self.T_up:
            return self.eta_min + (peak - self.eta_min) * t / self.T_up
        progress = (t - self.T_up) / (length - self.T_up)
        return self.eta_min + (peak - self.eta_min) * (1 + math.cos(math.pi * progress)) / 2

    def get_lr(self) -> list[float]:
        return [self.lr_at(base_lr, self.last_epoch) for base_lr in self.base_lrs]

    # `step(epoch)` takes this path in torch; it is the same closed form, so both paths agree.
    _get_closed_form_lr = get_lr
