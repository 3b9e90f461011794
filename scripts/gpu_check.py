"""One GPU check (``scripts/gpu_check.sh``): the template's throughput against a raw loop, no host syncs on
quiet steps, and the GPU tests, printed as one table. ``--cpu``: the same pipeline with a tiny net on the CPU
(a dry run for CI; throughput is not gated there).

ResNet-50, ``bf16-mixed``, channels-last, batch 256, ImageNet-shaped synthetic data made on the device, SGD:
images/s over ``--steps`` optimizer steps after ``--warmup``, for a raw loop and ``main.py fit`` with the
shipped callbacks and loggers (``configs/digits.yaml``'s), eager and with ``model.compile: true``; both start
from the same seed and must end with the same loss (to ``--loss-tolerance``, relative: cuDNN picks kernels
per process). Then ``--sync-steps`` steps of ``main.py fit`` with ``set_sync_debug_mode("error")`` on every
step that does not log, and ``pytest -m gpu``.
"""

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]
SEED = 0
GATE = 0.98  # template / raw images per second, on a GPU


def sizes(cpu: bool) -> dict:
    if cpu:  # a tiny ResNet on 16x16 images: seconds, not minutes
        net = {"depth": 18, "num_classes": 10, "in_channels": 3, "small_input": True, "width": 8}
        return {"net": net, "shape": [3, 16, 16], "batch": 8, "classes": 10}
    return {"net": {"depth": 50, "num_classes": 1000, "in_channels": 3}, "shape": [3, 224, 224], "batch": 256,
            "classes": 1000}  # fmt: skip


def raw_loop(size: dict, warmup: int, steps: int, compile_net: bool) -> dict:
    from gpu_check_plugins import DeviceBatches, device, synchronize

    from project.nets import ResNet

    random.seed(SEED), np.random.seed(SEED), torch.manual_seed(SEED)
    net = ResNet(**size["net"]).to(device(), memory_format=torch.channels_last)
    data = DeviceBatches(size["shape"], size["classes"], size["batch"], warmup + steps)
    data.setup("fit")
    model = torch.compile(net) if compile_net else net
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    net.train()
    start = 0.0
    for step, (x, y, _) in enumerate(data.train_dataloader()):
        if step == warmup:
            synchronize()
            start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device().type, dtype=torch.bfloat16):
            loss = loss_fn(model(x.contiguous(memory_format=torch.channels_last)), y)
        loss.backward()
        optimizer.step()
    synchronize()
    return {"seconds": time.perf_counter() - start, "steps": steps, "loss": loss.item()}


def overlay(size: dict, warmup: int, steps: int, compile_net: bool, log_every: int = 50) -> dict:
    """What the check changes in ``configs/digits.yaml``: net, data, precision, optimizer, length."""
    return {
        "seed_everything": SEED,
        "run": {"test_after_fit": False},
        "trainer": {"accelerator": "auto", "devices": 1, "precision": "bf16-mixed", "max_epochs": 1,
                    "max_steps": warmup + steps, "log_every_n_steps": log_every, "limit_val_batches": 2},
        "model": {
            "net": {"class_path": "ResNet", "init_args": size["net"]},
            "optimizer": {"class_path": "SGD", "init_args": {"lr": 0.01, "momentum": 0.9}},
            "scheduler": None,
            "evaluator": {"class_path": "ClassificationEvaluator",
                          "init_args": {"num_classes": size["classes"]}},
            "channels_last": True,
            "compile": compile_net,
        },
        "data": {"class_path": "gpu_check_plugins.DeviceBatches",
                 "init_args": {"input_shape": size["shape"], "num_classes": size["classes"],
                               "batch_size": size["batch"], "train_batches": warmup + steps}},
    }  # fmt: skip


def main_py(config: dict, tmp: Path, name: str, callback: str) -> subprocess.CompletedProcess:
    path = tmp / f"{name}.json"
    path.write_text(json.dumps(config))
    cmd = [sys.executable, "main.py", "fit", "--config", "configs/digits.yaml", "--config", str(path),
           f"--run.root={tmp / 'result'}", f"--trainer.callbacks+={callback}"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "scripts"), str(ROOT),
                                                         os.environ.get("PYTHONPATH", "")])}  # fmt: skip
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)


def template(size: dict, warmup: int, steps: int, compile_net: bool, tmp: Path) -> dict:
    out = tmp / "template_result.json"
    out.unlink(missing_ok=True)
    timer = json.dumps({"class_path": "gpu_check_plugins.StepWindowTimer",
                        "init_args": {"warmup": warmup, "steps": steps, "out": str(out)}})  # fmt: skip
    result = main_py(overlay(size, warmup, steps, compile_net), tmp, "template", timer)
    if result.returncode != 0 or not out.is_file():
        raise RuntimeError(f"main.py fit failed:\n{result.stderr[-3000:]}")
    return json.loads(out.read_text())


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cpu", action="store_true", help="tiny net on the CPU (a dry run for CI)")
    parser.add_argument("--warmup", type=int, help="steps before timing (20; 2 with --cpu)")
    parser.add_argument("--steps", type=int, help="timed steps (200; 4 with --cpu)")
    parser.add_argument("--sync-steps", type=int, help="steps of the sync check (100; 12 with --cpu)")
    parser.add_argument("--loss-tolerance", type=float, default=0.02, help="relative, raw vs template")
    args = parser.parse_args()
    if not args.cpu and not torch.cuda.is_available():
        print("no CUDA device: run with --cpu for the dry run", file=sys.stderr)
        return 2
    warmup = args.warmup if args.warmup is not None else (2 if args.cpu else 20)
    steps = args.steps or (4 if args.cpu else 200)
    sync_steps = args.sync_steps or (12 if args.cpu else 100)
    size = sizes(args.cpu)
    rows, failed = [], []
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        for compile_net in (False,) if args.cpu else (False, True):
            raw = raw_loop(size, warmup, steps, compile_net)
            ours = template(size, warmup, steps, compile_net, Path(tmp))
            speed = {k: r["steps"] * size["batch"] / r["seconds"] for k, r in (("raw", raw), ("ours", ours))}
            ratio = speed["ours"] / speed["raw"]
            same = abs(ours["loss"] - raw["loss"]) <= args.loss_tolerance * max(abs(raw["loss"]), 1e-8)
            ok = same and (args.cpu or ratio >= GATE)
            rows.append(
                (
                    f"images/s, {'compiled' if compile_net else 'eager'}",
                    f"{speed['raw']:.1f}",
                    f"{speed['ours']:.1f}",
                    f"{ratio:.3f}",
                    f"{raw['loss']:.5f} / {ours['loss']:.5f}",
                    ok,
                )
            )
            failed += [] if ok else [rows[-1][0]]  # fmt: skip
        every = 5 if args.cpu else 50
        sync = main_py(overlay(size, 0, sync_steps, False, every), Path(tmp), "sync",
                       "gpu_check_plugins.SyncDebugOnQuietSteps")  # fmt: skip
        quiet = next((line for line in sync.stdout.splitlines() if line.startswith("sync-debug:")), "")
        ok = sync.returncode == 0 and bool(quiet)
        detail = quiet.removeprefix("sync-debug: ") or sync.stderr.strip().splitlines()[-1:]
        rows.append((f"{sync_steps} steps, sync debug 'error' on quiet steps", "", "", "", str(detail), ok))
        failed += [] if ok else [rows[-1][0]]
    if args.cpu:  # the GPU tests skip without a device: collecting them would only cost time
        rows.append(("pytest -m gpu", "", "", "", "not run with --cpu", True))
    else:
        tests = subprocess.run([sys.executable, "-m", "pytest", "-m", "gpu", "-q", "-p", "no:cacheprovider"],
                               cwd=ROOT, capture_output=True, text=True)  # fmt: skip
        summary = (tests.stdout.strip().splitlines() or ["no output"])[-1]
        ok = tests.returncode == 0 and "failed" not in summary and "skipped" not in summary
        rows.append(("pytest -m gpu", "", "", "", summary, ok))
        failed += [] if ok else ["pytest -m gpu"]

    device_name = torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
    print(f"\ngpu_check on {device_name}, torch {torch.__version__}{' (--cpu dry run)' if args.cpu else ''}")
    print("| check | raw | template | template/raw | loss raw / template or result | pass |")
    print("| --- | --- | --- | --- | --- | --- |")
    for what, raw_s, ours_s, ratio_s, detail, ok in rows:
        print(f"| {what} | {raw_s} | {ours_s} | {ratio_s} | {detail} | {'yes' if ok else 'NO'} |")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
