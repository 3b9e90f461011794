"""Checks that need the built classes: optimizer and schedule arguments, monitors, class counts, weights.

They run right after instantiation, before any training; a failure is a ``UserError`` naming the key, and the
CLI removes the run dir this command created.
"""

from typing import Any

import torch
from lightning.pytorch import LightningDataModule, LightningModule, Trainer

from project.cli.dry_forward import check_net_fits_data
from project.errors import UserError, at_key, did_you_mean
from project.run.checkpoint_read import read_checkpoint

# Words torch's optimizers use in their argument errors, and the init_args key they mean.
_OPTIMIZER_ARGS = {
    "learning rate": "lr",
    "beta": "betas",
    "epsilon": "eps",
    "weight_decay": "weight_decay",
    "momentum": "momentum",
    "dampening": "dampening",
}


def check_instantiated(
    subcommand: str,
    model: LightningModule,
    datamodule: LightningDataModule | None,
    trainer: Trainer,
    ckpt_path: str | None,
    names: dict[int, str] | None = None,
) -> None:
    """Every check below that applies to ``subcommand``; ``names`` maps ``id(callback)`` to its config key."""
    check_class_counts(model, datamodule)
    if subcommand == "fit":
        names = names or {}
        monitors = {
            f"{names.get(id(c), 'trainer.callbacks')} ({type(c).__name__}).monitor": c.monitor
            for c in trainer.callbacks
            if isinstance(getattr(c, "monitor", None), str)
        }
        scheduler_monitor = check_optimizer(model)
        if scheduler_monitor:
            monitors["model.scheduler.init_args.monitor"] = scheduler_monitor
        check_monitors(monitors, model)
    if (
        ckpt_path
        and "://" not in str(ckpt_path)
        and str(ckpt_path) not in ("best", "last", "hpc", "registry")
    ):
        check_checkpoint_fits(ckpt_path, model)
    # Last: the only check that runs the net. Lightning's summary would run the float32 sample through a net
    # converted to bf16/fp16/fp64 weights ("-true" precisions) without converting it: no summary input there.
    summary_input = str(trainer.precision).endswith(("32-true", "mixed")) or str(trainer.precision) == "32"
    check_net_fits_data(subcommand, model, datamodule, summary_input)


def check_optimizer(model: LightningModule) -> str | None:
    """Build the optimizer and schedule once on a stand-in parameter: bad arguments fail now, not at step 1.

    Returns the metric a plateau schedule monitors, if any.
    """
    make_optimizer = getattr(model, "optimizer_factory", None)
    if make_optimizer is None:
        return None
    try:
        optimizer = make_optimizer([torch.nn.Parameter(torch.zeros(1))])
    except (ValueError, TypeError) as err:
        raise UserError(f"model.optimizer.init_args{_argument_named(str(err))}: {err}") from err
    make_scheduler = getattr(model, "scheduler_factory", None)
    if make_scheduler is None:
        return None
    try:
        scheduler = make_scheduler(optimizer)
    except (
        ValueError,
        TypeError,
    ) as err:  # the schedule's own argument, or nested: `scheduler.init_args.T_0`
        raise UserError(at_key("model.scheduler.init_args", str(err))) from err
    monitor = getattr(scheduler, "monitor", None)
    return monitor if isinstance(monitor, str) else None


def _argument_named(message: str) -> str:
    lowered = message.lower()
    return next((f".{key}" for word, key in _OPTIMIZER_ARGS.items() if word in lowered), "")


def logged_keys(model: LightningModule) -> list[str]:
    """The metric keys the module logs during ``fit`` that callbacks can read (not the ``lr-*`` rates)."""
    keys = getattr(model, "monitor_keys", None)
    if callable(keys):
        return list(keys())
    evaluator = getattr(model, "evaluator", None)
    names = list(getattr(evaluator, "metric_names", []) or [])
    return ["train/loss", "val/loss", *(f"val/{name}" for name in names)]


def check_monitors(monitors: dict[str, str], model: LightningModule) -> None:
    """Each ``monitor`` names a metric the module logs, else the run would die at the first validation."""
    known = logged_keys(model)
    for key, monitor in monitors.items():
        if monitor in known:
            continue
        if monitor.startswith("lr-"):
            # LearningRateMonitor also puts the rate in `callback_metrics`, but the schedule sets it: ranking
            # checkpoints or stopping by it says nothing about the model.
            raise UserError(
                f"{key}: {monitor!r} is a learning rate, set by the schedule, which says nothing about "
                f"the model; monitor one of: {', '.join(known)}"
            )
        raise UserError(
            f"{key}: {monitor!r} is never logged; logged keys: {', '.join(known)}"
            f"{did_you_mean(monitor, known)}"
        )


def check_class_counts(model: LightningModule, datamodule: LightningDataModule | None) -> None:
    """The data's number of classes agrees with the net's and the evaluator's."""
    classes = getattr(datamodule, "num_classes", None)
    if not isinstance(classes, int):
        return
    name = type(datamodule).__name__
    for key, owner in (
        ("model.net", getattr(model, "net", None)),
        ("model.evaluator", getattr(model, "evaluator", None)),
    ):
        count = getattr(owner, "num_classes", None)
        if isinstance(count, int) and count != classes:
            raise UserError(
                f"{key}.init_args.num_classes: {count}, but the data ({name}) has {classes} classes; "
                f"set {key}.init_args.num_classes: {classes}"
            )


def check_checkpoint_fits(ckpt_path: str, model: LightningModule) -> None:
    """The checkpoint's weights fit the model: missing, unexpected, reshaped keys are counted, not dumped."""
    if not getattr(model, "strict_loading", True):
        return
    saved: dict[str, Any] = read_checkpoint(ckpt_path)["state_dict"]
    saved = {k.replace("_orig_mod.", ""): v for k, v in saved.items()}
    wanted = model.state_dict()
    missing = [k for k in wanted if k not in saved]
    unexpected = [k for k in saved if k not in wanted]
    reshaped = [
        f"{k} {tuple(saved[k].shape)} vs {tuple(v.shape)}"
        for k, v in wanted.items()
        if k in saved and hasattr(saved[k], "shape") and tuple(saved[k].shape) != tuple(v.shape)
    ]
    if not (missing or unexpected or reshaped):
        return
    parts = [
        f"{len(items)} {what} (e.g. {', '.join(items[:3])})"
        for items, what in (
            (missing, "missing"),
            (unexpected, "unexpected"),
            (reshaped, "with another shape"),
        )
        if items
    ]
    raise UserError(
        f"ckpt_path: {ckpt_path} holds weights of another net than model.net "
        f"({type(getattr(model, 'net', model)).__name__}): {'; '.join(parts)} of "
        f"{len(wanted)} keys"
    )
