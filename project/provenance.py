"""Where a result came from: the git commit of this checkout and the versions of the packages a run uses."""

import platform
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

# The distribution this checkout installs as (pyproject.toml); its dependencies are the packages reported.
DISTRIBUTION = "lightning-train-template"


def git(*args: str) -> str | None:
    root = Path(__file__).resolve().parents[1]
    try:
        out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def package_versions() -> dict[str, str | None]:
    """Python's version and those of the packages a run depends on (``None`` where not installed)."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in dependencies():
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    if "torch" in sys.modules:
        # The build (CUDA or CPU) shows in torch's own version only: `2.14.1+cu130` where pip's metadata of
        # the registry's wheel says `2.14.1`.
        versions["torch"] = str(sys.modules["torch"].__version__)
    return versions


def dependencies() -> list[str]:
    """The project's declared dependencies (extras excluded), as installed; ``numpy`` comes with torch."""
    try:
        declared = metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:
        declared = ["torch", "lightning"]
    names = [re.split(r"[\s<>=!~;\[]", req, maxsplit=1)[0] for req in declared if "extra ==" not in req]
    return [*dict.fromkeys([*names, "numpy"])]
