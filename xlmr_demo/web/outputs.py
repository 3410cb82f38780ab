"""What each callback shows, by output: one NamedTuple per action.

Its fields are in the order the page wires its components; a field left at :data:`SKIP` leaves that
output as it is.
"""

from __future__ import annotations

from typing import NamedTuple

import gradio as gr

SKIP = gr.skip()  # "leave this output as it is"


class FileViews(NamedTuple):
    """What loading a file shows, by output: build_app wires the components in this order."""

    preview: object = SKIP
    notes: object = SKIP
    text_column: object = SKIP
    label_column: object = SKIP
    language_column: object = SKIP
    split_column: object = SKIP
    group_column: object = SKIP  # rows sharing a value are one meaning (translations, copies)
    colour: object = SKIP  # the Explore tab's choices: what the map can be coloured by
    languages: object = SKIP  # and which languages it can show
    several_labels: object = SKIP  # ticked when the label column's cells hold several labels


class TrainViews(NamedTuple):
    """What training shows, by output (the loss curve while it trains, then each stage's views)."""

    headline: object = SKIP
    status: object = SKIP
    per_class: object = SKIP
    confusion: object = SKIP
    languages: object = SKIP
    transfer: object = SKIP
    loss: object = SKIP
    issues: object = SKIP
    download: object = SKIP
    comparison: object = SKIP  # the headline before and after label corrections
    corrected: object = SKIP  # the corrected file
    data_report: object = SKIP  # the Data tab's check report, with the meaning groups training found
    more_rows: object = SKIP  # how many more rows the next points would take


class FilePredictionViews(NamedTuple):
    """What predicting a file shows, by output."""

    file: object = SKIP
    preview: object = SKIP
    summary: object = SKIP


class MapViews(NamedTuple):
    """What drawing a map shows, by output."""

    map: object = SKIP
    findings: object = SKIP
    centroids: object = SKIP
    languages: object = SKIP  # the filter's choices: every language of the data
    clusters: object = SKIP  # the found clusters' table
    names_language: object = SKIP  # the choices of language to name clusters in


class TuningMapViews(NamedTuple):
    """What the before-and-after maps show, by output."""

    before: object = SKIP
    after: object = SKIP
    findings: object = SKIP


class EntityViews(NamedTuple):
    """What fine-tuning for entities shows, by output."""

    headline: object = SKIP
    status: object = SKIP
    per_type: object = SKIP
    languages: object = SKIP
    curve: object = SKIP
    report: object = SKIP


class ReadingViews(NamedTuple):
    """What reading a file's rows as the model does shows, by output."""

    words: object = SKIP
    figure: object = SKIP
    table: object = SKIP


class LayerViews(NamedTuple):
    """What the layer-by-layer measurement shows, by output."""

    words: object = SKIP
    figure: object = SKIP
    table: object = SKIP


class LabelNameViews(NamedTuple):
    """What classifying the loaded file from label names shows, by output."""

    headline: object = SKIP
    preview: object = SKIP
    file: object = SKIP
