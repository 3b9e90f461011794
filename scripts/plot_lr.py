#!/usr/bin/env python
"""Draw the learning-rate schedule a config would produce, without training.

    python scripts/plot_lr.py configs/digits.yaml                                   # -> digits_lr.png
    python scripts/plot_lr.py configs/digits.yaml configs/scheduler/step.yaml --out step.png
    python scripts/plot_lr.py configs/digits.yaml --steps 200 --model.optimizer.lr=0.01

Several configs stack as with ``main.py`` (later files win; a switched class starts from its own defaults);
further ``--key=value`` arguments override. The x axis counts schedule steps: epochs, or optimizer steps with
``model.scheduler_interval: step`` (their number is estimated from the data and
``trainer.accumulate_grad_batches``). A ReduceLROnPlateau is drawn for a metric that never improves.
"""

import argparse
import math
import sys
from pathlib import Path

import torch
from lightning.pytorch.cli import LightningCLI

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from project.cli import TemplateCLI  # noqa: E402
from project.optim.plateau import monitor_of  # noqa: E402
from project.optim.schedule_free import is_schedule_free, refuse_schedule  # noqa: E402


class ScheduleCLI(TemplateCLI):
    """The template's CLI, parsing and building the model and data only: no run dir, loggers or training."""

    def before_instantiate_classes(self) -> None:
        self.config.trainer.logger = False
        self.config.trainer.callbacks = []

    def instantiate_classes(self) -> None:
        LightningCLI.instantiate_classes(self)  # without the run's checks: nothing is trained

    def after_instantiate_classes(self) -> None:
        pass


def schedule(cli: ScheduleCLI, steps: int | None) -> tuple[list[list[float]], str, str]:
    """``(rates per step per parameter group, title, x label)`` of the CLI's model."""
    model, cfg = cli.model, cli.config
    refuse_schedule(cfg.model.optimizer.class_path, cfg.model.get("scheduler"))
    interval = model.scheduler_interval if model.scheduler_factory is not None else "step"
    if steps is None:
        steps = schedule_steps(cli, interval)
    # One scalar per real parameter group keeps the group's settings (lr, weight decay) at no cost.
    groups = [{**group, "params": [torch.zeros(1, requires_grad=True)]} for group in model.parameter_groups()]
    optimizer = model.optimizer_factory(groups)
    scheduler = model.scheduler_factory(optimizer) if model.scheduler_factory is not None else None
    plateau = monitor_of(scheduler) is not None
    if is_schedule_free(optimizer):
        optimizer.train()
    rates = []
    for _ in range(steps):
        for group in optimizer.param_groups:
            for p in group["params"]:
                p.grad = torch.zeros_like(p)
        optimizer.step()  # zero gradients: the rates move, the point does not matter
        rates.append([float(g.get("scheduled_lr", g["lr"])) for g in optimizer.param_groups])
        if scheduler is not None:
            scheduler.step(0.0) if plateau else scheduler.step()
    names = [type(optimizer).__name__] + ([type(scheduler).__name__] if scheduler is not None else [])
    if getattr(scheduler, "after", None) is not None:  # LinearWarmup: name what follows the warm-up
        names[-1] += f" -> {type(scheduler.after).__name__}"
    title = " + ".join(names) + (" (metric never improving)" if plateau else "")
    unit = "epoch" if interval == "epoch" else "optimizer step"
    return rates, title, unit


def schedule_steps(cli: ScheduleCLI, interval: str) -> int:
    """Epochs of the run, or its optimizer steps (``max_epochs`` times the steps of one epoch)."""
    epochs = cli.config.trainer.max_epochs or 100
    if interval == "epoch":
        return epochs
    cli.datamodule.setup("fit")
    batches = len(cli.datamodule.train_dataloader())
    return epochs * math.ceil(batches / (cli.config.trainer.accumulate_grad_batches or 1))


def draw(rates: list[list[float]], title: str, unit: str, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.2), dpi=100)
    columns = list(zip(*rates, strict=True))
    distinct = [c for i, c in enumerate(columns) if c not in columns[:i]]
    for number, column in enumerate(distinct, start=1):
        ax.plot(range(len(column)), column, label=f"pg{number}" if len(distinct) > 1 else None)
    if len(distinct) > 1:
        ax.legend()
    ax.set_xlabel(unit)
    ax.set_ylabel("learning rate")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("configs", nargs="+", type=Path, help="YAML configs, stacked in order")
    parser.add_argument(
        "--steps", type=int, default=None, help="schedule steps to draw (default: the whole run)"
    )
    parser.add_argument("--out", type=Path, default=None, help="PNG to write (default: <last config>_lr.png)")
    options, overrides = parser.parse_known_args(argv)
    args = [item for config in options.configs for item in ("--config", str(config))] + overrides
    cli = ScheduleCLI(args=args, run=False)
    rates, title, unit = schedule(cli, options.steps)
    out = options.out or Path(f"{options.configs[-1].stem}_lr.png")
    draw(rates, title, unit, out)
    print(f"{out}: {title}, {len(rates)} {unit}s, lr {rates[0][0]:.3g} -> {rates[-1][0]:.3g}")
    return out


if __name__ == "__main__":
    main()
