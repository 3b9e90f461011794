"""Reading parsed config trees: the class a ``class_path`` names, short names, flattened keys."""

from importlib import import_module
from pathlib import Path
from typing import Any

from jsonargparse import Namespace

from project.errors import UserError


def class_of(spec: Namespace) -> type:
    """The class a parsed ``{class_path, init_args}`` entry names."""
    module, _, name = spec.class_path.rpartition(".")
    return getattr(import_module(module), name)


def short_name(spec: Namespace | str) -> str:
    """``project.data.digits.Digits`` -> ``digits``."""
    class_path = spec if isinstance(spec, str) else spec.class_path
    return class_path.rpartition(".")[2].lower()


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}, "c": [2, 3]}`` -> ``{"a.b": 1, "c": [2, 3]}`` (lists of dicts are indexed)."""
    if isinstance(tree, dict):
        out: dict[str, Any] = {}
        for key, value in tree.items():
            out.update(flatten(value, f"{prefix}{key}."))
        return out
    if isinstance(tree, list) and any(isinstance(item, dict) for item in tree):
        out = {}
        for index, value in enumerate(tree):
            out.update(flatten(value, f"{prefix}{index}."))
        return out
    return {prefix[:-1]: tree}


def read_yaml_file(path: str | Path, label: str) -> Any:
    """A YAML file a user named (``label``: ``--config x.yaml``): its content, or a ``UserError`` saying the
    file is missing, a folder, not text, or not YAML (with line and column)."""
    import yaml

    file = Path(path)
    if not file.is_file():
        raise UserError(f"{label}: file {'is a folder' if file.is_dir() else 'does not exist'}")
    try:
        return yaml.safe_load(file.read_text())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise UserError(f"{label}: not valid YAML{where}: {problem}") from None
    except UnicodeDecodeError:
        raise UserError(f"{label}: not a text file") from None
