"""The sweep file: ``study:`` (what to optimise and how) and ``space:`` (which config keys to vary).

Every mistake is a ``UserError`` that names the file and the key, found before any trial runs.
"""

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from project.config_tree import read_yaml_file
from project.errors import UserError, did_you_mean

SAMPLERS = ("tpe", "random", "grid")
PRUNERS = ("median", "hyperband", "threshold", "none")
DIRECTIONS = ("maximize", "minimize")
PARAM_TYPES = ("float", "int", "categorical")
STUDY_KEYS = (
    "name",
    "storage",
    "direction",
    "metric",
    "n_trials",
    "timeout",
    "sampler",
    "pruner",
    "seed",
    "stale_after",
)
PARAM_KEYS = ("type", "low", "high", "log", "step", "choices")


@dataclass
class Algorithm:
    """A sampler or pruner: its name and the keyword arguments for its Optuna class."""

    name: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Param:
    """One searched config key (``model.optimizer.init_args.lr``) and its range or choices."""

    key: str
    type: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: list[Any] | None = None


@dataclass
class StudySpec:
    """The ``study:`` section (see ``configs/sweeps/digits.yaml`` for the meaning of each key)."""

    name: str
    metric: str
    direction: str = "maximize"
    storage: str | None = None
    n_trials: int | None = None
    timeout: float | None = None
    sampler: Algorithm = field(default_factory=lambda: Algorithm("tpe"))
    pruner: Algorithm = field(default_factory=lambda: Algorithm("median"))
    seed: int | None = None
    stale_after: float = 300.0


@dataclass
class SweepFile:
    path: Path
    study: StudySpec
    space: list[Param]


def load_sweep_file(path: str | Path) -> SweepFile:
    """Read and check a sweep file; raises ``UserError`` naming the file and key."""
    path = Path(path)
    where = f"--sweep {path}"
    content = read_yaml_file(path, where)
    if not isinstance(content, dict):
        raise UserError(f"{where}: expected a mapping with `study:` and `space:`")
    try:
        unknown(content, ("study", "space"), "")
        study = parse_study(content.get("study") or {}, default_name=path.stem)
        space = parse_space(content.get("space"))
        if study.sampler.name == "grid":
            for param in space:
                grid_values(param)  # raises for a range without a step
    except UserError as err:
        raise UserError(f"{where}: {err}") from None
    return SweepFile(path, study, space)


def unknown(mapping: dict[str, Any], allowed: tuple[str, ...], prefix: str) -> None:
    for key in mapping:
        if key not in allowed:
            raise UserError(
                f"{prefix}{key}: unknown key; allowed: {', '.join(allowed)}{did_you_mean(str(key), allowed)}"
            )


def parse_study(raw: Any, default_name: str) -> StudySpec:
    if not isinstance(raw, dict):
        raise UserError("study: expected a mapping (name, metric, direction, ...)")
    unknown(raw, STUDY_KEYS, "study.")
    if not raw.get("metric"):
        raise UserError("study.metric: missing; give a logged key such as val/accuracy or val/loss")
    direction = raw.get("direction", "maximize")
    if direction not in DIRECTIONS:
        raise UserError(f"study.direction: {direction!r} is not allowed; allowed: {', '.join(DIRECTIONS)}")
    for key in ("n_trials", "timeout", "stale_after"):
        value = raw.get(key)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int | float) or value <= 0
        ):
            raise UserError(f"study.{key}: {value!r} is not allowed; expected a positive number or null")
    name = str(raw.get("name") or default_name)
    if "/" in name or name.startswith("."):
        raise UserError(f"study.name: {name!r} is not allowed; it names a folder: no '/', no leading '.'")
    return StudySpec(
        name=name,
        metric=str(raw["metric"]),
        direction=direction,
        storage=raw.get("storage"),
        n_trials=raw.get("n_trials"),
        timeout=raw.get("timeout"),
        sampler=parse_algorithm(raw.get("sampler", "tpe"), "study.sampler", SAMPLERS),
        pruner=parse_algorithm(raw.get("pruner", "median"), "study.pruner", PRUNERS),
        seed=raw.get("seed"),
        stale_after=float(raw.get("stale_after") or 300.0),
    )


def parse_algorithm(raw: Any, key: str, allowed: tuple[str, ...]) -> Algorithm:
    """``tpe`` or ``{type: tpe, n_startup_trials: 5}``."""
    raw = "none" if raw is None else raw
    options: dict[str, Any] = {}
    if isinstance(raw, dict):
        options = dict(raw)
        raw = options.pop("type", None)
    if not isinstance(raw, str) or raw.lower() not in allowed:
        raise UserError(
            f"{key}: {raw!r} is unknown; allowed: {', '.join(allowed)}{did_you_mean(str(raw), allowed)}"
        )
    return Algorithm(raw.lower(), options)


def parse_space(raw: Any) -> list[Param]:
    if not isinstance(raw, dict) or not raw:
        raise UserError(
            "space: expected a mapping of config keys to ranges, e.g. model.net.init_args.dropout"
        )
    return [parse_param(str(key), spec) for key, spec in raw.items()]


def parse_param(key: str, spec: Any) -> Param:
    where = f"space.{key}"
    if isinstance(spec, list):  # the short form of a categorical: key: [a, b, c]
        spec = {"type": "categorical", "choices": spec}
    if not isinstance(spec, dict):
        raise UserError(f"{where}: expected {{type, low, high, ...}} or a list of choices")
    unknown(spec, PARAM_KEYS, f"{where}.")
    kind = spec.get("type")
    if kind not in PARAM_TYPES:
        raise UserError(f"{where}.type: {kind!r} is unknown; allowed: {', '.join(PARAM_TYPES)}")
    param = Param(
        key, kind, spec.get("low"), spec.get("high"), bool(spec.get("log", False)), spec.get("step")
    )
    if kind == "categorical":
        choices = spec.get("choices")
        if not isinstance(choices, list) or not choices:
            raise UserError(f"{where}.choices: expected a non-empty list")
        param.choices = choices
        return param
    number = int if kind == "int" else (int, float)
    for name in ("low", "high"):
        value = getattr(param, name)
        if isinstance(value, bool) or not isinstance(value, number) or not math.isfinite(value):
            raise UserError(f"{where}.{name}: {value!r} is not allowed; expected a {kind}")
    if param.low >= param.high:
        raise UserError(f"{where}: empty range: low ({param.low}) must be below high ({param.high})")
    if param.log and param.low <= 0:
        raise UserError(f"{where}.low: {param.low} with log: true; a log range must start above 0")
    if param.step is not None:
        if isinstance(param.step, bool) or not isinstance(param.step, number) or param.step <= 0:
            raise UserError(f"{where}.step: {param.step!r} is not allowed; expected a positive {kind}")
        if param.log:
            raise UserError(f"{where}: step and log: true cannot be combined")
    return param


def grid_values(param: Param) -> list[Any]:
    """The values a grid tries for ``param``: its choices, or its range walked by ``step``."""
    if param.type == "categorical":
        return list(param.choices)
    if param.step is None:
        raise UserError(f"space.{param.key}: sampler grid needs choices, or low/high with a step")
    count = int(math.floor((param.high - param.low) / param.step + 1e-9)) + 1
    values = [param.low + i * param.step for i in range(count)]
    return [int(v) for v in values] if param.type == "int" else [round(v, 12) for v in values]
