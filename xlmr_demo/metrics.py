"""Honest numbers for a classifier: overall, per class, per language, and across languages.

All scores come from scikit-learn's implementations; this module only arranges them in the JSON
shape the product writes (``metrics.json``) and reads back.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _round(x: float) -> float:
    return round(float(x), 4)


def classification_metrics(
    y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str], languages: Sequence[str] | None = None
) -> dict:
    """Accuracy, macro-F1, per-class precision/recall/F1/support, confusion matrix, per-language scores.

    ``labels`` fixes the order of classes in ``per_class`` and in the confusion matrix, whose
    rows are true classes and columns predicted ones.
    """
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

    y_true, y_pred, labels = list(y_true), list(y_pred), list(labels)
    precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    present = [c for c in labels if c in set(y_true)]  # a class with no test rows has no defined recall
    result = {
        "n": len(y_true),
        "accuracy": _round(accuracy_score(y_true, y_pred)),
        "macro_f1": _round(f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)),
        "labels": labels,
        "per_class": {
            c: {"precision": _round(p), "recall": _round(r), "f1": _round(f), "support": int(s)}
            for c, p, r, f, s in zip(labels, precision, recall, f1, support, strict=True)
        },
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }
    if languages is not None:
        result["per_language"] = per_language(y_true, y_pred, languages)
    return result


def per_language(y_true: Sequence[str], y_pred: Sequence[str], languages: Sequence[str]) -> dict[str, dict]:
    """{language: {accuracy, macro_f1, n}}, languages by descending row count."""
    from sklearn.metrics import accuracy_score, f1_score

    langs = np.asarray(languages, dtype=object)
    t, p = np.asarray(y_true, dtype=object), np.asarray(y_pred, dtype=object)
    out = {}
    values, counts = np.unique(langs, return_counts=True)
    for lang in values[np.argsort(-counts, kind="stable")]:
        m = langs == lang
        present = sorted(set(t[m].tolist()))
        out[str(lang)] = {
            "accuracy": _round(accuracy_score(t[m], p[m])),
            "macro_f1": _round(f1_score(t[m], p[m], labels=present, average="macro", zero_division=0)),
            "n": int(m.sum()),
        }
    return out


def mean_language_macro_f1(metrics: dict) -> float:
    """The unweighted mean of the per-language macro-F1 scores (each language counts the same)."""
    scores = [v["macro_f1"] for v in metrics["per_language"].values()]
    return _round(np.mean(scores))


def classification_report(metrics: dict) -> str:
    """A plain-text table in the layout of scikit-learn's ``classification_report``."""
    width = max(12, *(len(c) for c in metrics["labels"]))
    head = f"{'':>{width}}  precision    recall  f1-score   support"
    lines = [head, ""]
    for c in metrics["labels"]:
        r = metrics["per_class"][c]
        lines.append(f"{c:>{width}}  {r['precision']:9.4f} {r['recall']:9.4f} {r['f1']:9.4f} {r['support']:9d}")
    n = metrics["n"]
    present = [c for c in metrics["labels"] if metrics["per_class"][c]["support"] > 0]  # as macro_f1
    macro = [np.mean([metrics["per_class"][c][k] for c in present]) for k in ("precision", "recall")]
    lines += [
        "",
        f"{'accuracy':>{width}}  {'':9} {'':9} {metrics['accuracy']:9.4f} {n:9d}",
        f"{'macro avg':>{width}}  {macro[0]:9.4f} {macro[1]:9.4f} {metrics['macro_f1']:9.4f} {n:9d}",
    ]
    return "\n".join(lines)
