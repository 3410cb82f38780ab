"""Metrics agree with scikit-learn and are arranged as metrics.json promises."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import classification_report as sk_report
from sklearn.metrics import f1_score

from xlmr_demo.metrics import classification_metrics, classification_report, mean_language_macro_f1

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
    assert m["per_language"]["ar"] == {"accuracy": 0.75, "macro_f1": round(expected, 4), "n": 4}
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
