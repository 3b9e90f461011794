"""The hot path never makes the host wait for the device: no host read of a tensor from our code and no
collective on a training step that does not log (counted by ``sync_counter.CountHostSyncs``)."""

import json
import os
import sys
from pathlib import Path

import pytest
import torch
from conftest import CONFIGS, ROOT, main_py, run_dirs

TESTS = Path(__file__).resolve().parent
DIGITS = str(CONFIGS / "digits.yaml")


def counter(out: Path) -> str:
    return f"--trainer.callbacks+={{class_path: sync_counter.CountHostSyncs, init_args: {{out: {out}}}}}"


def quiet_events(record: dict) -> list[list]:
    """``[kind, what, caller, project frame, count]`` of the events on steps that do not log."""
    return [e for e in record["events"] if e[0] == "quiet"]


@pytest.mark.slow
def test_no_host_read_from_our_code_on_steps_that_do_not_log(tmp_path: Path) -> None:
    from project.cli import cli_main

    out = tmp_path / "syncs.json"
    argv, sys.argv = sys.argv, ["main.py"]
    sys.path.insert(0, str(TESTS))
    try:
        # The shipped defaults (bar, summary, MLflow and TensorBoard, checkpoints, evaluator), 2 epochs of
        # 40 steps: 72 of the 80 steps do not log (log_every_n_steps: 10, and each epoch's last step logs).
        root = f"--run.root={tmp_path / 'result'}"
        cli_main(["fit", "--config", DIGITS, "--trainer.max_epochs=2", "--trainer.accelerator=cpu",
                  "--run.test_after_fit=false", root, counter(out)])  # fmt: skip
    finally:
        sys.argv = argv
    record = json.loads(out.read_text())
    assert record["steps"]["quiet"] >= 50, record["steps"]
    ours = [e for e in quiet_events(record) if e[2].startswith("project/") or e[3]]
    assert ours == [], ours
    # Nobody else reads a device tensor either (Lightning's bar and loggers read on logging steps). On the
    # host anyway: torch's Adam reads its `step` count, a CPU tensor also when the weights are on a GPU, and
    # the DataLoader's sampler draws the epoch's order (`randperm(...).tolist()`) on the CPU.
    host_side = ("precision.py:optimizer_step", "combined_loader.py:__next__")
    others = [e for e in quiet_events(record) if not e[2].endswith(host_side)]
    assert others == [], others
    assert any(e[0] == "logging" for e in record["events"]), "the counter sees the reads of logging steps"


@pytest.mark.slow
def test_ddp_has_no_collective_of_ours_on_quiet_steps_and_a_sigterm_to_one_rank_stops_both(
    tmp_path: Path,
) -> None:
    """Two CPU processes (gloo); rank 1 alone gets SIGTERM after step 63, a step that does not log. The ranks
    agree on the stop at the next logging step (70) and both stop and save there."""
    out, root = tmp_path / "syncs.json", tmp_path / "result"
    signal_rank1 = (
        "--trainer.callbacks+={class_path: sync_counter.SignalRankAt, init_args: {rank: 1, step: 63}}"
    )
    env = {"PYTHONPATH": os.pathsep.join([str(TESTS), str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}  # fmt: skip
    # 20 steps per epoch and rank; max_epochs far beyond step 70, so only the signal can end the run.
    result = main_py("fit", "--config", DIGITS, "--trainer.accelerator=cpu", "--trainer.devices=2",
                     "--trainer.strategy=ddp", "--trainer.max_epochs=50", "--run.test_after_fit=false",
                     f"--run.root={root}", counter(out), signal_rank1, env=env)  # fmt: skip
    assert result.returncode == 143, result.stderr[-3000:]
    assert "Stopped by SIGTERM at global step 70" in result.stderr
    (run,) = run_dirs(root)
    assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 70
    ranks = [json.loads(p.read_text()) for p in (out, Path(f"{out}.rank1"))]
    assert [r["saved_at"] for r in ranks] == [70, 70], "both ranks took part in the save at step 70"
    for record in ranks:
        assert record["steps"]["quiet"] >= 50, record["steps"]
        ours = [e for e in quiet_events(record) if e[2].startswith("project/") or e[3]]
        assert ours == [], ours
        # Lightning 2.6 itself broadcasts a SIGTERM flag before every batch under DDP (and reads it): its
        # `_broadcast_sigterm_tensor`, Lightning-AI/pytorch-lightning#21487. Nothing else is a collective.
        collectives = {e[2] for e in quiet_events(record) if e[1].startswith("dist.")}
        lightnings = "lightning/pytorch/loops/training_epoch_loop.py:_broadcast_sigterm_tensor"
        assert all(c.endswith(lightnings) for c in collectives), collectives
