"""Instructions per training step, counted by Valgrind's callgrind: the work a step does, which no neighbour
on the machine can move (``scripts/bench.py`` uses it for the tiny MLP when Valgrind is installed).

Time on the shared 2-core machine the project is tested on swings by a factor 2 from phase to phase, more than
the differences the bench looks for; the number of machine instructions a step executes does not. Counting
starts at batch ``first`` and stops at batch ``last`` (both at ``on_train_batch_start``, so every part of a
step is counted exactly ``last - first`` times) through callgrind's client requests, compiled here into a
small shared library. Before ``first`` the process runs uninstrumented (about 5x slower instead of 50x).

Costs about a minute per run on the tiny MLP; a run of the 20-50 ms MLP or CNN steps takes over 10 minutes
under Valgrind, so those two are timed only.
"""

import ctypes
import os
import shutil
import subprocess
from pathlib import Path

LIBRARY_ENV = "BENCH_CALLGRIND_LIBRARY"
CLIENT_SOURCE = """
#include <valgrind/callgrind.h>
void window_start(void) { CALLGRIND_ZERO_STATS; CALLGRIND_START_INSTRUMENTATION; }
void window_stop(void) { CALLGRIND_STOP_INSTRUMENTATION; CALLGRIND_DUMP_STATS; }
"""


def build_library(folder: Path) -> Path | str:
    """Compile the client requests into ``folder``; a string says why not (no Valgrind or compiler)."""
    if shutil.which("valgrind") is None:
        return "valgrind not installed"
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        return "no C compiler"
    source, library = folder / "callgrind_window.c", folder / "libcallgrind_window.so"
    source.write_text(CLIENT_SOURCE)
    done = subprocess.run([compiler, "-O2", "-shared", "-fPIC", "-o", str(library), str(source)],
                          capture_output=True, text=True)  # fmt: skip
    return library if done.returncode == 0 else f"cannot compile callgrind's client requests: {done.stderr}"


class Window:
    """Counts the instructions of batches (or steps) ``first`` to ``last - 1``: call ``at(index)`` before each
    (``bench_timer.InstructionWindow`` does for a Trainer). The run must reach ``last``.

    Args:
        first: Index where counting starts.
        last: Index where it stops.
        library: The compiled client requests; ``$BENCH_CALLGRIND_LIBRARY`` when not given.
    """

    def __init__(self, first: int = 10, last: int = 60, library: str | None = None) -> None:
        self.first, self.last = first, last
        self.library = ctypes.CDLL(library or os.environ[LIBRARY_ENV])

    def at(self, index: int) -> None:
        if index == self.first:
            self.library.window_start()
        elif index == self.last:
            self.library.window_stop()


def under_callgrind(cmd: list[str], out_prefix: Path) -> list[str]:
    """``cmd`` under callgrind, counting only inside windows, one output file per thread."""
    return ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--separate-threads=yes",
            f"--callgrind-out-file={out_prefix}.%p", *cmd]  # fmt: skip


def counted(out_prefix: Path) -> dict[str, int]:
    """Instructions in the window: the main thread's, and all other threads' together.

    The main thread's window is dumped by the client request (``<prefix>.<pid>.1-01``); other threads keep
    theirs until the process ends (``<prefix>.<pid>-NN``), counted only while the window was open.
    """
    main = others = 0
    for path in out_prefix.parent.glob(f"{out_prefix.name}.*"):
        total = next((int(line.split()[1]) for line in path.read_text().splitlines()
                      if line.startswith("totals:")), 0)  # fmt: skip
        if path.name.endswith(".1-01"):
            main += total
        elif not path.name.endswith("-01"):
            others += total
    if not main:
        raise RuntimeError(f"no callgrind window was dumped at {out_prefix}.*")
    return {"main": main, "other_threads": others}
