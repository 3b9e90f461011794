"""The template's per-step cost against Lightning's floor and a hand-written loop, and its start-up time.

    python scripts/bench.py [--pairs 5] [--process-rounds 3] [--threads 2]
        [--cases mlp cnn tiny_mlp startup] [--check]

For each net, the same Synthetic batches go through
- ``raw``: the same net, SGD, loss, DataLoader, seed and thread count in a hand-written loop;
- ``bare``: a minimal LightningModule in a ``Trainer`` with logger, bar, summary and checkpointing off
  (Lightning's own floor; ``scripts/bench_workers.py`` has both baselines);
- ``template``: ``python main.py fit`` with its default callbacks and loggers (progress bar, MLflow,
  TensorBoard, ModelCheckpoint, the evaluator), timed from inside by ``scripts/bench_timer.py``.
The step-time gates come from lock-step runs (``scripts/bench_lockstep.py``): the three kinds train side by
side in three processes and pass a baton every few steps, so that each kind's blocks of steps run next to the
others' under the same machine phase; medians over groups of 50 steps (one logs each) in each run, then
medians over ``--pairs`` runs, each in fresh processes. Whole processes timed one after the other
(``--process-rounds``) are shown beside the gates (on a shared machine their spread from round to round is
many times the 3 % gate): per-step time is ``(t(N2) - t(N1)) / (N2 - N1)`` from fresh processes of N1 and N2
steps, which cancels start-up, warm-up and end-of-training costs; the three kinds alternate within each round
(the order rotates from round to round) so that load drift hits all of them; the figures are medians over the
rounds. With a fixed seed all must end with the same loss (to 1e-5), the proof that they did the same work.
All get the same fixed glibc malloc thresholds (``MALLOC_ENV``; ``--malloc-defaults`` leaves glibc's dynamic
ones): with the dynamic ones the same raw CNN loop took 35 ms/step in one process and 52 in the next.
``startup`` times, side by side in fresh processes, ``python -c "import lightning"``, ``main.py fit --config
configs/digits.yaml --trainer.max_steps=1`` on a fresh ``run.root`` (and MLflow store) and ``main.py fit
--help``. Gates (issue 16) are in ``GATES``; ``--check`` exits 1 when one fails. The table goes to
``docs/benchmarks.md`` (``--doc``), the raw figures to ``--out`` as JSON.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bench_instructions
import bench_lockstep
from bench_lockstep import rotated
from bench_report import write_report
from bench_workers import synthetic_args

ROOT = Path(__file__).resolve().parents[1]
SEED = 0
KINDS = ("raw", "bare", "template")
# name: (net, Synthetic input shape, batch size, (N1, N2) steps). Sizes give raw steps of 20-50 ms on 2 cores
# for mlp and cnn, and a sub-millisecond step for tiny_mlp, where the fixed per-step cost shows. N1 is past
# the first logging step (50): the loggers' first-time costs (files, writer threads) land in both runs.
CASES = {
    "mlp": (
        {"class_path": "MLP", "init_args": {"in_features": 3072, "hidden": [1024, 1024], "num_classes": 10}},
        [3, 32, 32], 256, (60, 260),
    ),
    "cnn": (
        {"class_path": "SimpleCNN", "init_args": {"in_channels": 3, "channels": [16, 32], "num_classes": 10}},
        [3, 32, 32], 200, (60, 260),
    ),
    "tiny_mlp": (
        {"class_path": "MLP", "init_args": {"in_features": 32, "hidden": [64], "num_classes": 10}},
        [32], 64, (200, 2200),
    ),
}  # fmt: skip
# name: (first, block, blocks) of the lock-step timing (``bench_lockstep``): blocks of about 0.1-0.8 s after
# the first logging step, block * blocks a multiple of the logging period (bench_lockstep.LOG_EVERY).
LOCKSTEP = {"mlp": (60, 10, 30), "cnn": (60, 10, 30), "tiny_mlp": (200, 50, 30)}
# Cases whose steps are also counted in instructions (an MLP or CNN step takes seconds under Valgrind).
INSTRUCTION_CASES = ("tiny_mlp",)
GATES = {
    "mlp": 1.03,  # template / raw step time
    "cnn": 1.03,
    "tiny_mlp_over_bare_ms": 0.1,  # template minus bare Trainer, ms per step
    "startup_over_import_s": 2.5,  # fit --trainer.max_steps=1 minus `import lightning`, seconds
    "help": 1.05,  # main.py fit --help / import lightning
}
# Freed activations stay in the heap instead of going back to the kernel and faulting in again next step.
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(32 * 2**20), "MALLOC_TRIM_THRESHOLD_": str(2**30)}


def template_config(net: dict, shape: list[int], batch: int, longest: int, root: Path) -> dict:
    """The template's defaults (loggers, bar, checkpointing, evaluator); only what the benchmark needs set."""
    return {
        "seed_everything": SEED,
        "run": {"root": str(root), "test_after_fit": False},
        "trainer": {
            "accelerator": "cpu",
            "devices": 1,
            "callbacks": [
                {"class_path": "ModelCheckpoint", "init_args": {"save_last": True}},
                {"class_path": "bench_timer.LoopTimer"},
            ],
        },
        "model": {
            "net": net,
            "optimizer": {"class_path": "SGD", "init_args": {"lr": 0.01, "momentum": 0.9}},
            "evaluator": {"class_path": "ClassificationEvaluator", "init_args": {"num_classes": 10}},
        },
        "data": {"class_path": "Synthetic", "init_args": synthetic_args(shape, batch, longest)},
    }


def run_json(cmd: list[str], env: dict, out: Path) -> dict:
    out.unlink(missing_ok=True)
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode != 0 or not out.is_file():
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{result.stderr[-3000:]}")
    return json.loads(out.read_text())


def run_kind(kind: str, spec: dict, config: Path, steps: int, env: dict, tmp: Path) -> dict:
    out = tmp / f"{kind}.json"
    if kind == "template":
        cmd = [sys.executable, "main.py", "fit", "--config", str(config), f"--trainer.max_steps={steps}"]
        return run_json(cmd, {**env, "BENCH_OUT": str(out)}, out)
    spec_file = tmp / f"{kind}_spec.json"
    spec_file.write_text(json.dumps({**spec, "steps": steps}))
    return run_json(worker_command(kind, spec_file, out), env, out)


def worker_command(kind: str, spec_file: Path, out: Path) -> list[str]:
    """A raw or bare run (``bench_workers``)."""
    return [sys.executable, str(ROOT / "scripts" / "bench_workers.py"), kind, str(spec_file), str(out)]


def with_counter(config: dict, counter: dict, path: Path) -> Path:
    """``config`` with ``counter`` (a callback's ``class_path`` and ``init_args``) instead of the LoopTimer,
    written to ``path``."""
    callbacks = [config["trainer"]["callbacks"][0], counter]  # the ModelCheckpoint
    path.write_text(json.dumps({**config, "trainer": {**config["trainer"], "callbacks": callbacks}}))
    return path


def count_calls(spec: dict, config: dict, env: dict, tmp: Path) -> dict[str, float]:
    """Python and C calls per training step in the main thread (``bench_timer.CallCounter``) of a bare and
    a template run over the same 50 steps (one of them logs): a figure no neighbour on the machine moves."""
    first, last = 10, max(11, min(60, spec["longest"]))
    counter = {"first": first, "last": last}
    counted = {
        "class_path": "bench_timer.CallCounter",
        "init_args": {**counter, "out": str(tmp / "template.json")},
    }
    counting = with_counter(config, counted, tmp / "count_calls.json")
    template = run_kind("template", spec, counting, last, env, tmp)
    bare_spec = {**spec, "count_calls": {**counter, "out": str(tmp / "bare.json")}}
    bare = run_kind("bare", bare_spec, counting, last, env, tmp)
    return {"bare": bare["calls_per_step"], "template": template["calls_per_step"]}


def count_instructions(spec: dict, config: dict, env: dict, tmp: Path, library: Path) -> dict[str, dict]:
    """Instructions per training step (``bench_instructions``) of raw, bare and template over the same 50
    steps (one logs), each run under callgrind with one torch thread (Valgrind runs one thread at a time)."""
    first, last = 10, max(11, min(60, spec["longest"] - 1))
    window = {"first": first, "last": last}
    env = {**env, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONHASHSEED": "0",
           bench_instructions.LIBRARY_ENV: str(library)}  # fmt: skip
    counter = {"class_path": "bench_timer.InstructionWindow", "init_args": window}
    counting = with_counter(config, counter, tmp / "count_instructions.json")
    spec_file = tmp / "instructions_spec.json"
    spec_file.write_text(json.dumps({**spec, "threads": 1, "steps": last + 1, "instructions": window}))
    commands = {
        "raw": worker_command("raw", spec_file, tmp / "raw.json"),
        "bare": worker_command("bare", spec_file, tmp / "bare.json"),
        "template": [sys.executable, "main.py", "fit", "--config", str(counting),
                     f"--trainer.max_steps={last + 1}"],
    }  # fmt: skip
    result = {}
    for kind, cmd in commands.items():
        prefix = tmp / f"callgrind_{kind}"
        for old in tmp.glob(f"{prefix.name}.*"):
            old.unlink()
        done = subprocess.run(bench_instructions.under_callgrind(cmd, prefix), cwd=ROOT, env=env,
                              capture_output=True, text=True)  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"{kind} under callgrind failed:\n{done.stderr[-3000:]}")
        result[kind] = {k: v / (last - first) for k, v in bench_instructions.counted(prefix).items()}
    return result


def time_lockstep(name: str, spec: dict, env: dict, tmp: Path, scale: float = 1.0, runs: int = 5) -> dict:
    """Raw, bare and template trained in lock-step (``bench_lockstep``) ``runs`` times, each time in three
    fresh processes: per run, per-step times per group of 50 steps and their medians; over the runs, the
    medians of each run's figures (the gates). Fresh processes each run: the same loop can run a few per cent
    slower in one process than in the next for the process's whole life, which groups within one run cannot
    average out."""
    each = []
    for number in range(runs):
        each.append(run := lockstep_run(name, spec, env, tmp, scale))
        times = ", ".join(f"{k} {run[f'{k}_ms']:.3f}" for k in KINDS)
        print(
            f"  {name} lock-step run {number + 1}/{runs}: {times} ms/step, template/raw {run['ratio']:.4f},"
            f" bare/raw {run['bare_ratio']:.4f}, template - bare {run['over_bare_ms']:+.3f} ms",
            flush=True,
        )
    figures = ("raw_ms", "bare_ms", "template_ms", "ratio", "bare_ratio", "over_bare_ms")
    return {
        **{key: statistics.median(run[key] for run in each) for key in figures},
        "cpu_ms": {kind: statistics.median(run["cpu_ms"][kind] for run in each) for kind in KINDS},
        **{key: each[0][key] for key in ("groups", "steps_per_group", "first", "block", "blocks")},
        "run_count": runs,
        "loss_spread": max(run["loss_spread"] for run in each),
        "runs": each,
    }


def lockstep_run(name: str, spec: dict, env: dict, tmp: Path, scale: float = 1.0) -> dict:
    """One lock-step run of raw, bare and template: per-step times per group of 50 steps, their medians and
    the gate figures (``bench_lockstep.figures``), CPU ms per step and the spread of the final losses."""
    net, shape, batch, _ = CASES[name]
    first, block, blocks = LOCKSTEP[name]
    first = max(1, round(first * scale))
    blocks = max(max(1, bench_lockstep.LOG_EVERY // block), round(blocks * scale))
    last = first + block * blocks
    lock = {"first": first, "block": block, "blocks": blocks}
    config = template_config(net, shape, batch, last, tmp / "result")
    timer = {"class_path": "bench_timer.BatonTimer", "init_args": lock}
    template_file = with_counter(config, timer, tmp / "lockstep.json")
    spec_file = tmp / "lockstep_spec.json"
    spec_file.write_text(json.dumps({**spec, "longest": last, "steps": last, "lockstep": lock}))
    outs = {kind: tmp / f"lockstep_{kind}.json" for kind in KINDS}
    for out in outs.values():
        out.unlink(missing_ok=True)
    commands = {
        "raw": (worker_command("raw", spec_file, outs["raw"]), env),
        "bare": (worker_command("bare", spec_file, outs["bare"]), env),
        "template": ([sys.executable, "main.py", "fit", "--config", str(template_file),
                      f"--trainer.max_steps={last}"], {**env, "BENCH_OUT": str(outs["template"])}),
    }  # fmt: skip
    bench_lockstep.run_lockstep(commands, blocks, ROOT, tmp)
    runs = {kind: json.loads(out.read_text()) for kind, out in outs.items()}
    losses = [r["loss"] for r in runs.values()]
    cpu = {kind: 1e3 * sum(r["block_cpu_seconds"]) / (block * blocks) for kind, r in runs.items()}
    return {
        **bench_lockstep.figures({kind: r["block_seconds"] for kind, r in runs.items()}, block),
        "cpu_ms": cpu,
        "first": first,
        "block": block,
        "blocks": blocks,
        "loss_spread": max(losses) - min(losses),
    }


def time_whole_processes(name: str, spec: dict, config: Path, steps: tuple[int, int], rounds: int, env: dict,
                         tmp: Path) -> dict:  # fmt: skip
    """Per-step time ``(t(N2) - t(N1)) / (N2 - N1)`` of fresh raw, bare and template processes, ``rounds``
    times with the order rotating; medians over the rounds. Empty for 0 rounds (the smoke test)."""
    if rounds == 0:
        return {}
    n1, n2 = steps
    runs: dict[str, list] = {k: [] for k in KINDS}
    ms: dict[str, list[float]] = {k: [] for k in KINDS}
    cpu_ms: dict[str, list[float]] = {k: [] for k in KINDS}
    for round_ in range(rounds):
        for kind in rotated(KINDS, round_):
            short, long = (run_kind(kind, spec, config, n, env, tmp) for n in (n1, n2))
            runs[kind].append({"short": short, "long": long})
            ms[kind].append(1e3 * (long["seconds"] - short["seconds"]) / (n2 - n1))
            cpu_ms[kind].append(1e3 * (long["cpu_seconds"] - short["cpu_seconds"]) / (n2 - n1))
        wall, cpu = (", ".join(f"{k} {t[k][-1]:.3f}" for k in KINDS) for t in (ms, cpu_ms))
        print(f"  {name} round {round_ + 1}/{rounds}: {wall} ms/step (CPU {cpu})", flush=True)
    return {
        **{f"{k}_ms": statistics.median(ms[k]) for k in KINDS},
        # CPU time of the whole process (every thread) per step: a second view, steadier on a loaded machine.
        **{f"{k}_cpu_ms": statistics.median(cpu_ms[k]) for k in KINDS},
        "ratio": statistics.median(t / r for t, r in zip(ms["template"], ms["raw"], strict=True)),
        "over_bare_ms": statistics.median(t - b for t, b in zip(ms["template"], ms["bare"], strict=True)),
        "over_raw_ms": statistics.median(t - r for t, r in zip(ms["template"], ms["raw"], strict=True)),
        "per_round_ms": ms,
        "final_losses": [r["long"]["loss"] for k in KINDS for r in runs[k]],
        "threads": sorted({r[n]["threads"] for k in KINDS for r in runs[k] for n in ("short", "long")}),
        "runs": runs,
    }


def bench_case(
    name: str,
    lockstep_runs: int,
    rounds: int,
    env: dict,
    tmp: Path,
    scale: float = 1.0,
    library: Path | str | None = None,
) -> dict:
    """Lock-step runs (the gates), whole-process rounds, calls per step, and instructions per step when
    ``library`` (``bench_instructions``) is a path."""
    net, shape, batch, steps = CASES[name]
    n1, n2 = (max(1, round(n * scale)) for n in steps)
    n2 = max(n2, n1 + 1)
    spec = {"net": net, "shape": shape, "batch": batch, "longest": n2, "threads": int(env["OMP_NUM_THREADS"]),
            "seed": SEED}  # fmt: skip
    config = tmp / f"{name}.json"
    template = template_config(net, shape, batch, n2, tmp / "result")
    config.write_text(json.dumps(template))
    whole = time_whole_processes(name, spec, config, (n1, n2), rounds, env, tmp)
    calls = count_calls(spec, template, env, tmp)
    print(f"  {name} calls per step: bare {calls['bare']:.0f}, template {calls['template']:.0f}", flush=True)
    lockstep = time_lockstep(name, spec, env, tmp, scale, lockstep_runs)
    each = ", ".join(f"{k} {lockstep[f'{k}_ms']:.3f}" for k in KINDS)
    print(f"  {name} lock-step, medians of {lockstep_runs} runs: {each} ms/step", flush=True)
    instructions = None
    if isinstance(library, Path):
        instructions = count_instructions(spec, template, env, tmp, library)
        main = {k: f"{v['main']:,.0f}" for k, v in instructions.items()}
        print(f"  {name} instructions per step (main thread): {main}", flush=True)
    final = whole.get("final_losses", [])
    return {
        "lockstep": lockstep,
        "calls_per_step": calls,
        "instructions_per_step": instructions,
        **whole,
        "steps": [n1, n2],
        "batch_size": batch,
        "net": net,
        "input_shape": shape,
        # every round's raw, bare and template, and the lock-step runs (another length: their own loss)
        "final_loss_abs_diff": (
            spread := max(max(final, default=0) - min(final, default=0), lockstep["loss_spread"])
        ),
        "losses_equal": spread <= 1e-5,
    }


def bench_startup(repeats: int, env: dict, tmp: Path) -> dict:
    """Median wall times of ``import lightning``, a one-step ``fit`` on a fresh run root and ``fit --help``,
    run side by side (the order rotates) in fresh processes."""
    commands = {
        "import_lightning": [sys.executable, "-c", "import lightning"],
        # The same without the interpreter's teardown (freeing every module, ~1-2 s here), which the
        # template's commands skip (project/cli/fast_exit.py): the import alone, shown beside the gate.
        "import_lightning_no_teardown": [sys.executable, "-c", "import os, lightning; os._exit(0)"],
        "fit_one_step": [sys.executable, "main.py", "fit", "--config", "configs/digits.yaml",
                         "--trainer.max_steps=1"],
        "fit_help": [sys.executable, "main.py", "fit", "--help"],
    }  # fmt: skip
    times: dict[str, list[float]] = {k: [] for k in commands}
    for i in range(repeats):
        for name in rotated(list(commands), i):
            cmd = list(commands[name])
            if name == "fit_one_step":
                cmd.append(f"--run.root={tmp / f'startup{i}'}")  # a new run root: a new MLflow store
            start = time.perf_counter()
            subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           check=True)  # fmt: skip
            times[name].append(time.perf_counter() - start)
    median = {k: statistics.median(v) for k, v in times.items()}
    return {
        "median_s": median,
        "seconds": times,
        "fit_over_import_s": median["fit_one_step"] - median["import_lightning"],
        "fit_over_import_no_teardown_s": median["fit_one_step"] - median["import_lightning_no_teardown"],
        "help_ratio": median["fit_help"] / median["import_lightning"],
    }


def instructions_over_bare_ms(result: dict) -> float | None:
    """The template's extra instructions per step (main thread) over the bare Trainer's, as the time they take
    at the bare runs' lock-step speed: ``bare_ms * (template - bare) / bare``. A figure that moves with
    the machine's speed (in proportion) but not with its phases, as a difference of two timings does."""
    counted = result.get("instructions_per_step")
    if not counted:
        return None
    bare, template = counted["bare"]["main"], counted["template"]["main"]
    return result["lockstep"]["bare_ms"] * (template - bare) / bare


def gate_results(name: str, result: dict) -> list[tuple[str, float, float, bool | None]]:
    """``(what, figure, gate, passed)`` for one case; ``passed`` is None for a figure shown beside a gate
    (``scripts/bench_lockstep.py`` says why whole-process timings are not the gate)."""
    if name == "startup":
        fit, help_ = result["fit_over_import_s"], result["help_ratio"]
        return [
            ("fit --trainer.max_steps=1 minus import lightning, s", fit, GATES["startup_over_import_s"],
             fit <= GATES["startup_over_import_s"]),
            ("fit --help / import lightning", help_, GATES["help"], help_ <= GATES["help"]),
            ("fit --trainer.max_steps=1 minus import lightning without its teardown (os._exit), s",
             result["fit_over_import_no_teardown_s"], GATES["startup_over_import_s"], None),
        ]  # fmt: skip
    lock = result["lockstep"]
    groups = (f"lock-step, median of {lock['run_count']} runs of {lock['groups']} groups of "
              f"{lock['steps_per_group']} steps")  # fmt: skip
    losses = (
        "final losses equal (largest difference)",
        result["final_loss_abs_diff"],
        1e-5,
        result["losses_equal"],
    )
    if name == "tiny_mlp":
        gate = GATES["tiny_mlp_over_bare_ms"]
        rows = [
            (f"template minus bare Trainer, ms/step ({groups})", lock["over_bare_ms"], gate,
             lock["over_bare_ms"] <= gate),
        ]  # fmt: skip
        if "over_bare_ms" in result:
            rows.append(
                ("template minus bare Trainer, ms/step (whole processes)", result["over_bare_ms"], gate, None)
            )
        if (counted := instructions_over_bare_ms(result)) is not None:
            what = "template minus bare Trainer in instructions, as ms at the bare runs' lock-step speed"
            rows.append((what, counted, gate, counted <= gate))
        return [*rows, losses]
    rows = [
        (f"template / raw step time ({groups})", lock["ratio"], GATES[name], lock["ratio"] <= GATES[name]),
        (f"bare Trainer / raw step time, Lightning's own floor ({groups})", lock["bare_ratio"], GATES[name],
         None),
    ]  # fmt: skip
    if "ratio" in result:
        rows.append(("template / raw step time (whole processes)", result["ratio"], GATES[name], None))
    return [*rows, losses]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--pairs", type=int, default=5, help="lock-step runs of raw, bare and template per net: the gates"
    )
    parser.add_argument(
        "--process-rounds",
        type=int,
        default=3,
        help="rounds of whole-process raw/bare/template runs per net (0: none)",
    )
    parser.add_argument("--threads", type=int, default=2, help="torch threads in every run")
    parser.add_argument("--cases", nargs="+", default=[*CASES, "startup"], choices=[*CASES, "startup"])
    parser.add_argument("--startup-repeats", type=int, default=5, help="runs of each start-up command")
    parser.add_argument(
        "--batch",
        nargs="+",
        default=[],
        metavar="NET=SIZE",
        help="batch size per net, e.g. cnn=128 (for a raw step of 20-50 ms on another machine)",
    )
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the step counts (quick trials)")
    parser.add_argument(
        "--malloc-defaults",
        action="store_true",
        help="keep glibc's dynamic malloc thresholds (noisier: page faults vary by process)",
    )
    parser.add_argument(
        "--instructions",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="count instructions per step under Valgrind's callgrind for the tiny MLP (when installed)",
    )
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    parser.add_argument(
        "--doc", type=Path, default=ROOT / "docs" / "benchmarks.md", help="where the Markdown table goes"
    )
    parser.add_argument("--check", action="store_true", help="exit 1 when a gate fails")
    args = parser.parse_args()  # fmt: skip

    for item in args.batch:
        name, size = item.split("=")
        net, shape, _, steps = CASES[name]
        CASES[name] = (net, shape, int(size), steps)
    threads = str(args.threads)
    env = {
        **os.environ,
        "OMP_NUM_THREADS": threads,
        "MKL_NUM_THREADS": threads,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "scripts"), str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    env.pop("MLFLOW_TRACKING_URI", None)  # the template's default store, <run root>/mlflow.db
    malloc = {} if args.malloc_defaults else MALLOC_ENV
    env.update(malloc)
    sys.path.insert(0, str(ROOT))
    from project.provenance import package_versions

    report: dict = {
        "command": " ".join(["python", "scripts/bench.py", *sys.argv[1:]]),
        "threads": args.threads,
        "pairs": args.pairs,
        "process_rounds": args.process_rounds,
        "malloc_env": malloc,
        "versions": package_versions(),
        "machine": {"platform": platform.platform(), "processor": platform.processor(),
                    "cpus": os.cpu_count(), "load_average": os.getloadavg()},
        "gates": {},
    }  # fmt: skip
    failed = []
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        library = bench_instructions.build_library(Path(tmp)) if args.instructions else "--no-instructions"
        if not isinstance(library, Path):
            print(f"no instruction counts: {library}", flush=True)
        for name in args.cases:
            print(f"{name}:", flush=True)
            if name == "startup":
                report[name] = result = bench_startup(args.startup_repeats, env, Path(tmp))
            else:
                counted = library if name in INSTRUCTION_CASES else None
                report[name] = result = bench_case(
                    name, args.pairs, args.process_rounds, env, Path(tmp), args.scale, counted
                )
                raw_ms = result["lockstep"]["raw_ms"]
                if name != "tiny_mlp" and not 20 <= raw_ms <= 50:
                    print(f"  note: raw step {raw_ms:.1f} ms is outside 20-50 ms: adjust --batch")
            report["gates"][name] = gates = gate_results(name, result)
            for what, figure, gate, ok in gates:
                verdict = "shown beside the gate" if ok is None else "PASS" if ok else "FAIL"
                print(f"  {what}: {figure:.4g} (gate {gate:g}) {verdict}", flush=True)
            if any(ok is False for *_, ok in gates):
                failed.append(name)
    report["machine"]["load_average_end"] = os.getloadavg()
    report["failed"] = failed
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    write_report(report, args.doc)
    print(f"table written to {args.doc}")
    return 1 if failed and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
