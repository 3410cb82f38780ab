"""The Train tab's "no labels yet" callback: the loaded file classified from label names, nothing trained."""

from __future__ import annotations

import gradio as gr

from .. import views
from ..errors import UserError
from ..limits import current as current_limits
from ..sessions import Session
from .callbacks import SAMPLE
from .outputs import LabelNameViews
from .runner import progress_bar, run_job
from .visitors import model_name, user_errors


@user_errors
def classify_from_names(
    labels: str, descriptions: str, model: str, request: gr.Request = None, progress=gr.Progress()
):  # fmt: skip
    """Classify the loaded file (the sample when none) from typed label names: the rows with their predicted
    labels (a CSV), figures where the file has labels, and the Predict tab classifying with these labels."""
    from ..readers import read_table
    from ..writers import write_table
    from ..zero_shot import DESCRIPTION_CHARS, NAME_CHARS, parse_descriptions, parse_labels, zero_shot_table

    limit = current_limits().classes
    if len(labels or "") > limit * (NAME_CHARS + 2) or len(descriptions or "") > limit * (DESCRIPTION_CHARS + 2):
        raise UserError(f"That is more text than {limit:,} labels and their descriptions could be.")
    names = parse_labels(labels or "")
    described = parse_descriptions(descriptions or "", names)

    def work(session: Session, job, update):
        if session.table is None:
            table, name, columns = read_table(SAMPLE), SAMPLE.name, {}
        else:  # the columns chosen in the Data tab, once checked; else found as the Data tab finds them
            table, name = session.table, session.table_name
            chosen = session.dataset.columns if session.dataset is not None else None
            columns = {} if chosen is None else {
                "text_column": chosen.text, "label_column": chosen.label, "language_column": chosen.language
            }  # fmt: skip
        found = zero_shot_table(
            table, names, described, model_name(model), progress=job.progress, name=name, **columns
        )  # fmt: skip
        out = write_table(found.predictions.table, session.new_file(f"{name.rsplit('.', 1)[0][:60]}_from_names.csv"))
        session.classifier = found.classifier
        return found, out

    found, out = yield from run_job(
        request, "Classifying from label names", work, LabelNameViews, progress_bar(progress)
    )
    header, rows = views.prediction_preview(found.predictions)
    yield LabelNameViews(
        headline=views.zero_shot_words(found),
        preview=gr.Dataframe(value={"headers": header, "data": rows}, visible=True),
        file=str(out),
    )
