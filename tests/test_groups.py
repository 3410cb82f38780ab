"""Meaning groups: found from the real model's embeddings on real parallel data, given by a column, and kept
on one side of the split, so that no test row has its translation among the training rows."""

from __future__ import annotations

from collections import Counter

import numpy as np

from tests.conftest import sib, tatoeba, umsab, write_csv
from xlmr_demo.columns import detect_columns
from xlmr_demo.dataset import load_dataset, with_found_groups
from xlmr_demo.groups import find_groups
from xlmr_demo.table import Table

SIB_LANGS = ("spa_Latn", "pol_Latn", "kor_Hang", "ukr_Cyrl")


def test_translations_are_grouped_and_unrelated_tweets_are_not(encoder):
    from xlmr_demo.encoders import embed

    foreign, english = tatoeba("deu", 200)
    X = embed(foreign + english, model=encoder).embeddings
    grouping = find_groups(X, foreign + english, ["de"] * 200 + ["en"] * 200)
    together = sum(grouping.groups[k] == grouping.groups[200 + k] for k in range(200))
    assert together >= 150  # measured: 177 of 200 (bench/results/groups.md: recall on all of Tatoeba)
    rows = umsab("test", 150)  # tweets in four languages: none is a translation of another
    texts = [t for t, _, _ in rows]
    X = embed(texts, model=encoder).embeddings
    grouping = find_groups(X, texts, [lang for _, _, lang in rows])
    assert grouping.grouped_rows <= 0.02 * len(texts)


def test_without_a_group_column_no_test_row_keeps_its_translation_in_training(tmp_path, encoder):
    from xlmr_demo.encoders import embed

    rows = sib(SIB_LANGS, 150)
    path = write_csv(tmp_path / "sib.csv", ["language", "category", "text"], [r[1:] for r in rows])
    dataset = load_dataset(path)
    assert dataset.columns.group is None and dataset.grouping.source == "text"
    meaning = np.array([r[0] for r in rows], dtype=object)
    splits = np.asarray(dataset.splits)

    def leaked(splits: np.ndarray) -> float:
        learnt = set(meaning[splits != "test"].tolist())
        return float(np.mean([m in learnt for m in meaning[splits == "test"]]))

    assert leaked(splits) > 0.8  # rows alone: nearly every test sentence is trained on in another language
    found = with_found_groups(dataset, embed(dataset.texts, model=encoder).embeddings)
    assert found.grouping.source == "found" and found.grouping.grouped_rows > 0.9 * len(rows)
    assert leaked(np.asarray(found.splits)) < 0.05
    assert Counter(found.splits)["test"] > 0.15 * len(rows)  # still a fifth or so tested


def test_a_group_column_is_found_by_name_or_by_ids_that_recur_across_languages(tmp_path):
    rows = sib(SIB_LANGS, 20)
    named = load_dataset(write_csv(tmp_path / "a.csv", ["index_id", "language", "category", "text"], rows))
    assert named.columns.group == "index_id" and named.grouping.multi_row_groups == 20
    unnamed = Table(["ref", "language", "category", "text"], [list(r) for r in rows])
    assert detect_columns(unnamed, "b.csv", ("text", "label", "language", "split", "group")).group == "ref"
    # a label recurs across languages too, but many times in each: never taken for a group
    no_ids = Table(["language", "category", "text"], [list(r[1:]) for r in rows])
    assert detect_columns(no_ids, "c.csv", ("text", "label", "language", "split", "group")).group is None


def test_groups_never_straddle_the_split_and_a_split_column_that_does_is_counted(tmp_path):
    sample = load_dataset("assets/sample_parallel.csv")
    by_group: dict[str, set[str]] = {}
    for g, s in zip(sample.groups, sample.splits, strict=True):
        by_group.setdefault(g, set()).add(s)
    assert len(by_group) == 48 and all(len(s) == 1 for s in by_group.values())
    assert len(sample.leaked_test_rows()) == 0
    rows = sib(SIB_LANGS, 20)
    splits = ["test" if lang == "sp" else "train" for _, lang, _, _ in rows]  # the Spanish rows tested
    path = write_csv(
        tmp_path / "s.csv",
        ["index_id", "language", "category", "text", "split"],
        [[*r, s] for r, s in zip(rows, splits, strict=True)],
    )
    dataset = load_dataset(path)
    assert dataset.splits_given and len(dataset.leaked_test_rows()) == 20  # each has its Polish translation in train


def test_a_corrected_dataset_is_measured_on_the_split_it_was_trained_on(tmp_path, encoder):
    from xlmr_demo.corrections import corrected_dataset
    from xlmr_demo.training import train_classifier

    rows = sib(SIB_LANGS, 60)
    path = write_csv(tmp_path / "sib.csv", ["language", "category", "text"], [r[1:] for r in rows])
    first = train_classifier(load_dataset(path), encoder, transfer=False, label_issues=False)
    trained = first.dataset
    assert trained.grouping.source == "found"
    row = trained.rows[trained.indices("train")[0]]
    label = trained.labels[trained.indices("train")[0]]
    other = next(c for c in trained.classes if c != label)
    again = train_classifier(corrected_dataset(trained, {row: other}), encoder, transfer=False, label_issues=False)
    assert again.dataset.splits == trained.splits and again.evaluated["rows"] == first.evaluated["rows"]


def test_an_evaluation_file_holding_translations_of_training_rows_is_measured_without_them(tmp_path, encoder):
    from xlmr_demo.training import train_classifier

    spanish, polish = sib(("spa_Latn",), 120), sib(("pol_Latn",), 120)
    header = ["language", "category", "text"]
    train = load_dataset(write_csv(tmp_path / "train.csv", header, [r[1:] for r in spanish[:80]]))
    # meanings 40-79 are translations of training rows, 80-119 are new
    held_out = load_dataset(write_csv(tmp_path / "eval.csv", header, [r[1:] for r in polish[40:]]), purpose="evaluate")
    m = train_classifier(train, encoder, eval_dataset=held_out, transfer=False, label_issues=False).metrics
    assert 34 <= m["leaked_test_rows"] <= 42  # measured: most of the 40 translations found, none of the new rows
    assert m["unseen_meanings"]["n"] == 80 - m["leaked_test_rows"]
    low, high = m["unseen_meanings"]["macro_f1_ci"]
    assert low <= m["unseen_meanings"]["macro_f1"] <= high
