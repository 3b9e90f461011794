"""PolynomialLRDecay: a polynomial decay from the base rate to an end rate, then constant."""

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler


class PolynomialLRDecay(LRScheduler):
    """``lr_k = (base_lr - end_learning_rate) * (1 - min(k, max_decay_steps) / max_decay_steps)**power
    + end_learning_rate`` after ``k`` steps, per parameter group (``power: 1`` is a straight line)."""

    def __init__(
        self,
        optimizer: Optimizer,
        max_decay_steps: int,
        end_learning_rate: float = 0.0001,
        power: float = 1.0,
        last_epoch: int = -1,
    ) -> None:
        """Build the schedule.

        Args:
            optimizer: The optimizer whose learning rates this schedule sets.
            max_decay_steps: Steps (epochs or optimizer steps) until the rate reaches ``end_learning_rate``.
            end_learning_rate: The rate from ``max_decay_steps`` on.
            power: Exponent of the decay: 1 linear, 2 quadratic (fast first), 0.5 slow first.
            last_epoch: Index of the last step, for resuming by hand (-1 starts afresh).
        """
        if not (isinstance(max_decay_steps, int) and max_decay_steps >= 1):
            raise ValueError(f"max_decay_steps: {max_decay_steps!r}; must be an integer >= 1")
        self.max_decay_steps, self.end_learning_rate, self.power = max_decay_steps, end_learning_rate, power
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr: float, step: int) -> float:
        """The closed form at position ``step``."""
        remaining = 1 - min(max(step, 0), self.max_decay_steps) / self.max_decay_steps
        return (base_lr - self.end_learning_rate) * remaining**self.power + self.end_learning_rate

    def get_lr(self) -> list[float]:
        return [self.lr_at(base_lr, self.last_epoch) for base_lr in self.base_lrs]

    _get_closed_form_lr = get_lr
