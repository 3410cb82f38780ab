"""How many more rows: the learning curve of the data at hand, read forward (real UMSAB tweets, real model)."""

from __future__ import annotations

import numpy as np
import pytest

from xlmr_demo.dataset import prepare_dataset
from xlmr_demo.learning_curve import fit_curve, subsample
from xlmr_demo.table import Table
from xlmr_demo.training import MORE_ROWS, train_stages
from xlmr_demo.views import more_rows_words

from .conftest import umsab


def test_a_curve_read_forward_prices_the_next_points_and_a_flat_one_does_not():
    rising = fit_curve([10, 20, 40, 80], [0.50, 0.55, 0.60, 0.65])
    assert rising.per_doubling == pytest.approx(0.05)
    assert rising.rows_for(0.05) == pytest.approx(160)  # one more doubling for 5 more points
    assert rising.to_json()["rows_per_class_for_2_points"] == round(80 * 2**0.4)
    flat = fit_curve([10, 20, 40, 80], [0.60, 0.61, 0.60, 0.60])
    assert flat.rows_for(0.02) is None and flat.to_json()["rows_per_class_for_5_points"] is None
    noisy = fit_curve([10, 20, 40, 80], [0.50, 0.55, 0.60, 0.65], interval=[0.50, 0.80])  # rises 0.15, ±0.15
    assert not noisy.readable and noisy.rows_for(0.02) is None


def test_subsamples_take_each_class_alike_and_keep_meaning_groups_whole():
    rows = [[f"t{i}", "ab"[i % 2], "en", f"g{i // 2}"] for i in range(200)]  # pairs of rows share a group
    dataset = prepare_dataset(Table(["text", "label", "language", "group"], rows), "f.csv", group_column="group")
    train = dataset.indices("train")
    half = subsample(dataset, train, 0.5, seed=0)
    labels = np.asarray(dataset.labels)[half]
    assert abs(np.sum(labels == "a") - np.sum(labels == "b")) <= 2 and 0.4 < len(half) / len(train) < 0.6
    groups = np.asarray(dataset.groups)
    for g in set(groups[half]):
        assert set(np.flatnonzero(groups == g)) & set(train) <= set(half)


def test_the_last_stage_says_how_many_more_rows_and_where(encoder):
    rows = umsab("train", 150)
    dataset = prepare_dataset(Table(["text", "label", "language"], [list(r) for r in rows]), "umsab.csv")
    stages = list(train_stages(dataset, encoder, label_issues=False, transfer=False))
    assert stages[0].pending == (MORE_ROWS,) and "Being worked out" in more_rows_words(stages[0])
    curve = stages[-1].metrics["learning_curve"]
    overall = curve["overall"]
    assert overall["scores"][-1] == stages[-1].metrics["macro_f1"]  # the last point is the headline's
    assert overall["rows_per_class"] == sorted(overall["rows_per_class"])
    assert overall["scores"][-1] > overall["scores"][0]  # a quarter of 150 tweets per language is too few
    assert set(curve["per_language"]) <= {"en", "es", "fr", "ar"}
    words = more_rows_words(stages[-1])
    assert words.startswith("**How many more rows?**") and "each doubling added" in words
