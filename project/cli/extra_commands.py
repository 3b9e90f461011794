"""Commands beside LightningCLI's subcommands (they are not Trainer methods): ``tune``, ``export``, ``serve``.

Each is imported only when called, so ``fit`` pays nothing for optuna, onnx, onnxruntime or litserve.
"""

from collections.abc import Callable


def _export(argv: list[str]) -> None:
    from project.cli.parser import TemplateArgumentParser
    from project.export.command import main

    main(argv, TemplateArgumentParser)


def _serve(argv: list[str]) -> None:
    from project.cli.parser import TemplateArgumentParser
    from project.serve.command import main

    main(argv, TemplateArgumentParser)


def _tune(argv: list[str]) -> None:
    from project.sweep.command import tune_main

    tune_main(argv)


EXTRA_COMMANDS: dict[str, Callable[[list[str]], None]] = {"tune": _tune, "export": _export, "serve": _serve}
EXTRA_HELP = (
    "more commands: `tune` (hyperparameter search: "
    "main.py tune --config X.yaml --sweep configs/sweeps/X.yaml), "
    "`export` (RUN/export/: model.onnx, model.pt2, export.json, parity-checked) and `serve` "
    "(HTTP /predict, /health, /info); see `python main.py tune|export|serve --help`"
)
