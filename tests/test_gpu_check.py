"""``scripts/gpu_check.sh --cpu``: the GPU check's dry run (a tiny net on the CPU) passes end to end."""

import subprocess
from pathlib import Path

import pytest
from conftest import ROOT


@pytest.mark.slow
def test_gpu_check_dry_run_prints_its_table_and_passes(tmp_path: Path) -> None:
    result = subprocess.run([str(ROOT / "scripts" / "gpu_check.sh"), "--cpu"], cwd=ROOT, capture_output=True,
                            text=True, timeout=600)  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = [line for line in result.stdout.splitlines() if line.startswith("| ")]
    assert len(rows) == 5, result.stdout  # header, rule, eager throughput, sync check, pytest -m gpu
    eager = rows[2].split("|")
    raw_loss, template_loss = (float(v) for v in eager[5].split("/"))
    assert raw_loss == pytest.approx(template_loss, rel=1e-5), "same seed, same batches, same loss"
    assert "quiet steps ran under set_sync_debug_mode('error')" in rows[3]
