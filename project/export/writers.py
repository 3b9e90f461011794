"""Writing the net as ``model.pt2`` (``torch.export``) and ``model.onnx`` (the dynamo ONNX exporter).

Both trace the eval-mode net with a batch of at least 2 and a named dynamic batch dimension: a batch of 1
would specialize the dimension to the constant 1 (torch's 0/1 specialization).
"""

import contextlib
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn

from project.errors import UserError

INPUT_NAME = "input"
OUTPUT_NAME = "logits"
ONNX_SINGLE_FILE_LIMIT = 2**31 - 2**24  # protobuf's 2 GB, less room for the graph
_USER_FRAME = re.compile(r'File "([^"]+)", line (\d+), in (\w+)\n\s+(.+)')


class ExportError(UserError):
    """The net cannot be exported; the message names the layer and the operation when they are known.

    A user error (exit status 2): the net's code, not the command, has to change.
    """


def dynamic_batch() -> tuple[dict[int, torch.export.Dim], ...]:
    """``dynamic_shapes`` for one input whose dimension 0 is the batch (named ``batch``, at least 1)."""
    return ({0: torch.export.Dim("batch", min=1)},)


@contextlib.contextmanager
def quiet_exporters() -> Iterator[None]:
    """Hide the exporters' log output (graph dumps, "torchvision is not installed"); errors still raise."""
    loggers = [logging.getLogger(name) for name in ("torch", "onnxscript", "onnx_ir")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def write_pt2(net: nn.Module, example: torch.Tensor, path: Path) -> None:
    """``torch.export`` the net with a dynamic batch and save the program to ``path``."""
    with quiet_exporters():
        try:
            program = torch.export.export(net, (example,), dynamic_shapes=dynamic_batch())
        except Exception as err:
            raise ExportError(f"export: {explain('pt2', net, example, err)}") from err
        torch.export.save(program, path)


def write_onnx(net: nn.Module, example: torch.Tensor, path: Path) -> None:
    """Export the net to ONNX with a dynamic batch; the weights go inside the file when under 2 GB."""
    size = sum(t.numel() * t.element_size() for t in (*net.parameters(), *net.buffers()))
    with quiet_exporters():
        try:
            torch.onnx.export(
                net,
                (example,),
                str(path),
                dynamo=True,
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                dynamic_shapes=dynamic_batch(),
                external_data=size >= ONNX_SINGLE_FILE_LIMIT,
                report=False,
                verbose=False,
            )
        except ModuleNotFoundError as err:  # the dynamo exporter needs onnxscript
            raise ExportError(
                f"export: onnx needs {err.name}, which is not installed: pip install -e '.[export]'"
            ) from err
        except Exception as err:
            raise ExportError(f"export: {explain('onnx', net, example, err)}") from err


def explain(fmt: str, net: nn.Module, example: torch.Tensor, err: BaseException) -> str:
    """``<format>: cannot export <layer> (<class>): <first line>; at <file>:<line>: <code>``."""
    text = str(err)
    frames = [m for m in _USER_FRAME.finditer(text) if "/torch/" not in m.group(1)]
    where = (
        f"; at {frames[-1].group(1)}:{frames[-1].group(2)}: {frames[-1].group(4).strip()}" if frames else ""
    )
    layer = failing_layer(net, example) if fmt == "pt2" else None
    what = f"layer {layer[0]!r} ({layer[1]})" if layer else f"the net ({type(net).__name__})"
    first = next((line.strip() for line in text.splitlines() if line.strip()), type(err).__name__)
    return f"{fmt}: cannot export {what}: {type(err).__name__}: {first[:300]}{where}"


def failing_layer(net: nn.Module, example: torch.Tensor) -> tuple[str, str] | None:
    """The deepest sub-module that fails ``torch.export`` on the input it gets in an eager forward."""
    inputs: dict[str, tuple] = {}
    hooks = [
        module.register_forward_pre_hook(lambda _m, args, name=name: inputs.setdefault(name, args))
        for name, module in net.named_modules()
        if name
    ]
    try:
        with torch.no_grad():
            net(example)
    except Exception:
        return None
    finally:
        for hook in hooks:
            hook.remove()
    modules = dict(net.named_modules())
    for name in sorted(inputs, key=lambda n: -n.count(".")):
        try:
            torch.export.export(modules[name], inputs[name])
        except Exception:
            return name, type(modules[name]).__name__
    return None
