"""``make bench`` in smoke mode: every kind of run (raw loop, bare Trainer, template) ends with the same loss
and the table is written, so the benchmark that backs docs/benchmarks.md cannot rot. Timings are not checked
here (they need a quiet machine: ``make bench``)."""

import json
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
         "--scale", "0.05", "--threads", "1", "--doc", str(doc), "--out", str(out),
         "--no-instructions"],  # three minutes under Valgrind: the window is tested on its own below
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "tiny_mlp" in doc.read_text()
    gates = {name: passed for name, _, _, passed in json.loads(out.read_text())["gates"]["tiny_mlp"]}
    assert gates["final losses equal (largest difference)"], "raw, bare and template did the same work"
    calls = json.loads(out.read_text())["tiny_mlp"]["calls_per_step"]
    assert 0 < calls["bare"] < calls["template"], calls


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
