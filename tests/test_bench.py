"""``make bench`` in smoke mode: every kind of run (raw loop, bare Trainer, template) ends with the same loss
and the table is written, so the benchmark that backs docs/benchmarks.md cannot rot. Timings are not checked
here (they need a quiet machine: ``make bench``)."""

import json
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
         "--scale", "0.05", "--threads", "1", "--doc", str(doc), "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "tiny_mlp" in doc.read_text()
    gates = {name: passed for name, _, _, passed in json.loads(out.read_text())["gates"]["tiny_mlp"]}
    assert gates["final losses equal (largest difference)"], "raw, bare and template did the same work"
    calls = json.loads(out.read_text())["tiny_mlp"]["calls_per_step"]
    assert 0 < calls["bare"] < calls["template"], calls
