"""Switching a class restarts from the new class's own defaults.

jsonargparse keeps every init arg of the previous class that the new class also accepts
(omni-us/jsonargparse#460): ``--model.optimizer=Lion`` on a config with AdamW would train Lion with AdamW's
``lr`` and ``weight_decay``. Here, after jsonargparse has parsed, every key whose class was switched (by a
later ``--config`` or on the command line) is rebuilt from the new class's defaults plus the init args given
at or after the switch: ``--model.optimizer=Lion --model.optimizer.lr=3e-4`` keeps that ``lr`` and takes
everything else from Lion. This holds for every class-valued key (optimizer, scheduler, net, data, evaluator).
"""

from pathlib import Path
from typing import Any

from jsonargparse import ArgumentError, ArgumentParser, Namespace

from project.cli.argv import CommandLine, load_yaml_file, normalize, sources


def parse_with_class_restarts(parser: ArgumentParser, line: CommandLine, subparser_of: Any) -> Namespace:
    """``parser.parse_args(line.args)``, then switched classes restarted (``--print_config`` is left to the
    caller, which prints the restarted config: see ``dump_for_print``).

    ``subparser_of(subcommand)`` gives the parser of a subcommand (LightningCLI's ``_parser``).
    """
    if line.print_config is None:
        config = parser.parse_args(line.args)
    else:
        # jsonargparse prints inside parse_args, before classes could be restarted: the caller prints.
        config = parse_or_none(parser, line.without_print_config())
        if config is None:
            return parser.parse_args(line.args)  # an incomplete config: jsonargparse prints what it can
    if line.subcommand is None:  # a parser without subcommands (LightningCLI with run=False)
        cfg, subparser, sub_args = config, parser, line.args
    else:
        cfg, subparser = config[line.subcommand], subparser_of(line.subcommand)
        sub_args = line.args[line.args.index(line.subcommand) + 1 :]
    restart_switched_classes(cfg, subparser, sub_args)
    return config


def dump_for_print(subparser: ArgumentParser, config: Namespace, line: CommandLine) -> str:
    """The config as ``--print_config[=skip_null,...]`` prints it."""
    cfg = config[line.subcommand] if line.subcommand else config
    flags = {f for f in (line.print_config or "").split(",") if f}
    return subparser.dump(
        cfg,
        skip_unset="skip_unset" in flags or "skip_null" in flags,
        skip_default="skip_default" in flags,
        with_comments="comments" in flags,
    )


def parse_or_none(parser: ArgumentParser, args: list[str]) -> Namespace | None:
    """``parser.parse_args(args)``, or ``None`` where it fails, without printing or exiting."""
    exit_on_error, parser.exit_on_error = parser.exit_on_error, False
    try:
        return parser.parse_args(args)
    except ArgumentError:
        return None
    finally:
        parser.exit_on_error = exit_on_error


def restart_switched_classes(cfg: Namespace, subparser: ArgumentParser, args: list[str]) -> list[str]:
    """Rebuild each class-valued key of ``cfg`` whose class ``args`` switched; returns the keys rebuilt."""
    paths = class_keys(cfg)
    if not paths:
        return []
    tracker = SwitchTracker(set(paths))
    for source_key, value, base in sources(args):
        tracker.assign(source_key, value, base)
    rebuilt = []
    for key in sorted(tracker.switched(), key=lambda k: k.count(".")):
        path = paths[key]
        current = cfg[path]
        given = tracker.given[key]
        init_args = current.get("init_args") or Namespace()
        kept = Namespace({name: init_args[name] for name in given if name in init_args})
        spec = Namespace(class_path=current.class_path, init_args=kept)
        if current.get("dict_kwargs"):
            spec.dict_kwargs = current.dict_kwargs
        # Parsed afresh, with no previous value for this key, the new class's defaults fill the rest.
        fresh = cfg.clone()
        fresh.pop("config", None)
        fresh[path] = spec
        cfg[path] = subparser.parse_object(fresh)[path]
        rebuilt.append(key)
    return rebuilt


def class_keys(cfg: Namespace, prefix: str = "", key_prefix: str = "") -> dict[str, str]:
    """``{"model.optimizer": "model.optimizer", "model.net.block": "model.net.init_args.block", ...}``:
    every key holding a ``class_path`` (lists excluded), as written by users -> as stored in ``cfg``."""
    found: dict[str, str] = {}
    for name, value in vars(cfg).items():
        if not isinstance(value, Namespace) or name.startswith("__"):
            continue
        path, key = f"{prefix}{name}", f"{key_prefix}{name}"
        if "class_path" in value:
            found[key] = path
            if isinstance(value.get("init_args"), Namespace):
                found.update(class_keys(value.init_args, f"{path}.init_args.", f"{key}."))
        else:
            found.update(class_keys(value, f"{path}.", f"{key}."))
    return found


def short_class_name(class_path: str) -> str:
    return class_path.rpartition(".")[2]


class SwitchTracker:
    """Follows the class of every class-valued key through the sources, and the init args given since the
    last switch of that class."""

    def __init__(self, keys: set[str]) -> None:
        self.keys = keys
        self.current: dict[str, str | None] = dict.fromkeys(keys)
        self.given: dict[str, set[str]] = {key: set() for key in keys}
        self.was_switched: dict[str, bool] = dict.fromkeys(keys, False)

    def switched(self) -> list[str]:
        return [key for key, switched in self.was_switched.items() if switched]

    def is_prefix_of_class_key(self, key: str) -> bool:
        return key == "" or any(k.startswith(f"{key}.") for k in self.keys)

    def assign(self, key: str, value: Any, base: Path) -> None:
        """One source sets ``key`` (normalized) to ``value`` (loaded YAML)."""
        for owner in self.keys:
            if key.startswith(f"{owner}."):
                rest = key[len(owner) + 1 :].split(".")
                if rest == ["class_path"]:
                    self.set_class(owner, value)
                elif rest[0] == "dict_kwargs" and len(rest) > 1:
                    self.given[owner].add(rest[1])
                else:
                    self.given[owner].add(rest[0])
        if key in self.keys:
            self.assign_class_value(key, value, base)
        elif isinstance(value, dict) and self.is_prefix_of_class_key(key):
            for name, child in value.items():
                self.assign(normalize(f"{key}.{name}" if key else str(name)), child, base)

    def assign_class_value(self, key: str, value: Any, base: Path) -> None:
        if value is None:
            self.reset(key)
        elif isinstance(value, str):
            path = base / value
            if value.endswith((".yaml", ".yml", ".json")) and path.is_file():
                self.assign_class_value(key, load_yaml_file(path), path.parent)
            else:
                self.set_class(key, value)
        elif isinstance(value, dict):
            if "class_path" in value:
                self.set_class(key, value["class_path"])
            if "class_path" in value or "init_args" in value or "dict_kwargs" in value:
                init_args = {**(value.get("init_args") or {}), **(value.get("dict_kwargs") or {})}
            else:
                init_args = value  # init args given without class_path: they apply to the current class
            for name, child in init_args.items():
                self.assign(f"{key}.{name}", child, base)

    def set_class(self, key: str, class_path: Any) -> None:
        name = short_class_name(str(class_path))
        previous = self.current[key]
        if previous is not None and previous != name:
            self.was_switched[key] = True
            self.given[key] = set()
            for nested in self.keys:
                if nested.startswith(f"{key}."):
                    self.reset(nested)
        self.current[key] = name

    def reset(self, key: str) -> None:
        self.current[key] = None
        self.given[key] = set()
        self.was_switched[key] = False
