"""A dry forward of one real batch through the net before any training: a net that does not fit the data
(input channels, input size, output classes) is a ``UserError`` naming ``model.net``, not a traceback in the
sanity check.

The check is cheap and leaves no trace: a few samples of the stage's split, collated without loader workers,
one forward in eval mode without gradients; each module's train/eval mode and the random number generators
are restored, so a run trains bit-identically with or without it. Every rank runs it on its own (no
collective), and all ranks reach the same verdict, so DDP cannot deadlock on it.
"""

import inspect
import random
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from lightning.pytorch import LightningDataModule, LightningModule
from torch import nn
from torch.utils.data import DataLoader, IterableDataset

from project.errors import UserError

# Loader each subcommand runs through first.
_LOADERS = {
    "fit": "train_dataloader",
    "validate": "val_dataloader",
    "test": "test_dataloader",
    "predict": "predict_dataloader",
}
# Samples the dry forward takes: enough for any layer, few enough to cost nothing next to the sanity check.
_SAMPLES = 2
# Words of torch's errors when a tensor's shape does not fit a layer; other errors are bugs (traceback).
_SHAPE_WORDS = ("shape", "size", "channel", "dimension", "dim ")


def check_net_fits_data(
    subcommand: str,
    model: LightningModule,
    datamodule: LightningDataModule | None,
    summary_input: bool = True,
) -> None:
    """One batch of ``datamodule``'s ``subcommand`` split through ``model``; ``UserError`` on a misfit.

    With ``summary_input``, one sample becomes the module's ``example_input_array`` for the model summary.
    """
    loader = _loader(subcommand, model, datamodule)
    if loader is None:
        return
    with _restored_state(model):
        samples = [loader.dataset[i] for i in range(min(_SAMPLES, len(loader.dataset)))]  # type: ignore[arg-type]
        if not samples:
            return
        batch = (loader.collate_fn or torch.utils.data.default_collate)(samples)
        x = batch[0] if isinstance(batch, list | tuple) else batch
        if not isinstance(x, torch.Tensor):
            return
        shape = [loader.batch_size or len(samples), *x.shape[1:]]
        data = type(datamodule).__name__
        try:
            with torch.no_grad():
                output = model(x)
        except RuntimeError as err:
            text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            if not any(word in text.lower() for word in _SHAPE_WORDS):
                raise
            raise UserError(_input_misfit(model, data, shape, text)) from None
    _check_outputs(model, datamodule, data, output)
    if summary_input and model.example_input_array is None:
        # The model summary counts FLOPs per sample on this input (it prints "Total FLOPs: 0" without).
        model.example_input_array = x[:1]


def _loader(
    subcommand: str, model: LightningModule, datamodule: LightningDataModule | None
) -> DataLoader | None:
    """The loader to take the batch from, or ``None`` where the check does not apply."""
    if datamodule is None or subcommand not in _LOADERS:
        return None
    if type(datamodule).prepare_data is not LightningDataModule.prepare_data:
        return None  # it downloads or writes files first: Lightning runs that once per node, in order
    if any(isinstance(p, nn.parameter.UninitializedParameter) or p.is_meta for p in model.parameters()):
        return None  # lazy or not yet materialised layers: a forward would initialise them
    datamodule.setup(subcommand)  # ours return at once when Lightning calls it again
    loader = getattr(datamodule, _LOADERS[subcommand])()
    if not isinstance(loader, DataLoader) or isinstance(loader.dataset, IterableDataset):
        return None
    if not hasattr(loader.dataset, "__len__"):
        return None
    return loader


@contextmanager
def _restored_state(model: nn.Module) -> Iterator[None]:
    """Eval mode and free random draws inside; every module's mode and every generator restored after."""
    modes = [(module, module.training) for module in model.modules()]
    python_state, numpy_state = random.getstate(), np.random.get_state()
    try:
        with torch.random.fork_rng(devices=[]):
            model.eval()
            yield
    finally:
        for module, training in modes:
            module.training = training
        random.setstate(python_state)
        np.random.set_state(numpy_state)


def _input_misfit(model: LightningModule, data: str, shape: list[int], error: str) -> str:
    net = getattr(model, "net", model)
    name = type(net).__name__
    head = f"model.net: {name} does not take the batches the data ({data}) gives, of shape {shape}"
    first = next((m for m in net.modules() if hasattr(m, "in_channels") or hasattr(m, "in_features")), None)
    accepts = inspect.signature(type(net).__init__).parameters
    if isinstance(first, nn.modules.conv._ConvNd) and len(shape) > 1 and first.in_channels != shape[1]:
        fix = f"; set model.net.init_args.in_channels: {shape[1]}" if "in_channels" in accepts else ""
        return f"{head}: it expects in_channels {first.in_channels}, the data has {shape[1]}{fix}"
    if isinstance(first, nn.Linear) and first.in_features != int(np.prod(shape[1:])):
        size = int(np.prod(shape[1:]))
        fix = f"; set model.net.init_args.in_features: {size}" if "in_features" in accepts else ""
        return f"{head}: it expects in_features {first.in_features}, one sample has {size} values{fix}"
    return f"{head}: {error}"


def _check_outputs(
    model: LightningModule, datamodule: LightningDataModule, data: str, output: object
) -> None:
    """A classifier's logits have one column per class of the data and of the evaluator."""
    if not isinstance(output, torch.Tensor) or output.ndim != 2:
        return  # not ``(batch, classes)`` logits: the loss decides what it takes
    name = type(getattr(model, "net", model)).__name__
    evaluator = getattr(model, "evaluator", None)
    for count, what in (
        (getattr(datamodule, "num_classes", None), f"the data ({data}) has {{}} classes"),
        (getattr(evaluator, "num_classes", None), "model.evaluator.init_args.num_classes is {}"),
    ):
        if isinstance(count, int) and output.shape[1] != count:
            raise UserError(
                f"model.net: {name} gives {output.shape[1]} outputs per sample, but {what.format(count)}; "
                f"make its last layer give {count} (e.g. model.net.init_args.num_classes: {count})"
            )
