"""The study's progress on screen: a live table in a terminal, one line per finished trial elsewhere."""

from pathlib import Path
from typing import Any

import optuna
from rich.console import Console
from rich.live import Live

from project.sweep.results import trial_line, trials_table
from project.sweep.trial_process import last_lines


class ProgressDisplay:
    """Redraws the trials table on every event (terminal) or prints the finished trial's line (logs)."""

    def __init__(
        self, study: optuna.Study, keys: list[str], metric: str, console: Console | None = None
    ) -> None:
        self.study, self.keys, self.metric = study, keys, metric
        self.console = console or Console()
        self.live: Live | None = None

    def __enter__(self) -> "ProgressDisplay":
        if self.console.is_terminal:
            self.live = Live(self.table(), console=self.console, refresh_per_second=1, transient=False)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.live is not None:
            self.live.update(self.table())
            self.live.__exit__(*exc)
            self.live = None

    def table(self):  # noqa: ANN201 - a rich Table
        return trials_table(self.study, self.keys, self.metric)

    def event(self, kind: str, number: int) -> None:
        if self.live is not None:
            self.live.update(self.table())
            return
        trial = self.study.get_trials(deepcopy=False)[number]
        if kind == "started":
            log = trial.user_attrs.get("log", "")
            self.console.print(
                f"trial {number} started (log: {log})", highlight=False, soft_wrap=True, markup=False
            )
        elif kind == "requeued":
            self.console.print(
                f"trial {number} was left running by a stopped driver: re-queued", highlight=False
            )
        else:
            line = trial_line(trial, self.metric)
            if trial.state.name == "FAIL" and "interrupted" not in trial.user_attrs:
                line += f": exit status {trial.user_attrs.get('exit_code')}, {failure(trial)}"
            self.console.print(line, highlight=False, soft_wrap=True, markup=False)

    def final(self) -> None:
        """The full table at the end (a terminal already shows it)."""
        if not self.console.is_terminal:
            self.console.print(self.table())


def failure(trial: optuna.trial.FrozenTrial) -> str:
    """The error line of a failed trial's log (``error: ...`` or the traceback's last line), and the log."""
    log = trial.user_attrs.get("log")
    lines = last_lines(Path(log), 40).splitlines() if log else []
    errors = [line for line in lines if line.startswith("error:")] or [
        line for line in lines if line.strip()
    ][-1:]
    return f"{errors[-1].strip() if errors else 'no output'} (log: {log})"
