#!/usr/bin/env python
"""SIGKILL a training run at random moments, resume it each time, check it ends as an unkilled run does.

    python scripts/kill_test.py --kills 20

Trains Digits with ``last.ckpt`` refreshed every 2 optimizer steps
(configs/presets/checkpoint_every_n_steps.yaml) so that kills land across saves. Half of the kills are timed
to hit a save in progress (the moment the hidden temporary file ``.last.ckpt.tmp`` appears), the rest at a
random moment of training; each start is killed only after its own first save, so it makes progress. After
every kill, ``last.ckpt`` must load with ``torch.load(weights_only=True)``; the same command resumes; at the
end the epoch and step counts must equal those of an unkilled run. Prints a summary (and JSON with
``--json``); exit status 1 on any failure.
"""

import argparse
import json
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
STEPS_PRESET = ROOT / "configs" / "presets" / "checkpoint_every_n_steps.yaml"


def fit_args(root: Path, epochs: int, batches: int) -> list[str]:
    return [
        "--trainer.logger=false", "--run.test_after_fit=false", "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false", "--trainer.accelerator=cpu", "--trainer.devices=1",
        f"--trainer.max_epochs={epochs}", f"--trainer.limit_train_batches={batches}",
        "--trainer.limit_val_batches=2", f"--run.root={root}",
    ]  # fmt: skip


def counts(checkpoint: Path) -> tuple[int, int]:
    """(epochs trained, global step) of a checkpoint; raises if it does not load."""
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    return state["loops"]["fit_loop"]["epoch_progress"]["current"]["processed"], state["global_step"]


def loop_position(checkpoint: Path) -> tuple:
    """(global step, epochs started/completed, batches completed in the epoch) of a checkpoint."""
    loops = torch.load(checkpoint, map_location="cpu", weights_only=True)["loops"]["fit_loop"]
    epoch, batch = loops["epoch_progress"]["current"], loops["epoch_loop.batch_progress"]["current"]
    return (
        loops["epoch_loop.state_dict"].get("_batches_that_stepped"),
        epoch["processed"],
        epoch["completed"],
        batch["ready"],
        batch["completed"],
    )


def run_dir(root: Path) -> Path | None:
    found = sorted(p.parent for p in root.glob("*/*/config.yaml"))
    return found[0] if found else None


def start(args: list[str], log) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(ROOT / "main.py"), "fit", *args], cwd=ROOT, stdout=log, stderr=log
    )


def mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        return None


def kill_once(process: subprocess.Popen, root: Path, during_save: bool, rng: random.Random) -> str:
    """SIGKILL after this process has saved once (so every start makes progress), either the moment its next
    save is in progress or after a random delay; returns "save" (a save was in progress), "train" or
    "finished"."""
    run = run_dir(root)
    before = mtime(run / "checkpoints" / "last.ckpt") if run else None
    while process.poll() is None:
        run = run_dir(root)
        if run is not None and mtime(run / "checkpoints" / "last.ckpt") not in (None, before):
            break
        time.sleep(0.01)
    if process.poll() is not None:
        return "finished"
    tmp = run / "checkpoints" / ".last.ckpt.tmp"
    deadline = time.monotonic() + (30.0 if during_save else rng.uniform(0.0, 1.5))
    while process.poll() is None and time.monotonic() < deadline:
        if during_save and tmp.exists():
            break
        time.sleep(0.0005 if during_save else 0.01)
    if process.poll() is not None:
        return "finished"
    in_save = tmp.exists()
    process.send_signal(signal.SIGKILL)
    process.wait()
    return "save" if in_save else "train"


def kill_test(
    kills: int, epochs: int = 4, batches: int = 30, seed: int = 0, workdir: Path | None = None
) -> dict:
    rng = random.Random(seed)
    workdir = Path(workdir or tempfile.mkdtemp(prefix="kill_test_"))
    overlay = workdir / "every_2_steps.yaml"
    overlay.write_text(STEPS_PRESET.read_text().replace("every_n_train_steps: 100", "every_n_train_steps: 2"))
    log = open(workdir / "log.txt", "ab")  # noqa: SIM115 - the child processes write to it until the end
    # The first start stacks the preset; restarts take the run's config.yaml, which already holds it.
    digits = ["--config", str(ROOT / "configs" / "digits.yaml"), "--config", str(overlay)]

    reference_root = workdir / "reference"
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "fit", *digits, *fit_args(reference_root, epochs, batches)],
        cwd=ROOT,
        stdout=log,
        stderr=log,
    )
    if done.returncode != 0:
        raise SystemExit(f"the unkilled reference run failed; see {workdir / 'log.txt'}")
    expected = counts(run_dir(reference_root) / "checkpoints" / "last.ckpt")

    root = workdir / "killed"
    summary = {
        "kills": 0,
        "kills_during_save": 0,
        "kills_during_training": 0,
        "starts": 0,
        "unloadable": [],
        "steps_at_kills": [],
        "expected": expected,
        "final": None,
        "leftover_files": [],
    }
    args = [*digits, *fit_args(root, epochs, batches)]
    while True:
        run = run_dir(root)
        # The first start uses the example config; every restart is the same resume command.
        command = (
            args if run is None else ["--config", str(run / "config.yaml"), *fit_args(root, epochs, batches)]
        )
        process = start(command, log)
        summary["starts"] += 1
        if summary["kills"] >= kills:
            process.wait()
            break
        outcome = kill_once(process, root, during_save=summary["kills"] % 2 == 0, rng=rng)
        if outcome == "finished":
            if process.returncode != 0:
                raise SystemExit(
                    f"a resumed run failed (exit {process.returncode}); see {workdir / 'log.txt'}"
                )
            # Finished before the kill: start over in a fresh run so the remaining kills still happen.
            summary["restarted_after_finish"] = summary.get("restarted_after_finish", 0) + 1
            shutil.move(run_dir(root), workdir / f"finished_early_{summary['restarted_after_finish']}")
            continue
        summary["kills"] += 1
        summary["kills_during_save" if outcome == "save" else "kills_during_training"] += 1
        last = run_dir(root) / "checkpoints" / "last.ckpt"
        if last.is_file():
            try:
                summary["steps_at_kills"].append(counts(last)[1])
                summary.setdefault("loops_at_kills", []).append(loop_position(last) + (outcome,))
            except Exception as error:  # noqa: BLE001 - any load failure is the finding
                summary["unloadable"].append(f"kill {summary['kills']}: {error}")
    final_run = run_dir(root)
    summary["exit_status"] = process.returncode
    summary["final"] = counts(final_run / "checkpoints" / "last.ckpt")
    summary["leftover_files"] = sorted(
        p.name for p in (final_run / "checkpoints").iterdir() if p.name.startswith(".")
    )
    summary["seconds"] = round(time.monotonic() - started, 1)
    summary["ok"] = (
        summary["exit_status"] == 0
        and not summary["unloadable"]
        and tuple(summary["final"]) == tuple(expected)
        and summary["kills"] == kills
    )
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=20, help="SIGKILLs to send (default 20)")
    parser.add_argument("--epochs", type=int, default=10, help="max_epochs of the run (default 10)")
    parser.add_argument("--batches", type=int, default=30, help="limit_train_batches per epoch (default 30)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the kill timing")
    parser.add_argument("--workdir", type=Path, default=None, help="where runs go (default: a new temp dir)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    options = parser.parse_args()
    summary = kill_test(options.kills, options.epochs, options.batches, options.seed, options.workdir)
    if options.json:
        print(json.dumps(summary))
    else:
        print(
            f"{summary['kills']} SIGKILLs ({summary['kills_during_save']} during a checkpoint save, "
            f"{summary['kills_during_training']} during training), {summary['starts']} starts, "
            f"{summary['seconds']} s\n"
            f"last.ckpt unloadable after a kill: {len(summary['unloadable'])} {summary['unloadable'] or ''}\n"
            f"global step of last.ckpt at each kill: {summary['steps_at_kills']}\n"
            f"final (epochs, global step): {tuple(summary['final'])}, "
            f"unkilled run: {tuple(summary['expected'])}\n"
            f"leftover temporary files: {summary['leftover_files']}\n"
            f"{'OK' if summary['ok'] else 'FAILED'}"
        )
    sys.exit(0 if summary["ok"] else 1)


if __name__ == "__main__":
    main()
