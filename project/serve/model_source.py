"""What the server runs: the run's ONNX or ``.pt2`` export, or the eager net from a checkpoint."""

from collections.abc import Callable
from dataclasses import dataclass

import torch

from project.errors import UserError
from project.export.command import FILES
from project.export.trained_run import load_run


@dataclass
class LoadedModel:
    run: Callable[[torch.Tensor], torch.Tensor]  # a batch of inputs -> logits
    input_shape: tuple[int, ...]  # one sample's shape
    classes: list[str] | None
    image_mode: str | None  # PIL mode of image uploads; None when the data are not images
    transforms: list
    source: str


def load_model(config: str, ckpt_path: str, source: str, device: str = "cpu") -> LoadedModel:
    """Load what ``source`` names (``auto``: the ONNX export when there is one, else the checkpoint)."""
    trained = load_run(config, ckpt_path)
    export = trained.run.export
    if source == "auto":
        source = "onnx" if (export / FILES["onnx"]).is_file() else "checkpoint"
    if source in FILES and not (export / FILES[source]).is_file():
        raise UserError(
            f"--source: {source}, but {export / FILES[source]} does not exist; run `export` first"
        )
    shape = tuple(trained.sample_batches(1)[0].shape[1:])
    data = trained.datamodule
    if source == "onnx":
        from project.export.parity import onnx_runner

        run = onnx_runner(export / FILES["onnx"])
    elif source == "pt2":
        from project.export.parity import pt2_runner

        run = pt2_runner(export / FILES["pt2"])
    else:
        net = trained.net.to(device)
        run = lambda x: net(x.to(device)).cpu()  # noqa: E731
    classes = trained.classes
    return LoadedModel(
        run, shape, classes, getattr(data, "image_mode", None), list(data.eval_transforms), source
    )
