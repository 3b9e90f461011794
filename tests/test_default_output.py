"""The headline commands with the shipped config as it is: they finish, and print no warning at all.

Every warning a default run printed was fixed at its cause or filtered narrowly (see known_warnings.py); a
new one fails here, so a user can trust that a warning means something. Epochs have more batches than
``log_every_n_steps`` (10), as a real run has: Lightning rightly warns about shorter ones.
"""

import json
import re
from pathlib import Path

import pytest
from conftest import CONFIGS, main_py, run_dirs
from test_doc_commands import SHRINK

pytestmark = pytest.mark.slow
DIGITS = str(CONFIGS / "digits.yaml")
# How Python prints a warning (`file.py:LINE: Category: message`), and the words Lightning's own use.
SHORT = ["--trainer.max_epochs=2", *SHRINK, "--trainer.limit_train_batches=12"]
WARNING = re.compile(r"\.py:\d+: |Warning\b|warn", re.IGNORECASE)


def warnings_in(output: str) -> list[str]:
    return [line for line in output.splitlines() if WARNING.search(line)]


def test_make_train_command_prints_no_warning(tmp_path: Path) -> None:
    root = tmp_path / "result"
    done = main_py("fit", "--config", DIGITS, *SHORT, f"--run.root={root}")
    assert done.returncode == 0, done.stderr[-3000:]
    assert warnings_in(done.stdout + done.stderr) == []
    assert "Total FLOPs: 0" not in done.stdout, "the summary counts the net's FLOPs"


def test_ddp_on_two_cpu_processes_with_the_shipped_config(tmp_path: Path) -> None:
    """The command that crashed in the progress bar on rank 1 (fixed in SparseRichProgressBar)."""
    root = tmp_path / "result"
    ddp = ["--trainer.accelerator=cpu", "--trainer.devices=2", "--trainer.strategy=ddp"]
    done = main_py("fit", "--config", DIGITS, *ddp, *SHORT, f"--run.root={root}")
    assert done.returncode == 0, done.stderr[-3000:]
    (run,) = run_dirs(root)
    info = json.loads((run / "run_info.json").read_text())
    assert info["world_size"] == 2 and info["status"] == "finished"
    assert warnings_in(done.stdout + done.stderr) == []
