"""``make bench`` in smoke mode: every kind of run (raw loop, bare Trainer, template) ends with the same loss
and the table is written, so the benchmark that backs docs/benchmarks.md cannot rot. Timings are not checked
here (they need a quiet machine: ``make bench``)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

pytestmark = pytest.mark.slow


def test_bench_smoke_runs_every_kind_with_equal_losses_and_writes_its_table(tmp_path: Path) -> None:
    doc, out = tmp_path / "benchmarks.md", tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench.py"), "--cases", "tiny_mlp", "--pairs", "1",
         "--process-rounds", "0", "--scale", "0.05", "--threads", "1", "--doc", str(doc), "--out", str(out),
         "--no-instructions"],  # three minutes under Valgrind: the window is tested on its own below
        # No whole-process rounds (six more launches): they are beside the gates, and `make bench` runs them.
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "tiny_mlp" in doc.read_text()
    gates = {name: passed for name, _, _, passed in json.loads(out.read_text())["gates"]["tiny_mlp"]}
    assert gates["final losses equal (largest difference)"], "raw, bare and template did the same work"
    calls = json.loads(out.read_text())["tiny_mlp"]["calls_per_step"]
    # Both counted (a step makes thousands of calls), and the template makes no more than Lightning's floor
    # (project/model/hook_name.py saves more than the template's own hooks cost).
    assert 1000 < calls["template"] <= calls["bare"], calls
    lockstep = json.loads(out.read_text())["tiny_mlp"]["lockstep"]
    assert lockstep["groups"] >= 1 and lockstep["loss_spread"] <= 1e-5, lockstep
    assert lockstep["run_count"] == len(lockstep["runs"]) == 1, lockstep
    assert all(lockstep[f"{kind}_ms"] > 0 for kind in ("raw", "bare", "template")), lockstep


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="Valgrind is not installed")
def test_callgrind_counts_only_inside_the_window(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    import bench_instructions

    library = bench_instructions.build_library(tmp_path)
    if not isinstance(library, Path):  # no C compiler or no valgrind/callgrind.h
        pytest.skip(library)

    def window_of(n: int) -> int:
        prefix = tmp_path / f"loop{n}"
        code = (f"import ctypes; lib = ctypes.CDLL({str(library)!r}); sum(range(10**6)); "
                f"lib.window_start(); sum(range({n})); lib.window_stop(); sum(range(10**6))")  # fmt: skip
        done = subprocess.run(bench_instructions.under_callgrind([sys.executable, "-c", code], prefix),
                              capture_output=True, text=True, timeout=300)  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        return bench_instructions.counted(prefix)["main"]

    # The loops outside the window (2 million additions) are not counted; the one inside is, in proportion.
    small, large = window_of(10_000), window_of(110_000)
    assert 0 < small < large
    per_addition = (large - small) / 100_000
    assert 5 < per_addition < 200, per_addition
    assert small < 300 * 10_000, "the loops outside the window were counted"


WORKER = """
import json, sys, time
from bench_lockstep import Baton

baton = Baton(first=2, block=3, blocks=4)
spans = []
for step in range(2 + 3 * 4):
    start = time.time()
    sum(range(20_000))
    spans.append((start, time.time()))
    baton.after(step + 1)
print(json.dumps({"spans": spans[2:], **baton.result()}))
"""


def test_lockstep_runs_one_process_at_a_time_in_rotating_order(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    import bench_lockstep

    env = {**os.environ, "PYTHONPATH": str(ROOT / "scripts")}
    commands = {name: ([sys.executable, "-c", WORKER], env) for name in ("a", "b", "c")}
    bench_lockstep.run_lockstep(commands, blocks=4, cwd=tmp_path, logs=tmp_path, timeout=120)
    runs = {name: json.loads((tmp_path / f"{name}.log").read_text()) for name in commands}
    blocks = sorted(
        (spans[0][0], spans[-1][1], name)
        for name, run in runs.items()
        for spans in (run["spans"][i : i + 3] for i in range(0, 12, 3))
    )
    # No two blocks overlap in time, and the turns go a b c, b c a, c a b, a b c.
    assert all(end <= next_start for (_, end, _), (next_start, _, _) in zip(blocks, blocks[1:]))
    assert "".join(name for *_, name in blocks) == "abcbcacababc"
    assert all(len(run["block_seconds"]) == 4 and min(run["block_seconds"]) > 0 for run in runs.values())


def test_lockstep_figures_are_medians_over_groups_of_one_logging_period() -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    from bench_lockstep import figures

    # Blocks of 10 steps, groups of 5 blocks (50 steps); the machine is twice as slow in the second group.
    blocks = {
        "raw": [0.1] * 5 + [0.2] * 5,
        "bare": [0.11] * 5 + [0.22] * 5,
        "template": [0.102] * 5 + [0.204] * 5,
    }
    result = figures(blocks, block=10)
    assert result["groups"] == 2 and result["steps_per_group"] == 50
    assert result["ratio"] == pytest.approx(1.02) and result["bare_ratio"] == pytest.approx(1.1)
    assert result["raw_ms"] == pytest.approx(15.0)  # median of 10 and 20 ms/step
    assert result["over_bare_ms"] == pytest.approx(-1.2)  # median of -0.8 and -1.6


def test_gates_without_whole_process_rounds_hold_only_the_lock_step_figures() -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    from bench import gate_results

    lock = {"ratio": 1.02, "bare_ratio": 1.01, "over_bare_ms": -0.05, "run_count": 5, "groups": 6,
            "steps_per_group": 50}  # fmt: skip
    result = {
        "lockstep": lock,
        "final_loss_abs_diff": 0.0,
        "losses_equal": True,
        "instructions_per_step": None,
    }
    for name in ("mlp", "tiny_mlp"):
        rows = {what: passed for what, _, _, passed in gate_results(name, result)}
        assert not [what for what in rows if "whole processes" in what], rows
        # mlp: the gate, Lightning's floor (beside it), equal losses; tiny_mlp: the gate, equal losses.
        expected = [True, None, True] if name == "mlp" else [True, True]
        assert list(rows.values()) == expected, rows
