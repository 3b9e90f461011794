"""A finished run's net, data and class names, rebuilt from its ``config.yaml`` and one checkpoint."""

import copy
import hashlib
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import nn

from project.errors import UserError
from project.run.run_dir import RunDir


@dataclass
class TrainedRun:
    """What export and serving need from a run: the eval-mode net with the checkpoint's weights, and more.

    ``net`` carries the checkpoint's ``state_dict``: with EMA on, that is the averaged weights.
    """

    run: RunDir
    checkpoint: Path
    net: nn.Module
    datamodule: Any
    config: dict
    averaged: bool  # the checkpoint came from an EMA run (its state_dict is the average)

    @property
    def classes(self) -> list[str] | None:
        return getattr(self.datamodule, "classes", None)

    @property
    def eval_transforms(self) -> list:
        """The ``eval_transforms`` entries of the run's config (``class_path`` + ``init_args``)."""
        return list((self.config["data"].get("init_args") or {}).get("eval_transforms") or [])

    def checkpoint_sha256(self) -> str:
        digest = hashlib.sha256()
        with self.checkpoint.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()

    def sample_batches(self, max_samples: int, batch_size: int = 64) -> list[torch.Tensor]:
        """Inputs of the run's test split (its eval transforms applied), at most ``max_samples`` of them."""
        data = self.datamodule
        data.num_workers = 0  # a few hundred samples: worker processes cost more than they save
        data.batch_size = batch_size
        data.setup("test")
        batches, count = [], 0
        for batch in data.test_dataloader():
            x = batch[0][: max_samples - count]
            batches.append(x.float())
            count += len(x)
            if count >= max_samples:
                break
        if not batches:
            raise UserError(f"--config: the run's data ({type(data).__name__}) has an empty test split")
        return batches


def load_run(config: str | Path, ckpt_path: str = "best") -> TrainedRun:
    """Rebuild a run's model and data from ``RUN/config.yaml`` and load ``ckpt_path`` (best, last or a file).

    Raises:
        UserError: The config is not in a run dir, or the checkpoint is missing or does not fit the net.
    """
    from project.model.module import without_compile_prefix
    from project.run.checkpoint_read import read_checkpoint

    run = RunDir.containing(config)
    if run is None or not Path(config).is_file():
        raise UserError(f"--config: {config} is not the config.yaml of a run dir (RUN/config.yaml)")
    if ckpt_path in ("best", "last"):
        checkpoint = run.best_checkpoint() if ckpt_path == "best" else run.last_checkpoint
    else:
        checkpoint = Path(ckpt_path)
    state = read_checkpoint(checkpoint, "ckpt_path")
    raw = yaml.safe_load(Path(config).read_text())
    model, datamodule = instantiate(raw)
    weights = without_compile_prefix(state["state_dict"])
    try:
        model.load_state_dict(weights)
    except RuntimeError as err:
        first = str(err).strip().splitlines()[0]
        raise UserError(f"ckpt_path: {checkpoint} does not fit the run's model.net ({first})") from err
    net = model.net.eval()
    for parameter in net.parameters():
        parameter.requires_grad_(False)
    return TrainedRun(run, checkpoint, net, datamodule, raw, "current_model_state" in state)


def instantiate(raw: dict) -> tuple[Any, Any]:
    """The ``model`` and ``data`` sections of a saved config, built as LightningCLI builds them."""
    from jsonargparse import ArgumentError
    from lightning.pytorch.cli import LightningArgumentParser

    # Imported for their side effect: their classes resolve by short name (`class_path: ResNet`).
    import project.data
    import project.evaluation
    import project.loggers
    import project.nets
    import project.optim  # noqa: F401
    from project.data.base import BaseDataModule
    from project.model.module import SupervisedModule

    parser = LightningArgumentParser(exit_on_error=False)
    parser.add_lightning_class_args(SupervisedModule, "model", subclass_mode=False)
    parser.add_lightning_class_args(BaseDataModule, "data", subclass_mode=True)
    try:
        # A copy: jsonargparse turns the dicts it is given into Namespaces.
        cfg = parser.parse_object(copy.deepcopy({"model": raw["model"], "data": raw["data"]}))
        with warnings.catch_warnings():  # save_hyperparameters' advice about nn.Module arguments: not ours
            warnings.filterwarnings("ignore", message=".*is an instance of `nn.Module`")
            built = parser.instantiate_classes(cfg)
    except (KeyError, ArgumentError) as err:
        raise UserError(f"--config: the run's config does not build its model and data ({err})") from err
    return built.model, built.data
