"""The study's driver: ask a trial, start its process, tell its outcome; ``workers`` trials at a time.

Several drivers (more machines, or a rerun) may share one study; the storage is the only thing they share:
- a trial counts toward ``n_trials`` when COMPLETE, PRUNED or FAIL (a trial that crashed on its own counts:
  a broken config would otherwise be retried for ever), unless it is marked ``interrupted`` or ``surplus``;
- every driver beats a heartbeat (a user attr) into its running trials. A RUNNING trial whose driver is gone
  (same host, process dead: at once; another host: no heartbeat for ``stale_after`` seconds) is marked
  ``interrupted``, set FAIL and enqueued again with the same values (by the driver whose FAIL landed);
- a driver that asked one trial too many (two drivers asked at once) marks it ``surplus`` and does not run it.
"""

import os
import signal
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from project.sweep.trial_link import TrialLink
from project.sweep.trial_process import TrialProcess, start_trial

HEARTBEAT_SECONDS = 10.0
POLL_SECONDS = 0.2
NOT_COUNTED = ("interrupted", "surplus")


def counts(trial: FrozenTrial) -> bool:
    """Whether ``trial`` takes one of the study's ``n_trials`` (finished or running). A WAITING trial (values
    enqueued again after an interruption) does not count yet: the next ``ask`` hands it out and runs it."""
    if trial.state == TrialState.WAITING:
        return False
    if trial.state == TrialState.FAIL:
        return not any(key in trial.user_attrs for key in NOT_COUNTED)
    return True


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class DriverSettings:
    """What the driver needs besides the study: how many trials, how many at once, how to start one."""

    n_trials: int
    workers: int
    timeout: float | None
    stale_after: float
    base_arguments: list[str]
    study_dir: Path
    link: TrialLink  # the trial number is filled in per trial
    distributions: dict[str, Any]


class Driver:
    """Runs the study's trials until ``n_trials`` count, the timeout passes, or a signal stops it."""

    def __init__(
        self,
        study: optuna.Study,
        storage: optuna.storages.BaseStorage,
        settings: DriverSettings,
        on_event: Callable[[str, int], None],
    ) -> None:
        self.study, self.storage, self.settings, self.on_event = study, storage, settings, on_event
        self.study_id = storage.get_study_id_from_name(study.study_name)
        self.running: dict[int, TrialProcess] = {}
        self.stop_signal: int | None = None
        self.host, self.pid = socket.gethostname(), os.getpid()

    def trial_id(self, number: int) -> int:
        return self.storage.get_trial_id_from_study_id_trial_number(self.study_id, number)

    def run(self) -> int | None:
        """Drive the study; returns the signal that stopped it, if one did."""
        deadline = time.monotonic() + self.settings.timeout if self.settings.timeout else None
        self.requeue_stale()
        beat = time.monotonic()
        with signals_handled(self.request_stop):
            while True:
                self.reap()
                if time.monotonic() - beat > HEARTBEAT_SECONDS:
                    self.heartbeat()
                    self.requeue_stale()
                    beat = time.monotonic()
                timed_out = deadline is not None and time.monotonic() > deadline
                if self.stop_signal is None and not timed_out and self.has_free_slot() and self.has_room():
                    self.start_next()
                    continue
                if not self.running:
                    return self.stop_signal
                time.sleep(POLL_SECONDS)

    # --- starting trials --------------------------------------------------------------------------------

    def has_free_slot(self) -> bool:
        return len(self.running) < self.settings.workers

    def has_room(self) -> bool:
        trials = self.study.get_trials(deepcopy=False)
        return sum(counts(t) for t in trials) < self.settings.n_trials

    def start_next(self) -> None:
        trial = self.study.ask(self.settings.distributions)
        number, trial_id = trial.number, self.trial_id(trial.number)
        for key, value in {"host": self.host, "driver_pid": self.pid, "heartbeat": time.time()}.items():
            self.storage.set_trial_user_attr(trial_id, key, value)
        earlier = [t for t in self.study.get_trials(deepcopy=False) if t.number < number and counts(t)]
        if len(earlier) >= self.settings.n_trials:  # another driver asked the last one at the same moment
            self.storage.set_trial_user_attr(trial_id, "surplus", True)
            self.study.tell(number, state=TrialState.FAIL)
            return
        slot = min(set(range(self.settings.workers)) - {p.slot for p in self.running.values()})
        process = start_trial(
            number,
            trial_id,
            dict(trial.params),
            self.settings.base_arguments,
            self.settings.study_dir,
            self.study.study_name,
            replace(self.settings.link, trial=number),
            slot,
            self.settings.workers,
        )
        self.storage.set_trial_user_attr(trial_id, "pid", process.process.pid)
        self.storage.set_trial_user_attr(trial_id, "log", str(process.log))
        self.running[number] = process
        self.on_event("started", number)

    # --- ending trials ----------------------------------------------------------------------------------

    def reap(self) -> None:
        for number, trial in list(self.running.items()):
            code = trial.process.poll()
            if code is None:
                continue
            del self.running[number]
            attrs = self.storage.get_trial(trial.trial_id).user_attrs
            self.storage.set_trial_user_attr(trial.trial_id, "exit_code", code)
            self.storage.set_trial_user_attr(
                trial.trial_id, "duration", round(time.time() - trial.started, 1)
            )
            if self.stop_signal is not None and code != 0:
                self.interrupt(number, trial.params, "stopped by a signal to the driver")
            elif code == 0 and attrs.get("pruned"):
                self.study.tell(number, state=TrialState.PRUNED)
            elif code == 0 and attrs.get("value") is not None:
                self.study.tell(number, attrs["value"])
            else:
                self.study.tell(number, state=TrialState.FAIL)
            self.on_event("finished", number)

    def interrupt(self, number: int, params: dict[str, Any], why: str) -> bool:
        """Mark a RUNNING trial interrupted and FAIL, and enqueue its values again; False if another
        driver did it first (the storage refuses to change a finished trial)."""
        try:
            self.storage.set_trial_user_attr(self.trial_id(number), "interrupted", why)
            self.study.tell(number, state=TrialState.FAIL)
        except (RuntimeError, ValueError):  # UpdateFinishedTrialError is a RuntimeError
            return False
        self.study.enqueue_trial(params, user_attrs={"retry_of": number}, skip_if_exists=False)
        return True

    def requeue_stale(self) -> None:
        now = time.time()
        for trial in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if trial.number in self.running:
                continue
            attrs = trial.user_attrs
            beat = attrs.get("heartbeat") or trial.datetime_start.timestamp()
            pid = attrs.get("driver_pid")
            gone = attrs.get("host") == self.host and pid not in (None, self.pid) and not pid_alive(pid)
            if (gone or now - beat > self.settings.stale_after) and self.interrupt(
                trial.number, trial.params, "its driver stopped (killed, crashed or lost)"
            ):
                self.on_event("requeued", trial.number)

    def heartbeat(self) -> None:
        for trial in self.running.values():
            with suppress(RuntimeError):
                self.storage.set_trial_user_attr(trial.trial_id, "heartbeat", time.time())

    # --- signals ----------------------------------------------------------------------------------------

    def request_stop(self, signum: int) -> None:
        """First signal: stop every trial (each saves ``last.ckpt``); a second one kills them."""
        second = self.stop_signal is not None
        self.stop_signal = signum
        for trial in self.running.values():
            with suppress(ProcessLookupError):
                trial.process.send_signal(signal.SIGKILL if second else signal.SIGTERM)


@contextmanager
def signals_handled(handler: Callable[[int], None]) -> Iterator[None]:
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for signum in previous:
        signal.signal(signum, lambda number, frame: handler(number))
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
