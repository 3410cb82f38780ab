"""Uploads: read once, then deleted (after a grace of seconds); uploads nobody used, swept."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from pathlib import Path

import gradio as gr
from gradio.utils import get_upload_folder

from ..limits import current as current_limits
from .gradio_private import keep_upload_path
from .visitors import SESSIONS


def upload_box(label: str) -> gr.File:
    """A file upload whose callbacks get the uploaded file's own path, and nothing else on disk."""
    return keep_upload_path(gr.File(label=label, type="filepath"))


def _is_upload(path: Path) -> bool:
    """Whether ``path`` is a visitor's upload in Gradio's cache (not one of our downloads, not the sample)."""
    path, folder = path.resolve(), Path(get_upload_folder()).resolve()
    return path.is_relative_to(folder) and not path.is_relative_to(SESSIONS.parent.resolve())


def _discard_upload(path: Path) -> None:
    path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        path.parent.rmdir()  # Gradio keeps each upload in a folder of its own


# read or refused, an upload goes this long after its callback: Gradio stores identical uploads under one
# name, so deleting at once failed a second visitor who had sent the same file a moment before
UPLOAD_GRACE_SECONDS = 30.0


_DUE: dict[Path, tuple[float, int]] = {}  # consumed uploads: when they go, and the file (inode) that was read


_DUE_LOCK = threading.Lock()


@contextlib.contextmanager
def consumed(path: str | Path):
    """Around the use of an upload: afterwards, read or refused, it is deleted (its data lives in memory only)."""
    try:
        yield
    finally:
        upload = Path(path)
        if _is_upload(upload):
            grace = min(UPLOAD_GRACE_SECONDS, 15 * (current_limits().session_idle_minutes or 2))  # idle / 4
            with contextlib.suppress(OSError), _DUE_LOCK:
                _DUE[upload] = (time.monotonic() + grace, upload.stat().st_ino)


def reap_uploads(in_use: Callable[[], set[Path]] = set) -> list[Path]:
    """Delete the consumed uploads whose grace has passed, but those ``in_use()`` (by requests still queued)
    and those sent again since (the same content arrives under the same name, as a new file)."""
    now = time.monotonic()
    busy = in_use()
    with _DUE_LOCK:
        due = [(path, inode) for path, (when, inode) in _DUE.items() if when <= now and path.resolve() not in busy]
        for path, _ in due:
            del _DUE[path]
    gone = []
    for path, inode in due:
        with contextlib.suppress(OSError):
            if path.stat().st_ino == inode:
                _discard_upload(path)
                gone.append(path)
    return gone


def sweep_orphan_uploads(max_age: float, in_use: Callable[[], set[Path]] = set) -> list[Path]:
    """Delete files in Gradio's cache that no session owns, no queued request names (``in_use()``),
    and that are older than ``max_age`` seconds.

    Anyone can post files to Gradio's upload route without ever using them; our callbacks delete
    the uploads they read, so an upload still there after as long as a session may stay idle, and
    that no waiting request names, was never used.
    """
    folder = Path(get_upload_folder())
    now = time.time()
    busy = in_use()
    gone = []
    for path in list(folder.rglob("*")) if folder.is_dir() else []:  # listed first: deleting changes the tree
        with contextlib.suppress(OSError):
            if (path.is_file() and _is_upload(path) and path.resolve() not in busy
                    and now - path.stat().st_ctime > max_age):  # fmt: skip
                _discard_upload(path)
                gone.append(path)
    return gone
