"""The CLI's argument parser: no abbreviated options, and parse errors as one short message.

jsonargparse reports a bad value with the full usage text and a nested account of every type it tried. This
parser prints ``error: <key>: <what is wrong>; <what is allowed>`` instead, with a close match for misspelt
keys and class names, and exits with status 2 (``--debug-errors`` shows jsonargparse's own report).

Abbreviations are off: argparse would take ``--trainer.max_epoch=3`` as ``--trainer.max_epochs=3`` (and any
unique prefix of any key), so a typo could silently set another key; jsonargparse 5 turns them off too.
"""

import importlib
import inspect
import re
from typing import Any, NoReturn

from jsonargparse import ArgumentParser
from lightning.pytorch.cli import LightningArgumentParser

from project.errors import EXIT_USER_ERROR, UserError, debug_errors, did_you_mean, report

_KEY = re.compile(r'Parser key "([^"]+)"')
_UNKNOWN_CLASS = re.compile(r"Expected a dot import path string: (\S+)")
_UNKNOWN_ARG = re.compile(r"Option '([^']+)' is not accepted")
_CLASS_PATH = re.compile(r"class_path[=\s]'([\w.]+)'")
_GIVEN = re.compile(r"(?:Given|Got) value: (.*?)(?:\. Got value: .*)?$")
_EXPECTED = re.compile(r"Expected an? (.+?)(?:\. Got value: .*)?$")
_UNKNOWN_KEY = re.compile(r"does not accept option '([^']+)'")
_UNRECOGNIZED = re.compile(r"^unrecognized arguments: (.*)$")


class TemplateArgumentParser(LightningArgumentParser):
    """LightningArgumentParser without abbreviations and with short error messages."""

    def __init__(self, *args: Any, allow_abbrev: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, allow_abbrev=allow_abbrev, **kwargs)

    def error(self, message: str, ex: Exception | None = None) -> NoReturn:
        if not self.exit_on_error:
            super().error(message, ex)  # a nested parser: its caller handles the error
        parser = getattr(ex, "subcommand_parser", None) or self
        if debug_errors():  # the CLI prints the traceback, with jsonargparse's full report as the cause
            raise UserError(explain(message, parser)) from (ex or UserError(message))
        report(explain(message, parser))
        # An exit rather than an exception, as argparse does: LightningCLI adds a note when it parses the
        # hyperparameters stored in a checkpoint.
        self.exit(EXIT_USER_ERROR)


def explain(message: str, parser: ArgumentParser) -> str:
    """One short message for a jsonargparse error: the key, what is wrong, what is allowed."""
    if match := _UNRECOGNIZED.match(message.strip()):
        return unknown_options(match.group(1).split(), parser)
    if match := _UNKNOWN_KEY.search(message):
        key = match.group(1)
        return f"{key}: unknown key{did_you_mean(key, option_keys(parser))}"
    keys = _KEY.findall(message)
    if not keys:
        return message.strip().splitlines()[0]
    key = ".init_args.".join(keys)
    # Class names and init args only explain the error when the key takes nothing but classes (and null).
    class_only = not re.search(r"Expected an? <class '(int|float|str|list|dict|tuple)'>", message)
    if (match := _UNKNOWN_ARG.search(message)) and class_only:
        class_path = next(iter(_CLASS_PATH.findall(message)), None)
        return unknown_init_arg(key, match.group(1), class_path)
    if (match := _UNKNOWN_CLASS.search(message)) and class_only:
        return unknown_class(key, match.group(1))
    return wrong_value(key, message)


def unknown_options(options: list[str], parser: ArgumentParser) -> str:
    known = [f"--{key}" for key in option_keys(parser)]
    names = [option.split("=", 1)[0] for option in options if option.startswith("-")] or options
    hints = [f"{name}{did_you_mean(name, known)}" for name in names]
    return f"unknown option {', '.join(hints)} (python main.py fit --help lists the options)"


def option_keys(parser: ArgumentParser) -> list[str]:
    """Every key the parser (and its subcommand parsers) accept, e.g. ``trainer.max_epochs``."""
    keys = [action.dest for action in parser._actions if action.option_strings]
    subcommands = getattr(parser, "_subcommands_action", None)
    for sub in getattr(subcommands, "_name_parser_map", {}).values():
        keys.extend(option_keys(sub))
    return keys


def unknown_init_arg(key: str, name: str, class_path: str | None) -> str:
    accepted: list[str] = []
    if class_path:
        try:
            module, _, attr = class_path.rpartition(".")
            signature = inspect.signature(getattr(importlib.import_module(module), attr))
            accepted = [p for p in signature.parameters if p not in ("self", "params", "optimizer", "args")]
        except (ImportError, AttributeError, TypeError, ValueError):
            pass
    owner = f" of {class_path.rpartition('.')[2]}" if class_path else ""
    allowed = f" (accepted: {', '.join(accepted)})" if accepted else ""
    return f"{key}.init_args.{name}: unknown argument{owner}{allowed}{did_you_mean(name, accepted)}"


def unknown_class(key: str, name: str) -> str:
    from project.cli.known_classes import known_class_names

    known = known_class_names(key)
    listed = f"; known: {', '.join(known)}" if known else ""
    return (
        f"{key}: unknown class {name!r}{listed} (or a class by its import path, e.g. my_package.MyClass)"
        f"{did_you_mean(name, known)}"
    )


def wrong_value(key: str, message: str) -> str:
    lines = [line.strip().lstrip("- ") for line in message.splitlines()]
    given = next((m.group(1) for line in lines if (m := _GIVEN.search(line))), None)
    expected: list[str] = []
    choices: list[str] = []  # the values of every Literal, listed once
    for line in lines:
        match = _EXPECTED.match(line)
        if match and "dot import path" not in line and "path but" not in line:
            name = type_name(match.group(1))
            if name.startswith("one of "):
                choices.extend(c for c in name[len("one of ") :].split(", ") if c not in choices)
            elif name not in expected:
                expected.append(name)
    if choices:
        expected.insert(0, f"one of {', '.join(choices)}")
    if not expected:
        details = [
            line for line in lines[1:] if line and not line.startswith(("Parser key", "Given value type"))
        ]
        return f"{key}: {' '.join(details[:3]) or lines[0]}"
    got = f"{given!r} is not allowed; " if given is not None else ""
    return f"{key}: {got}expected {' or '.join(expected)}"


def type_name(text: str) -> str:
    """``<class 'int'>`` -> ``int``, ``typing.Literal['a', 'b']`` -> ``one of 'a', 'b'``, NoneType -> null."""
    text = text.strip()
    if match := re.fullmatch(r"typing\.Literal\[(.*)\]", text):
        return f"one of {match.group(1)}"
    if match := re.fullmatch(r"<class '([\w.]+)'>", text):
        text = match.group(1)
    text = text.rpartition(".")[2] if "[" not in text else text
    return {"NoneType": "null", "list": "a list", "dict": "a mapping"}.get(text, text)
