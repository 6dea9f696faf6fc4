"""A watchdog that aborts a distributed run when a collective call waits too long.

A rank that hangs, or dies without its launcher noticing, would leave the others waiting in
their next collective call forever; the watchdog turns that into an error message and an
abort of the job after ``timeout`` seconds.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

DEFAULT_TIMEOUT = 600.0
"""Seconds a collective call may wait for the other ranks before the job is aborted."""

TIMEOUT_VARIABLE = "CHAINRULE_MPI_TIMEOUT"
"""Environment variable that overrides ``DEFAULT_TIMEOUT`` (seconds)."""


def resolve_timeout(timeout: float | None) -> float:
    """``timeout``, or ``$CHAINRULE_MPI_TIMEOUT``, or ``DEFAULT_TIMEOUT``, checked."""
    if timeout is None:
        text = os.environ.get(TIMEOUT_VARIABLE, "").strip()
        if not text:
            return DEFAULT_TIMEOUT
        try:
            timeout = float(text)
        except ValueError:
            raise ValueError(
                f"chainrule.distributed: expected seconds in ${TIMEOUT_VARIABLE}, got {text!r}"
            ) from None
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise TypeError(
            f"MPIContext: expected timeout as a number of seconds, got {type(timeout).__name__}"
        )
    if not 0 < timeout < math.inf:
        raise ValueError(
            f"MPIContext: timeout must be a finite number of seconds > 0, got {timeout!r} "
            f"(for a long limit, give a large number such as 86400)"
        )
    return float(timeout)


def waited(timeout: float, what: str) -> str:
    """The message of a collective call ``what`` that waited more than ``timeout`` seconds."""
    return (
        f"waited more than {timeout:g} s for the other ranks in {what}; one of them has "
        f"probably died or hung. Aborting all ranks (${TIMEOUT_VARIABLE} sets this limit)"
    )


class Watchdog:
    """A daemon thread that calls ``expire(what)`` once a collective call has waited longer
    than ``timeout`` seconds. Entering and leaving a wait is two attribute writes, with no
    lock and no wake-up, so it costs the training step nothing measurable."""

    def __init__(self, timeout: float, expire: Callable[[str], None]) -> None:
        self.timeout = timeout
        self._expire = expire
        self._current: tuple[str, float] | None = None
        self._thread = threading.Thread(
            target=self._run, name="chainrule-mpi-watchdog", daemon=True
        )
        self._thread.start()

    @contextlib.contextmanager
    def waiting(self, what: str) -> Iterator[None]:
        self._current = (what, time.monotonic())
        try:
            yield
        finally:
            self._current = None

    def _run(self) -> None:
        interval = min(1.0, self.timeout / 10)
        while True:
            time.sleep(interval)
            current = self._current  # one read: the main thread may replace it meanwhile
            if current is not None and time.monotonic() - current[1] > self.timeout:
                self._expire(waited(self.timeout, current[0]))
                return


# Run by ``python -I -S -c``: sleep, then report and end the watched process.
_WATCHER = """
import os, signal, sys, time
pid, seconds, kill, message = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
time.sleep(seconds)
sys.stderr.write(message + "\\n")
sys.stderr.flush()
os.kill(pid, kill)
"""


@contextlib.contextmanager
def watched_from_outside(timeout: float, message: str) -> Iterator[None]:
    """End this process, printing ``message``, if the block takes more than ``timeout`` s.

    For MPI's start (``MPI_Init``, when mpi4py is imported), which waits for every rank
    while holding the GIL, so that no thread of this process can run meanwhile: a small
    process of its own watches it instead. A rank that failed before starting MPI would
    otherwise leave the others waiting there for good, as the launcher only ends them when
    a rank is killed.
    """
    kill = int(getattr(signal, "SIGKILL", signal.SIGTERM))
    arguments = [str(os.getpid()), repr(timeout), str(kill), message]
    watcher = subprocess.Popen(
        [sys.executable, "-I", "-S", "-c", _WATCHER, *arguments], stdin=subprocess.DEVNULL
    )
    try:
        yield
    finally:
        watcher.kill()
        watcher.wait()
