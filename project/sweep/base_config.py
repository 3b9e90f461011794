"""The training config a study varies: parsed as ``main.py fit`` would, checked against the sweep file.

Nothing is written: no run dir, no MLflow run. The checks run on the base config alone (every space key
exists), then with every searched key at the low end of its range and at the high end (each value is
accepted, the model builds, the optimizer takes it, and the study's metric is one the module logs).
"""

import re
from dataclasses import dataclass
from typing import Any

import yaml
from jsonargparse import Namespace

from project.cli.argv import scan
from project.cli.checks_after import check_optimizer, logged_keys
from project.cli.checks_before import check_config_files
from project.cli.template_cli import TemplateCLI
from project.config_tree import flatten, short_name
from project.errors import UserError, did_you_mean
from project.sweep.search_space import as_arguments
from project.sweep.sweep_file import Param, SweepFile


class ConfigCheckCLI(TemplateCLI):
    """``TemplateCLI`` without a subcommand that builds the classes and creates nothing on disk."""

    def before_instantiate_classes(self) -> None:
        pass

    def instantiate_classes(self) -> None:
        self.config_init = self.parser.instantiate_classes(self.config)
        self.model = self.config_init.get("model")

    def after_instantiate_classes(self) -> None:
        pass


@dataclass
class BaseConfig:
    """The resolved base config (``main.py fit``'s view of ``--config ... --key=value ...``)."""

    arguments: list[str]
    config: Namespace
    flat: dict[str, Any]

    @property
    def root(self) -> str:
        return self.config.run.root

    @property
    def data_name(self) -> str:
        return short_name(self.config.data)


def parse(arguments: list[str], build: bool = False) -> ConfigCheckCLI:
    check_config_files(scan(arguments).config_files)
    return ConfigCheckCLI(args=arguments, run=False) if build else _parse_only(arguments)


def _parse_only(arguments: list[str]) -> ConfigCheckCLI:
    class ParseOnly(ConfigCheckCLI):
        def instantiate_classes(self) -> None:
            pass

    return ParseOnly(args=arguments, run=False)


def resolve(arguments: list[str], sweep: SweepFile) -> BaseConfig:
    """Parse the base config and check the sweep file against it (``UserError`` naming the key)."""
    cli = parse(arguments)
    dumped = yaml.safe_load(cli.parser.dump(cli.config, skip_none=False))
    dumped.pop("config", None)
    flat = flatten(dumped)
    for param in sweep.space:
        check_key(param.key, flat)
    base = BaseConfig(arguments, cli.config, flat)
    for end in ("low", "high"):
        check_values(base, sweep, {p.key: end_value(p, end) for p in sweep.space})
    return base


def check_key(key: str, flat: dict[str, Any]) -> None:
    """``key`` is a value (or a class-valued subtree) of the config; list entries cannot be searched."""
    if any(re.fullmatch(r"\d+", part) for part in key.split(".")):
        raise UserError(f"space.{key}: entries of lists (callbacks, loggers) cannot be searched")
    if key in flat or any(k.startswith(f"{key}.") for k in flat):
        return
    raise UserError(f"space.{key}: not a key of the training config{did_you_mean(key, flat)}")


def end_value(param: Param, end: str) -> Any:
    if param.type == "categorical":
        return param.choices[0 if end == "low" else -1]
    value = getattr(param, end)
    return float(value) if param.type == "float" else value  # `low: 1` of a float range is tried as 1.0


def check_values(base: BaseConfig, sweep: SweepFile, values: dict[str, Any]) -> None:
    """Build the model with ``values``: each is accepted, the optimizer takes it, the metric is logged."""
    shown = ", ".join(f"{k}={v}" for k, v in values.items())
    try:
        model = parse([*base.arguments, *as_arguments(values)], build=True).model
        check_optimizer(model)
    except Exception as err:  # noqa: BLE001 - any failure to build with these values is the sweep's
        from project.errors import user_message

        raise UserError(f"space ({shown}): {user_message(err) or err}") from None
    known = logged_keys(model)
    metric = sweep.study.metric
    if metric not in known and not metric.startswith("lr-"):
        raise UserError(
            f"study.metric: {metric!r} is never logged; logged keys: {', '.join(known)}, lr-*"
            f"{did_you_mean(metric, known)}"
        )
