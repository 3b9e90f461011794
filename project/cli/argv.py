"""The one place that reads the command line before jsonargparse does.

``scan`` takes out ``--debug-errors`` and finds the subcommand, the ``--config`` files and ``--print_config``;
``sources`` walks the options in order with their YAML values, which the class restarts need.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from project.errors import DEBUG_FLAG

CONFIG_OPTIONS = ("--config", "-c")
PRINT_CONFIG = "--print_config"
SUBCOMMANDS = ("fit", "validate", "test", "predict")


@dataclass
class CommandLine:
    """What a command line asks for.

    Attributes:
        args: The arguments for jsonargparse (``--debug-errors`` taken out).
        debug: ``--debug-errors`` was given.
        subcommand: ``fit``, ``validate``, ``test``, ``predict`` or ``None``.
        config_files: The ``--config`` values that name files (not inline YAML), in order.
        print_config: The flags of ``--print_config[=flags]`` (``""`` for none), or ``None`` without it.
    """

    args: list[str]
    debug: bool = False
    subcommand: str | None = None
    config_files: list[str] = field(default_factory=list)
    print_config: str | None = None

    def without_print_config(self) -> list[str]:
        return [a for a in self.args if a.partition("=")[0] != PRINT_CONFIG]


def scan(argv: list[str]) -> CommandLine:
    """Read ``argv`` once (see the module docstring)."""
    args = [arg for arg in argv if arg != DEBUG_FLAG]
    line = CommandLine(args=args, debug=len(args) != len(argv))
    line.subcommand = next((a for a in args if a in SUBCOMMANDS), None)
    for i, arg in enumerate(args):
        option, has_value, value = arg.partition("=")
        if option == PRINT_CONFIG:
            line.print_config = value
        if option not in CONFIG_OPTIONS:
            continue
        if not has_value:
            if i + 1 >= len(args):
                continue
            value = args[i + 1]
        if not any(c in value for c in "{\n") and ": " not in value:
            line.config_files.append(value)
    return line


def sources(args: list[str]) -> list[tuple[str, Any, Path]]:
    """``(key, value, base dir)`` per command-line source in order (a config file: one source, key ``""``)."""
    out: list[tuple[str, Any, Path]] = []
    cwd = Path.cwd()
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if not arg.startswith("-") or arg == "--":
            continue
        option, has_value, value = arg.partition("=")
        if not has_value:
            if i >= len(args) or args[i].startswith("--"):
                continue  # a flag such as --help
            value = args[i]
            i += 1
        if option in CONFIG_OPTIONS:
            path = Path(value)
            loaded = load_yaml_file(path) if path.is_file() else load_yaml_text(value)
            out.append(("", loaded, path.parent if path.is_file() else cwd))
        elif option.startswith("--"):
            out.append((normalize(option[2:].rstrip("+")), load_yaml_text(value), cwd))
    return out


def normalize(key: str) -> str:
    """``model.optimizer.init_args.lr`` -> ``model.optimizer.lr``: the same key, as users may write it."""
    return ".".join(part for part in key.split(".") if part != "init_args")


def load_yaml_text(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def load_yaml_file(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return None  # jsonargparse reports the bad file itself
