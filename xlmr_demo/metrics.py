"""Honest numbers for a classifier: overall, per class, per language, and across languages.

All scores come from scikit-learn's implementations; this module arranges them in the JSON shape
the product writes (``metrics.json``) and reads back, and says how sure each one is: a 95% bootstrap
interval (:func:`bootstrap_intervals`) that resamples *meaning groups*, not rows, since the
translations of one sentence are one piece of evidence, not eight; and whether a difference between
two classifiers on the same rows is larger than that noise (:func:`paired_difference`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .groups import group_codes

#: Bootstrap resamples behind every interval: the 2.5% and 97.5% percentiles move by about 0.005 between seeds.
RESAMPLES = 1000
CONFIDENCE = 0.95


def _round(x: float) -> float:
    return round(float(x), 4)


def classification_metrics(
    y_true: Sequence[str],
    y_pred: Sequence[str],
    labels: Sequence[str],
    languages: Sequence[str] | None = None,
    groups: Sequence[str] | None = None,
    seed: int = 0,
) -> dict:
    """Accuracy, macro-F1, per-class precision/recall/F1/support, confusion matrix, per-language scores,
    each with its 95% interval (``macro_f1_ci``, ``accuracy_ci``, per class ``f1_ci``: ``[low, high]``).

    ``labels`` fixes the order of classes in ``per_class`` and in the confusion matrix, whose
    rows are true classes and columns predicted ones. ``groups``: each row's meaning group, the unit
    the intervals resample (None: each row its own); ``seed`` seeds the resampling.
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
    intervals = bootstrap_intervals(y_true, y_pred, labels, groups, seed)
    result["macro_f1_ci"], result["accuracy_ci"] = intervals["macro_f1"], intervals["accuracy"]
    for c, ci in zip(labels, intervals["f1"], strict=True):
        result["per_class"][c]["f1_ci"] = ci
    if languages is not None:
        result["per_language"] = per_language(y_true, y_pred, languages, groups, seed)
    return result


def _codes(values: Sequence[str], labels: list[str]) -> np.ndarray:
    index = {c: i for i, c in enumerate(labels)}
    return np.array([index[v] for v in values], dtype=np.int64)


def _scores(counts: np.ndarray, n_labels: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per resample: accuracy, macro-F1 over the classes present, and per-class F1 (NaN where absent).

    ``counts``: (resamples, n_labels * n_labels) weighted confusion counts, true class major."""
    cm = counts.reshape(len(counts), n_labels, n_labels)
    tp = np.einsum("bii->bi", cm)
    true, predicted = cm.sum(axis=2), cm.sum(axis=1)
    total = true.sum(axis=1)
    accuracy = tp.sum(axis=1) / np.maximum(total, 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(true + predicted > 0, 2 * tp / (true + predicted), 0.0)
    present = true > 0
    macro = (f1 * present).sum(axis=1) / np.maximum(present.sum(axis=1), 1)
    return accuracy, macro, np.where(present, f1, np.nan)


def _interval(values: np.ndarray) -> list[float] | None:
    values = values[~np.isnan(values)]
    if len(values) == 0:
        return None
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return [_round(low), _round(high)]


def _too_few(groups: Sequence[str] | None, n: int) -> bool:
    """Whether the rows are too few to resample: one meaning group (a single row, or all one meaning) has no
    spread to show, and a range of zero width would claim a certainty it does not have."""
    return (n if groups is None else len(set(groups))) < 2


def _group_weights(groups: Sequence[str] | None, n: int, seed: int, resamples: int = RESAMPLES) -> np.ndarray:
    """(resamples, n) row weights: each resample draws the groups with replacement; a row weighs as often as its
    group was drawn."""
    codes = np.arange(n) if groups is None else group_codes(groups)
    n_groups = int(codes.max()) + 1 if n else 0
    if not n_groups:
        return np.zeros((resamples, 0))
    draws = np.random.default_rng(seed).integers(0, n_groups, size=(resamples, n_groups))  # with replacement
    drawn = np.stack([np.bincount(d, minlength=n_groups) for d in draws])  # how often each group was drawn
    return drawn[:, codes].astype(np.float64)


def _resampled_counts(cells: np.ndarray, weights: np.ndarray, k: int) -> np.ndarray:
    """(resamples, k * k) confusion counts: ``cells`` (true * k + predicted) weighted by each resample's rows."""
    return np.stack([np.bincount(cells, weights=w, minlength=k * k) for w in weights]).reshape(len(weights), k * k)


def bootstrap_intervals(
    y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str], groups: Sequence[str] | None = None,
    seed: int = 0,
) -> dict:  # fmt: skip
    """95% percentile-bootstrap intervals of macro-F1, accuracy and each class's F1 (``[low, high]``; None where a
    class never occurs), resampling the meaning ``groups`` of the rows with replacement, seeded."""
    labels = list(labels)
    k = len(labels)
    if _too_few(groups, len(y_true)):
        return {"accuracy": None, "macro_f1": None, "f1": [None] * k}
    t, p = _codes(list(y_true), labels), _codes(list(y_pred), labels)
    weights = _group_weights(groups, len(t), seed)
    accuracy, macro, f1 = _scores(_resampled_counts(t * k + p, weights, k), k)
    return {
        "accuracy": _interval(accuracy),
        "macro_f1": _interval(macro),
        "f1": [_interval(f1[:, c]) for c in range(k)],
    }


def paired_difference(
    y_true: Sequence[str], before: Sequence[str], after: Sequence[str], groups: Sequence[str] | None = None,
    seed: int = 0,
) -> dict:  # fmt: skip
    """How much macro-F1 changes from predictions ``before`` to ``after`` on the same rows, with its 95% interval
    (both scored on each resample of the groups) and whether that interval excludes zero (``clear``). Rows may
    hold tuples of labels (several per row): macro-F1 is then each label's F1 averaged."""
    if any(isinstance(v, tuple) for v in (*y_true, *before, *after)):
        return _paired_label_sets(y_true, before, after, groups, seed)
    labels = sorted(set(y_true) | set(before) | set(after))
    k = len(labels)
    t = _codes(list(y_true), labels)
    weights = _group_weights(groups, len(t), seed)
    scores = []
    for predicted in (before, after):
        cells = t * k + _codes(list(predicted), labels)
        full = np.bincount(cells, minlength=k * k)[None, :].astype(np.float64)
        scores.append((_scores(full, k)[1][0], _scores(_resampled_counts(cells, weights, k), k)[1]))
    difference = scores[1][0] - scores[0][0]
    ci = _interval(scores[1][1] - scores[0][1])
    return {"difference": _round(difference), "ci": ci, "clear": bool(ci is not None and (ci[0] > 0 or ci[1] < 0))}


def _paired_label_sets(y_true, before, after, groups, seed: int) -> dict:
    """:func:`paired_difference` of macro-F1 over labels, for rows that hold several."""
    labels = sorted({x for rows in (y_true, before, after) for v in rows for x in v})
    T = label_matrix(y_true, labels)
    W = _group_weights(groups, len(T), seed)
    scores = []
    for predicted in (before, after):
        P = label_matrix(predicted, labels)
        tp, fp, fn = T & P, (1 - T) & P, T & (1 - P)
        full = _multilabel_scores(tp.sum(0), fp.sum(0), fn.sum(0), 0.0, len(T))[1]
        scores.append((full, _multilabel_scores(W @ tp, W @ fp, W @ fn, 0.0, W.sum(1))[1]))
    ci = _interval(scores[1][1] - scores[0][1])
    difference = scores[1][0] - scores[0][0]
    return {"difference": _round(difference), "ci": ci, "clear": bool(ci is not None and (ci[0] > 0 or ci[1] < 0))}


def share_interval(hits: np.ndarray, groups: Sequence[str] | None = None, seed: int = 0) -> list[float] | None:
    """95% percentile-bootstrap interval of the share of true ``hits`` (one per row), resampling the rows'
    meaning ``groups`` with replacement (each row its own group when None), seeded; None without rows."""
    hits = np.asarray(hits, dtype=np.float64)
    if _too_few(groups, len(hits)):
        return None
    codes = np.arange(len(hits)) if groups is None else group_codes(groups)
    n_groups = int(codes.max()) + 1
    group_hits, group_rows = np.bincount(codes, hits, n_groups), np.bincount(codes, minlength=n_groups)
    rng = np.random.default_rng(seed)
    shares = []
    for start in range(0, RESAMPLES, 100):  # 100 resamples at a time: bounded memory on large files
        draws = rng.integers(0, n_groups, size=(min(100, RESAMPLES - start), n_groups))
        shares.append(group_hits[draws].sum(axis=1) / group_rows[draws].sum(axis=1))
    return _interval(np.concatenate(shares))


def ci_text(value: float, ci: list[float] | None) -> str:
    """A figure and how sure it is, as a page says it: "0.842 (0.811 to 0.870)"."""
    return f"{value:.3f}" if not ci else f"{value:.3f} ({ci[0]:.3f} to {ci[1]:.3f})"


def per_language(
    y_true: Sequence[str], y_pred: Sequence[str], languages: Sequence[str], groups: Sequence[str] | None = None,
    seed: int = 0,
) -> dict[str, dict]:  # fmt: skip
    """{language: {accuracy, macro_f1, n, accuracy_ci, macro_f1_ci}}, languages by descending row count."""
    from sklearn.metrics import accuracy_score, f1_score

    langs = np.asarray(languages, dtype=object)
    t, p = np.asarray(y_true, dtype=object), np.asarray(y_pred, dtype=object)
    out = {}
    values, counts = np.unique(langs, return_counts=True)
    for lang in values[np.argsort(-counts, kind="stable")]:
        m = langs == lang
        present = sorted(set(t[m].tolist()))
        kept = None if groups is None else np.asarray(groups, dtype=object)[m].tolist()
        intervals = bootstrap_intervals(t[m].tolist(), p[m].tolist(), sorted(set(t[m]) | set(p[m])), kept, seed)
        out[str(lang)] = {
            "accuracy": _round(accuracy_score(t[m], p[m])),
            "macro_f1": _round(f1_score(t[m], p[m], labels=present, average="macro", zero_division=0)),
            "n": int(m.sum()),
            "accuracy_ci": intervals["accuracy"],
            "macro_f1_ci": intervals["macro_f1"],
        }
    return out


def label_matrix(sets: Sequence[Sequence[str]], labels: Sequence[str]) -> np.ndarray:
    """(rows, labels) 0/1: which of ``labels`` each row's set holds (others ignored)."""
    index = {c: j for j, c in enumerate(labels)}
    out = np.zeros((len(sets), len(labels)), dtype=np.int64)
    for i, row in enumerate(sets):
        out[i, [index[c] for c in row if c in index]] = 1
    return out


def _multilabel_scores(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, row_f1: np.ndarray, rows: np.ndarray):
    """micro-F1, macro-F1 (labels with a true row), samples-F1 and each label's F1 from summed counts: ``tp``,
    ``fp``, ``fn`` are (..., labels), ``row_f1`` the summed per-row F1 and ``rows`` the rows summed."""
    with np.errstate(invalid="ignore", divide="ignore"):
        micro = 2 * tp.sum(-1) / (2 * tp.sum(-1) + fp.sum(-1) + fn.sum(-1))
        f1 = np.where(tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), np.nan)
        present = tp + fn > 0
        macro = np.where(present, np.nan_to_num(f1), 0).sum(-1) / present.sum(-1)
        return micro, macro, row_f1 / rows, f1


def multilabel_metrics(
    y_true: Sequence[Sequence[str]],
    y_pred: Sequence[Sequence[str]],
    labels: Sequence[str],
    languages: Sequence[str] | None = None,
    groups: Sequence[str] | None = None,
    seed: int = 0,
) -> dict:
    """Figures for several labels per row (``y_true``, ``y_pred``: each row's labels): micro-F1 (every decision
    pooled), macro-F1 (each label's F1 averaged: a rare label counts as much as a common one), samples-F1 (each
    row's F1 averaged), exact-match share, per label precision/recall/F1/support, per language; each with its
    95% interval resampling the meaning ``groups`` as :func:`classification_metrics` does. ``macro_f1`` and
    ``accuracy`` (here the exact-match share) keep the keys single-label figures use."""
    labels = list(labels)
    T, P = label_matrix(y_true, labels), label_matrix(y_pred, labels)
    tp, fp, fn = T & P, (1 - T) & P, T & (1 - P)
    sizes = T.sum(1) + P.sum(1)
    row_f1 = np.where(sizes > 0, 2 * tp.sum(1) / np.maximum(sizes, 1), 1.0)  # nothing given, nothing predicted: right
    exact = (T == P).all(axis=1).astype(np.float64)
    micro, macro, samples, f1 = _multilabel_scores(tp.sum(0), fp.sum(0), fn.sum(0), row_f1.sum(), len(T))
    W = _group_weights(groups, len(T), seed)
    if _too_few(groups, len(T)):  # no spread to show: every interval None
        W = np.full((1, len(T)), np.nan)
    r_micro, r_macro, r_samples, r_f1 = _multilabel_scores(W @ tp, W @ fp, W @ fn, W @ row_f1, W.sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(tp.sum(0) + fp.sum(0) > 0, tp.sum(0) / (tp.sum(0) + fp.sum(0)), 0)
        recall = np.where(tp.sum(0) + fn.sum(0) > 0, tp.sum(0) / (tp.sum(0) + fn.sum(0)), 0)
    result = {
        "n": len(T),
        "multi_label": True,
        "micro_f1": _round(micro),
        "micro_f1_ci": _interval(r_micro),
        "macro_f1": _round(macro),
        "macro_f1_ci": _interval(r_macro),
        "samples_f1": _round(samples),
        "samples_f1_ci": _interval(r_samples),
        "accuracy": _round(exact.mean()),  # exact match: every label of the row right
        "accuracy_ci": _interval((W @ exact) / W.sum(1)),
        "labels": labels,
        "per_class": {
            c: {
                "precision": _round(precision[j]),
                "recall": _round(recall[j]),
                "f1": _round(np.nan_to_num(f1[j])),
                "support": int(T[:, j].sum()),
                "f1_ci": _interval(r_f1[:, j]),
            }
            for j, c in enumerate(labels)
        },
    }
    if languages is not None:
        langs = np.asarray(languages, dtype=object)
        values, counts = np.unique(langs, return_counts=True)
        result["per_language"] = {}
        for lang in values[np.argsort(-counts, kind="stable")]:
            m = langs == lang
            kept = None if groups is None else np.asarray(groups, dtype=object)[m].tolist()
            sub = multilabel_metrics(
                [y_true[i] for i in np.flatnonzero(m)], [y_pred[i] for i in np.flatnonzero(m)], labels, None, kept, seed
            )
            result["per_language"][str(lang)] = {
                k: sub[k] for k in ("micro_f1", "micro_f1_ci", "macro_f1", "macro_f1_ci", "samples_f1", "accuracy",
                                    "accuracy_ci", "n")
            }  # fmt: skip
    return result


def measure(
    truth: Sequence, predicted: Sequence, labels: Sequence[str], languages: Sequence[str] | None = None,
    groups: Sequence[str] | None = None, seed: int = 0,
) -> dict:  # fmt: skip
    """:func:`classification_metrics`, or :func:`multilabel_metrics` where rows hold tuples of labels."""
    several = any(isinstance(v, tuple) for v in (*truth, *predicted))
    measured = multilabel_metrics if several else classification_metrics
    return measured(truth, predicted, labels, languages, groups, seed)


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
    if metrics.get("multi_label"):  # as scikit-learn reports several labels per row
        return "\n".join([
            *lines, "",
            f"{'micro avg':>{width}}  {'':9} {'':9} {metrics['micro_f1']:9.4f} {n:9d}",
            f"{'macro avg':>{width}}  {macro[0]:9.4f} {macro[1]:9.4f} {metrics['macro_f1']:9.4f} {n:9d}",
            f"{'samples avg':>{width}}  {'':9} {'':9} {metrics['samples_f1']:9.4f} {n:9d}",
            f"{'exact match':>{width}}  {'':9} {'':9} {metrics['accuracy']:9.4f} {n:9d}",
        ])  # fmt: skip
    lines += [
        "",
        f"{'accuracy':>{width}}  {'':9} {'':9} {metrics['accuracy']:9.4f} {n:9d}",
        f"{'macro avg':>{width}}  {macro[0]:9.4f} {macro[1]:9.4f} {metrics['macro_f1']:9.4f} {n:9d}",
    ]
    return "\n".join(lines)
