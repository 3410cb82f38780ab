"""Progress of long work, in one shape for every producer (embedding, training, maps, predictions)
and every consumer (the app's progress bar and loss curve, the CLI's status line, a job's stop check).

Long functions take ``progress: Progress | None`` and call it with a :class:`Step` after each unit
of work: a batch of texts, an epoch, a fold. Work that reports nothing itself (a t-SNE or UMAP
fit) runs inside :func:`ticking`.
"""

from __future__ import annotations

import contextvars
import math
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    """Where long work is: ``done`` of ``total`` units of ``stage``, and what was measured on the way."""

    stage: str  # what is being done, in words: "embedding", "training", "cross-lingual transfer", ...
    done: float = 0.0
    total: float = 1.0

    @property
    def fraction(self) -> float:
        """Share of the stage done, in [0, 1]."""
        return min(1.0, max(0.0, self.done / self.total)) if self.total else 0.0


@dataclass(frozen=True)
class Epoch(Step):
    """A head's training epoch done, and its losses (``validation_loss`` None: no validation rows)."""

    train_loss: float = math.nan
    validation_loss: float | None = None


@dataclass(frozen=True)
class TuningStep(Step):
    """Fine-tuning: one optimiser step done, ``epoch`` epochs in, with the loss of its batch."""

    epoch: float = 0.0
    train_loss: float = math.nan


@dataclass(frozen=True)
class TuningEvaluation(Step):
    """Fine-tuning: the model measured ``epoch`` epochs in; ``validation`` is the score that picks the weights."""

    epoch: float = 0.0
    validation: float = math.nan


Progress = Callable[[Step], None]


def duration(seconds: float) -> str:
    """A time span in words a person reads at a glance: "1.4 s", "12 s", "2 min 10 s", "1 h 05 min"."""
    if seconds < 9.95:
        return f"{max(0.0, seconds):.1f} s"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class Pace:
    """Each stage's time left, from the pace of its steps so far: ``describe(step)`` -> "training, about 12 s left".

    The pace is measured from the stage's first report on, so the time before it (loading, the
    first batch) does not skew it; nothing is promised until the stage has run a second.
    """

    MIN_SECONDS = 1.0

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.stage: str | None = None
        self.first: tuple[float, float] = (0.0, 0.0)  # (fraction, time) of the stage's first report

    def left(self, step: Step) -> float | None:
        """Seconds left in ``step``'s stage, or None while it cannot be told."""
        now = self.clock()
        if step.stage != self.stage:
            self.stage, self.first = step.stage, (step.fraction, now)
            return None
        done, elapsed = step.fraction - self.first[0], now - self.first[1]
        if done <= 0 or elapsed < self.MIN_SECONDS or step.fraction >= 1:
            return None
        return elapsed / done * (1 - step.fraction)

    def describe(self, step: Step) -> str:
        left = self.left(step)
        return step.stage if left is None else f"{step.stage}, about {duration(left)} left"


@contextmanager
def ticking(progress: Progress | None, stage: str, seconds: float, every: float = 0.5):
    """Report ``stage`` moving towards ``seconds`` (never past 95%) while the body runs.

    For work that reports nothing itself. A report that raises (a stopped job) ends the ticking, and
    is raised again once the body is done: the work cannot be cut short, but it is not continued.
    """
    if progress is None or seconds <= 0:
        yield
        return
    done, failed = threading.Event(), []
    started = time.monotonic()

    def tick() -> None:
        while not done.wait(every):
            try:
                progress(Step(stage, min(time.monotonic() - started, 0.95 * seconds), seconds))
            except BaseException as exc:  # handed to the caller's thread below
                failed.append(exc)
                return

    thread = threading.Thread(target=contextvars.copy_context().run, args=(tick,), name=stage, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
    if failed:
        raise failed[0]
