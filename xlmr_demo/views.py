"""What the app shows, computed from backend results: tables as rows, findings as Markdown, figures.

The one presentation layer: a function per view turns a domain result (a dataset, a training run, a
comparison, a map) into what is shown, and the HTML export of a map draws the same figures. Plain
functions of plain data (no Gradio), so everything the pages display is testable without a browser.
"""

from __future__ import annotations

import html
import json
import re
import time
from collections import Counter
from pathlib import Path

import numpy as np
import plotly.graph_objects as go

from .compare import Similarity
from .corrections import KEEP, describe
from .dataset import Dataset, grouping_summary
from .maps import MAX_COLOURS, MapResult, Placement
from .metrics import ci_text, mean_language_macro_f1, paired_difference
from .plots import (
    GREY,
    bars,
    confusion_heatmap,
    counts_chart,
    embedding_map,
    finetune_curve,
    loss_curve,
    similarity_heatmap,
    transfer_heatmap,
)
from .predict import CLOSE_CALL, NOT_SURE_BELOW, Predictions
from .progress import TuningEvaluation, TuningStep, duration
from .search import SHOWN_ROWS, Found, rows_table
from .table import Table, short
from .training import LABEL_ERRORS, MIN_TRANSFER_ROWS, MIN_TRUSTED_ROWS, MORE_ROWS, TRANSFER, TrainResult
from .writers import output_file, write_file_atomically
from .zero_shot import ZeroShotResult

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


def dataset_report(dataset: Dataset, result: TrainResult | None = None) -> str:
    """Markdown: what was read, what was decided, what to check. After training (``result``), the split and
    the meaning groups are those training used, translations found from the embeddings included."""
    m = dataset.columns
    split_counts = {s: len(dataset.indices(s)) for s in ("train", "validation", "test")}
    groups = grouping_summary(dataset)
    if result is not None and result.training.get("groups"):
        split_counts, groups = result.training["rows"], result.training["groups"]
    kinds = "labels" if dataset.multi_label else "classes"
    lines = [
        f"**{len(dataset.texts)} usable rows**, {len(dataset.classes)} {kinds}, "
        f"{len(set(dataset.languages))} languages{' (detected)' if dataset.languages_detected else ''}.",
        f"Columns: text **{html.escape(m.text)}**, label **{html.escape(m.label)}**, "
        f"language **{html.escape(m.language or 'detected per row')}**, "
        f"split **{html.escape(m.split or 'automatic 70/10/20')}** "
        f"(train {split_counts['train']}, validation {split_counts['validation']}, test {split_counts['test']}).",
    ]
    if dataset.multi_label:
        per_row = sum(map(len, dataset.label_sets)) / len(dataset.label_sets)
        labels = [label for labels in dataset.label_sets for label in labels]
        lines.append(f"Several labels per row ({per_row:.1f} on average); rows per label: {_counted(labels)}.")
    else:
        lines.append(f"Labels: {_counted(dataset.labels)}.")
    lines.append(f"Languages: {_counted(dataset.languages)}.")
    lines.append(grouping_words(groups))
    fixed = len(lines)
    lines += [f"- ⚠️ {html.escape(w)}" for w in dataset.warnings]
    lines += [f"- ℹ️ {html.escape(n)}" for n in dataset.notes]
    return "\n\n".join(lines[:fixed]) + ("\n\n" + "\n".join(lines[fixed:]) if lines[fixed:] else "")


def grouping_words(g: dict, warn: bool = True) -> str:
    """Markdown: how rows were grouped by meaning (translations, copies) and what that does to the split
    (``g``: :func:`xlmr_demo.dataset.grouping_summary`)."""
    kept = "the split keeps each group on one side" if "leaked_test_rows" not in g else "your split column decides"
    if g["source"] == "column":
        text = (
            f"Meaning groups: column **{html.escape(g['column'])}**: {g['grouped_rows']:,} rows in {g['groups']:,} "
            f"groups of translations or copies ({kept})."
        )
    elif g["source"] == "found":
        text = (
            f"Meaning groups: **found from the embeddings**: {g['grouped_rows']:,} of {g['rows']:,} rows read as a "
            f"translation or near-copy of another row, in {g['groups']:,} groups ({kept}"
            + (
                ": a wrong match costs nothing, a missed one would flatter the figures"
                if "leaked_test_rows" not in g
                else ""
            )
            + "; a group column says it exactly)."
        )
        if g["examples"]:
            text += (
                " The surest: "
                + "; ".join(
                    f"*{html.escape(cell(e['texts'][0], 60))}* ({html.escape(e['languages'][0])}) = "
                    f"*{html.escape(cell(e['texts'][1], 60))}* ({html.escape(e['languages'][1])})"
                    for e in g["examples"][:3]
                )
                + "."
            )
    else:
        text = (
            "Meaning groups: no group column, so only identical texts are grouped for now. Training finds the "
            "translations and near-copies from the embeddings and keeps each group on one side of the split."
        )
    leaked = g.get("leaked_test_rows")
    if leaked and warn:
        text += (
            f"\n\n- ⚠️ Your split column puts **{leaked:,} test rows** on the test side while a translation or copy "
            "of theirs is among the training rows: the headline also gives the score without them."
        )
    return text


def _counted(values: list[str], limit: int = 60) -> str:
    """Each distinct value with its row count, most rows first (at most ``limit``, then how many more)."""
    counts = Counter(values).most_common()
    shown = ", ".join(f"{html.escape(cell(v, 40))} {n:,}" for v, n in counts[:limit])
    return shown + (f" and {len(counts) - limit:,} more" if len(counts) > limit else "")


def counts_figure(dataset: Dataset):
    return counts_chart(dataset.counts())


def headline(result: TrainResult) -> str:
    """One paragraph a product manager can read: how good, on what, per language."""
    m = result.metrics
    groups = result.training.get("groups", {})
    unit = "groups of translations" if groups.get("groups") else "rows"
    if m.get("multi_label"):
        text = (
            f"### Micro-F1 {ci_text(m['micro_f1'], m.get('micro_f1_ci'))} · macro-F1 "
            f"{ci_text(m['macro_f1'], m.get('macro_f1_ci'))}\n"
            f"Several labels per row: micro-F1 pools every label's yes-or-no over all rows, macro-F1 averages each "
            f"label's F1 (a rare label counts as much as a common one); per row, F1 averages "
            f"{ci_text(m['samples_f1'], m.get('samples_f1_ci'))} and every label is right on "
            f"{ci_text(m['accuracy'], m.get('accuracy_ci'))} of the rows. Each label has its own threshold, chosen "
            "on the validation rows. "
            f"Measured on {m['n']:,} rows of the {m['evaluated_on']} that the model never saw in training"
        )
    else:
        text = (
            f"### Macro-F1 {ci_text(m['macro_f1'], m.get('macro_f1_ci'))} · accuracy "
            f"{ci_text(m['accuracy'], m.get('accuracy_ci'))}\n"
            f"Measured on {m['n']:,} rows of the {m['evaluated_on']} that the model never saw in training"
        )
    if m["evaluated_on"] == "test split" and groups.get("groups") and "leaked_test_rows" not in m:
        text += ", nor any translation or copy of them"
    text += (
        f". In brackets: the range that holds the true figure 95 times in 100 (resampling the test {unit}); "
        "a difference smaller than that range may be luck. "
        "Macro-F1 averages the F1 score of every class, so a rare class counts as much as a common one."
    )
    if len(m.get("per_language", {})) > 1:
        text += f" Mean over languages: {mean_language_macro_f1(m):.3f}."
    if groups.get("source") in ("found", "column"):
        text += "\n\n" + grouping_words(groups, warn=False)
    if m.get("leaked_test_rows"):
        unseen = m.get("unseen_meanings")
        text += (
            f"\n\n⚠️ **{m['leaked_test_rows']:,} of the {m['n']:,} measured rows have a translation or near-copy "
            "among the training rows** ("
            + ("your split column put them there" if m["evaluated_on"] == "test split" else "the two files share them")
            + "), so the figure above is too kind."
        )
        if unseen:
            text += (
                f" Without them, on {unseen['n']:,} rows whose meaning was never trained on: **macro-F1 "
                f"{ci_text(unseen['macro_f1'], unseen['macro_f1_ci'])}**, accuracy "
                f"{ci_text(unseen['accuracy'], unseen['accuracy_ci'])}."
            )
    tuned = result.training.get("fine_tuning")
    if tuned:
        history, kept = tuned["history"], tuned["best_epoch"]
        start = history[0]["validation"] if history and history[0]["epoch"] == 0 else None
        text += f"\n\nThe whole model was fine-tuned on your training rows for {duration(tuned['seconds'])} "
        text += f"({_stopped_words(tuned['stopped'])}). "
        if kept == 0:
            text += (
                f"It did not beat its starting point, a head on the frozen model (validation macro-F1 {start:.3f}), "
                "on the validation rows, so that head was kept: here fine-tuning adds nothing."
            )
        else:
            before = f" (validation macro-F1 {start:.3f} before fine-tuning)" if start is not None else ""
            text += (
                f"The weights kept are those after epoch {kept:g}, the best on the validation rows{before}. The "
                "transfer table and suspected label errors below come from heads on the fine-tuned model, which "
                "learnt from every training language: its transfer is not zero-shot."
            )
    head = result.classifier.head
    if head.config.kind == "prototypes":
        text += "\n\n" + few_rows_words(result.training.get("head", {}))
    if head.config.kind == "by_language":
        known = ", ".join(head.languages_[:12]) + (" ..." if len(head.languages_) > 12 else "")
        text += (
            f"\n\nTexts detected as {known or 'no language'} (the languages of the training rows) are classified by a "
            "small neural network; texts in any other language by logistic regression, which carries over "
            "between languages better."
        )
    return text


def few_rows_words(choice: dict) -> str:
    """What a ``prototypes`` head is and why it was chosen, in words."""
    median = choice.get("median_rows_per_class")
    why = (
        f"Your training rows are few (a median of {median} per class), so no network was trained: "
        if choice.get("chosen")
        else "No network was trained: "
    )
    names = choice.get("name_rows", 0)
    made = (
        f"each class is the average of its examples (validation rows included) and of its label name, which counts "
        f"as {names} examples (the names alone found your examples' classes more often than chance)"
        if names
        else "each class is the average of its examples, validation rows included (the label names alone did not "
        "find your examples' classes more often than chance, so they were left out)"
    )
    return (
        why + made + ". Texts are compared with them after each language's own centre is taken out, and each "
        "class's centre then moves towards the texts that lean to it, so a whole file is classified together. On "
        "public benchmarks, from 8 rows per class in one language, this beat logistic regression on texts in other "
        "languages by 10 to 17 points; label names alone (No labels yet?, above) did as well there or better, so "
        "try both (bench/results/few_shot.md). More rows per class bring the usual trained head back."
    )


def zero_shot_words(found: ZeroShotResult) -> str:
    """The headline of a file classified from label names: figures first where it had labels, then how."""
    predicted = [v for v in found.predictions.table.column(found.predictions.added[0]) if v]
    counts = Counter(predicted)
    m = found.metrics
    if m:
        text = (
            f"### Accuracy {ci_text(m['accuracy'], m.get('accuracy_ci'))} · macro-F1 "
            f"{ci_text(m['macro_f1'], m.get('macro_f1_ci'))}, with nothing trained\n"
            f"Measured on the {m['n']:,} rows with a label (column {short(found.label_column)!r}); in brackets, the "
            "range that holds the true figure 95 times in 100. No label of the file was read to classify: only to "
            "measure."
        )
        per = m.get("per_language", {})
        if len(per) > 1:
            text += (
                "\n\nPer language: "
                + ", ".join(
                    f"{lang} {ci_text(r['accuracy'], r.get('accuracy_ci'))} ({r['n']:,} rows)"
                    for lang, r in per.items()
                )
                + "."
            )
    elif found.label_column:
        text = (
            f"### {len(predicted):,} rows classified from the label names alone: nothing was trained\n"
            f"The label column {short(found.label_column)!r} holds none of the labels you typed, so how often these "
            "are right is not known: type the labels as the file spells them, or check a sample of rows."
        )
    else:
        text = (
            f"### {len(predicted):,} rows classified from the label names alone: nothing was trained\n"
            "The file has no label column to measure on (one named label, category, ...), so how often these are "
            "right is not known: check a sample of rows before acting on them."
        )
    if found.untyped:
        listed = ", ".join(f"{short(k)!r} ({v:,})" for k, v in sorted(found.untyped.items(), key=lambda kv: -kv[1])[:5])
        n = sum(found.untyped.values())
        text += (
            f"\n\n⚠️ {n:,} rows carry labels you did not type: {listed}. Each got one of the labels you typed "
            "(nothing here answers 'none of these')" + (", and counts as wrong above." if m else ".")
        )
    text += "\n\nPredicted: " + ", ".join(f"{short(k)} {v:,}" for k, v in counts.most_common()) + "."
    text += (
        '\n\n**How:** each label is the model\'s vector of "This text is about <label>." (and of its description). '
        + " ".join(found.notes)
        + " The confidence of each row is a share of similarities, not a trained probability. The Predict tab now "
        "classifies with these labels, until you train a classifier."
    )
    return text


REPORT_HEADERS = ["class", "precision", "recall", "F1", "F1 95% range", "rows"]
ISSUE_HEADERS = [
    "row", "language", "text", "given label", "model's guess", "probability of given label", "translations say",
    "why", "your decision",
]  # fmt: skip
NEIGHBOUR_HEADERS = ["text", "language", "similarity"]  # then the file's other columns


def _stopped_words(stopped: str) -> str:
    """Why fine-tuning ended, as a clause (without the parenthesised detail)."""
    stopped = stopped.split(" (")[0].rstrip(".")
    return stopped[0].lower() + stopped[1:] if stopped else "ended"


def difference_words(before: TrainResult, after: TrainResult) -> str:
    """Whether ``after`` differs from ``before`` by more than the noise, both scored on the same rows against
    ``after``'s labels (a paired bootstrap over the meaning groups): "+0.012 (95%: -0.010 to +0.031), within
    the noise"."""
    a, b = before.evaluated, after.evaluated
    if not a or not b or len(a["predicted"]) != len(b["predicted"]):
        return ""
    d = paired_difference(b["truth"], a["predicted"], b["predicted"], b["groups"])
    if d["ci"] is None:
        return ""
    verdict = "larger than the noise" if d["clear"] else "within the noise: it may be luck"
    return f"{d['difference']:+.3f} (95%: {d['ci'][0]:+.3f} to {d['ci'][1]:+.3f}), {verdict}"


def method_comparison(quick: TrainResult, tuned: TrainResult, download_note: str) -> str:
    """The quick head and the fine-tuned model side by side, on the same test rows, and what each download weighs."""
    rows = [("Quick: a head on the frozen model", quick), ("Fine-tuned whole model", tuned)]
    lines = ["| | macro-F1 | accuracy | mean over languages |", "|---|---|---|---|"]
    for name, r in rows:
        m = r.metrics
        lines.append(
            f"| {name} | {ci_text(m['macro_f1'], m.get('macro_f1_ci'))} | "
            f"{ci_text(m['accuracy'], m.get('accuracy_ci'))} | {mean_language_macro_f1(m):.3f} |"
        )
    gain = round(tuned.metrics["macro_f1"] - quick.metrics["macro_f1"], 3)
    change = "did not change macro-F1" if gain == 0 else f"{'gained' if gain > 0 else 'lost'} {abs(gain):.3f} macro-F1"
    noise = difference_words(quick, tuned)
    return (
        f"**Fine-tuning {change}** on the same {tuned.metrics['n']} test rows"
        + (f": {noise}" if noise else "") + ".\n\n" + "\n".join(lines) + "\n\n" + download_note
    )  # fmt: skip


def tuned_download_note(download_mb: float, model_mb: float, tuned: bool = True, upload_mb: int | None = None) -> str:
    """What the fine-tuned classifier's download holds and weighs (``tuned``: False when fine-tuning kept its
    starting point, a head on the frozen model); ``upload_mb``: this server's upload limit."""
    size = f"{download_mb:.1f}" if download_mb < 10 else f"{download_mb:.0f}"
    if not tuned:
        return (
            f"The download is {size} MB: fine-tuning kept its starting point, so it is a head on the frozen model, "
            "like the quick one."
        )
    text = (
        f"The fine-tuned classifier's download is **{size} MB**: only the weights fine-tuning changed (and the "
        f"head), to put into the base model, which the Predict tab and `python -m xlmr_demo predict` load by "
        f"themselves. The whole model folder would be {model_mb:.0f} MB."
    )
    if upload_mb is not None and download_mb > upload_mb:
        text += f" It is larger than this server takes as an upload ({upload_mb} MB): load it on your computer."
    return text


def report_rows(result: TrainResult) -> tuple[list[str], list[list]]:
    """The classification report as a table: one row per class."""
    m = result.metrics
    rows = [
        [c, r["precision"], r["recall"], r["f1"], _range(r.get("f1_ci")), r["support"]]
        for c, r in m["per_class"].items()
    ]
    return REPORT_HEADERS, rows


def _range(ci: list[float] | None) -> str:
    return "" if not ci else f"{ci[0]:.2f} to {ci[1]:.2f}"


LANGUAGE_HEADERS = ["language", "macro-F1", "95% range", "accuracy", "95% range", "rows"]


def language_rows(result: TrainResult) -> tuple[list[str], list[list]]:
    """Per-language scores with their intervals: one row per language, most rows first."""
    rows = [
        [lang, v["macro_f1"], _range(v.get("macro_f1_ci")), v["accuracy"], _range(v.get("accuracy_ci")), v["n"]]
        for lang, v in result.metrics.get("per_language", {}).items()
    ]
    return LANGUAGE_HEADERS, rows


def issue_rows(result: TrainResult, limit: int = 50) -> tuple[list[str], list[list]]:
    """Suspected label errors, most suspicious first."""
    why = {
        "translations": "its translations or copies carry another label",
        "model": "a model that never saw it is confident of another label",
        "translations and model": "its translations carry another label, and a model agrees",
    }
    rows = [
        [
            i["row"],
            i["language"],
            cell(i["text"]),
            i["given_label"],
            i["predicted_label"],
            i["given_probability"],
            i.get("translations_say", ""),
            why.get(i.get("evidence", "model"), ""),
            KEEP,
        ]
        for i in result.label_issues
        if i["suspect"]
    ][:limit]
    return ISSUE_HEADERS, rows


def correction_summary(before: TrainResult, after: TrainResult, decisions: dict) -> str:
    """The headline before and after a person's label corrections, measured on the same held-out rows."""
    old, new = before.metrics["macro_f1"], after.metrics["macro_f1"]
    noise = difference_words(before, after)
    return (
        f"**Macro-F1 {old:.3f} → {new:.3f}** ({new - old:+.3f}) after {describe(decisions)}, measured on the same "
        f"{after.metrics['n']} held-out rows. "
        + (f"Both classifiers scored against the corrected labels: {noise}. " if noise else "")
        + "The corrected file is below; training again from the Train button uses the corrected data."
    )  # fmt: skip


def prediction_preview(predictions: Predictions, limit: int = PREVIEW_ROWS) -> tuple[list[str], list[list]]:
    """The first rows of a predicted file: text, predicted label, confidence and certainty."""
    table = predictions.table
    # label, confidence, certainty (then prob_*); with several labels per row, the labels
    picked = [predictions.text_column, *predictions.added[: 1 if predictions.multi_label else 3]]
    index = [table.columns.index(c) for c in picked]
    return picked, [[cell(row[i] or "") for i in index] for row in table.rows[:limit]]


def prediction_summary(predictions: Predictions, neutralised: int = 0, excel: bool = False) -> str:
    """Markdown: how many rows were predicted, how many are not sure, and what the file changed and why.

    ``neutralised``: cells the CSV starts with an apostrophe; ``excel``: the download is a workbook instead.
    """
    predicted = len(predictions.table) - predictions.n_blank
    lines = [f"Predicted **{_count(predicted, 'row')}**; the first rows are below."]
    if predictions.n_not_sure and predictions.multi_label:
        lines.append(
            f"With no label over its threshold (an empty predicted_labels cell): "
            f"{_count(predictions.n_not_sure, 'row')}; each label's probability is in its prob_ column."
        )
    elif predictions.n_not_sure:
        lines.append(
            f"Marked *not sure* in the certainty column: {_count(predictions.n_not_sure, 'row')} (the top label "
            f"under {NOT_SURE_BELOW:.0%}, or the next label within {CLOSE_CALL:.0%} of it)."
        )
    if predictions.n_blank:
        lines.append(f"Without text, so without a prediction: {_count(predictions.n_blank, 'row')}.")
    if excel:
        lines.append(
            "In the Excel file every cell is text, so nothing runs as a formula and cells such as `@user` stay "
            "exactly as written (a cell over 32,767 characters, Excel's limit, is cut)."
        )
    elif neutralised:
        lines.append(
            "In the CSV, cells starting with =, +, -, @ or a tab (such as `@user`) begin with an apostrophe "
            f"({_count(neutralised, 'cell')}), so that a spreadsheet shows them as text instead of running them "
            "as formulas."
        )
    return "\n\n".join(lines)


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def issues_title(result: TrainResult) -> str:
    """What the label-error table holds, in words, also when it is empty or still to come."""
    if LABEL_ERRORS in result.pending:
        return "Suspected label errors: being looked for after the headline"
    if not result.label_issues:
        return "Suspected label errors: not looked for (a class has too few rows to hold some out)"
    suspects = sum(i["suspect"] for i in result.label_issues)
    if not suspects:
        return "Suspected label errors: none found (no translation disagrees, no model confidently contradicts a label)"
    return (
        f"Suspected label errors: {suspects:,} rows whose given label their translations or a model that never saw "
        "them contradict"
    )


def transfer_title(result: TrainResult) -> str:
    """The transfer table's title, saying why it is empty when it is."""
    if TRANSFER in result.pending:
        return "Cross-lingual transfer: being measured after the headline"
    if "transfer" not in result.metrics:
        return f"Cross-lingual transfer: needs two languages with {MIN_TRANSFER_ROWS} training rows each"
    return "Cross-lingual transfer"


STAGE_NAMES = {
    TRANSFER: "the cross-lingual transfer table",
    LABEL_ERRORS: "the suspected label errors",
    MORE_ROWS: "how many more rows would help",
}


def more_rows_words(result: TrainResult) -> str:
    """How many more labelled rows the next points of macro-F1 would take, and where they pay most (Markdown)."""
    if MORE_ROWS in result.pending:
        return "**How many more rows?** Being worked out after the other diagnostics."
    curve = result.metrics.get("learning_curve")
    if not curve:
        return ""
    overall = curve["overall"]
    rows, scores = overall["rows_per_class"], overall["scores"]
    text = (
        "**How many more rows?** The same head trained on a quarter, a half, three quarters and all of your "
        f"training rows (a median of {', '.join(f'{r:g}' for r in rows)} rows per class) scored macro-F1 "
        f"{', '.join(f'{s:.3f}' for s in scores)} on the rows measured above"
    )
    gain = overall["per_doubling"]
    if overall.get("rows_per_class_for_2_points") is None:
        if gain >= 0.005:  # a rise, but within the noise of one point
            return text + (
                f": the points rise by less than the headline's own range (±{overall['noise']:.3f}), so they are "
                "too noisy to read forward. More rows would help measure this too: the test rows set that range."
            )
        return text + (
            f": each doubling added {gain:+.3f}, a flat curve. More rows like these are unlikely to help much; the "
            "suspected label errors and the classes confused with each other are the better place to look."
        )
    now = rows[-1]
    need = {points: overall[f"rows_per_class_for_{points}_points"] for points in (2, 5)}
    text += (
        f": each doubling added about {gain:.3f}. Read forward (a rough guide: curves flatten), 2 more points would "
        f"take about {need[2]:,} rows per class ({max(0, need[2] - now):,.0f} more), 5 points about {need[5]:,}"
        + (" (over ten times your rows: this head is likely near what these rows can teach it)." if (
            need[5] > 10 * now) else ".")
    )  # fmt: skip
    for key, what in (("per_language", "languages"), ("per_class", "classes")):
        ranked = sorted(((k, v) for k, v in curve[key].items() if v["readable"]), key=lambda kv: -kv[1]["per_doubling"])
        if len(ranked) > 1:
            text += (
                f" Gaining most per doubling, {what}: "
                + ", ".join(f"{short(name, 30)} {v['per_doubling']:+.3f}" for name, v in ranked[:3])
                + (
                    f"; least: {short(ranked[-1][0], 30)} {ranked[-1][1]['per_doubling']:+.3f}."
                    if len(ranked) > 3
                    else "."
                )
            )
    return text


def training_status(result: TrainResult, headline: float, elapsed: float, stopped: str | None = None) -> str:
    """Where a training run is, in words: what is ready, what is still coming, or what a stop left out.

    ``headline``: seconds until the headline was ready; ``elapsed``: seconds so far.
    """
    missing = " and ".join(STAGE_NAMES[stage] for stage in result.pending)
    if stopped:
        kept = "Kept: the headline, the figures shown and the classifier download."
        return f"**{stopped}** {kept}" + (f" Not computed: {missing}." if missing else "")
    if result.pending:
        return (
            f"**Headline ready** after {duration(headline)}. Still working on {missing} "
            f"({duration(elapsed)} so far); **Stop** keeps everything shown."
        )
    return f"**Done** in {duration(elapsed)} (the headline after {duration(headline)})."


def finetune_status(
    scores: list[tuple[float, float]], step: TuningStep | TuningEvaluation, score: str = "macro-F1"
) -> str:
    """Where fine-tuning is, in words: epochs done, the validation ``score`` of the last evaluation and the best."""
    text = f"**Fine-tuning**: {step.epoch:.2f} epochs done"
    if scores:
        best_epoch, best = max(scores, key=lambda pair: pair[1])
        before = " (before fine-tuning)" if best_epoch == 0 else f" (epoch {best_epoch:g})"
        text += f"; validation {score} {scores[-1][1]:.3f} at the last evaluation, best so far {best:.3f}{before}"
    return text + ". **Stop** keeps the best weights measured so far."


ENTITY_HEADERS = ["entity type", "precision", "recall", "F1", "entities"]


def entity_headline(evaluations: dict, training: dict) -> str:
    """Entity F1 on the held-out sentences, per language, and zero-shot on another language's file."""
    totals = training.get("sentences_in_file", {})

    def sentences(name: str, m: dict) -> str:
        total = totals.get(name, m["sentences"])
        return (
            f"a random {m['sentences']:,} of its {total:,} sentences"
            if total > m["sentences"]
            else (f"{m['sentences']:,} sentences")
        )

    test = evaluations["test"]
    micro = test["entity"]["micro"]
    text = (
        f"### Entity F1 {micro['f1']:.3f} · precision {micro['precision']:.3f} · recall {micro['recall']:.3f}\n"
        f"Measured on {sentences('test', test)} of your file that the model never saw in training "
        f"({micro['support']:,} entities). An entity counts as found only when its type and both ends are right."
    )
    for name, m in evaluations.items():
        if name != "test":
            other = m["entity"]["micro"]
            text += (
                f"\n\n**Zero-shot on {cell(m['language'], 20)}** (a language it was not trained on, "
                f"{sentences(name, m)}): entity F1 {other['f1']:.3f}."
            )
    text += (
        f"\n\nThe whole model was fine-tuned for {duration(training['seconds'])} "
        f"({_stopped_words(training['stopped'])}); the weights kept are those after epoch {training['best_epoch']:g}, "
        "chosen on another tenth of your sentences."
    )
    return text


def entity_status(training: dict, job: str) -> str:
    """How an entity fine-tuning run ended: done, or stopped (``job``: its name, which a stop's reason starts with)."""
    took = duration(training["seconds"])
    if training["stopped"].startswith(job):
        return (
            f"**Stopped** after {took}: the best weights measured are kept. Type a sentence below to see its entities."
        )
    return f"**Done** in {took}. Type a sentence below to see its entities."


def entity_rows(evaluation: dict) -> tuple[list[str], list[list]]:
    """Per entity type: precision, recall, F1 and the number of true entities."""
    per_type = evaluation["entity"]["per_type"]
    rows = [[k, r["precision"], r["recall"], r["f1"], r["support"]] for k, r in per_type.items()]
    micro = evaluation["entity"]["micro"]
    return ENTITY_HEADERS, [*rows, ["all", micro["precision"], micro["recall"], micro["f1"], micro["support"]]]


def entity_report_text(evaluations: dict) -> str:
    """The CoNLL-style reports (entities, then word tags) of every measured file, as the seed article prints them."""
    parts = []
    for name, m in evaluations.items():
        title = "Held-out sentences of your file" if name == "test" else f"Zero-shot: {cell(m['language'], 20)}"
        parts.append(f"**{title}**\n```\n{m['entity_report']}\n```\nPer word tag (every O word counts, so these "
                     f"averages run above the entity scores):\n```\n{m['token_report']}\n```")  # fmt: skip
    return "\n\n".join(parts)


def entity_language_figure(evaluations: dict):
    """Entity F1 per language: the held-out sentences' languages, then each zero-shot file's."""
    scores = {}
    for name, m in evaluations.items():
        for lang, r in m["per_language"].items():
            key = lang if name == "test" else f"{lang} (zero-shot)"
            scores[key] = r["f1"]
    return bars(scores, "Entity F1 per language", axis="entity F1")


def highlighted(text: str, spans: list[tuple[int, int, str]]) -> list[tuple[str, str | None]]:
    """``text`` cut into (piece, entity type or None) for gr.HighlightedText."""
    out, at = [], 0
    for start, end, kind in spans:
        if start > at:
            out.append((text[at:start], None))
        out.append((text[start:end], kind))
        at = end
    if at < len(text):
        out.append((text[at:], None))
    return out


#: What each figure shows and what good looks like, for readers without ML training.
EXPLANATIONS = {
    "per_class": (
        "**Per class.** Precision: of the rows the model gave this label, the share that truly have it. "
        "Recall: of the rows that have this label, the share the model found. F1 combines the two; 1.0 is "
        "perfect; its 95% range says how far luck alone could move it. A class with a low score and few rows "
        "usually needs more examples."
    ),
    "loss": (
        "**Loss**: how wrong the model still is while it learns (lower is better), on the rows it learns from "
        "(training) and on rows held back (validation). Training stops when the validation loss stops "
        "falling; the dotted line marks the round that was kept. When the whole model is fine-tuned: the "
        "loss of every step, and the validation score (macro-F1, or entity F1 for entities; right axis, higher "
        "is better) after each epoch; the weights with the best validation score are kept."
    ),
    "confusion": (
        "**Confusion matrix**: each row is the true label, each column the model's answer, each cell a count "
        "of test rows. Good looks like a dark diagonal; a dark cell off it names two labels the model "
        "mixes up (often labels that overlap in meaning). With several labels per row, each label's F1 (with its "
        "95% range) stands here instead."
    ),
    "languages": (
        "**Per language**: macro-F1 on each language's test rows, the whisker its 95% range (few rows, wide "
        "range). Bars of similar height mean the classifier works as well in every language; a short bar whose "
        "range stays below the others points to a language that needs more (or cleaner) rows."
    ),
    "transfer": (
        "**Cross-lingual transfer**: a classifier trained on one language's rows alone (row), scored on each "
        "language's test rows (column) whose meaning it never saw: a translation of one of its training rows "
        "is left out, so each cell measures transfer, not recall. High scores off the diagonal mean what is "
        "learnt in one language carries over to others, so a language with few rows can lean on the rest. "
        f"Each cell says how many rows it rests on; grey cells rest on fewer than {MIN_TRUSTED_ROWS}: too few to "
        "trust."
    ),
    "counts": (
        "**Rows per label and language**: each bar is a label, each colour a language. Labels with few rows, or "
        "a language that only appears under one label, are where a classifier learns least (or learns the "
        "language instead of the label)."
    ),
    "map": (
        "**Embedding map**: each point is a row of your file, placed so that texts the model reads as similar "
        "sit close together; grey lines join translations. Good looks like points grouped by meaning with the "
        "languages mixed inside each group. Only closeness counts: the axes have no meaning. Maps of more than "
        "100,000 texts show where all of them lie in grey and a sample of 20,000 as coloured points."
    ),
    "centroids": (
        "**Language centroids**: how close each language's average text sits to another's (cosine, 1 = the "
        "same place). Values near 1 everywhere mean the model places all languages in one shared space."
    ),
    "compare": (
        "**Cosine similarity** of every pair of sentences (1 = the same meaning to the model). This model "
        "scores even unrelated sentences around 0.7, so the colours start at the lowest pair here: compare "
        "cells with each other, not with an absolute scale."
    ),
    "tuning_maps": (
        "**Before and after fine-tuning**: the same held-out texts placed by the model as it came (left) and "
        "after fine-tuning (right), coloured by label. Fine-tuning that worked pulls each label into its own "
        "region and mixes the languages inside it; the sentences below put numbers on both."
    ),
    "entity_languages": (
        "**Per language**: entity F1 on each language's held-out sentences, and on the other language's file, "
        "which the model never learnt from (zero-shot). A high zero-shot bar means names learnt in one language "
        "are found in another."
    ),
    "issues": (
        "**Suspected label errors**: rows whose translations (or copies) in the file carry another label, and "
        "rows without a translation whose given label a model that never saw them finds unlikely while it is "
        "confident of another; *why* says which. Rows of every split are searched. Read them: a wrong label "
        "teaches the model the wrong thing (or, in the test rows, makes the figures wrong), and fixing a few often "
        "helps more than adding rows. To fix one, type the right label (or *remove*) under *your decision*, then "
        "press **Retrain with my corrections**."
    ),
}


def result_figures(result: TrainResult) -> dict:
    """Confusion matrix, per-language scores, transfer matrix (None: not measured or still to come), loss curve."""
    m = result.metrics
    per_language = {lang: v["macro_f1"] for lang, v in m.get("per_language", {}).items()}
    intervals = {lang: v.get("macro_f1_ci") for lang, v in m.get("per_language", {}).items()}
    t = result.training
    per_label = {c: v["f1"] for c, v in m["per_class"].items()}
    label_intervals = {c: v.get("f1_ci") for c, v in m["per_class"].items()}
    return {  # with several labels per row no confusion matrix: each label's F1 instead
        "confusion": confusion_heatmap(m["confusion_matrix"], m["labels"])
        if "confusion_matrix" in m
        else bars(per_label, "F1 per label (whiskers: 95% range)", intervals=label_intervals),
        "languages": bars(per_language, "Macro-F1 per language (whiskers: 95% range)", intervals=intervals)
        if per_language
        else None,
        "transfer": transfer_heatmap(m["transfer"], MIN_TRUSTED_ROWS) if "transfer" in m else None,
        "loss": loss_figure(t),
    }


def loss_figure(training: dict, score: str = "macro-F1"):
    """The loss curve of a head, or the fine-tuning curve of a fine-tuned model (``training``: TrainResult.training)."""
    tuned = training.get("fine_tuning")
    if not tuned:
        return loss_curve(training["train_loss"], training["validation_loss"], training["best_epoch"])
    scores = [(h["epoch"], h["validation"]) for h in tuned["history"]]
    return finetune_curve(tuned["step_losses"], scores, tuned["best_epoch"], score)


def compare_views(result: Similarity, pairs: int = 5) -> tuple[go.Figure, str]:
    """The similarity heatmap and, as Markdown, the most similar pairs."""

    def quoted(text: str) -> str:
        return cell(text, 120).replace("|", "\\|").replace("<", "&lt;")

    rows = "\n".join(f"| {quoted(a)} | {quoted(b)} | {s:.3f} |" for a, b, s in result.most_similar_pairs(pairs))
    table = "**Most similar pairs**\n\n| sentence | sentence | cosine |\n|---|---|---|\n" + rows
    return similarity_heatmap(result.matrix, result.texts), table


def map_figure(result: MapResult, highlight: np.ndarray | None = None) -> go.Figure:
    """The map: one colour per value of what it is coloured by, translations linked, texts on hover; each found
    cluster's name where its points lie (2D); ``highlight`` (a bool per row) greys the other rows."""
    data = result.data
    hover = {"language": data.languages, **{c: v for c, v in data.columns.items() if c == result.label_column}}
    if result.clusters is not None:
        hover["cluster"] = result.clusters.row_names()
    title = f"{result.projection.method.upper()} map of {len(data.texts)} texts"
    if result.rate_map is not None:
        title += (
            f" — {result.rate_map:.0%} of translations are nearest neighbours on the map "
            f"({result.rate_full:.0%} in full dimensions)"
        )
    figure = embedding_map(
        result.projection.coords, result.colours(), color_name=result.color, hover=hover, texts=data.texts,
        groups=data.groups, title=title, highlight=highlight,
    )  # fmt: skip
    coords = result.projection.coords
    if result.clusters is not None and coords.shape[1] == 2:
        for c, name in enumerate(result.clusters.names):  # at the median of its points: inside it, not between
            x, y = np.median(coords[result.clusters.labels == c], axis=0)
            figure.add_annotation(
                x=float(x), y=float(y), text=html.escape(name), showarrow=False, font={"size": 12, "color": "black"},
                bgcolor="rgba(255,255,255,0.75)",
            )  # fmt: skip
    return figure


def centroid_figure(result: MapResult) -> go.Figure:
    # from 0: centroids of one model all sit close together, and a scale from 0.9 would make small
    # differences look like large ones
    return similarity_heatmap(
        result.centroid_similarity, result.centroid_languages, title="Similarity of language centroids", zmin=0.0
    )


def with_placement(result: MapResult, text: str, placement: Placement) -> go.Figure:
    """The map with the placed text as a large star."""
    figure = map_figure(result)
    xyz = {axis: [float(v)] for axis, v in zip("xyz", placement.coords, strict=False)}
    marker = {"symbol": "star" if len(xyz) == 2 else "diamond", "size": 18, "color": "black"}
    label = html.escape(text if len(text) <= 80 else text[:79] + "…")
    trace = (go.Scatter3d if len(xyz) == 3 else go.Scatter)(
        **xyz, mode="markers", marker=marker, name="your text", hovertext=[label], hoverinfo="text"
    )
    figure.add_trace(trace)
    return figure


METHOD_WORDS = {
    "tsne": "t-SNE, which keeps close neighbours close (distances between far-apart groups mean little)",
    "umap": "UMAP, which keeps close neighbours close and some of the larger layout",
    "pca": "PCA, a flat view of the largest differences (close neighbours are less faithful than with t-SNE)",
}


def _grouping(sep: dict) -> str:
    """How strongly a map's neighbourhoods follow some values, in words, from :func:`separability`."""
    above_chance = (sep["accuracy"] - sep["chance"]) / max(1e-9, 1 - sep["chance"])  # 0: chance, 1: perfect
    if above_chance < 0.1:
        return "mixed: neighbours on the map hardly share it"
    if above_chance < 0.5:
        return "partly grouped"
    return "strongly grouped: neighbours on the map mostly share it"


def summary_lines(result: MapResult) -> list[str]:
    """Plain-language findings, one per line: how the map was drawn, then what it shows."""
    lines = [f"Drawn with {METHOD_WORDS[result.projection.method]}.", *result.projection.notes, *result.data.notes]
    if result.clusters is not None:
        lines.append(result.clusters.words_about())
    if result.rate_map is not None:
        lines.append(
            f"Translations sit together: for {result.rate_full:.0%} of the translated texts the closest text in "
            f"another language is a translation of it (in the model's own {result.embeddings.shape[1]} "
            f"dimensions); on this flat map {result.rate_map:.0%}."
        )
    if result.alignment:
        scores = ", ".join(f"{lang} {score:.0%}" for lang, score in result.alignment.items())
        lines.append(f"The same per language (lower: the model lines that language up less well): {scores}.")
    for name, sep in (("language", result.language_separability), (result.label_column, result.label_separability)):
        if sep:
            lines.append(
                f"By {name}, the map is {_grouping(sep)} (a point's 10 nearest neighbours share its {name} "
                f"{sep['accuracy']:.0%} of the time; by chance {sep['chance']:.0%})."
            )
    return lines


def tuning_change(before: MapResult, after: MapResult) -> str:
    """How much more the points group by label, and less by language, after fine-tuning than before, in words."""

    def above_chance(sep: dict | None) -> float | None:  # 0: chance, 1: every neighbour shares it
        return None if sep is None else (sep["accuracy"] - sep["chance"]) / max(1e-9, 1 - sep["chance"])

    lines = [f"Drawn with {METHOD_WORDS[after.projection.method]}.", *after.data.notes]
    label = before.label_column
    for name, b, a in (
        (label, before.label_separability, after.label_separability),
        ("language", before.language_separability, after.language_separability),
    ):
        if b is None or a is None:
            continue
        change = above_chance(a) - above_chance(b)
        words = "more" if change > 0.05 else "less" if change < -0.05 else "about as much"
        lines.append(
            f"By {name}: a point's 10 nearest neighbours share its {name} {b['accuracy']:.0%} of the time before "
            f"fine-tuning and {a['accuracy']:.0%} after (by chance {a['chance']:.0%}): the points group **{words}** "
            f"by {name} ({change:+.2f} on a scale where 0 is chance and 1 is every neighbour)."
        )
    return "\n".join(f"- {line}" for line in lines)


def colour_choices(
    table: Table, text_column: str | None, language_column: str | None, pair_column: str | None = None
) -> list[str]:
    """What a map of ``table`` can be coloured by: language, the clusters a map finds, then its other columns of
    categories (not the text, language or translation-pair column, which the map uses otherwise).

    A column qualifies with 2 to :data:`~xlmr_demo.maps.MAX_COLOURS` different values; counting
    stops as soon as a column has more.
    """
    choices = ["language", "cluster"]
    for column in table.columns:
        if column in (text_column, language_column, pair_column, "language", "cluster"):
            continue
        seen: set = set()
        for value in table.column(column):
            seen.add(value)
            if len(seen) > MAX_COLOURS:
                break
        if 2 <= len(seen) <= MAX_COLOURS:
            choices.append(column)
    return choices


def language_choices(values: list[str]) -> list[str]:
    """Languages to offer as a filter: the distinct ``values`` as a map reads them (edge spaces cut), most
    rows first, at most :data:`MAX_COLOURS`."""
    return [v for v, _ in Counter(v.strip() for v in values if v and v.strip()).most_common(MAX_COLOURS)]


MAP_PAGE_SCRIPT = """
const FOLDED = TEXTS.map(fold);
function fold(s) { return s.normalize("NFKD").replace(/\\p{M}/gu, "").toLowerCase().replace(/\\s+/g, " "); }
const plot = document.getElementById("map");
const kept = plot.data.map(t => ({color: t.marker && t.marker.color, size: t.marker && t.marker.size}));
function search(typed) {
  const q = fold(typed.trim());
  const colors = [], sizes = [], flat = [], picked = [], found = [];
  plot.data.forEach((t, i) => {
    if (!t.customdata) return;
    const was = kept[i], at = (v, j) => Array.isArray(v) ? v[j] : v;
    const lit = t.customdata.map(r => q !== "" && FOLDED[r].includes(q));
    lit.forEach((l, j) => { if (l) found.push(t.customdata[j]); });
    if (t.type === "scatter3d") {  // no selection in 3D: colours and sizes per point
      colors.push(q ? lit.map((l, j) => l ? at(was.color, j) : GREY) : was.color);
      sizes.push(q ? lit.map((l, j) => at(was.size, j) + (l ? 4 : 0)) : was.size);
    } else {  // Plotly's own selection: the legend keeps its colours
      flat.push(i);
      picked.push(q ? lit.flatMap((l, j) => l ? [j] : []) : null);
    }
  });
  const deep = plot.data.flatMap((t, i) => t.type === "scatter3d" && t.customdata ? [i] : []);
  if (deep.length) Plotly.restyle(plot, {"marker.color": colors, "marker.size": sizes}, deep);
  if (flat.length) Plotly.restyle(plot, {selectedpoints: picked,
    "selected.marker.opacity": 1, "unselected.marker.color": GREY, "unselected.marker.opacity": 0.5}, flat);
  document.getElementById("found").textContent = q ? found.length + " of the points shown hold these words" : "";
  const list = document.getElementById("found-rows");
  list.replaceChildren(...found.slice(0, 50).map(r => {
    const item = document.createElement("li"); item.textContent = TEXTS[r]; return item;
  }));
}
document.getElementById("search").addEventListener("input", e => search(e.target.value));
"""


def write_map_html(result: MapResult, path: str | Path, found: Found | None = None) -> Path:
    """One self-contained page (plotly.js inlined, works offline): findings, a word search that greys the other
    points, the map with its clusters' names, the clusters, the centroid heatmap. ``found`` (a search made
    with the model, by meaning and words) starts the page highlighting its rows, with the rows listed."""
    path = output_file(path, (".html", ".htm"), "The map")
    findings = "".join(f"<li>{html.escape(line)}</li>" for line in summary_lines(result))
    # no "<" at all in the script: "</script>" would end it, "<!--<script>" would keep it from ending
    texts = json.dumps(result.data.texts, ensure_ascii=False).replace("<", "\\u003c")
    search = (
        '<p><label>Find words on the map (accents and case ignored): <input id="search" size="40" dir="auto">'
        '</label> <span id="found"></span></p>'
    )
    lit = None
    if found is not None:
        lit = found.lit(len(result.data.texts))
        listed = rows_table(result, found.rows, found, SHOWN_ROWS)
        search = _markdown_html(found.words()) + _html_table(listed.columns, table_rows(listed.rows)) + search
    clusters = ""
    if result.clusters is not None:
        clusters = "<h2>Clusters</h2>" + _html_table(*result.clusters.table())
    body = (
        f"<h1>Embedding map</h1><ul>{findings}</ul>{search}"
        + map_figure(result, lit).to_html(full_html=False, include_plotlyjs=True, div_id="map")
        + '<ol id="found-rows" dir="auto"></ol>'
        + _markdown_html(EXPLANATIONS["map"])
        + clusters
        + centroid_figure(result).to_html(full_html=False, include_plotlyjs=False)
        + _markdown_html(EXPLANATIONS["centroids"])
        + f"<script>const TEXTS = {texts}, GREY = {json.dumps(GREY)};{MAP_PAGE_SCRIPT}</script>"
    )
    head = f'<meta charset="utf-8"><title>Embedding map</title><style>{BIDI_STYLE}</style>'
    page = f'<!DOCTYPE html><html><head>{head}</head><body style="font-family:sans-serif">{body}</body></html>'
    return write_file_atomically(path, lambda tmp: tmp.write_text(page, encoding="utf-8"))


HEAD_KINDS = {
    "by_language": "a small neural network for the training rows' languages, logistic regression for any other",
    "mlp": "a small neural network (MLP)",
    "logreg": "logistic regression",
    "prototypes": "class prototypes: each class the average of its examples (and label name), nothing trained",
}


def _markdown_html(text: str) -> str:
    """The little Markdown this module writes (headings, paragraphs, bullets, bold, italics) as HTML.

    Values from users' files are escaped where the Markdown is written, so the text is not escaped again.
    """
    blocks = []
    for block in text.split("\n\n"):
        bolded = re.sub(r"\*(.+?)\*", r"<i>\1</i>", re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", block))
        if bolded.startswith("### "):
            head, _, rest = bolded[4:].partition("\n")
            blocks.append(f"<h3>{head}</h3>" + (f"<p>{rest}</p>" if rest else ""))
        elif bolded.startswith("- "):
            items = "".join(f"<li>{line[2:]}</li>" for line in bolded.split("\n") if line.startswith("- "))
            blocks.append(f"<ul>{items}</ul>")
        else:
            blocks.append(f"<p>{bolded}</p>")
    return "".join(blocks)


def _html_table(headers: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


#: Right-to-left text (Arabic, Hebrew, Urdu) in a cell or list item runs and aligns by its own first letters.
BIDI_STYLE = "td,th,li{unicode-bidi:plaintext;text-align:start}"
REPORT_STYLE = (
    "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
    "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .6em}"
    + BIDI_STYLE
    + ".explain{color:#555;max-width:800px}.figure{margin:1.5em 0}"
)


def training_report_html(result: TrainResult, dataset: Dataset | None = None) -> str:
    """One self-contained page (plotly.js inlined, opens offline): data, headline, every figure with
    its explanation, the per-class table, suspected label errors, and the model with its fingerprint."""
    encoder, head = result.classifier.encoder, result.classifier.head
    parts = ["<h1>Classifier report</h1>", f"<p>Made {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.</p>"]
    parts.append("<h2>Data</h2>")
    plotly_js: bool | str = True  # inlined once, with the first figure
    if dataset is not None:
        parts.append(_markdown_html(dataset_report(dataset, result)))
        parts.append('<div class="figure">' + counts_figure(dataset).to_html(full_html=False, include_plotlyjs=True))
        parts.append(f'<div class="explain">{_markdown_html(EXPLANATIONS["counts"])}</div></div>')
        plotly_js = False
    else:
        rows = result.training.get("rows", {})
        parts.append("<p>" + ", ".join(f"{html.escape(k)} {v:,} rows" for k, v in rows.items()) + ".</p>")
    parts += ["<h2>How good it is</h2>", _markdown_html(headline(result))]
    if result.pending:
        missing = " and ".join(STAGE_NAMES[stage] for stage in result.pending)
        parts.append(f"<p><b>Not computed</b> (the run was stopped first): {missing}.</p>")
    parts += [_html_table(*report_rows(result)), f'<p class="explain">{_markdown_html(EXPLANATIONS["per_class"])}</p>']
    if result.metrics.get("per_language"):
        parts.append(_html_table(*language_rows(result)))
    figures = result_figures(result)
    for key in ("confusion", "languages", "transfer", "loss"):
        if figures[key] is None:
            continue
        parts.append('<div class="figure">' + figures[key].to_html(full_html=False, include_plotlyjs=plotly_js))
        parts.append(f'<div class="explain">{_markdown_html(EXPLANATIONS[key])}</div></div>')
        plotly_js = False
    if result.metrics.get("learning_curve"):
        parts.append(_markdown_html(more_rows_words(result)))
    parts.append(f"<h2>{html.escape(issues_title(result))}</h2>")
    issues_header, issues = issue_rows(result)
    if issues:  # without the decision column: the report is read, not edited
        parts.append(_html_table(issues_header[:-1], [row[:-1] for row in issues]))
    parts.append(f'<div class="explain">{_markdown_html(EXPLANATIONS["issues"])}</div>')
    parts += [
        "<h2>The model</h2>",
        _html_table(
            ["", "value"],
            [
                ["encoder", encoder.name],
                ["encoder fingerprint (sha256 of its files and settings)", encoder.fingerprint],
                [
                    "classifier head",
                    HEAD_KINDS[head.config.kind]
                    + (" (one yes-or-no per label, each with its own threshold)" if head.config.multi_label else ""),
                ],
                *_fine_tuning_rows(result.training.get("fine_tuning")),
                ["labels", ", ".join(cell(c, 40) for c in result.classifier.classes_)],
                ["seed", head.config.seed],
            ],
        ),
    ]
    title = "Classifier report"
    meta = f'<meta charset="utf-8"><title>{title}</title><style>{REPORT_STYLE}</style>'
    return f"<!DOCTYPE html><html><head>{meta}</head><body>{''.join(parts)}</body></html>"


def _fine_tuning_rows(tuned: dict | None) -> list[list]:
    if not tuned:
        return []
    return [["fine-tuned", f"{tuned['trainable_parameters']:,} weights trained for {duration(tuned['seconds'])} "
             f"({tuned['device']}, {tuned['precision']}), kept after epoch {tuned['best_epoch']:g}"]]  # fmt: skip


def write_training_report(result: TrainResult, path: str | Path, dataset: Dataset | None = None) -> Path:
    """:func:`training_report_html` written atomically to ``path`` (.html or .htm)."""
    page = training_report_html(result, dataset)
    path = output_file(path, (".html", ".htm"), "The report")
    return write_file_atomically(path, lambda tmp: tmp.write_text(page, encoding="utf-8"))
