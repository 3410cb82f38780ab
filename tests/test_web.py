"""The web package in process: callbacks' input checks and error handling, without a server or a browser."""

from __future__ import annotations

import logging

import gradio as gr
import pytest

from xlmr_demo.errors import UserError
from xlmr_demo.web import callbacks
from xlmr_demo.web.visitors import user_errors


def test_an_api_caller_sending_a_list_for_text_gets_a_message_not_a_crash():
    with pytest.raises(gr.Error, match="Expected text for sentences, not list"):
        callbacks.compare(["Good night", "Bonne nuit"], "embedded")


def test_a_users_error_is_their_message_and_leaves_no_traceback_in_the_log():
    @user_errors
    def refuse(text: str):
        raise UserError(f"The column {text!r} is empty.")

    with pytest.raises(gr.Error) as shown:
        refuse("Ventes Q3")
    assert shown.value.message == "The column 'Ventes Q3' is empty." and not shown.value.print_exception
    assert shown.value.duration is None  # it stays on the page until read


@pytest.mark.parametrize("public", [False, True])
def test_an_unexpected_error_is_logged_and_in_public_mode_without_what_the_visitor_sent(public, monkeypatch, caplog):
    monkeypatch.setenv("XLMR_DEMO_PUBLIC", "1" if public else "0")

    @user_errors
    def crash(text: str):
        raise RuntimeError(f"cannot handle {text}")

    with caplog.at_level(logging.ERROR), pytest.raises(gr.Error, match="Something went wrong on the server"):
        crash("my customer's complaint")
    assert "RuntimeError" in caplog.text and "crash" in caplog.text  # what failed, and where
    assert ("my customer's complaint" in caplog.text) is not public


def test_a_new_check_forgets_the_old_results_but_keeps_the_classifier_for_predictions():
    from xlmr_demo.web import training
    from xlmr_demo.web.runner import end_session
    from xlmr_demo.web.visitors import LOCAL_SESSION, SESSIONS

    session = SESSIONS.get(LOCAL_SESSION)
    try:
        callbacks.load_sample()
        classifier = object()
        session.result, session.classifier = object(), classifier  # as a finished training leaves them
        report, _ = callbacks.check_data("text", "pair_id", "language", "(none)")  # other labels now
        assert "usable rows" in report
        assert session.result is None and session.classifier is classifier
        with pytest.raises(gr.Error, match="Train a classifier first"):
            training.training_report()
    finally:
        end_session()


@pytest.mark.parametrize("public", [False, True])
def test_a_file_that_breaks_a_reader_is_logged_without_its_name_in_public_mode(public, monkeypatch, caplog, tmp_path):
    from xlmr_demo import readers

    def fails(path, name, *args):  # a reader's unforeseen failure on what the file holds
        raise ValueError(f"cannot parse {path.read_text()!r}")

    monkeypatch.setenv("XLMR_DEMO_PUBLIC", "1" if public else "0")
    monkeypatch.setattr(readers, "_read_delimited", fails)
    broken = tmp_path / "acme_customers.csv"
    broken.write_text("text\nour secret price list\n")
    with caplog.at_level(logging.WARNING), pytest.raises(UserError, match="could not be read"):
        readers.read_table(broken)
    assert "could not read" in caplog.text and "ValueError" in caplog.text and "fails" in caplog.text
    assert ("acme_customers" in caplog.text) is not public and ("secret price" in caplog.text) is not public


def test_relabelling_from_the_map_reaches_the_file_and_the_checked_data_and_says_what_it_cannot(encoder):
    from xlmr_demo.readers import read_table
    from xlmr_demo.table import Table
    from xlmr_demo.web import explore
    from xlmr_demo.web.runner import end_session
    from xlmr_demo.web.visitors import LOCAL_SESSION, SESSIONS

    from .conftest import SAMPLE

    session = SESSIONS.get(LOCAL_SESSION)
    sample = read_table(SAMPLE)
    rows = [list(r) for r in sample.rows[:96]]
    rows[1][2] = ""  # file row 2 has no label: the check leaves it out
    for row in rows[-8:]:  # a meaning in 8 languages with two labels (one class until several are ticked)
        row[2] = "weather, food"
    try:
        session.set_table(Table(sample.columns, rows), "few.csv")
        callbacks.check_data("text", "topic", "language", "(none)", "pair_id")
        list(callbacks.embedding_map("pca", "2", "language", True, [], False, 0, "en"))
        with pytest.raises(gr.Error, match="a word the corrections use"):
            explore.relabel_selection("0 1", "Remove")  # would delete the rows
        words, file, _ = explore.relabel_selection("0 1", "rain")
        assert words.startswith("**2 rows now labelled 'rain'**") and "1 of them (file row 2) were left out" in words
        assert [r[2] for r in read_table(file).rows[:3]] == ["rain", "rain", rows[2][2]]
        assert session.dataset.labels[session.dataset.rows.index(1)] == "rain" and 2 not in session.dataset.rows
        callbacks.check_data("text", "topic", "language", "(none)", "pair_id", True)  # several labels per row
        list(callbacks.embedding_map("pca", "2", "language", True, [], False, 0, "en"))
        with pytest.raises(gr.Error, match="holds only separators"):
            explore.relabel_selection("3", ", ,")
        explore.relabel_selection("3", "sun, rain , sun")
        assert session.dataset.label_sets[session.dataset.rows.index(4)] == ("rain", "sun")
    finally:
        end_session()
