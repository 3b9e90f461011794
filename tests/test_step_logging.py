"""``train/loss`` reaches the loggers on every step they record, though the module logs it only on those."""

import csv
import json
from pathlib import Path

from conftest import CONFIGS, cli


def test_loggers_record_train_loss_every_log_every_n_steps(tmp_path: Path, run_root: Path) -> None:
    logger = {
        "class_path": "CSVLogger",
        "init_args": {"save_dir": str(tmp_path), "name": "csv", "version": 0},
    }
    cli(
        "fit", "--config", str(CONFIGS / "digits.yaml"), "--trainer.max_epochs=1",
        "--trainer.limit_train_batches=20", "--trainer.limit_val_batches=1", "--trainer.log_every_n_steps=4",
        f"--trainer.logger={json.dumps(logger)}", "--run.test_after_fit=false", root=run_root,
    )  # fmt: skip
    rows = list(csv.DictReader((tmp_path / "csv" / "version_0" / "metrics.csv").open()))
    steps = [int(row["step"]) for row in rows if row.get("train/loss")]
    assert steps == [3, 7, 11, 15, 19]
