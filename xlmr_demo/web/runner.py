"""The session's one job: work in a thread, its updates streamed to the page.

The job is stopped when the page stops listening (Stop, a closed tab, a client's cancel).
"""

from __future__ import annotations

import contextvars
import queue
import threading

import gradio as gr

from ..cache import cache_scope
from ..progress import Pace
from .outputs import SKIP
from .visitors import SESSIONS, session_id, visitor

_DONE = object()


def run_job(request, what: str, work, views=None, report=None, on_update=None, extra_seconds: float = 0.0):
    """Run ``work(session, job, update)`` as the session's one job, in a thread; a generator for Gradio.

    Yields ``on_update(item)`` for each ``update(item)`` the work makes (None: nothing to show),
    and returns what ``work`` returns. The session's job slot is released when the thread ends.
    If the page stops listening first (Stop, a closed tab, a client's cancel), the job is stopped:
    Gradio closes a generator only between two yields, so while the work is quiet this yields
    "no change" once a second: ``views()`` (a NamedTuple of outputs, all skipped) or one skip.
    """
    session, job = SESSIONS.start(session_id(request), what, report, visitor(request), extra_seconds=extra_seconds)
    updates: queue.Queue = queue.Queue()
    outcome: dict = {}

    def run() -> None:
        try:
            with cache_scope(session.cache):
                outcome["result"] = work(session, job, updates.put)
        except BaseException as exc:  # handed to the page below
            outcome["error"] = exc
        finally:
            SESSIONS.finish(session, job)
            updates.put(_DONE)

    threading.Thread(target=contextvars.copy_context().run, args=(run,), name=what, daemon=True).start()
    no_change = views() if views else SKIP
    try:
        while True:
            try:
                item = updates.get(timeout=1.0)
            except queue.Empty:
                yield no_change
                continue
            if item is _DONE:
                break
            shown_item = on_update(item) if on_update else None
            if shown_item is not None:
                yield shown_item
    finally:
        if not outcome:
            job.stop()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def progress_bar(progress):
    """A Progress that moves the page's bar, naming the stage and its time left."""
    pace = Pace()
    return lambda step: progress(step.fraction, desc=pace.describe(step))


def stop_job(request: gr.Request = None) -> str:
    """The Stop buttons: stop this session's running job (it ends at its next step)."""
    return stopping(SESSIONS.stop(session_id(request)))


def stopping(job) -> str:
    if job is None:
        return "Nothing is running."
    return "Stopping…" if job.stoppable else f"{job.what} cannot be stopped; it ends within seconds."


def end_session(request: gr.Request = None) -> None:
    """The page was closed: forget the session's data and remove its files."""
    SESSIONS.end(session_id(request))
