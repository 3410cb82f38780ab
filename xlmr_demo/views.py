"""What the app shows, computed from backend results: tables as rows, findings as Markdown, figures.

Plain functions of plain data (no Gradio), so everything the pages display is testable without a
browser.
"""

from __future__ import annotations

import html
import shutil
import tempfile
from pathlib import Path

from .classifier import TrainResult
from .dataset import Dataset
from .metrics import mean_language_macro_f1
from .plots import bars, confusion_heatmap, counts_chart, loss_curve, transfer_heatmap
from .tables import Table

PREVIEW_ROWS = 20


def preview(table: Table) -> tuple[list[str], list[list[str]]]:
    """Header and the first rows of ``table``, for a dataframe component."""
    return table.columns, [[c or "" for c in row] for row in table.rows[:PREVIEW_ROWS]]


def dataset_report(dataset: Dataset) -> str:
    """Markdown: what was read, what was decided, what to check."""
    m = dataset.mapping
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
        [i["row"], i["language"], i["text"], i["given_label"], i["predicted_label"], i["given_probability"]]
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


def head_archive(result: TrainResult, folder: Path) -> Path:
    """Save the classifier under ``folder`` and zip it for download (safetensors + JSON inside)."""
    head = result.classifier.save(folder / "classifier", metrics=result.metrics, training=result.training)
    return Path(shutil.make_archive(str(folder / "classifier"), "zip", head))


def unpack_head(archive: str | Path) -> Path:
    """Unzip an uploaded classifier archive into a fresh temporary folder and return the folder."""
    import zipfile

    from .errors import UserError

    target = Path(tempfile.mkdtemp(prefix="xlmr_head_"))
    try:
        with zipfile.ZipFile(archive) as zf:
            names = zf.namelist()
            if any(n.startswith("/") or ".." in Path(n).parts for n in names):
                raise UserError("The archive contains unsafe paths.")
            if sum(i.file_size for i in zf.infolist()) > 50 * 2**20:
                raise UserError("The archive is too large to be a classifier head.")
            zf.extractall(target)
    except zipfile.BadZipFile as exc:
        raise UserError("Upload the .zip that the Train tab offers for download.") from exc
    return target
