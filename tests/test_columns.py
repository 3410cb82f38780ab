"""Column roles: one detector for training, prediction and maps."""

from __future__ import annotations

import pytest

from xlmr_demo.columns import Columns, detect_columns
from xlmr_demo.errors import UserError
from xlmr_demo.table import Table

TEXTS = ["the rain kept falling all night", "a bowl of soup at the station", "snow on the tracks again"]


def table(**columns: list[str]) -> Table:
    return Table(columns=list(columns), rows=[list(r) for r in zip(*columns.values(), strict=True)])


def test_training_roles_found_by_cells_when_names_say_nothing():
    found = detect_columns(
        table(
            a=["1", "2", "3", "4"],
            b=[*TEXTS, "fog over the bay"],
            c=["x", "y", "x", "y"],
            d=["en", "de", "en", "fr"],
            e=["train", "test", "train", "dev"],
        ),
        "f.csv",
    )
    assert found == Columns(text="b", label="c", language="d", split="e")


def test_a_map_takes_a_label_only_by_its_name_and_a_pair_column_only_when_ids_repeat():
    roles = ("text", "language", "group", "label")
    unnamed = table(text=TEXTS, kind=["x", "y", "x"], group=["1", "2", "3"])
    assert detect_columns(unnamed, "f.csv", roles, required=("text",)) == Columns(text="text")
    named = table(text=TEXTS, sentiment=["x", "y", "x"], group=["1", "1", "2"])
    assert detect_columns(named, "f.csv", roles, required=("text",)) == Columns("text", "sentiment", group="group")


def test_a_given_column_is_kept_and_must_exist():
    t = table(body=TEXTS, review=TEXTS, label=["x", "y", "x"])
    assert detect_columns(t, "f.csv", text="body").text == "body"  # though "review" is a text name
    with pytest.raises(UserError, match="Expected a language column named 'lng'; found columns: body, review, label"):
        detect_columns(t, "f.csv", language="lng")


def test_missing_roles_are_refused_in_plain_words():
    with pytest.raises(UserError, match="Expected a label column"):
        detect_columns(table(text=TEXTS), "f.csv")
    with pytest.raises(UserError, match=r"f\.csv has no column that holds text"):
        detect_columns(table(id=["1", "2", "3"]), "f.csv", roles=("text",))


def test_a_group_column_that_is_the_label_column_is_refused():
    t = table(text=TEXTS, label=["x", "y", "x"], language=["en", "de", "fr"])
    with pytest.raises(UserError, match="The group column 'label' is also the label column"):
        detect_columns(t, "f.csv", ("text", "label", "language", "group"), label="label", group="label")
