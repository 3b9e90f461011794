"""Evaluators: metrics equal scikit-learn's on the saved predictions, one row per sample under DDP, custom
evaluators by import path, regression, and unknown metric names refused before training."""

import csv
import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from conftest import CONFIGS, ROOT, cli, main_py, run_dirs
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from project.evaluation import ClassificationEvaluator
from project.evaluation.rank_samples import RankSamples

DIGITS = str(CONFIGS / "digits.yaml")
REGRESSION = str(CONFIGS / "regression.yaml")
SHORT = ["--trainer.max_epochs=2", "--trainer.limit_train_batches=20"]
SAVE = "--model.evaluator.init_args.save_predictions=true"
DIGITS_TEST_SIZE = 359  # round(1797 * 0.2)


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def tensorboard_scalars(run: Path) -> dict[str, float]:
    """The last value of every scalar in the run's TensorBoard event files."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    values = {}
    for events in sorted((run / "tensorboard").glob("events.out.tfevents.*")):
        acc = EventAccumulator(str(events))
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            values[tag] = acc.Scalars(tag)[-1].value
    return values


def printed_metrics(text: str, stage: str = "test") -> dict[str, float]:
    """Metrics from the table Lightning prints after ``validate``/``test``."""
    found = re.findall(rf"({stage}/\w+)\s*│\s*([-\d.e+]+)", text)
    return {name: float(value) for name, value in found}


def mlflow_run_id(run: Path) -> str:
    return json.loads((run / "run_info.json").read_text())["mlflow_run_id"]


def test_digits_metrics_equal_sklearn_on_saved_predictions(run_root: Path) -> None:
    from mlflow import MlflowClient
    from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

    cli("fit", "--config", DIGITS, *SHORT, SAVE, root=run_root)
    (run,) = run_dirs(run_root)
    rows = read_rows(run / "predictions" / "test.csv")
    assert list(rows[0]) == ["index", "target", "prediction", *(f"prob_{k}" for k in range(10))]
    assert [int(r["index"]) for r in rows] == list(range(DIGITS_TEST_SIZE))
    target = [int(r["target"]) for r in rows]
    predicted = [int(r["prediction"]) for r in rows]
    probs = torch.tensor([[float(r[f"prob_{k}"]) for k in range(10)] for r in rows])
    assert torch.allclose(probs.sum(dim=1), torch.ones(len(rows)), atol=1e-5)
    assert probs.argmax(dim=1).tolist() == predicted

    logged = tensorboard_scalars(run)
    expected = {
        "test/accuracy": accuracy_score(target, predicted),
        "test/f1_score": f1_score(target, predicted, average="macro"),
        "test/precision": precision_score(target, predicted, average="macro", zero_division=0),
        "test/recall": recall_score(target, predicted, average="macro", zero_division=0),
    }
    for name, value in expected.items():
        assert logged[name] == pytest.approx(value, abs=1e-6), name
    assert logged["test/accuracy"] > 0.8
    # test/loss is the mean cross entropy over samples (not over batches).
    cross_entropy = -probs[torch.arange(len(rows)), torch.tensor(target)].double().log().mean().item()
    assert logged["test/loss"] == pytest.approx(cross_entropy, abs=1e-5)

    # The confusion matrix picture: in the run dir and in the MLflow run.
    assert (run / "confusion_matrix_test.png").stat().st_size > 1000
    artifacts = [a.path for a in MlflowClient().list_artifacts(mlflow_run_id(run))]
    assert "confusion_matrix_test.png" in artifacts

    # `predict` from the best checkpoint (the one tested) writes the same predictions for the test split.
    cli("predict", "--config", str(run / "config.yaml"), "--ckpt_path", "best", root=run_root)
    predict_rows = read_rows(run / "predictions" / "predict.csv")
    assert [r["prediction"] for r in predict_rows] == [r["prediction"] for r in rows]
    assert [r["index"] for r in predict_rows] == [r["index"] for r in rows]
    out = run_root / "elsewhere" / "p.csv"
    cli(
        "predict",
        "--config",
        str(run / "config.yaml"),
        "--ckpt_path",
        "last",
        "--model.evaluator.init_args.predict_path",
        str(out),
        root=run_root,
    )
    assert len(read_rows(out)) == DIGITS_TEST_SIZE


@pytest.mark.slow
def test_ddp_test_writes_each_sample_once_with_single_process_metrics(
    run_root: Path, capsys: pytest.CaptureFixture
) -> None:
    cli("fit", "--config", DIGITS, *SHORT, "--run.test_after_fit=false", root=run_root)
    (run,) = run_dirs(run_root)
    test = ["test", "--config", str(run / "config.yaml"), "--ckpt_path", "best", SAVE]
    capsys.readouterr()
    cli(*test, root=run_root)
    single = printed_metrics(capsys.readouterr().out)
    single_file = (run / "predictions" / "test.csv").read_text()
    (run / "predictions" / "test.csv").unlink()

    ddp = main_py(
        *test,
        f"--run.root={run_root}",
        "--trainer.strategy=ddp",
        "--trainer.devices=2",
        "--trainer.accelerator=cpu",
    )
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    rows = read_rows(run / "predictions" / "test.csv")
    # 359 samples on 2 processes: the sampler pads one duplicate, which must not appear or count.
    assert [int(r["index"]) for r in rows] == list(range(DIGITS_TEST_SIZE))
    assert (run / "predictions" / "test.csv").read_text() == single_file
    metrics = printed_metrics(ddp.stdout)
    assert set(metrics) == set(single) >= {"test/accuracy", "test/f1_score", "test/loss"}
    for name, value in single.items():
        assert metrics[name] == pytest.approx(value, abs=1e-6), name


def readme_block(first_line: str) -> tuple[str, str]:
    """The fenced block of docs/evaluation.md that starts with ``first_line``, and the block after it."""
    text = (ROOT / "docs" / "evaluation.md").read_text()
    blocks = re.findall(r"```\w*\n(.*?)```", text, flags=re.S)
    index = next(i for i, block in enumerate(blocks) if block.startswith(first_line))
    return blocks[index], blocks[index + 1]


def test_readme_custom_evaluator_reaches_mlflow_and_tensorboard(
    run_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow import MlflowClient

    code, config = readme_block("# my_evaluators.py")
    (tmp_path / "my_evaluators.py").write_text(code)
    (tmp_path / "kappa.yaml").write_text(config)
    monkeypatch.syspath_prepend(str(tmp_path))
    cli("fit", "--config", DIGITS, "--config", str(tmp_path / "kappa.yaml"), *SHORT, root=run_root)
    (run,) = run_dirs(run_root)

    tensorboard = tensorboard_scalars(run)
    assert {"val/kappa", "test/kappa"} <= set(tensorboard)
    assert "val/accuracy" not in tensorboard
    assert tensorboard["test/kappa"] > 0.5
    mlflow = MlflowClient().get_run(mlflow_run_id(run)).data.metrics
    for name in ("val/kappa", "test/kappa"):
        assert mlflow[name] == pytest.approx(tensorboard[name], abs=1e-6)
    assert (run / "checkpoints" / "last.ckpt").is_file()


def test_regression_example_reaches_r2_above_0_9(run_root: Path) -> None:
    from sklearn.metrics import r2_score

    cli("fit", "--config", REGRESSION, "--trainer.max_epochs=5", SAVE, root=run_root)
    (run,) = run_dirs(run_root)
    logged = tensorboard_scalars(run)
    assert logged["test/r2"] > 0.9
    rows = read_rows(run / "predictions" / "test.csv")
    assert list(rows[0]) == ["index", "target", "prediction"]
    assert len(rows) == 512
    target = [float(r["target"]) for r in rows]
    predicted = [float(r["prediction"]) for r in rows]
    assert r2_score(target, predicted) == pytest.approx(logged["test/r2"], abs=1e-5)
    assert not (run / "confusion_matrix_test.png").exists()


def test_unknown_metric_is_refused_before_training_with_known_names(
    run_root: Path, capsys: pytest.CaptureFixture
) -> None:
    with pytest.raises((ValueError, SystemExit)) as error:
        cli(
            "fit",
            "--config",
            DIGITS,
            "--model.evaluator.init_args.metrics=[accuracy,f2_score]",
            root=run_root,
        )
    if isinstance(error.value, SystemExit):  # the exit-2 handling of bad input, where present
        assert error.value.code == 2
    message = str(error.value) + capsys.readouterr().err
    assert "f2_score" in message
    assert "accuracy, f1_score, precision, recall" in message
    assert run_dirs(run_root) == []
    assert not list(run_root.glob("*/*/checkpoints"))


def test_padding_of_a_distributed_sampler_is_dropped_and_order_kept(tmp_path: Path) -> None:
    """5 samples on 2 ranks: the sampler deals 0,2,4 and 1,3,(0); rank 1 must keep 1 and 3 only."""
    data = TensorDataset(torch.randn(5, 3), torch.tensor([0, 1, 2, 0, 1]))
    evaluator = ClassificationEvaluator(num_classes=3, save_predictions=True)
    for rank, expected in ((0, [0, 2, 4]), (1, [1, 3])):
        loader = DataLoader(data, batch_size=2, sampler=DistributedSampler(data, 2, rank, shuffle=False))
        assert RankSamples.of(loader).limit == len(expected)
        trainer = SimpleNamespace(
            test_dataloaders=loader,
            default_root_dir=str(tmp_path / str(rank)),
            is_global_zero=True,
            loggers=[],
        )
        evaluator.start_epoch("test", trainer)
        for _, y in loader:  # unindexed (input, target) batches, as from a user's DataModule
            evaluator.evaluate_batch(torch.nn.functional.one_hot(y, 3).float(), y)
        assert evaluator.end_epoch("test", trainer)["accuracy"] == 1.0
        rows = read_rows(tmp_path / str(rank) / "predictions" / "test.csv")
        assert [int(r["index"]) for r in rows] == expected
        assert [int(r["target"]) for r in rows] == data.tensors[1][expected].tolist()


def test_loss_mean_weighs_batches_by_their_samples_and_keeps_nan() -> None:
    from project.evaluation.evaluator import Evaluator

    mean = Evaluator()._loss
    mean.update(torch.tensor(1.0), weight=3)
    mean.update(torch.tensor(3.0), weight=1)
    assert mean.compute().item() == pytest.approx(1.5)
    mean.update(torch.tensor(float("nan")), weight=2)
    assert torch.isnan(mean.compute()), "a diverging loss shows as NaN"


def test_confusion_matrix_figure_is_drawn(tmp_path: Path) -> None:
    evaluator = ClassificationEvaluator(num_classes=3)
    evaluator.update(torch.eye(3)[[0, 1, 2, 2]], torch.tensor([0, 1, 2, 1]))
    (path,) = evaluator.save_figures("test", tmp_path, is_global_zero=True)
    assert path == tmp_path / "confusion_matrix_test.png" and path.read_bytes()[:4] == b"\x89PNG"
