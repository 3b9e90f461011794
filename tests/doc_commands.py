"""The shell commands a reader of README.md and docs/ is told to type, and how the test suite runs each one.

A command runs as written, with three kinds of change only: where runs go (``--run.root``), how long they
train (epochs and batch limits, ``SHRINK``), and placeholders the text asks the reader to fill in (``RUN``,
``path/to.ckpt``, ``configs/X.yaml``). Everything else (the shipped configs, the progress bar, the model
summary, both loggers, checkpoints) stays as a user gets it.
"""

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

# Commands that cannot run inside the suite, each with the reason and the test that covers what it does.
NOT_RUN_HERE = {
    r"^make (test|test-fast|install|lint|format)\b": "the suite and its tooling (.ci/run runs them)",
    r"^make bench\b": "a benchmark of minutes: tests/test_bench.py runs scripts/bench.py in smoke mode",
    r"^make tune\b": "a 12-trial study of minutes: tests/test_sweep.py runs `main.py tune` studies",
    r"^sbatch\b": "no SLURM here: tests/test_distributed.py simulates the tasks scripts/slurm.sbatch starts",
    r"--nnodes=2": "one node of a multi-node job: tests/test_distributed.py runs two torchrun agents at once",
    r"^HOST=0\.0\.0\.0": "opens a port to the network: tests run the same script on 127.0.0.1",
    r"presets/fsdp\.yaml": "FSDP needs a GPU: tests/test_fsdp_config.py (on a GPU: scripts/gpu_check.sh)",
    r"^pip install\b": "installs packages: .ci/run installs the project the same way",
    r"^git clone\b": "CI itself starts from a fresh clone",
    r"main\.py tune\b": "a study of several trials: tests/test_sweep.py runs `main.py tune`, shrunk",
    r"^curl\b": "requests to a running server: tests/test_shipping.py sends the same ones",
    r"main\.py serve\b": "a server until stopped: tests/test_shipping.py starts it, sends requests",
    r"--data\.predict_root=": "a folder of new images: tests/test_shipping.py writes one, predicts it",
}


@dataclass
class Command:
    text: str  # as printed, continuation lines joined
    source: str  # file:line

    @property
    def not_run_because(self) -> str | None:
        return next((why for pattern, why in NOT_RUN_HERE.items() if re.search(pattern, self.text)), None)


def commands_in(path: Path) -> list[Command]:
    """The commands of every ```bash / ```sh / ```shell block, one per line (``\\`` joins lines)."""
    found, block, pending, start = [], False, "", 0
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.startswith("```"):
            block = line.strip("`").strip() in ("bash", "sh", "shell", "console")
            continue
        if not block:
            continue
        stripped = line.strip()
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        text = strip_comment(pending + stripped).strip()
        pending = ""
        if text:
            found.append(Command(re.sub(r"\s+", " ", text), f"{path.relative_to(ROOT)}:{start}"))
    return found


def strip_comment(line: str) -> str:
    """Drop a trailing ``# comment`` (outside quotes)."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=False)
    lexer.commenters = "#"
    lexer.whitespace_split = True
    try:
        return " ".join(shlex.quote(token) if " " in token else token for token in lexer)
    except ValueError:
        return line


def all_commands() -> list[Command]:
    return [command for document in DOCUMENTS for command in commands_in(document)]


def makefile_recipe(target: str) -> str:
    """The command ``make TARGET`` runs (its first recipe line, with ``$(BIN)/`` dropped)."""
    lines = (ROOT / "Makefile").read_text().splitlines()
    for i, line in enumerate(lines):
        if re.match(rf"^{re.escape(target)}:", line):
            recipe = lines[i + 1].strip()
            return recipe.replace("$(BIN)/", "")
    raise KeyError(target)


def split(text: str) -> tuple[dict[str, str], list[str]]:
    """``A=1 B=2 cmd args`` -> ``({A: 1, B: 2}, [cmd, args])``, optional ``[...]`` parts dropped."""
    text = re.sub(r"\s\[[^\]]*\]", "", text)
    words = shlex.split(text)
    env = {}
    while words and re.match(r"^[A-Z_][A-Z0-9_]*=", words[0]):
        key, value = words.pop(0).split("=", 1)
        env[key] = value
    return env, words
