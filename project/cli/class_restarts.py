"""Switching a class restarts from the new class's own defaults.

jsonargparse keeps every init arg of the previous class that the new class also accepts
(omni-us/jsonargparse#460): ``--model.optimizer=Lion`` on a config with AdamW would train Lion with AdamW's
``lr`` and ``weight_decay``. Here, after jsonargparse has parsed, every key whose class was switched (by a
later ``--config`` or on the command line) is rebuilt from the new class's defaults plus the init args given
at or after the switch: ``--model.optimizer=Lion --model.optimizer.lr=3e-4`` keeps that ``lr`` and takes
everything else from Lion. This holds for every class-valued key (optimizer, scheduler, net, data, evaluator).
"""

import sys
from pathlib import Path
from typing import Any

import yaml
from jsonargparse import ArgumentError, ArgumentParser, Namespace

CONFIG_OPTIONS = ("--config", "-c")
PRINT_CONFIG = "--print_config"


def parse_with_class_restarts(parser: ArgumentParser, args: list[str] | None, subparser_of: Any) -> Namespace:
    """``parser.parse_args(args)``, then switched classes restarted; ``--print_config`` prints the result.

    ``subparser_of(subcommand)`` gives the parser of a subcommand (LightningCLI's ``_parser``).
    """
    argv = list(sys.argv[1:] if args is None else args)
    subcommand = next((a for a in argv if a in parser_subcommands(parser)), None)
    print_flags = next((a.partition("=")[2] for a in argv if a.partition("=")[0] == PRINT_CONFIG), None)
    if print_flags is None:
        config = parser.parse_args(args)
    else:
        # jsonargparse prints inside parse_args, before classes could be restarted: print here instead.
        config = parse_or_none(parser, [a for a in argv if a.partition("=")[0] != PRINT_CONFIG])
        if config is None:
            return parser.parse_args(args)  # an incomplete config: jsonargparse prints what it can
    if subcommand is None:  # a parser without subcommands (LightningCLI with run=False)
        cfg, subparser, sub_args = config, parser, argv
    else:
        cfg, subparser, sub_args = (
            config[subcommand],
            subparser_of(subcommand),
            argv[argv.index(subcommand) + 1 :],
        )
    restart_switched_classes(cfg, subparser, sub_args)
    if print_flags is not None:
        flags = {f for f in print_flags.split(",") if f}
        sys.stdout.write(
            subparser.dump(
                cfg,
                skip_unset="skip_unset" in flags or "skip_null" in flags,
                skip_default="skip_default" in flags,
                with_comments="comments" in flags,
            )
        )
        sys.exit(0)
    return config


def parse_or_none(parser: ArgumentParser, args: list[str]) -> Namespace | None:
    """``parser.parse_args(args)``, or ``None`` where it fails, without printing or exiting."""
    exit_on_error, parser.exit_on_error = parser.exit_on_error, False
    try:
        return parser.parse_args(args)
    except ArgumentError:
        return None
    finally:
        parser.exit_on_error = exit_on_error


def parser_subcommands(parser: ArgumentParser) -> set[str]:
    action = getattr(parser, "_subcommands_action", None)
    return set(getattr(action, "choices", {}) or {})


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
