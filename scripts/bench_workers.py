"""The two baselines of ``scripts/bench.py``, each run as its own process:

    python scripts/bench_workers.py raw|bare SPEC.json OUT.json

- ``raw``: a hand-written PyTorch loop;
- ``bare``: Lightning's floor (``bench_bare``), timed by the same ``LoopTimer`` as the template.

Both train the template's net on the template's Synthetic batches with SGD and the same seed, so all three
end with the same loss.
"""

import json
import os
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]


def synthetic_args(shape: list[int], batch: int, steps: int) -> dict:
    # One epoch longer than the longest run: no epoch end, no validation inside the timed loop.
    return {
        "input_shape": shape, "num_classes": 10, "batch_size": batch, "num_samples": batch * (steps + 8),
        "num_val_samples": batch * 2, "num_test_samples": batch, "num_workers": 0,
    }  # fmt: skip


def seeded_net_and_data(spec: dict) -> tuple[torch.nn.Module, object]:
    """The net and the Synthetic DataModule, built in the template's order after the same seeding."""
    from project.data.synthetic import Synthetic
    from project.nets import MLP, SimpleCNN

    torch.set_num_threads(spec["threads"])
    random.seed(spec["seed"]), np.random.seed(spec["seed"]), torch.manual_seed(spec["seed"])
    nets = {"MLP": MLP, "SimpleCNN": SimpleCNN}
    net = nets[spec["net"]["class_path"]](**spec["net"]["init_args"])
    data = Synthetic(**synthetic_args(spec["shape"], spec["batch"], spec["longest"]))
    return net, data


def raw(spec: dict) -> dict:
    net, data = seeded_net_and_data(spec)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    data.setup("fit")
    loader = data.train_dataloader()
    net.train()
    window = baton = None
    if "instructions" in spec:
        from bench_instructions import Window

        window = Window(**spec["instructions"])
    if "lockstep" in spec:
        from bench_lockstep import Baton

        baton = Baton(**spec["lockstep"])
    start, cpu_start = time.perf_counter(), time.process_time()
    for step, (x, y, _) in enumerate(loader):
        if window is not None:
            window.at(step)
        if step == spec["steps"]:
            break
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(net(x), y)
        loss.backward()
        optimizer.step()
        if baton is not None:
            baton.after(step + 1)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    return {
        **(baton.result() if baton is not None else {}),
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "steps": spec["steps"],
        "loss": loss.item(),
        "threads": torch.get_num_threads(),
    }


def bare(spec: dict, out: Path) -> None:
    from bench_bare import Bare, bare_trainer
    from bench_timer import BatonTimer, CallCounter, InstructionWindow, LoopTimer

    net, data = seeded_net_and_data(spec)
    os.environ["BENCH_OUT"] = str(out)
    if "count_calls" in spec:
        timer = CallCounter(**spec["count_calls"])
    elif "instructions" in spec:
        timer = InstructionWindow(**spec["instructions"])
    elif "lockstep" in spec:
        timer = BatonTimer(**spec["lockstep"])
    else:
        timer = LoopTimer()
    module = Bare(net, lambda parameters: torch.optim.SGD(parameters, lr=0.01, momentum=0.9))
    bare_trainer(timer, max_steps=spec["steps"]).fit(module, datamodule=data)


if __name__ == "__main__":
    kind, spec_file, out_file = sys.argv[1:4]
    spec = json.loads(Path(spec_file).read_text())
    if kind == "raw":
        Path(out_file).write_text(json.dumps(raw(spec)))
    else:
        bare(spec, Path(out_file))
