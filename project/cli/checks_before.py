"""Checks of the parsed config that need no class built: config files, trainer values, checkpoints.

They run before the run dir is created, so a bad command leaves nothing behind. Each failure is a
``UserError`` naming the key and what is allowed.
"""

from typing import Any

from jsonargparse import Namespace

from project.config_tree import read_yaml_file
from project.errors import UserError, did_you_mean
from project.run.checkpoint_read import read_checkpoint

# Trainer integers and floats and their smallest allowed value (Lightning checks some of them too late, e.g.
# accumulate_grad_batches: 0 fails with ZeroDivisionError in the first step).
TRAINER_MINIMUMS: dict[str, float] = {
    "accumulate_grad_batches": 1,
    "check_val_every_n_epoch": 1,
    "log_every_n_steps": 1,
    "num_nodes": 1,
    "max_epochs": -1,
    "min_epochs": 0,
    "max_steps": -1,
    "min_steps": 0,
    "gradient_clip_val": 0,
    "limit_train_batches": 0,
    "limit_val_batches": 0,
    "limit_test_batches": 0,
    "limit_predict_batches": 0,
    "num_sanity_val_steps": -1,
    "reload_dataloaders_every_n_epochs": 0,
}
CKPT_SHORTCUTS = ("best", "last", "hpc", "registry")


def check_config_files(paths: list[str]) -> None:
    """Every ``--config`` file exists and is valid YAML (the error names the line and column)."""
    for path in paths:
        content = read_yaml_file(path, f"--config {path}")
        if content is not None and not isinstance(content, dict):
            raise UserError(
                f"--config {path}: expected a mapping of keys (key: value), got {type(content).__name__}"
            )


def check_trainer(trainer: Namespace) -> None:
    """Values in range and a known strategy name. Devices, accelerators and what a strategy needs are checked
    by ``Trainer()`` itself (its errors name the key through ``project.cli.trainer_errors``)."""
    for key, minimum in TRAINER_MINIMUMS.items():
        value = trainer.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and value < minimum:
            raise UserError(f"trainer.{key}: {value} is out of range; allowed: {minimum:g} or more")
    check_strategy_name(trainer.get("strategy"))


def check_strategy_name(strategy: Any) -> None:
    """Lightning refuses an unknown name too, but lists a few examples and no close match."""
    from lightning.pytorch.strategies import StrategyRegistry

    if not isinstance(strategy, str):
        return
    known = ["auto", *StrategyRegistry.available_strategies()]
    if strategy.lower() not in known:
        raise UserError(
            f"trainer.strategy: {strategy!r} is unknown; allowed: {', '.join(known)}, or a Strategy "
            f"class (class_path: DDPStrategy, init_args: ...){did_you_mean(strategy.lower(), known)}"
        )


def check_ckpt_path(subcommand: str, cfg: Namespace, has_run_dir: bool) -> None:
    """``ckpt_path`` is a readable checkpoint this user may load (or a shortcut that can be resolved)."""
    path = cfg.get("ckpt_path")
    if path is None:
        return
    path = str(path)
    if path in CKPT_SHORTCUTS:
        if path in ("best", "last") and subcommand != "fit" and not has_run_dir:
            raise UserError(
                f"ckpt_path: {path!r} needs a run: give --config RUN/config.yaml, or a checkpoint file"
            )
        return
    if "://" in path:
        if cfg.get("weights_only") is None:
            cfg.weights_only = True  # Lightning would load remote files with weights_only=False
        return
    read_checkpoint(path, "ckpt_path", trust=cfg.get("weights_only") is False)
