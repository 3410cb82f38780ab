"""The private parts of Gradio and torch the product uses exist in the installed versions, and a missing one
stops start-up with its name instead of switching a limit off in silence."""

from __future__ import annotations

import gradio as gr
import pytest

from xlmr_demo.web import build_app, gradio_private


def test_the_installed_gradio_has_every_private_part_the_app_uses():
    demo = build_app().queue()
    assert gradio_private.problems(demo) == []
    assert gradio_private.queued_events(demo) == []  # nothing queued yet, and readable


def test_a_gradio_without_the_upload_hook_stops_start_up_naming_it(monkeypatch):
    monkeypatch.delattr(gr.File, "_process_single_file")
    with pytest.raises(RuntimeError, match=r"File\._process_single_file.*constraints\.txt"):
        gradio_private.keep_upload_path(gr.File(type="filepath"))


def test_a_gradio_whose_queue_moved_stops_start_up_naming_it():
    demo = build_app()  # not queued: as if Blocks._queue had been renamed
    demo._queue = object()
    with pytest.raises(RuntimeError, match=r"_queue\.event_ids_to_events .*queue limits"):
        gradio_private.require(demo)


def test_int8_says_which_torch_part_is_missing(monkeypatch):
    import torch

    from xlmr_demo import quantize

    assert quantize.int8_problem() is None
    monkeypatch.delattr(torch, "_int_mm")
    assert "torch._int_mm" in quantize.int8_problem()
