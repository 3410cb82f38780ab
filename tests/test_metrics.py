"""Metrics agree with scikit-learn and are arranged as metrics.json promises."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import classification_report as sk_report
from sklearn.metrics import f1_score

from xlmr_demo.metrics import (
    bootstrap_intervals,
    classification_metrics,
    classification_report,
    mean_language_macro_f1,
    paired_difference,
)

TRUE = ["pos", "neg", "neu", "pos", "neg", "pos", "neu", "neg", "pos", "neu"]
PRED = ["pos", "neg", "pos", "pos", "neu", "neg", "neu", "neg", "pos", "pos"]
LANG = ["en", "en", "en", "fr", "fr", "fr", "ar", "ar", "ar", "ar"]


def test_numbers_match_scikit_learn():
    m = classification_metrics(TRUE, PRED, ["neg", "neu", "pos"], LANG)
    reference = sk_report(TRUE, PRED, output_dict=True, zero_division=0)
    assert m["accuracy"] == round(reference["accuracy"], 4)
    assert m["macro_f1"] == round(reference["macro avg"]["f1-score"], 4)
    for label in ("neg", "neu", "pos"):
        for key, ref_key in (("precision", "precision"), ("recall", "recall"), ("f1", "f1-score")):
            assert m["per_class"][label][key] == round(reference[label][ref_key], 4)
        assert m["per_class"][label]["support"] == reference[label]["support"]
    assert m["confusion_matrix"] == [[2, 1, 0], [0, 1, 2], [1, 0, 3]]


def test_per_language_scores_each_language_alone():
    m = classification_metrics(TRUE, PRED, ["neg", "neu", "pos"], LANG)
    assert list(m["per_language"]) == ["ar", "en", "fr"]  # by row count, then name
    ar = [i for i, lang in enumerate(LANG) if lang == "ar"]
    expected = f1_score([TRUE[i] for i in ar], [PRED[i] for i in ar], average="macro")
    ar_scores = {k: m["per_language"]["ar"][k] for k in ("accuracy", "macro_f1", "n")}
    assert ar_scores == {"accuracy": 0.75, "macro_f1": round(expected, 4), "n": 4}
    low, high = m["per_language"]["ar"]["accuracy_ci"]
    assert low <= 0.75 <= high and high - low > 0.25  # four rows: a wide range
    assert mean_language_macro_f1(m) == round(np.mean([v["macro_f1"] for v in m["per_language"].values()]), 4)


def test_a_class_absent_from_the_test_rows_does_not_drag_macro_f1():
    m = classification_metrics(["a", "a", "b"], ["a", "a", "b"], ["a", "b", "c"])
    assert m["macro_f1"] == 1.0
    assert m["per_class"]["c"]["support"] == 0


def test_report_reads_like_scikit_learns():
    text = classification_report(classification_metrics(TRUE, PRED, ["neg", "neu", "pos"]))
    assert "precision    recall  f1-score   support" in text
    assert text.splitlines()[2].split() == ["neg", "0.6667", "0.6667", "0.6667", "3"]
    assert "macro avg" in text and "accuracy" in text


def _noisy(n_groups: int, per_group: int, accuracy: float, seed: int = 0):
    """Groups of ``per_group`` rows that share a label and are all right or all wrong together (translations)."""
    rng = np.random.default_rng(seed)
    truth, predicted, groups = [], [], []
    for g in range(n_groups):
        label = str(rng.integers(3))
        right = rng.random() < accuracy
        for _ in range(per_group):
            truth.append(label)
            predicted.append(label if right else str((int(label) + 1) % 3))
            groups.append(f"g{g}")
    return truth, predicted, groups


def test_intervals_resample_groups_so_translations_do_not_count_as_independent_evidence():
    truth, predicted, groups = _noisy(40, 8, 0.8)
    by_group = bootstrap_intervals(truth, predicted, ["0", "1", "2"], groups)
    by_row = bootstrap_intervals(truth, predicted, ["0", "1", "2"])
    width = {name: ci["accuracy"][1] - ci["accuracy"][0] for name, ci in (("group", by_group), ("row", by_row))}
    assert width["group"] > 2 * width["row"]  # 40 pieces of evidence, not 320
    m = classification_metrics(truth, predicted, ["0", "1", "2"], groups=groups)
    assert m["macro_f1_ci"][0] <= m["macro_f1"] <= m["macro_f1_ci"][1]
    assert all(c["f1_ci"][0] <= c["f1"] <= c["f1_ci"][1] for c in m["per_class"].values())
    assert classification_metrics(truth, predicted, ["0", "1", "2"], groups=groups)["macro_f1_ci"] == m["macro_f1_ci"]


def test_intervals_cover_the_figure_on_new_data_about_95_times_in_100():
    """Seeded draws from one process: the interval from one sample holds the accuracy of the process."""
    covered = 0
    for seed in range(100):
        truth, predicted, groups = _noisy(60, 4, 0.7, seed)
        low, high = bootstrap_intervals(truth, predicted, ["0", "1", "2"], groups, seed)["accuracy"]
        covered += low <= 0.7 <= high
    assert 88 <= covered <= 100


def test_a_paired_difference_says_whether_it_is_larger_than_the_noise():
    truth, predicted, groups = _noisy(50, 4, 0.7)
    better = list(truth)  # right everywhere
    assert paired_difference(truth, predicted, better, groups)["clear"]
    one_more = list(predicted)
    k = next(i for i, (t, p) in enumerate(zip(truth, predicted, strict=True)) if t != p)
    one_more[k] = truth[k]  # one row more right: within the noise
    d = paired_difference(truth, predicted, one_more, groups)
    assert d["difference"] > 0 and not d["clear"] and d["ci"][0] <= 0 <= d["ci"][1]


def test_a_share_interval_holds_the_share_and_widens_when_rows_come_in_meaning_groups():
    from xlmr_demo.metrics import share_interval

    hits = np.repeat(np.random.default_rng(0).random(100) < 0.7, 4)  # each meaning four times, as translations
    alone = share_interval(hits)
    grouped = share_interval(hits, [str(i // 4) for i in range(400)])
    assert alone[0] < hits.mean() < alone[1] and grouped[0] < hits.mean() < grouped[1]
    assert grouped[1] - grouped[0] > 1.6 * (alone[1] - alone[0])  # 100 independent meanings, not 400 rows
    assert share_interval(np.zeros(0)) is None
