"""Checks of the parsed config that need no class built: config files, trainer values, devices, checkpoints.

They run before the run dir is created, so a bad command leaves nothing behind. Each failure is a
``UserError`` naming the key and what is allowed.
"""

from pathlib import Path
from typing import Any

from jsonargparse import Namespace

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
ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps", "tpu", "hpu")
CKPT_SHORTCUTS = ("best", "last", "hpc", "registry")


def check_config_files(paths: list[str]) -> None:
    """Every ``--config`` file exists and is valid YAML (the error names the line and column)."""
    import yaml

    for path in paths:
        file = Path(path)
        if not file.is_file():
            what = "is a folder" if file.is_dir() else "does not exist"
            raise UserError(f"--config {path}: file {what}")
        try:
            content = yaml.safe_load(file.read_text())
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
            problem = getattr(err, "problem", None) or str(err).splitlines()[0]
            raise UserError(f"--config {path}: not valid YAML{where}: {problem}") from None
        except UnicodeDecodeError:
            raise UserError(f"--config {path}: not a text file") from None
        if content is not None and not isinstance(content, dict):
            raise UserError(
                f"--config {path}: expected a mapping of keys (key: value), got {type(content).__name__}"
            )


def check_trainer(trainer: Namespace) -> None:
    """Values in range, an accelerator, devices, strategy this machine has."""
    for key, minimum in TRAINER_MINIMUMS.items():
        value = trainer.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and value < minimum:
            raise UserError(f"trainer.{key}: {value} is out of range; allowed: {minimum:g} or more")
    accelerator = trainer.get("accelerator")
    gpu = gpu_requested(accelerator)
    check_devices(trainer.get("devices"), gpu)
    check_strategy(trainer.get("strategy"), gpu)


def gpu_requested(accelerator: Any) -> bool:
    """Whether the run will use CUDA GPUs; raises for an accelerator name that does not exist or is absent."""
    import torch

    if not isinstance(accelerator, str):
        return torch.cuda.is_available()  # an Accelerator instance or null: Lightning decides
    name = accelerator.lower()
    if name not in ACCELERATORS:
        raise UserError(
            f"trainer.accelerator: {accelerator!r} is unknown; allowed: {', '.join(ACCELERATORS)}"
            f"{did_you_mean(name, ACCELERATORS)}"
        )
    if name in ("gpu", "cuda") and not torch.cuda.is_available():
        raise UserError(
            f"trainer.accelerator: {accelerator!r} but this machine has no CUDA GPU; use cpu or auto"
        )
    return name in ("gpu", "cuda") or (name == "auto" and torch.cuda.is_available())


def check_devices(devices: Any, gpu: bool) -> None:
    import torch

    allowed = "an integer >= 1, a list of GPU indices such as [0, 1], 'auto' or -1 (all GPUs)"
    if devices is None or devices == "auto":
        return
    if isinstance(devices, str):
        text = devices.strip().strip(",")
        try:
            devices = [int(i) for i in text.split(",")] if "," in text else int(text)
        except ValueError:
            raise UserError(f"trainer.devices: {devices!r} is not allowed; allowed: {allowed}") from None
    if isinstance(devices, bool) or not isinstance(devices, int | list | tuple):
        raise UserError(f"trainer.devices: {devices!r} is not allowed; allowed: {allowed}")
    if not gpu:
        if isinstance(devices, int) and devices < 1:
            raise UserError(f"trainer.devices: {devices} on CPU; allowed: the number of processes, 1 or more")
        if isinstance(devices, list | tuple):
            raise UserError(
                f"trainer.devices: {list(devices)} lists GPU indices, but the run uses the CPU; "
                "on CPU give the number of processes (e.g. 2)"
            )
        return
    available = torch.cuda.device_count()
    if isinstance(devices, int):
        if devices < -1 or devices == 0:
            raise UserError(f"trainer.devices: {devices} is not allowed; allowed: {allowed}")
        if devices > available:
            raise UserError(f"trainer.devices: {devices} GPUs requested, but this machine has {available}")
        return
    missing = [i for i in devices if not isinstance(i, int) or not 0 <= i < available]
    if missing:
        raise UserError(
            f"trainer.devices: GPU {missing} requested, but this machine has GPUs {list(range(available))}"
        )


def check_strategy(strategy: Any, gpu: bool) -> None:
    from lightning.pytorch.strategies import StrategyRegistry

    if isinstance(strategy, Namespace):
        name = strategy.get("class_path", "").rpartition(".")[2].lower().replace("strategy", "")
    elif isinstance(strategy, str):
        name = strategy.lower()
        known = ["auto", *StrategyRegistry.available_strategies()]
        if name not in known:
            raise UserError(
                f"trainer.strategy: {strategy!r} is unknown; allowed: {', '.join(known)}, or a Strategy "
                f"class (class_path: DDPStrategy, init_args: ...){did_you_mean(name, known)}"
            )
    else:
        return
    if not gpu and name.startswith(("fsdp", "deepspeed")):
        raise UserError(
            f"trainer.strategy: {name} needs CUDA GPUs, but this run uses the CPU; use ddp on CPU "
            "(e.g. --trainer.strategy=ddp --trainer.devices=2) or run on a GPU machine"
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
