"""Serving the page: the queue, the sweeps of idle sessions and unused uploads, public mode's guard."""

from __future__ import annotations

import contextlib
import functools
import threading
from pathlib import Path

from ..compare import similarity
from ..guard import Guard
from ..limits import current as current_limits
from ..limits import public_mode
from ..zerogpu import prepare as prepare_zero_gpu
from . import gradio_private
from .page import build_app
from .uploads import reap_uploads, sweep_orphan_uploads
from .visitors import SESSIONS

# Gradio routes that write a visitor's data to disk and that this app never uses: refused in public mode
UNUSED_ROUTES = ("/gradio_api/deep_link", "/gradio_api/process_recording")


def _warm_up() -> None:
    """Load the embedded model in the background so the first click does not wait for it."""
    with contextlib.suppress(Exception):  # a failed warm-up must not kill the server; the click reports it
        similarity(["warm up", "préchauffage"])


def launch() -> None:
    """Serve the app as configured by the environment (limits, public mode, GRADIO_SERVER_NAME/PORT)."""
    from starlette.middleware import Middleware

    bound = current_limits()
    public = public_mode()
    SESSIONS.claim()  # and remove the files a crashed or restarted server left
    prepare_zero_gpu()  # on a ZeroGPU Space, before the server starts: `spaces` looks for its GPU calls then
    threading.Thread(target=_warm_up, daemon=True).start()
    demo = build_app().queue(default_concurrency_limit=2, max_size=64 if public else None)

    gradio_private.require(demo)  # the queue limits below read Gradio's queue: refuse to start without it

    def waiting(session: str) -> int:
        return sum(e.session_hash == session for e in gradio_private.queued_events(demo))

    def in_use() -> set[Path]:
        """Uploads that requests in the queue name: a file to predict may wait minutes for a heavy worker."""
        paths, stack = set(), [getattr(e.data, "data", None) for e in gradio_private.queued_events(demo)]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                if isinstance(item.get("path"), str):
                    paths.add(Path(item["path"]).resolve())
                stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(item)
        return paths

    SESSIONS.waiting = waiting  # a visitor waiting in the queue is not idle
    idle = bound.session_idle_minutes
    # idle sessions go within their limit + 10 s, uploads once read within their grace + 10 s, and
    # uploads nobody used after the idle time too
    orphans = (functools.partial(sweep_orphan_uploads, 60 * idle, in_use),) if idle else ()
    SESSIONS.sweep_every(min(10.0, 30 * idle) if idle else 10.0, functools.partial(reap_uploads, in_use), *orphans)
    # a body may hold one upload (or a 20 MB paste); deep links and recordings write a visitor's data to disk
    guard = Middleware(
        Guard, closed=UNUSED_ROUTES, max_body=(bound.upload_mb + 1) * 2**20, waiting=waiting,
        requests_per_minute=bound.visitor_requests or 10**9, bytes_per_minute=(bound.visitor_mb or 10**9) * 2**20,
    )  # fmt: skip
    # server name and port come from GRADIO_SERVER_NAME / GRADIO_SERVER_PORT (default 127.0.0.1:7860)
    # run history would let a visitor connect a bucket for the server to read and write on their behalf
    demo.launch(
        max_file_size=f"{bound.upload_mb}mb", app_kwargs={"middleware": [guard] if public else []},
        run_history=not public,
    )  # fmt: skip
