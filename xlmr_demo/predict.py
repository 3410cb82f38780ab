"""Predictions for whole files: every input row comes back with its predicted label and probabilities."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .classifier import BaseClassifier
from .columns import detect_columns
from .errors import UserError
from .progress import Progress
from .readers import read_table
from .table import Table
from .writers import TABLE_SUFFIXES, output_file, write_table

#: A prediction is "not sure" when its top label has less than this probability ...
NOT_SURE_BELOW = 0.5
#: ... or the runner-up is within this much of it: a close call between two labels.
CLOSE_CALL = 0.2


def not_sure(probabilities: Sequence[float]) -> bool:
    """Whether a prediction with these class probabilities should be read as a guess."""
    top, second = sorted(map(float, probabilities), reverse=True)[:2]
    return top < NOT_SURE_BELOW or top - second < CLOSE_CALL


def not_sure_note(probabilities: Sequence[float]) -> str:
    """Why a prediction is "not sure", in words; empty when it is sure."""
    if not not_sure(probabilities):
        return ""
    top, second = sorted(probabilities, reverse=True)[:2]
    return (
        f"**Not sure**: the most likely label has {top:.0%} and the next one {second:.0%}. Predictions count as "
        f"sure from {NOT_SURE_BELOW:.0%} with a lead of {CLOSE_CALL:.0%}; a text unlike any training example "
        "(another topic) often lands here."
    )


@dataclass(frozen=True)
class Predictions:
    """The input table with ``predicted_label``, ``confidence``, ``certainty`` ("sure" or "not sure", see
    :func:`not_sure`) and one ``prob_<label>`` column per class; for a multi-label classifier ``predicted_labels``
    (every label over its threshold, joined by ", ") and each label's own probability."""

    table: Table
    text_column: str
    n_blank: int  # rows with no text: left without a prediction
    added: list[str]  # the columns the prediction added, as named in the table (a taken name gets "_predicted")
    n_not_sure: int = 0  # several labels per row: the rows with no label over its threshold
    multi_label: bool = False


@dataclass(frozen=True)
class PredictionCells:
    """What a prediction adds to rows of texts: the columns' names and each row's cells, as text."""

    names: list[str]  # predicted_label, confidence, certainty, prob_<label>... (a taken name gets "_predicted")
    rows: list[list[str | None]]  # one per text, in order; all None for a blank text
    n_blank: int
    n_not_sure: int


def prediction_cells(
    classifier: BaseClassifier, texts: Sequence[str | None], taken: Iterable[str] = (), progress: Progress | None = None
) -> PredictionCells:
    """Predict ``texts`` (None or blank: no prediction); column names in ``taken`` get "_predicted" appended."""
    rows = [i for i, c in enumerate(texts) if c and c.strip()]
    classes = classifier.classes_
    taken = set(taken)
    several = classifier.multi_label
    first = ["predicted_labels"] if several else ["predicted_label", "confidence", "certainty"]
    names = [n if n not in taken else f"{n}_predicted" for n in [*first, *(f"prob_{c}" for c in classes)]]
    extra: list[list[str | None]] = [[None] * len(names) for _ in texts]
    unsure = []
    if rows and several:  # every label over its threshold; a row with none counts as "not sure"
        asked = [texts[i] for i in rows]
        proba = classifier.predict_proba(asked, progress=progress)
        sets = classifier.label_sets(asked, proba)
        unsure = [not s for s in sets]
        for k, i in enumerate(rows):
            extra[i] = [", ".join(sets[k]), *(f"{p:.4f}" for p in proba[k])]
    elif rows:
        proba = classifier.predict_proba([texts[i] for i in rows], progress=progress)
        best = proba.argmax(axis=1)
        unsure = [not_sure(p) for p in proba]
        for k, i in enumerate(rows):
            certainty = "not sure" if unsure[k] else "sure"
            extra[i] = [classes[best[k]], f"{proba[k, best[k]]:.4f}", certainty, *(f"{p:.4f}" for p in proba[k])]
    return PredictionCells(names=names, rows=extra, n_blank=len(texts) - len(rows), n_not_sure=sum(unsure))


def predict_table(
    classifier: BaseClassifier, table: Table, text_column: str | None = None, progress: Progress | None = None
) -> Predictions:
    """Predict every row of ``table``; rows with an empty text get empty prediction cells."""
    column = detect_columns(table, "the file", roles=("text",), text=text_column).text
    cells = table.column(column)
    if not any(c and c.strip() for c in cells):
        raise UserError(f"The column {column!r} has no text to predict.")
    found = prediction_cells(classifier, cells, table.columns, progress)
    rows = [r + e for r, e in zip(table.rows, found.rows, strict=True)]
    return Predictions(
        table=Table(columns=table.columns + found.names, rows=rows),
        text_column=column,
        n_blank=found.n_blank,
        added=found.names,
        n_not_sure=found.n_not_sure,
        multi_label=classifier.multi_label,
    )


def predict_file(
    classifier: BaseClassifier, source: str | Path, output: str | Path, text_column: str | None = None,
    progress: Progress | None = None,
) -> Predictions:  # fmt: skip
    """Read ``source`` (any supported format), predict every row and write ``output`` (CSV, TSV or .xlsx)."""
    output_file(output, TABLE_SUFFIXES, "The predictions", inputs=[source])
    predictions = predict_table(classifier, read_table(source), text_column, progress)
    write_table(predictions.table, output)
    return predictions
