"""Ctrl-C and SIGTERM for the commands: an exception that unwinds (closing bags), then one line and
130/143."""

from __future__ import annotations

import signal
import threading
from types import FrameType

# the shell convention: 128 + the signal's number
EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}


class Interrupted(KeyboardInterrupt):
    """A command was stopped by SIGINT or SIGTERM; code that handles Ctrl-C handles both."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.detail = ""  # what the command leaves behind, e.g. the bag and its message count

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        return EXIT_CODES.get(signal.Signals(self.signum), 128 + self.signum)


def _raise_interrupted(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signum)


def install_handlers() -> None:
    """SIGINT and SIGTERM raise :class:`Interrupted` in the main thread (SIGTERM would otherwise kill
    the process with its bags unclosed)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for number in EXIT_CODES:
        signal.signal(number, _raise_interrupted)


def as_interrupted(error: KeyboardInterrupt) -> Interrupted:
    """A bare KeyboardInterrupt (e.g. raised by a library) counts as SIGINT."""
    return error if isinstance(error, Interrupted) else Interrupted(signal.SIGINT)
