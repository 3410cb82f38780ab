"""The private parts of Gradio this app relies on, in one place, each checked when the app starts.

Gradio (6.x) has no public way to do two things the app needs:

- see the requests in its queue (:func:`queued_events`): the per-session and per-address queue
  limits count a visitor's waiting requests, and an upload that a waiting request names must not be
  deleted; read from ``Blocks._queue.event_ids_to_events`` (each ``Event``'s ``session_hash`` and
  ``data.data``);
- take an upload's own path without Gradio writing an empty copy of it into its cache
  (:func:`keep_upload_path`): ``File._process_single_file``, replaced on the instance.

If an upgrade renames any of these, :func:`problems` names it and :func:`require` stops start-up
with that message, instead of the limits switching off (or files piling up) in silence;
``tests/test_gradio_private.py`` runs the same checks on the installed Gradio.
"""

from __future__ import annotations

import inspect

import gradio as gr
from gradio import queueing
from gradio.data_classes import PredictBody
from gradio.utils import NamedString

UPLOAD_HOOK = "gradio.File._process_single_file (uploads would leave an empty copy in Gradio's cache)"


def problems(demo: gr.Blocks | None = None) -> list[str]:
    """What this Gradio lacks of what the app uses (empty: all there); ``demo``: a queued app to check too."""
    missing = []
    if not callable(getattr(gr.File, "_process_single_file", None)):
        missing.append(UPLOAD_HOOK)
    if "session_hash" not in inspect.signature(queueing.Event.__init__).parameters:
        missing.append("gradio.queueing.Event(session_hash=...) (the per-session queue limit)")
    if "data" not in PredictBody.model_fields:
        missing.append("gradio.data_classes.PredictBody.data (uploads named by waiting requests)")
    if demo is not None and not isinstance(getattr(getattr(demo, "_queue", None), "event_ids_to_events", None), dict):
        missing.append("gradio.Blocks._queue.event_ids_to_events (the per-session and per-address queue limits)")
    return missing


def require(demo: gr.Blocks | None = None, missing: list[str] | None = None) -> None:
    """Stop here, naming what is missing, if this Gradio lacks a part the app uses (``missing``: as found)."""
    missing = problems(demo) if missing is None else missing
    if missing:
        raise RuntimeError(
            f"This Gradio ({gr.__version__}) lacks what xlmr_demo relies on: {'; '.join(missing)}. "
            "Install the version in constraints.txt (pip install -c constraints.txt -r requirements.txt)."
        )


def queued_events(demo: gr.Blocks) -> list:
    """The requests in ``demo``'s queue, waiting or running."""
    return list(demo._queue.event_ids_to_events.values())


def keep_upload_path(box: gr.File) -> gr.File:
    """``box`` (a ``File(type="filepath")``) hands its callbacks the uploaded file's own path.

    Gradio's own step also creates an empty temporary file in its cache for every upload and never
    removes it. (A subclass would do the same, but Gradio writes a .pyi stub beside any module that
    defines a component class.)
    """
    if not callable(getattr(box, "_process_single_file", None)):
        require(missing=[UPLOAD_HOOK])
    box._process_single_file = lambda f: NamedString(f.path)
    return box
