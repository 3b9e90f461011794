"""Sends metrics and params to MLflow from a background thread: a slow or dead store never stalls training.

Failures never raise into training. A store that cannot be reached puts the sender offline: later items are
dropped and counted (with one attempt per ``retry_interval`` to come back), and ``summary()`` says what was
not sent. A store that answers but rejects an item (a 4xx answer, e.g. a param that would change value) drops
that item only.
"""

import queue
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

SYNC_HINT = "the run dir has everything; send it later with `python scripts/sync_mlflow.py RUN_DIR`"


def is_rejection(error: BaseException) -> bool:
    """True when the store answered and refused the request (it is reachable), False for connection errors."""
    code = getattr(error, "get_http_status_code", lambda: 500)()
    return 400 <= int(code) < 500


@dataclass
class Dropped:
    """What did not reach MLflow, by kind, and the first error that caused it."""

    counts: dict[str, int] = field(default_factory=dict)
    first_error: str | None = None

    def add(self, kind: str, n: int, error: BaseException | str | None = None) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + n
        if error is not None and self.first_error is None:
            self.first_error = (
                f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else error
            )

    def __bool__(self) -> bool:
        return any(self.counts.values())

    def describe(self) -> str:
        return ", ".join(f"{n} {kind}" for kind, n in self.counts.items() if n)


class MLflowSender:
    """A queue of ``(kind, items)`` that one daemon thread sends with ``send(kind, items)``.

    ``kind`` is ``"metric values"`` or ``"params"``; ``send`` does the blocking call to MLflow. The thread
    sends at most once per ``send_interval`` seconds, everything queued in between together; ``flush`` sends
    what is queued at once.
    """

    def __init__(
        self,
        send: Callable[[str, list[Any]], None],
        target: str,
        retry_interval: float = 60.0,
        synchronous: bool = False,
        send_interval: float = 0.0,
    ) -> None:
        self._send = send
        self.target = target
        self.retry_interval = retry_interval
        self.synchronous = synchronous
        # Each request to a local sqlite store is ~15 ms of Python holding the GIL, taken from training.
        self.send_interval = send_interval
        self._last_send = -float("inf")
        self.dropped = Dropped()
        self.offline_since: float | None = None
        self._next_try = 0.0
        self._queue: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._opener: Callable[[], None] | None = None

    @property
    def online(self) -> bool:
        return self.offline_since is None

    def may_try(self) -> bool:
        """True when online, or when offline long enough to try again."""
        return self.online or time.monotonic() >= self._next_try

    def go_offline(self, error: BaseException | str) -> None:
        """Stop sending (until the next retry) after a connection failure; warn the first time."""
        with self._lock:
            first = self.offline_since is None
            if first:
                self.offline_since = time.monotonic()
            self._next_try = time.monotonic() + self.retry_interval
        if first:
            detail = f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else error
            warnings.warn(
                f"MLflow at {self.target} cannot be reached ({_first_line(detail)}); training goes on, and "
                f"what cannot be sent is counted; {SYNC_HINT}",
                RuntimeWarning,
                stacklevel=2,
            )
            self.dropped.add("", 0, error)

    def start(self, opener: Callable[[], None]) -> None:
        """Start the thread, which calls ``opener`` (open the run) before it sends anything."""
        self._opener = opener
        self._ensure_thread()

    def put(self, kind: str, items: list[Any]) -> None:
        if not items:
            return
        if self.synchronous:
            self.send_now(kind, items)
            return
        self._queue.put((kind, items))
        self._ensure_thread()

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, name="mlflow-sender", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        """Send what is queued in as few requests as MLflow's limits allow; stop at ``(None, None)``."""
        opener, self._opener = self._opener, None
        if opener is not None:
            opener()
        while True:
            taken = [self._queue.get()]
            while taken[-1][0] is not None:
                wait = self._last_send + self.send_interval - time.monotonic()
                try:
                    taken.append(self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait())
                except queue.Empty:
                    break
            self._last_send = time.monotonic()
            try:
                pending: dict[str, list[Any]] = {}
                for kind, items in taken:
                    if kind is not None:
                        pending.setdefault(kind, []).extend(items)
                for kind, items in pending.items():
                    self.send_now(kind, items)
            finally:
                for _ in taken:
                    self._queue.task_done()
            if any(kind is None for kind, _ in taken):
                return

    def send_now(self, kind: str, items: list[Any]) -> None:
        """Send in this thread (failures are counted, never raised); MLflow's ``log_batch`` splits a long
        list into requests within its limits."""
        if not self.may_try():
            self.dropped.add(kind, len(items))
            return
        try:
            self._send(kind, items)
        except Exception as error:  # noqa: BLE001 - nothing MLflow raises may stop training
            if not is_rejection(error):
                self.dropped.add(kind, len(items), error)
                self.go_offline(error)
            elif kind == "params" and len(items) > 1:
                # One refused param (e.g. a changed value) must not take the others with it; sending again
                # one that was stored is harmless (MLflow accepts an unchanged value).
                for item in items:
                    self.send_now(kind, [item])
            else:
                self.dropped.add(kind, len(items), error)
                message = f"MLflow refused {len(items)} {kind}: {_first_line(str(error))}"
                warnings.warn(message, stacklevel=2)
        else:
            if not self.online:
                self.offline_since = None
                warnings.warn(f"MLflow at {self.target} answers again; sending resumed", stacklevel=2)

    def flush(self, timeout: float) -> None:
        """Wait until the queue is sent (or dropped), then stop the thread.

        After ``timeout`` seconds the rest counts as not sent. Logging afterwards starts a new thread.
        """
        if self._queue.unfinished_tasks == 0:
            return
        self._queue.put((None, None))  # ends the wait for the next send_interval, then the thread
        self._ensure_thread()
        done = threading.Event()

        def wait() -> None:
            self._queue.join()
            done.set()

        threading.Thread(target=wait, daemon=True).start()
        if done.wait(timeout):
            return
        while True:
            try:
                kind, items = self._queue.get_nowait()
            except queue.Empty:
                break
            self._queue.task_done()
            if kind is not None:
                self.dropped.add(kind, len(items), f"not sent within {timeout:.0f} s at the end of the run")
        self.go_offline(f"sending did not finish within {timeout:.0f} s")

    def summary(self) -> str | None:
        """One line on what was not sent, or None when everything arrived."""
        if not self.dropped:
            return None
        return (
            f"MLflow at {self.target} did not receive {self.dropped.describe()} "
            f"(first error: {_first_line(self.dropped.first_error or 'unknown')}); {SYNC_HINT}"
        )


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else text
    return line if len(line) <= 300 else line[:297] + "..."
