"""``main.py export --config RUN/config.yaml [--ckpt_path best] [--format onnx pt2] [--batch_size N]``."""

import json
import os
import shutil
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Literal

from jsonargparse import ArgumentParser

from project.errors import UserError
from project.export.trained_run import TrainedRun, load_run

EXPORT_PACKAGES = ("onnx", "onnxscript", "onnxruntime")
FILES = {"onnx": "model.onnx", "pt2": "model.pt2"}
EXIT_PARITY = 1  # not a user mistake: the exporter wrote a file that computes something else


def export(
    config: str,
    ckpt_path: str = "best",
    format: list[Literal["onnx", "pt2"]] | None = None,
    batch_size: int = 2,
    parity_samples: int = 512,
) -> Path:
    """Export a finished run's net to ``RUN/export/`` and check the files against the eager net.

    The exported net is the eval-mode, uncompiled ``model.net`` with the checkpoint's weights (the averaged
    ones when EMA was on); it takes a float32 batch ``(N, C, H, W)`` after the run's eval transforms and
    returns logits (softmax gives the class probabilities).

    Args:
        config: The run's ``config.yaml`` (``RUN/config.yaml``).
        ckpt_path: ``best``, ``last`` or a checkpoint file.
        format: Files to write: ``onnx`` (``model.onnx``, onnxruntime) and/or ``pt2`` (``torch.export``).
        batch_size: Batch the net is traced with; at least 2, since a batch of 1 would fix the batch size.
        parity_samples: Test-split samples on which every file must agree with the eager net.
    """
    formats = list(dict.fromkeys(format or ["onnx", "pt2"]))
    if batch_size < 2:
        raise UserError(
            "--batch_size: trace with at least 2 samples (1 would make the batch size a constant)"
        )
    trained = load_run(config, ckpt_path)
    batches = trained.sample_batches(parity_samples)
    example = ensure_batch(batches, batch_size)
    target = trained.run.export
    staging = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        figures = write_and_check(trained, formats, example, batches, staging)
        info = describe(trained, formats, example, figures, staging)
        (staging / "export.json").write_text(json.dumps(info, indent=2) + "\n")
        shutil.rmtree(target, ignore_errors=True)
        staging.replace(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def ensure_batch(batches: list, size: int):
    """The first ``size`` samples (repeated when the split is smaller) as the tracing example."""
    import torch

    samples = torch.cat(batches)
    repeats = (size + len(samples) - 1) // len(samples)
    return samples.repeat(repeats, *[1] * (samples.dim() - 1))[:size].contiguous()


def write_and_check(trained: TrainedRun, formats: list[str], example, batches: list, folder: Path) -> dict:
    from project.export import parity, writers

    runners = {}
    if "pt2" in formats:
        writers.write_pt2(trained.net, example, folder / FILES["pt2"])
        runners["pt2"] = parity.pt2_runner(folder / FILES["pt2"])
    if "onnx" in formats:
        writers.write_onnx(trained.net, example, folder / FILES["onnx"])
        runners["onnx"] = parity.onnx_runner(folder / FILES["onnx"])
    return parity.compare(trained.net, runners, batches)


def describe(trained: TrainedRun, formats: list[str], example, figures: dict, folder: Path) -> dict:
    """The contents of ``export.json``."""
    from project.provenance import git, package_versions

    run_info = json.loads(trained.run.info.read_text()) if trained.run.info.is_file() else {}
    versions = package_versions()
    for name in EXPORT_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    data = trained.datamodule
    return {
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "files": {fmt: FILES[fmt] for fmt in formats},
        "net": type(trained.net).__name__,
        "input": {
            "name": "input",
            "shape": ["batch", *example.shape[1:]],
            "dtype": str(example.dtype).removeprefix("torch."),
            "batch": "dynamic (named 'batch', at least 1)",
        },
        "output": {"name": "logits", "meaning": "class scores; softmax gives probabilities in class order"},
        "preprocessing": {
            "image_mode": getattr(data, "image_mode", None),
            "pixels": "scaled to [0, 1] (value / 255), then the eval transforms in order",
            "eval_transforms": trained.eval_transforms,
        },
        "class_names": trained.classes,
        "checkpoint": {
            "path": str(trained.checkpoint),
            "sha256": trained.checkpoint_sha256(),
            "ema_weights": trained.averaged,
        },
        "git_commit": git("rev-parse", "HEAD"),
        "run_git_commit": run_info.get("git_commit"),
        "versions": versions,
        "pt2_note": "a .pt2 file may not load in other torch versions than versions.torch",
        "parity": figures,
    }


def main(argv: list[str], parser_class: type[ArgumentParser]) -> None:
    """Parse ``argv`` (after ``export``) with ``parser_class`` (the CLI's) and export; exit 2 on a user
    error, 1 when parity fails."""
    from project.errors import report, user_errors_exit_2
    from project.export.parity import ParityError

    parser = parser_class(prog="main.py export", description=export.__doc__.splitlines()[0])
    # `--format onnx pt2` (space-separated, as argparse's nargs), not jsonargparse's `--format [onnx,pt2]`.
    parser.add_function_arguments(export, as_positional=False, skip={"format"})
    parser.add_argument(
        "--format",
        nargs="+",
        choices=list(FILES),
        default=list(FILES),
        help="Files to write: onnx and/or pt2.",
    )
    with user_errors_exit_2():
        args = parser.parse_args(argv)
        try:
            target = export(**{k: v for k, v in args.items() if not k.startswith("__")})
        except ParityError as err:
            report(
                f"export: parity check failed, nothing written: {err}\n{json.dumps(err.figures, indent=2)}"
            )
            raise SystemExit(EXIT_PARITY) from None
    figures = json.loads((target / "export.json").read_text())["parity"]
    sys.stdout.write(f"Exported to {target}\nParity: {json.dumps(figures['max_abs_diff'])}\n")
