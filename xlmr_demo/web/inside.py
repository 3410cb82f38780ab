"""The callbacks of the "Inside the model" tab: the model's pieces, languages layer by layer, fill the blank."""

from __future__ import annotations

import gradio as gr

from .. import inside_views
from ..errors import UserError
from ..sessions import Session
from .callbacks import loaded_rows
from .outputs import LayerViews, ReadingViews
from .runner import progress_bar, run_job
from .visitors import model_name, need, task, user_errors


@user_errors
def show_pieces(text: str, model: str, request: gr.Request = None):
    """One typed text as the model's pieces: highlighted, and counted."""
    from ..tokens import pieces

    with task(request, "Reading the text"):
        found = pieces(text or "", model_name(model))
    return inside_views.piece_segments(found), inside_views.pieces_summary(found)


@user_errors
def read_rows(model: str, request: gr.Request = None, progress=gr.Progress()):
    """Per language of the loaded file (or the sample): pieces per word and character, rows cut, unknown pieces."""
    from ..tokens import reading

    def work(session: Session, job, update):
        data = loaded_rows(session)
        return reading(data.texts, data.languages, model_name(model), job.progress, data.groups)

    found = yield from run_job(request, "Reading the rows", work, ReadingViews, progress_bar(progress))
    yield ReadingViews(
        words=inside_views.reading_words(found),
        figure=inside_views.reading_figure(found),
        table={"headers": inside_views.reading_headers(found), "data": inside_views.reading_rows(found)},
    )


@user_errors
def measure_layers(model: str, with_tuned: bool, request: gr.Request = None, progress=gr.Progress()):
    """Translation retrieval at every layer on the loaded file (or the sample); with ``with_tuned``, the model
    fine-tuned in the Train tab beside the one it started from, on the same translations."""
    from ..classifier import TunedWeightsClassifier
    from ..layers import layer_sweep, with_translations

    def work(session: Session, job, update):
        data = loaded_rows(session)
        if not with_tuned:
            return {model_name(model): layer_sweep(data, model_name(model), job.progress)}
        result = need(session.result, session, "Fine-tune the whole model first (Train tab), or untick the box.")
        tuned = result.classifier
        if not result.fine_tuned or not isinstance(tuned, TunedWeightsClassifier):
            raise UserError(
                "There is no fine-tuned model to compare: fine-tune the whole model in the Train tab (a fine-tuning "
                "that kept the model as it came has nothing to compare), or untick the box."
            )
        data, grouping = with_translations(data, tuned.encoder, job.progress)  # one set of translations for both
        return {
            "as it came": layer_sweep(data, tuned.base, job.progress, grouping),
            "fine-tuned": layer_sweep(data, tuned.encoder, job.progress, grouping),
        }

    sweeps = yield from run_job(request, "Measuring every layer", work, LayerViews, progress_bar(progress))
    yield LayerViews(
        words=inside_views.layer_words(sweeps),
        figure=inside_views.layer_figure(sweeps),
        table={"headers": inside_views.layer_headers(sweeps), "data": inside_views.layer_rows(sweeps)},
    )


@user_errors
def fill_blank(text: str, model: str, request: gr.Request = None):
    """The model's guesses for each <mask> of ``text``."""
    from ..fill_mask import fill_mask

    with task(request, "Filling the blank"):
        filled = fill_mask(text or "", model_name(model))
    return inside_views.fill_label(filled), inside_views.fill_words(filled)
