"""Commands beside LightningCLI's subcommands (they are not Trainer methods): ``export`` and ``serve``.

Each is imported only when called, so ``fit`` pays nothing for onnx, onnxruntime or litserve.
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


EXTRA_COMMANDS: dict[str, Callable[[list[str]], None]] = {"export": _export, "serve": _serve}
EXTRA_HELP = (
    "more commands: `export` (RUN/export/: model.onnx, model.pt2, export.json, parity-checked) and `serve` "
    "(HTTP /predict, /health, /info); see `python main.py export --help`, `python main.py serve --help`"
)
