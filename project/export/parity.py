"""Parity of the exported files with the eager net, on real batches and at several batch sizes.

The dynamo ONNX exporter has known wrong-output bugs (pytorch/pytorch#166797), so an export is kept only if
every file's outputs agree with eager ones within ``torch.testing.assert_close``'s default float32
tolerances and their argmax agrees on every sample.
"""

from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from project.export.writers import INPUT_NAME

DYNAMIC_BATCH_SIZES = (1, 7, 64)
Runner = Callable[[torch.Tensor], torch.Tensor]


class ParityError(Exception):
    """An exported file computes something else than the eager net; the message says by how much."""

    def __init__(self, message: str, figures: dict) -> None:
        super().__init__(message)
        self.figures = figures


def pt2_runner(path: Path) -> Runner:
    module = torch.export.load(str(path)).module()
    return lambda x: module(x)


def onnx_runner(path: Path) -> Runner:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return lambda x: torch.from_numpy(session.run(None, {INPUT_NAME: x.contiguous().numpy()})[0])


def compare(net: nn.Module, runners: dict[str, Runner], batches: list[torch.Tensor]) -> dict:
    """Run every batch through the eager net and each runner; the figures, or ``ParityError`` with them.

    Also runs batches of ``DYNAMIC_BATCH_SIZES`` samples (repeating samples when there are fewer) through
    each, which proves every file's batch dimension dynamic.
    """
    samples = torch.cat(batches)
    repeats = (max(DYNAMIC_BATCH_SIZES) + len(samples) - 1) // len(samples)
    sized = [samples.repeat(repeats, *[1] * (samples.dim() - 1))[:n] for n in DYNAMIC_BATCH_SIZES]
    outputs, failures = {}, []
    with torch.no_grad():
        for name, run in {"eager": net, **runners}.items():
            outputs[name] = torch.cat([run(x) for x in batches])
            for x in sized:
                out, expected = run(x), net(x)
                if name != "eager" and not close(out, expected):
                    failures.append(f"{name} at batch size {len(x)}: {difference(out, expected)}")
    figures: dict = {
        "samples": len(samples),
        "dynamic_batch_sizes_checked": list(DYNAMIC_BATCH_SIZES),
        "tolerance": "torch.testing.assert_close defaults (float32: rtol 1.3e-6, atol 1e-5)",
        "max_abs_diff": {},
        "argmax_disagreements": {},
    }
    names = list(outputs)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            figures["max_abs_diff"][f"{a}_vs_{b}"] = (outputs[a] - outputs[b]).abs().max().item()
            figures["argmax_disagreements"][f"{a}_vs_{b}"] = int(
                (outputs[a].argmax(-1) != outputs[b].argmax(-1)).sum()
            )
    for name in runners:
        if not close(outputs[name], outputs["eager"]):
            failures.append(f"{name}: {difference(outputs[name], outputs['eager'])}")
        if wrong := figures["argmax_disagreements"][f"eager_vs_{name}"]:
            failures.append(f"{name}: argmax differs from eager on {wrong} of {len(samples)} samples")
    if failures:
        raise ParityError("; ".join(failures), figures)
    return figures


def close(actual: torch.Tensor, expected: torch.Tensor) -> bool:
    try:
        torch.testing.assert_close(actual, expected)
    except AssertionError:
        return False
    return True


def difference(actual: torch.Tensor, expected: torch.Tensor) -> str:
    """How far ``actual`` is from ``expected``: shapes, or the largest absolute and relative differences."""
    if actual.shape != expected.shape:
        return f"shape {tuple(actual.shape)} instead of {tuple(expected.shape)}"
    diff = (actual.float() - expected.float()).abs()
    rel = (diff / expected.float().abs().clamp_min(1e-12)).max().item()
    return f"max abs diff {diff.max().item():.3g}, max rel diff {rel:.3g} (beyond assert_close's defaults)"
