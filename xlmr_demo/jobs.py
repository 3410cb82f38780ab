"""Long work that a person or a time limit can stop.

A :class:`Job` is handed to backend functions as their ``progress`` callback
(:meth:`Job.progress` is a :data:`~xlmr_demo.progress.Progress`); each call first checks whether
the job was stopped or ran out of time and, if so, raises :class:`Stopped`. Work therefore ends
at its next progress report (a batch of texts, an epoch), not when it would have finished.
"""

from __future__ import annotations

import threading
import time

from .errors import UserError
from .progress import Progress, Step


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

    def progress(self, step: Step) -> None:
        """A :data:`Progress` callback: check, then pass the step on."""
        self.check()
        if self.report is not None:
            self.report(step)
