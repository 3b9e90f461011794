"""Reading parsed config trees: the class a ``class_path`` names, short names, flattened keys."""

from importlib import import_module
from typing import Any

from jsonargparse import Namespace


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
