"""Every YAML under configs/ parses and trains a few steps; presets stack on the Digits example.

A file that cannot run on this machine (e.g. FSDP needs a GPU) says ``# test: parse-only`` and is only parsed.
"""

import contextlib
import io
from pathlib import Path

import pytest
import yaml
from conftest import CONFIGS, cli

from project.cli import cli_main

EXAMPLES = sorted(CONFIGS.glob("*.yaml"))
# Sweep files (configs/sweeps/) are not training configs: tests/test_sweep.py reads them.
STACKABLE = sorted(p for p in CONFIGS.rglob("*.yaml") if p.parent not in (CONFIGS, CONFIGS / "sweeps"))
# Presets whose run a dedicated test makes (in full, with assertions on what it leaves): only parsed here.
RUN_ELSEWHERE = {
    "presets/profile.yaml": "test_training_control.py::test_profile_preset_leaves_a_trace_in_the_run_dir",
    "presets/ema.yaml": "test_ema.py",
    "presets/monitor.yaml": "test_monitoring.py",
}
DIGITS = CONFIGS / "digits.yaml"
# One short epoch with everything on (bar, summary, both loggers, checkpoints): fast_dev_run would turn the
# loggers and checkpoints off, and the shipped components are what these tests are for.
SHORT = ["--trainer.max_epochs=1", "--trainer.limit_train_batches=2", "--trainer.limit_val_batches=1",
         "--trainer.limit_test_batches=1", "--trainer.num_sanity_val_steps=0"]  # fmt: skip


def ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(CONFIGS)) for p in paths]


def print_config(*configs: Path) -> dict:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exit_info:
        cli_main(["fit", *(arg for c in configs for arg in ("--config", str(c))), "--print_config"])
    assert exit_info.value.code in (0, None)
    return yaml.safe_load(out.getvalue())


@pytest.mark.parametrize("example", EXAMPLES, ids=ids(EXAMPLES))
def test_example_runs_one_step(example: Path, run_root: Path) -> None:
    cli("fit", "--config", str(example), *SHORT, root=run_root)


@pytest.mark.parametrize("preset", STACKABLE, ids=ids(STACKABLE))
def test_preset_stacks_on_digits(preset: Path, run_root: Path) -> None:
    resolved = print_config(DIGITS, preset)
    assert resolved["model"]["net"]["class_path"]
    if "# test: parse-only" in preset.read_text() or ids([preset])[0] in RUN_ELSEWHERE:
        return
    cli("fit", "--config", str(DIGITS), "--config", str(preset), *SHORT, root=run_root)


def test_printed_config_parses_again(tmp_path: Path) -> None:
    printed = tmp_path / "printed.yaml"
    printed.write_text(yaml.safe_dump(print_config(DIGITS)))
    assert print_config(printed) == print_config(DIGITS)
