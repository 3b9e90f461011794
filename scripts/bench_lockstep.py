"""Lock-step timing for ``scripts/bench.py``: raw, bare and template train side by side in three processes,
one block of steps at a time.

Why: timing whole processes one after the other cannot resolve a 3 % difference on the 2-core machine the
project is tested on. Its speed moves by about 20 % from one second to the next and by up to 2x between
phases that last minutes: in one bench run the same raw MLP loop took 46 ms/step in one process and 64 in
the next, and the bare Trainer beat the raw loop by 33 % in one round.

How: the three processes start together, train to step ``first`` and then stop at every ``block`` steps until
the coordinator passes them the baton; the coordinator hands it round (raw, bare, template, in an order that
rotates each round), so block ``r`` of each kind runs within a second or two of the others' block ``r``,
under the same machine phase, and only one process trains at a time. Each process times its own blocks with
``perf_counter``. ``figures`` turns them into per-step times per group of blocks that spans one logging period
(each group holds one logging step), and takes medians over the groups.

What a block does not hold: work the template does on other threads or in its MLflow process while another
kind holds the baton (the MLflow sender, the TensorBoard writer). ``bench_instructions`` counts that work
(a few per cent of a tiny step's instructions, overstated there).

No Lightning import here: the raw loop uses ``Baton`` as it is, and ``bench_timer.BatonTimer`` wraps it as a
callback.
"""

import os
import select
import statistics
import subprocess
import time
from pathlib import Path

BATON_ENV = "BENCH_BATON"  # "<read fd of go>,<write fd of done>", inherited from the coordinator
LOG_EVERY = 50  # Lightning's default log_every_n_steps, kept by the bench: one logging step per group


def rotated(items: tuple | list, by: int) -> list:
    """``items`` starting at index ``by`` (modulo its length): the order of round ``by``."""
    return [*items[by % len(items) :], *items[: by % len(items)]]


class Baton:
    """The worker's side of the baton.

    Args:
        first: Steps trained before the first block (warm-up, first logging step).
        block: Steps per block.
        blocks: Blocks to time; the run must train ``first + block * blocks`` steps.
    """

    def __init__(self, first: int, block: int, blocks: int) -> None:
        go, done = os.environ[BATON_ENV].split(",")
        self.go, self.done = int(go), int(done)
        self.first, self.block, self.blocks = first, block, blocks
        self.seconds: list[float] = []
        self.cpu_seconds: list[float] = []
        self._start = self._cpu_start = 0.0

    def after(self, steps: int) -> None:
        """Call when ``steps`` steps are done: at a block boundary, records the block that ended, reports to
        the coordinator and waits for the baton (after the last block: for the release)."""
        index, rest = divmod(steps - self.first, self.block)
        if steps < self.first or rest or index > self.blocks:
            return
        if index > 0:
            self.seconds.append(time.perf_counter() - self._start)
            self.cpu_seconds.append(time.process_time() - self._cpu_start)
        os.write(self.done, b"d")
        if not os.read(self.go, 1):
            raise RuntimeError("the bench coordinator is gone")
        self._start, self._cpu_start = time.perf_counter(), time.process_time()

    def result(self) -> dict:
        return {"block_seconds": self.seconds, "block_cpu_seconds": self.cpu_seconds}


def run_lockstep(
    commands: dict[str, tuple[list[str], dict]], blocks: int, cwd: Path, logs: Path, timeout: float = 900
) -> None:
    """Starts every ``name: (command, env)`` with a baton, hands the baton round ``blocks`` times, releases
    them and waits for them to exit. Raises with the tail of a process's output when one fails."""
    procs: dict[str, subprocess.Popen] = {}
    pipes: dict[str, tuple[int, int]] = {}  # name: (write end of go, read end of done)
    try:
        for name, (cmd, env) in commands.items():
            go_read, go_write = os.pipe()
            done_read, done_write = os.pipe()
            with open(logs / f"{name}.log", "w") as log:
                procs[name] = subprocess.Popen(
                    cmd, cwd=cwd, env={**env, BATON_ENV: f"{go_read},{done_write}"},
                    pass_fds=(go_read, done_write), stdout=log, stderr=subprocess.STDOUT,
                )  # fmt: skip
            os.close(go_read), os.close(done_write)
            pipes[name] = (go_write, done_read)

        def wait_done(name: str) -> None:
            ready, _, _ = select.select([pipes[name][1]], [], [], timeout)
            if not ready or not os.read(pipes[name][1], 1):
                tail = (logs / f"{name}.log").read_text()[-3000:]
                raise RuntimeError(f"{name} stopped or hung before a block boundary:\n{tail}")

        names = list(commands)
        for name in names:  # every process at the first boundary: start-up and warm-up ran side by side
            wait_done(name)
        for round_ in range(blocks):
            for name in rotated(names, round_):
                os.write(pipes[name][0], b"g")
                wait_done(name)
        for name in names:  # the release: the rest of each run (end of training, saving) is not timed
            os.write(pipes[name][0], b"g")
        for name, proc in procs.items():
            if proc.wait(timeout=timeout) != 0:
                tail = (logs / f"{name}.log").read_text()[-3000:]
                raise RuntimeError(f"{name} failed after its last block:\n{tail}")
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        for fds in pipes.values():
            for fd in fds:
                os.close(fd)


def figures(blocks: dict[str, list[float]], block: int, log_every: int = LOG_EVERY) -> dict:
    """Per-step ms of each kind per group of blocks spanning ``log_every`` steps, and the gate figures:
    medians over groups of template/raw and template - bare."""
    per_group = max(1, log_every // block)
    groups = min(len(b) for b in blocks.values()) // per_group
    ms = {
        kind: [1e3 * sum(b[g * per_group : (g + 1) * per_group]) / (per_group * block) for g in range(groups)]
        for kind, b in blocks.items()
    }
    return {
        "group_ms": ms,
        "groups": groups,
        "steps_per_group": per_group * block,
        **{f"{kind}_ms": statistics.median(v) for kind, v in ms.items()},
        "ratio": statistics.median(t / r for t, r in zip(ms["template"], ms["raw"], strict=True)),
        "bare_ratio": statistics.median(b / r for b, r in zip(ms["bare"], ms["raw"], strict=True)),
        "over_bare_ms": statistics.median(t - b for t, b in zip(ms["template"], ms["bare"], strict=True)),
    }
