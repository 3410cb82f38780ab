"""Long work that a person or a time limit can stop.

A :class:`Job` is handed to backend functions as their ``progress`` callback
(:meth:`Job.progress` has the shape ``progress(stage, fraction)``); each call first checks whether
the job was stopped or ran out of time and, if so, raises :class:`Stopped`. Work therefore ends
at its next progress report (a batch of texts, an epoch), not when it would have finished.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from .errors import UserError

#: progress(stage, fraction done in [0, 1]) for long work shown in the UI or a terminal.
Progress = Callable[[str, float], None]


class Stopped(UserError):
    """The work was stopped: by the person who started it, or by the server's time limit."""


class Job:
    """One piece of long work: what it is, a stop flag, and an optional time limit in seconds."""

    def __init__(
        self, what: str, seconds: float | None = None, report: Progress | None = None, stoppable: bool = True
    ) -> None:
        self.what = what
        self.seconds = seconds
        self.stoppable = stoppable  # False: short work that never reports progress, so never sees a stop
        self.report = report
        self.started = time.monotonic()
        self._stop = threading.Event()

    def stop(self) -> None:
        """Ask the work to stop at its next progress report."""
        self._stop.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def check(self) -> None:
        """Raise :class:`Stopped` if the job was stopped or is past its time limit."""
        if self._stop.is_set():
            raise Stopped(f"{self.what} stopped.")
        if self.seconds is not None and time.monotonic() - self.started > self.seconds:
            raise Stopped(
                f"{self.what} stopped after {self.seconds:,.0f} seconds, the most one job may run on this server. "
                "Try a smaller file."
            )

    def progress(self, stage: str, fraction: float) -> None:
        """A :data:`Progress` callback: check, then pass the report on."""
        self.check()
        if self.report is not None:
            self.report(stage, fraction)
