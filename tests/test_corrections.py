"""A person's decisions on suspected label errors, applied to the checked data and to the file."""

from __future__ import annotations

import pytest

from xlmr_demo.corrections import REMOVE, corrected_dataset, corrected_table, describe, parse_decisions
from xlmr_demo.dataset import prepare_dataset
from xlmr_demo.errors import UserError
from xlmr_demo.table import Table

CLASSES = ["negative", "neutral", "positive"]


def test_a_class_called_remove_is_a_label_first():
    assert parse_decisions([(3, "Remove"), (4, "")], [3, 4], ["keep", "remove"]) == {3: "remove"}


def test_decisions_are_read_as_typed_in_any_spelling():
    typed = [(3, "Positive "), ("7", "ＮＥＧＡＴＩＶＥ"), (9, "keep"), (11, ""), (12, " Remove")]
    assert parse_decisions(typed, [3, 7, 9, 11, 12], CLASSES) == {3: "positive", 7: "negative", 12: REMOVE}


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ([(3, "postive")], "Row 3: 'postive' is not a label. Type one of negative, neutral, positive; or keep"),
        ([(4, "positive")], "Row 4 is not one of the suspected label errors"),
        ([("x" * 500, "positive")], "is not a row number"),
        ([(3, "p" * 100_000)], "is not a label"),
    ],
)
def test_decisions_that_cannot_be_applied_are_refused_by_row(typed, message):
    with pytest.raises(UserError, match=message):
        parse_decisions(typed, [3], CLASSES)


def test_decisions_change_the_data_and_the_file_alike():
    rows = [[f"text {i}", ["Neutral", "neutral", "positive", "negative"][i % 4], "x"] for i in range(1, 41)]
    table = Table(["text", "label", "other"], rows)
    dataset = prepare_dataset(table, "t")
    decisions = {2: "negative", 5: REMOVE}  # row 2 was "positive", row 5 "neutral"
    fixed = corrected_dataset(dataset, decisions)
    assert len(fixed.texts) == len(dataset.texts) - 1 and fixed.rows[:6] == [1, 2, 3, 4, 5, 6]  # 6 moved up
    assert fixed.labels[fixed.rows.index(2)] == "negative" and fixed.splits[0] == dataset.splits[0]
    assert fixed.notes[-1] == "Your corrections: 1 label corrected and 1 row removed."
    out = corrected_table(table, "label", decisions)
    assert len(out) == 39 and out.rows[1] == ["text 2", "negative", "x"] and ["text 5", "neutral", "x"] not in out.rows
    assert out.rows[0] == rows[0] and table.rows[1][1] == "positive"  # the source table is left as it was
    for i, row in enumerate(fixed.rows):  # the numbers name the rows of the corrected file
        assert out.rows[row - 1][0] == fixed.texts[i] and out.rows[row - 1][1] in (fixed.labels[i], "Neutral")
    assert describe({}) == "no change" and describe({1: REMOVE, 2: REMOVE}) == "2 rows removed"
