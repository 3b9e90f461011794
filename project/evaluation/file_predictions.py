"""``RUN/predictions/<folder>.csv`` for ``data.predict_root``: a row per file, class names, probabilities."""

from pathlib import Path

import torch

from project.evaluation.predictions import PredictionTable, columns, write_csv


def write_file_predictions(
    evaluator: object, table: PredictionTable, files: list[Path], classes: list[str] | None, path: Path
) -> None:
    """Gather every rank's rows; rank 0 writes ``path, prediction, prob_<class name>...`` (a collective).

    Args:
        evaluator: The run's evaluator: its ``decide`` and ``prediction_columns`` turn outputs into columns.
        table: This rank's predictions, indexed by position in ``files``.
        files: The predicted files, in dataset order.
        classes: Class names (``prediction`` holds names, and ``prob_<k>`` becomes ``prob_<name>``), or
            ``None`` to keep the evaluator's values.
        path: The CSV to write (atomically: a failed run leaves none).
    """
    rows = table.gather()
    if not rows:
        return
    out: dict[str, torch.Tensor | list[str]] = {"path": [str(files[i]) for i in rows["index"].tolist()]}
    decided = evaluator.decide(rows["values"])
    if classes is not None and not decided.is_floating_point() and decided.dim() == 1:
        out["prediction"] = [classes[k] for k in decided.tolist()]
    else:
        out.update(columns("prediction", decided))
    for name, values in evaluator.prediction_columns(rows["values"]).items():
        prefix, _, k = name.rpartition("_")
        if classes is not None and prefix == "prob" and k.isdigit() and int(k) < len(classes):
            name = f"prob_{classes[int(k)]}"
        out[name] = values
    write_csv(path, out)
