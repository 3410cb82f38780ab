"""From a table to a checked dataset: column detection, validation in plain words, splits."""

from __future__ import annotations

from collections import Counter

import pytest

from xlmr_demo.dataset import DataConfig, load_dataset, prepare_dataset
from xlmr_demo.errors import UserError
from xlmr_demo.table import Table

from .conftest import TEST_DATA

AWKWARD = TEST_DATA / "awkward"

DATASET_CASES = {
    # file: ("ok", rows kept, a warning/note that must appear) or ("error", message)
    "one_class.csv": ("error", "only one class"),
    "id_like_labels.csv": ("error", "looks like an ID"),
    "continuous_labels.csv": ("error", "continuous score"),
    "tiny_class.csv": ("error", "'rare' have fewer than 2 rows"),
    "no_text_column.csv": ("error", "no column that holds text"),
    "bad_split_values.csv": ("error", "holds 'later'"),
    "small_class.csv": ("ok", 15, "'rare' have fewer than 5 rows"),
    "blank_labels.csv": ("ok", 4, "Skipped 3 row(s) with an empty or NaN label (rows 3, 4, 5)"),
    "nan_text.csv": ("ok", 4, "Skipped 1 row(s) with an empty or NaN text (rows 1)"),
    "conflicting_duplicates.csv": ("ok", 6, "1 text(s) appear with different labels"),
    "numeric_labels.csv": ("ok", 6, "No language column"),
    "split_column.csv": ("ok", 20, None),
    "blank_texts.csv": ("ok", 4, "Skipped 2 row(s) with an empty or NaN text (rows 2, 3)"),
}


@pytest.mark.parametrize("name", sorted(DATASET_CASES))
def test_awkward_datasets(name):
    case = DATASET_CASES[name]
    if case[0] == "error":
        with pytest.raises(UserError, match=case[1]):
            load_dataset(AWKWARD / name)
        return
    dataset = load_dataset(AWKWARD / name)
    assert len(dataset.texts) == case[1]
    if case[2]:
        assert any(case[2] in m for m in dataset.warnings + dataset.notes), dataset.warnings + dataset.notes


def test_numeric_labels_keep_their_spelling_and_column_is_found():
    dataset = load_dataset(AWKWARD / "numeric_labels.csv")
    assert dataset.columns.label == "stars"
    assert set(dataset.labels) == {"1", "4", "5"}


def test_split_column_is_honoured_with_synonyms():
    dataset = load_dataset(AWKWARD / "split_column.csv")
    assert dataset.columns.split == "split"
    assert Counter(dataset.splits) == {"train": 12, "validation": 4, "test": 4}


def _table(rows: list[tuple[str, ...]], columns=("review", "category", "lang")) -> Table:
    return Table(columns=list(columns), rows=[list(r) for r in rows])


def test_columns_are_detected_by_name_and_content():
    rows = [
        (f"a fairly long review number {i}", "good" if i % 2 else "bad", "en" if i % 3 else "fr") for i in range(30)
    ]
    dataset = prepare_dataset(_table(rows), "t")
    assert (dataset.columns.text, dataset.columns.label, dataset.columns.language) == ("review", "category", "lang")
    assert not dataset.languages_detected


def test_overrides_must_name_existing_columns():
    with pytest.raises(UserError, match="Expected a label column named 'stars'; found columns: review, category, lang"):
        prepare_dataset(_table([("x", "y", "en")]), "t", label_column="stars")


def test_stratified_split_is_seeded_and_keeps_duplicates_together():
    rows = [(f"text {i % 40}", "pos" if i % 2 else "neg", "en" if i < 60 else "de") for i in range(100)]
    a = prepare_dataset(_table(rows), "t", config=DataConfig(seed=1))
    b = prepare_dataset(_table(rows), "t", config=DataConfig(seed=1))
    assert a.splits == b.splits
    by_text: dict[str, set[str]] = {}
    for text, split in zip(a.texts, a.splits, strict=True):
        by_text.setdefault(text, set()).add(split)
    assert all(len(s) == 1 for s in by_text.values()), "a text and its copy landed in different splits"
    for label in ("pos", "neg"):
        for lang in ("en", "de"):
            splits = {
                s for s, lab, lg in zip(a.splits, a.labels, a.languages, strict=True) if lab == label and lg == lang
            }
            assert "test" in splits and "train" in splits


def test_languages_are_detected_when_no_column_gives_them():
    rows = [
        ("The weather is lovely today and I am happy.", "pos"),
        ("Il fait très beau aujourd'hui, je suis content.", "pos"),
        ("Das Wetter ist heute furchtbar und ich bin traurig.", "neg"),
        ("El tiempo es horrible hoy y estoy triste.", "neg"),
    ]
    dataset = prepare_dataset(_table(rows, columns=("text", "label")), "t")
    assert dataset.languages == ["en", "fr", "de", "es"]
    assert dataset.languages_detected and any("py3langid" in n for n in dataset.notes)


def test_evaluation_data_keeps_every_row_for_testing():
    rows = [("a", "x", "en"), ("b", "y", "en"), ("c", "z", "fr")]  # one row per class: fine to score
    dataset = prepare_dataset(_table(rows), "t", purpose="evaluate")
    assert dataset.splits == ["test"] * 3


def test_too_many_classes(monkeypatch):
    monkeypatch.setenv("XLMR_DEMO_MAX_CLASSES", "3")
    rows = [(f"text {i}", f"class {i % 4}", "en") for i in range(20)]
    with pytest.raises(UserError, match=r"4 classes; the limit is 3\. Set XLMR_DEMO_MAX_CLASSES"):
        prepare_dataset(_table(rows), "t")


def test_label_spellings_that_differ_in_case_width_or_spaces_are_one_class():
    spellings = ["Neutral"] * 4 + ["neutral", "ＮＥＵＴＲＡＬ", "neutral  "] + ["Positive"] * 3 + ["POSITIVE"] * 3
    rows = [(f"text number {i}", label, "en") for i, label in enumerate(spellings)]
    dataset = prepare_dataset(_table(rows), "t")
    assert Counter(dataset.labels) == {"Neutral": 7, "Positive": 6}  # most frequent spelling; a tie: the first seen
    merges = [n for n in dataset.notes if "differ only in case" in n]
    assert merges == [
        "Labels that differ only in case, width or spaces are one class, 'Neutral': "
        "'Neutral' (4 rows), 'neutral' (2 rows), 'ＮＥＵＴＲＡＬ' (1 row).",
        "Labels that differ only in case, width or spaces are one class, 'Positive': "
        "'Positive' (3 rows), 'POSITIVE' (3 rows).",
    ]


def test_evaluation_labels_are_matched_to_the_classifiers_spelling():
    from xlmr_demo.dataset import match_classes

    assert match_classes(["neutral", "POSITIVE ", "other"], ["Neutral", "Positive"]) == ["Neutral", "Positive", "other"]


def test_the_check_report_counts_every_label_and_language():
    from xlmr_demo.views import dataset_report

    rows = [(f"text number {i}", "a" if i % 3 else "b", "en" if i < 6 else "fr") for i in range(12)]
    report = dataset_report(prepare_dataset(_table(rows), "t"))
    assert "Labels: a 8, b 4." in report and "Languages: en 6, fr 6." in report
