"""What the app shows, computed from backend results: tables as rows, findings as Markdown, figures.

Plain functions of plain data (no Gradio), so everything the pages display is testable without a
browser.
"""

from __future__ import annotations

import html

from .dataset import Dataset
from .metrics import mean_language_macro_f1
from .plots import bars, confusion_heatmap, counts_chart, loss_curve, transfer_heatmap
from .readers import Table
from .training import TrainResult

PREVIEW_ROWS = 20
PREVIEW_COLUMNS = 30
CELL_CHARS = 300  # a table cell on the page; the full text stays in the data


def cell(value, limit: int = CELL_CHARS):
    """A value for a table on the page: long texts cut with an ellipsis (a cell may hold 100,000 characters)."""
    if isinstance(value, str) and len(value) > limit:
        return value[: limit - 1] + "…"
    return value


def table_rows(rows: list[list]) -> list[list]:
    """``rows`` with every long text cut for display (see :func:`cell`)."""
    return [[cell(v) for v in row] for row in rows]


def preview(table: Table) -> tuple[list[str], list[list[str]]]:
    """Header and the first rows and columns of ``table``, long cells cut, for a dataframe component."""
    columns = [cell(c, 60) for c in table.columns[:PREVIEW_COLUMNS]]
    return columns, [[cell(c or "") for c in row[:PREVIEW_COLUMNS]] for row in table.rows[:PREVIEW_ROWS]]


def dataset_report(dataset: Dataset) -> str:
    """Markdown: what was read, what was decided, what to check."""
    m = dataset.columns
    split_counts = {s: len(dataset.indices(s)) for s in ("train", "validation", "test")}
    lines = [
        f"**{len(dataset.texts)} usable rows**, {len(dataset.classes)} classes, "
        f"{len(set(dataset.languages))} languages{' (detected)' if dataset.languages_detected else ''}.",
        f"Columns: text **{html.escape(m.text)}**, label **{html.escape(m.label)}**, "
        f"language **{html.escape(m.language or 'detected per row')}**, "
        f"split **{html.escape(m.split or 'automatic 70/10/20')}** "
        f"(train {split_counts['train']}, validation {split_counts['validation']}, test {split_counts['test']}).",
    ]
    lines += [f"- ⚠️ {html.escape(w)}" for w in dataset.warnings]
    lines += [f"- ℹ️ {html.escape(n)}" for n in dataset.notes]
    return "\n\n".join(lines[:2]) + ("\n\n" + "\n".join(lines[2:]) if lines[2:] else "")


def counts_figure(dataset: Dataset):
    return counts_chart(dataset.counts())


def headline(result: TrainResult) -> str:
    """One paragraph a product manager can read: how good, on what, per language."""
    m = result.metrics
    text = (
        f"### Macro-F1 {m['macro_f1']:.3f} · accuracy {m['accuracy']:.3f}\n"
        f"Measured on {m['n']} rows of the {m['evaluated_on']} that the model never saw in training. "
        "Macro-F1 averages the F1 score of every class, so a rare class counts as much as a common one."
    )
    if len(m.get("per_language", {})) > 1:
        text += f" Mean over languages: {mean_language_macro_f1(m):.3f}."
    return text


def report_rows(result: TrainResult) -> tuple[list[str], list[list]]:
    """The classification report as a table: one row per class."""
    m = result.metrics
    rows = [[c, r["precision"], r["recall"], r["f1"], r["support"]] for c, r in m["per_class"].items()]
    return ["class", "precision", "recall", "F1", "rows"], rows


def issue_rows(result: TrainResult, limit: int = 50) -> tuple[list[str], list[list]]:
    """Suspected label errors, most suspicious first."""
    rows = [
        [i["row"], i["language"], cell(i["text"]), i["given_label"], i["predicted_label"], i["given_probability"]]
        for i in result.label_issues
        if i["suspect"]
    ][:limit]
    return ["row", "language", "text", "given label", "model's guess", "probability of given label"], rows


def result_figures(result: TrainResult) -> dict:
    """Confusion matrix, per-language scores, transfer matrix (or None) and the loss curve."""
    m = result.metrics
    per_language = {lang: v["macro_f1"] for lang, v in m.get("per_language", {}).items()}
    t = result.training
    return {
        "confusion": confusion_heatmap(m["confusion_matrix"], m["labels"]),
        "languages": bars(per_language, "Macro-F1 per language") if per_language else None,
        "transfer": transfer_heatmap(m["transfer"]) if "transfer" in m else None,
        "loss": loss_curve(t["train_loss"], t["validation_loss"], t["best_epoch"]),
    }
