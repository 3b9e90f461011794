"""Reading what a run logged to TensorBoard, and the short Synthetic runs the optimizer tests share."""

from pathlib import Path

from conftest import CONFIGS

DIGITS = str(CONFIGS / "digits.yaml")

# Synthetic 8x8 data and an MLP: 8 batches of 32 per epoch, TensorBoard as the only logger, every step logged.
SYNTHETIC = [
    "--config",
    DIGITS,
    "--data=Synthetic",
    "--data.num_samples=256",
    "--data.num_val_samples=64",
    "--data.num_test_samples=64",
    "--model.net=MLP",
    "--model.net.hidden=[32]",
    '--trainer.logger={"class_path": "TensorBoardLogger", "init_args": {"save_dir": "."}}',
    "--trainer.log_every_n_steps=1",
    "--run.test_after_fit=false",
]


def scalars(run: Path, tag_prefix: str) -> dict[str, dict[int, float]]:
    """``{tag: {step: value}}`` for every TensorBoard scalar of the run whose tag starts with ``tag_prefix``
    (a later value for the same step, e.g. from a resumed process, wins)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out: dict[str, dict[int, float]] = {}
    for events in sorted(
        (run / "tensorboard").glob("events.out.tfevents.*"), key=lambda p: p.stat().st_mtime
    ):
        accumulator = EventAccumulator(str(events), size_guidance={"scalars": 0})
        accumulator.Reload()
        for tag in accumulator.Tags()["scalars"]:
            if tag.startswith(tag_prefix):
                out.setdefault(tag, {}).update({e.step: e.value for e in accumulator.Scalars(tag)})
    return out


def logged_lrs(run: Path) -> dict[str, list[float]]:
    """``{"lr-AdamW/decay": [rate of step 0, rate of step 1, ...]}``; steps must be contiguous from 0."""
    rates = {}
    for tag, by_step in scalars(run, "lr-").items():
        assert sorted(by_step) == list(range(len(by_step))), f"{tag}: steps {sorted(by_step)}"
        rates[tag] = [by_step[k] for k in range(len(by_step))]
    return rates
