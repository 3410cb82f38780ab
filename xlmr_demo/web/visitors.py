"""Who is asking, and what they are shown: each visitor's session and address, inputs checked, errors in words.

A :class:`UserError` is shown as its message; anything else is logged behind a plain sentence. In
public mode no server folder appears in a message and nothing a visitor sent reaches the log.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import os
import sys
import tempfile
import typing
from collections.abc import Callable
from pathlib import Path

import gradio as gr
from gradio.utils import get_upload_folder

from ..errors import UserError, failure_site
from ..guard import visitor_address
from ..limits import public_mode
from ..models import EMBEDDED_NAME
from ..paths import cache_dir
from ..sessions import Session, SessionStore

LOCAL_SESSION = "local"  # the session of direct calls (tests, scripts) that come without a request


# every visitor's files live under Gradio's cache, which serves them and deletes them by age too
SESSIONS = SessionStore(parent=lambda: Path(get_upload_folder()) / "xlmr_demo")


_log = logging.getLogger("xlmr_demo.app")


def _server_paths() -> list[str]:
    paths = {get_upload_folder(), tempfile.gettempdir(), str(cache_dir()), os.getcwd(), str(Path.home()), sys.prefix}
    paths |= {str(Path(p).resolve()) for p in paths}
    return sorted((p for p in paths if len(p) > 1), key=len, reverse=True)


def shown(message: str) -> str:
    """A message as the page shows it: in public mode, with every server folder replaced by "…"."""
    if public_mode():
        for path in _server_paths():
            message = message.replace(path, "…")
    return message


def _unexpected(exc: Exception) -> gr.Error:
    if public_mode():
        _log.error("unexpected %s in a callback", failure_site(exc))
    else:
        _log.exception("unexpected error in a callback", exc_info=exc)
    return gr.Error("Something went wrong on the server (the error was logged). Try again, or with another file.")


def _text_inputs(fn) -> Callable[..., None]:
    """A check that every argument ``fn`` types as text is text: an API caller can send a list or a dict."""
    signature = inspect.signature(fn)
    hints = typing.get_type_hints(fn)
    texts = {name for name in signature.parameters if hints.get(name) in (str, str | None)}

    def check(args, kwargs) -> None:
        for name, value in signature.bind_partial(*args, **kwargs).arguments.items():
            if name in texts and not isinstance(value, str | None):
                raise UserError(f"Expected text for {name.replace('_', ' ')}, not {type(value).__name__}.")

    return check


@contextlib.contextmanager
def _page_errors():
    """UserError messages as the page shows them; anything unexpected logged, behind a plain message."""
    try:
        yield
    except UserError as exc:  # the visitor's to fix, not the server's: no traceback in the log, a toast that stays
        raise gr.Error(shown(str(exc)), duration=None, print_exception=False) from exc
    except gr.Error:
        raise
    except Exception as exc:
        raise _unexpected(exc) from exc


def user_errors(fn):
    """Check text inputs, show UserError messages in the page, and hide anything unexpected behind a plain message."""
    check = _text_inputs(fn)

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def generator(*args, **kwargs):
            with _page_errors():
                check(args, kwargs)
                yield from fn(*args, **kwargs)

        return generator

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with _page_errors():
            check(args, kwargs)
            return fn(*args, **kwargs)

    return wrapper


def session_id(request: gr.Request | None) -> str:
    return getattr(request, "session_hash", None) or LOCAL_SESSION


def visitor(request: gr.Request | None) -> str:
    if request is None:
        return LOCAL_SESSION
    client = getattr(request, "client", None)
    return visitor_address(request.headers.get("x-forwarded-for"), getattr(client, "host", None))


def task(request: gr.Request | None, what: str):
    """``with task(request, "Comparing") as (session, job):`` the visitor's session, running ``what``."""
    return SESSIONS.task(session_id(request), what, client=visitor(request))


def need(value, session: Session, what: str):
    """``value``, or a message saying ``what`` to do first (and why earlier data is gone, if it is)."""
    if value is None:
        gone = f" (Your earlier data was cleared: {session.ended_because}.)" if session.ended_because else ""
        raise UserError(what + gone)
    return value


def model_name(model: str | None) -> str:
    return (model or EMBEDDED_NAME).strip()


def parse_seed(seed) -> int:
    try:
        value = int(seed or 0)
    except (TypeError, ValueError, OverflowError):
        value = -1
    if not 0 <= value < 2**32:
        raise UserError(f"The seed must be a whole number from 0 to {2**32 - 1}.")
    return value
