"""Several labels per row: detected in a column, learnt one yes-or-no per label with its own threshold, measured
with micro-, macro- and samples-F1 and their intervals. Real model, real XED emotions (English and Finnish)."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from xlmr_demo.classifier import Classifier
from xlmr_demo.cli import main
from xlmr_demo.corrections import corrected_table, parse_decisions
from xlmr_demo.dataset import DataConfig, prepare_dataset, several_labels
from xlmr_demo.encoders import embed
from xlmr_demo.errors import UserError
from xlmr_demo.heads import Head, HeadConfig
from xlmr_demo.metrics import label_matrix, multilabel_metrics, paired_difference
from xlmr_demo.table import Table
from xlmr_demo.training import train_classifier

from .conftest import write_csv, xed


@pytest.fixture(scope="module")
def emotions(encoder) -> Table:
    rows = [[t, labels, "en"] for t, labels in xed("en-annotated.tsv", 1200)]
    rows += [[t, labels, "fi"] for t, labels in xed("fi-annotated.tsv", 600)]
    return Table(["text", "emotions", "language"], rows)


def test_a_column_of_several_labels_is_noticed_and_one_of_sentences_is_not(emotions):
    assert several_labels(emotions.column("emotions")) == ","
    assert several_labels(emotions.column("text")) is None  # sentences with commas are not label lists
    assert several_labels(["pos", "neg", "neutral", "pos"]) is None
    assert several_labels(["a|b", "b", "c|a", "a"]) == "|"
    with pytest.raises(UserError, match=r"hold several labels separated by ','.*tick 'Several labels per row'"):
        prepare_dataset(emotions, "xed.csv", label_column="emotions")  # as one class per cell: combinations of one


def test_each_label_is_one_class_however_it_is_spelled_and_bad_cells_are_refused():
    cells = ["joy, fear", "joy", "Joy ", "fear ; x"] * 3
    table = Table(["text", "label"], [[f"text {i}", v] for i, v in enumerate(cells)])
    with pytest.raises(UserError, match="on every row"):
        prepare_dataset(Table(["text", "label"], [[f"t{i}", "a, b" if i % 2 else "a"] for i in range(8)]), "f",
                        config=DataConfig(label_separator=","))  # fmt: skip
    data = prepare_dataset(table, "f.csv", config=DataConfig(label_separator=","))
    assert data.label_sets[:4] == [("fear", "joy"), ("joy",), ("joy",), ("fear ; x",)]
    assert data.classes == ["fear", "fear ; x", "joy"] and any("'Joy'" in n for n in data.notes)
    with pytest.raises(UserError, match="only separators"):
        prepare_dataset(Table(["text", "label"], [["a", "x, y"], ["b", " , "], ["c", "x"], ["d", "y"]]), "f",
                        config=DataConfig(label_separator=","))  # fmt: skip
    with pytest.raises(UserError, match="No cell of the label column"):
        prepare_dataset(Table(["text", "label"], [["a", "x"], ["b", "y"], ["c", "x"], ["d", "y"]]), "f",
                        config=DataConfig(label_separator="auto"))  # fmt: skip


def test_a_column_of_separators_only_and_none_among_labels_are_handled():
    assert several_labels([",", ", ", ","]) is None  # nothing but separators: no labels, no crash
    with pytest.raises(UserError):
        prepare_dataset(Table(["text", "label"], [["a", ","], ["b", ","]]), "f", config=DataConfig(label_separator=","))
    data = prepare_dataset(
        Table(["text", "label"], [[f"t{i}", v] for i, v in enumerate(["a, none", "b", "a, b", "b, nan"] * 3)]),
        "f", config=DataConfig(label_separator=","),
    )  # fmt: skip
    assert data.classes == ["a", "b"]


def test_thresholds_need_ten_validation_rows_of_their_label():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 8)).astype(np.float32)
    y = [("a",) if x[0] > 0 else ("b",) if x[1] > 0 else ("a", "c") for x in X]
    rare = [("c",)] * 3 + [("a",)] * 37  # three validation rows of "c": too few to choose its threshold on
    head = Head(HeadConfig(kind="logreg", multi_label=True)).fit(X[:260], y[:260], X[260:], rare)
    assert head.thresholds_[list(head.classes_).index("c")] == 0.5


def test_figures_agree_with_scikit_learn_and_carry_intervals():
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(0)
    labels = ["a", "b", "c", "d"]
    truth = [tuple(c for c in labels if rng.random() < 0.3) for _ in range(300)]
    predicted = [tuple(c for c in labels if (c in t) != (rng.random() < 0.2)) for t in truth]
    m = multilabel_metrics(truth, predicted, labels, ["en", "fi"] * 150)
    T, P = label_matrix(truth, labels), label_matrix(predicted, labels)
    assert m["micro_f1"] == pytest.approx(f1_score(T, P, average="micro"), abs=1e-4)
    assert m["macro_f1"] == pytest.approx(f1_score(T, P, average="macro"), abs=1e-4)
    assert m["samples_f1"] == pytest.approx(f1_score(T, P, average="samples", zero_division=1), abs=1e-4)
    for key in ("micro_f1", "macro_f1", "samples_f1", "accuracy"):
        low, high = m[f"{key}_ci"]
        assert low < m[key] < high
    assert set(m["per_language"]) == {"en", "fi"} and "micro_f1_ci" in m["per_language"]["fi"]
    change = paired_difference(truth, predicted, truth)  # the same rows, corrected to the truth: macro-F1 over labels
    assert change["difference"] == pytest.approx(1 - m["macro_f1"], abs=1e-4) and change["clear"]


def test_a_label_per_yes_or_no_beats_one_vs_rest_logistic_regression_and_loads_back(emotions, tmp_path):
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    data = prepare_dataset(emotions, "xed.csv", label_column="emotions", config=DataConfig(label_separator=","))
    result = train_classifier(data, "embedded", label_issues=False, transfer=False)
    m = result.metrics
    assert m["multi_label"] and set(m["per_language"]) == {"en", "fi"}
    X = embed(data.texts).embeddings
    train, test = data.indices("train"), data.indices("test")
    Y = label_matrix(data.label_sets, data.classes)
    peer = OneVsRestClassifier(LogisticRegression(max_iter=1000)).fit(X[train], Y[train]).predict(X[test])
    peer_sets = [tuple(c for c, v in zip(data.classes, row, strict=True) if v) for row in peer]
    truth = [data.label_sets[i] for i in test]
    assert m["macro_f1"] > multilabel_metrics(truth, peer_sets, data.classes)["macro_f1"] + 0.05
    head = result.classifier.head
    assert head.config.multi_label and ((head.thresholds_ > 0) & (head.thresholds_ < 1)).all()
    result.classifier.save(tmp_path / "ml")
    loaded = Classifier.load(tmp_path / "ml")
    texts = [data.texts[i] for i in test[:50]]
    assert loaded.predict_sets(texts) == result.classifier.predict_sets(texts)
    assert any(len(s) > 1 for s in loaded.predict_sets(texts))


def test_a_saved_head_with_thresholds_outside_0_to_1_is_refused(emotions):
    data = prepare_dataset(emotions, "xed.csv", label_column="emotions", config=DataConfig(label_separator=","))
    X = embed(data.texts).embeddings
    head = Head(HeadConfig(kind="logreg", multi_label=True)).fit(
        X[:300], data.targets[:300], X[300:400], data.targets[300:400]
    )
    tensors = {**head.tensors(), "thresholds": np.full(len(head.classes_), 1.5, np.float32)}
    with pytest.raises(UserError, match="thresholds outside 0 to 1"):
        Head.from_saved(head.settings(), tensors)
    assert Head.from_saved(head.settings(), head.tensors()).predict(X[:5]).tolist() == head.predict(X[:5]).tolist()


def test_corrections_of_several_labels_rewrite_the_cell():
    decisions = parse_decisions([(3, "Joy ; fear"), (4, "remove"), (5, "keep")], [3, 4, 5], ["fear", "joy"], ";")
    assert decisions == {3: ("fear", "joy"), 4: "remove"}
    table = Table(["text", "label"], [[f"t{i}", "joy"] for i in range(5)])
    assert corrected_table(table, "label", decisions, ";").rows[2] == ["t2", "fear; joy"]
    with pytest.raises(UserError, match="separated by ';'"):
        parse_decisions([(3, "joy; rage")], [3], ["fear", "joy"], ";")


def test_cli_trains_several_labels_and_predicts_them(emotions, tmp_path, capsys):
    data = write_csv(tmp_path / "xed.csv", emotions.columns, emotions.rows[:600])
    head, out = tmp_path / "head", tmp_path / "out.csv"
    assert main(["train", str(data), "--label-column", "emotions", "--multi-label", "--output", str(head)]) == 0
    assert "micro-F1" in capsys.readouterr().out
    assert main(["predict", str(head), str(data), "--output", str(out)]) == 0
    one_each = write_csv(tmp_path / "one.csv", ["text", "emotions"], [["I am so happy!", "joy"], ["Go away.", "anger"]])
    assert main(["evaluate", str(head), str(one_each), "--label-column", "emotions"]) == 0  # one label a row: fine
    with out.open(encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    assert "predicted_labels" in rows[0] and "prob_joy" in rows[0] and "confidence" not in rows[0]
    assert main(["train", str(data), "--label-separator", ";", "--output", str(tmp_path / "x")]) == 2
    assert "--label-separator goes with --multi-label" in capsys.readouterr().err
