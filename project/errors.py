"""User mistakes end with exit status 2 and one short message; bugs keep their traceback and exit 1.

A user mistake is a ``UserError``, or any ``ValueError``/``TypeError`` whose message starts with the config
key it is about (``"data.root: folder x does not exist"``), or Lightning's ``MisconfigurationException``.
Reusable classes name only their own argument (``"root: folder x does not exist"``); the CLI puts the key
where it mounted the class in front (``at_key``, ``project.cli.mount_keys``). jsonargparse wraps errors
raised while it builds classes; the original message is found in the exception's ``__cause__`` chain.

``--debug-errors`` on the command line, or ``PROJECT_DEBUG_ERRORS=1``, prints the traceback as well.
"""

import difflib
import os
import re
import sys
import traceback
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

DEBUG_FLAG = "--debug-errors"
DEBUG_ENV = "PROJECT_DEBUG_ERRORS"
EXIT_USER_ERROR = 2

# The first word of a message about a config key: `trainer.devices: ...`, `--config x.yaml: ...`.
_KEY_ROOTS = ("trainer", "model", "data", "run", "ckpt_path", "seed_everything", "weights_only", "--config")
# Either `key: problem` or `dotted.key problem` (`data.batch_size must be at least 1`).
_KEYED = re.compile(
    rf"^(?:{'|'.join(re.escape(r) for r in _KEY_ROOTS)})(?:(?:[.\[][^\s:]*)?:\s|[.\[][^\s:]* )"
)


# A class's message about one of its own arguments: `T_0: ...`, `scheduler.init_args.T_0: ...`.
_ARGUMENT = re.compile(r"^[A-Za-z_]\w*(?:[.\[][^\s:]*)?:\s")


class UserError(ValueError):
    """A mistake in the command, a config file, the data or a checkpoint; the message names the culprit."""


def names_argument(message: str) -> bool:
    """Whether ``message`` starts with the argument it is about (``"T_0: must be >= 1, got 0"``)."""
    return bool(_ARGUMENT.match(message))


def at_key(key: str, message: str) -> str:
    """A class's ``message`` as seen from where it is mounted at ``key``:
    ``at_key("model.scheduler.init_args", "T_0: ...")`` is ``"model.scheduler.init_args.T_0: ..."``;
    a message about no argument in particular gets ``"key: "`` in front."""
    return f"{key}.{message}" if names_argument(message) else f"{key}: {message}"


@contextmanager
def nested_errors(argument: str) -> Iterator[None]:
    """In a class that builds another from its argument ``argument`` (a schedule inside ``LinearWarmup``): the
    inner class's ``ValueError`` names its argument from here, ``argument.init_args.T_0: ...``."""
    try:
        yield
    except ValueError as err:
        raise ValueError(at_key(f"{argument}.init_args", str(err))) from err


def close_matches(word: str, choices: Iterable[str], n: int = 3) -> list[str]:
    """Choices that look like ``word`` (for "did you mean ...?")."""
    return difflib.get_close_matches(word, list(choices), n=n, cutoff=0.6)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``"; did you mean X?"`` when a choice is close to ``word``, else ``""``."""
    matches = close_matches(word, choices)
    return f"; did you mean {' or '.join(matches)}?" if matches else ""


def debug_errors() -> bool:
    return os.environ.get(DEBUG_ENV, "").lower() in ("1", "true", "yes")


def error_chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and the errors it was raised from, outermost first."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _from_worker(message: str) -> str:
    """A DataLoader worker's error arrives as traceback text; keep the original message (the last line)."""
    if "Original Traceback" not in message:
        return message
    last = message.strip().splitlines()[-1]
    return re.sub(r"^[\w.]+(Error|Exception): ", "", last)


def user_message(exc: BaseException) -> str | None:
    """The message to show if ``exc`` (or an error it wraps) is a user mistake, else ``None``."""
    from lightning.fabric.utilities.exceptions import MisconfigurationException

    for err in error_chain(exc):
        text = _from_worker(str(err))
        if isinstance(err, UserError) or (isinstance(err, ValueError | TypeError) and _KEYED.match(text)):
            return text
    for err in error_chain(exc):
        if isinstance(err, MisconfigurationException):
            return f"configuration: {err}"
    return None


def report(message: str) -> None:
    """Print a user error the way every one of them is printed."""
    sys.stderr.write(f"error: {message.strip()}\n")
    if not debug_errors():
        sys.stderr.write(f"(add {DEBUG_FLAG} or set {DEBUG_ENV}=1 to see where it was raised)\n")
    sys.stderr.flush()


@contextmanager
def user_errors_exit_2() -> Iterator[None]:
    """Turn user mistakes raised inside the block into ``error: ...`` and exit status 2."""
    try:
        yield
    except Exception as exc:
        message = user_message(exc)
        if message is None:
            raise  # a bug: traceback and exit status 1
        if debug_errors():
            traceback.print_exc()
        report(message)
        raise SystemExit(EXIT_USER_ERROR) from None
