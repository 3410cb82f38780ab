"""``python -m xlmr_demo embed``: files in, .npy out; bad input gives one ``error:`` line and exit 2."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from xlmr_demo.cli import main

from .conftest import ROOT, TEST_DATA


def run(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().err


def test_embed_txt_writes_rows_in_input_order(tmp_path, capsys, encoder):
    src = tmp_path / "in.txt"
    src.write_text("Guten Morgen\nGood morning\nBonsoir\n", encoding="utf-8")
    out = tmp_path / "out.npy"
    code, err = run(capsys, "embed", str(src), "--output", str(out))
    assert code == 0, err
    vectors = np.load(out)
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(vectors, encoder.encode(["Guten Morgen", "Good morning", "Bonsoir"]), atol=2e-3)


def test_embed_csv_column_with_quotes_and_newlines(tmp_path, capsys, encoder):
    src = tmp_path / "in.csv"
    src.write_text('id,review\n1,"Très bien, merci"\n2,"two\nlines"\n', encoding="utf-8")
    out = tmp_path / "out.npy"
    code, err = run(capsys, "embed", str(src), "--output", str(out))
    assert code == 0, err
    assert "'review'" in err  # says which column it chose
    np.testing.assert_allclose(np.load(out), encoder.encode(["Très bien, merci", "two\nlines"]), atol=2e-3)


def test_blank_lines_are_skipped_and_reported(tmp_path, capsys):
    src = tmp_path / "in.txt"
    src.write_text("one\n\n   \ntwo\n", encoding="utf-8")
    out = tmp_path / "out.npy"
    code, err = run(capsys, "embed", str(src), "--output", str(out))
    assert code == 0
    assert "skipped 2 blank row(s) (2, 3)" in err
    assert np.load(out).shape == (2, 384)


def test_windows_1252_text_is_read_and_said(tmp_path, capsys, encoder):
    src = tmp_path / "legacy.txt"
    src.write_bytes("café crème\n".encode("cp1252"))
    code, err = run(capsys, "embed", str(src), "-o", str(tmp_path / "o.npy"))
    assert code == 0, err
    assert "read it as Windows-1252" in err
    np.testing.assert_allclose(np.load(tmp_path / "o.npy"), encoder.encode(["café crème"]), atol=2e-3)


def test_utf16_and_bom_files_are_read(tmp_path, capsys):
    for name, data in [("u16.txt", "hola\nmundo\n".encode("utf-16")), ("bom.txt", b"\xef\xbb\xbfhola\nmundo\n")]:
        src = tmp_path / name
        src.write_bytes(data)
        code, err = run(capsys, "embed", str(src), "-o", str(tmp_path / f"{name}.npy"))
        assert code == 0, err
        assert np.load(tmp_path / f"{name}.npy").shape == (2, 384)


@pytest.mark.parametrize(
    ("name", "content", "extra", "message"),
    [
        ("empty.txt", b"", [], "is empty"),
        ("blank.txt", b"\n \n\t\n", [], "every row is blank"),
        ("undecodable.txt", b"ok\nbad \x81 byte\n", [], "not UTF-8 text: undecodable byte 0x81 on line 2"),
        ("junk.txt", bytes(range(256)) * 4, [], "binary file"),
        (
            "table.csv",
            b"id,text\n1,hello\n",
            ["--column", "body"],
            "Expected a text column named 'body'; found columns: id, text",
        ),
        ("ragged.csv", b"id,text\n1,hello,extra\n", [], "row 2 has 3 fields but the header has 2"),
        ("quote.csv", b'text\n"never closed\n', [], "not a well-formed table"),
        ("header.csv", b"text\n", [], "has a header but no rows"),
        ("numbers.csv", b"a,b\n1,2\n3,4\n", [], "no column that holds text"),
        ("dup.csv", b"text,text\na,b\n", [], "repeated column names"),
        ("data.xlsx", b"PK\x03\x04", [], "not a valid Excel .xlsx file"),
        ("lines.txt", b"hello\n", ["--column", "text"], "--column applies to tables"),
        ("deep.jsonl", b'{"text": ' + b"[" * 5000 + b"]" * 5000 + b"}\n", [], "nests values more than 32 levels"),
        ("digits.jsonl", b'{"text": ' + b"7" * 5000 + b"}\n", [], "holds a number too long to read"),
    ],
)
def test_bad_input_is_one_clear_error(tmp_path, capsys, name, content, extra, message):
    src = tmp_path / name
    src.write_bytes(content)
    code, err = run(capsys, "embed", str(src), "--output", str(tmp_path / "o.npy"), *extra)
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert message in err
    assert not (tmp_path / "o.npy").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.txt", "--output", "o.npy"], "File not found"),
        (["in.txt", "--output", "o.csv"], "--output is written as .npy, not .csv"),
        (["in.txt", "--output", "nowhere/o.npy"], "does not exist"),
        (["in.txt", "--output", "o.npy", "--model", "/no/model"], "no such folder"),
    ],
)
def test_bad_arguments_are_one_clear_error(tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.txt").write_text("hello\n")
    code, err = run(capsys, "embed", *args)
    assert code == 2 and message in err and err.count("\n") == 1, err


def test_module_entry_point_exits_2_without_a_traceback(tmp_path):
    src = tmp_path / "bad.txt"
    src.write_bytes(b"\xff\xfe\x00")  # a UTF-16 BOM followed by half a character
    proc = subprocess.run(
        [sys.executable, "-m", "xlmr_demo", "embed", str(src), "--output", str(tmp_path / "o.npy")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr


def test_train_predict_evaluate_round_trip(umsab_files, tmp_path, capsys, encoder):
    train_csv, test_csv = umsab_files
    head = tmp_path / "head"
    report = tmp_path / "report.html"
    code, err = run(
        capsys, "train", str(train_csv), "--output", str(head), "--eval", str(test_csv), "--head", "logreg",
        "--report", str(report),
    )  # fmt: skip
    assert code == 0, err
    page = report.read_text(encoding="utf-8")
    assert "<h1>Classifier report</h1>" in page and "logistic regression" in page and "plotly" in page
    metrics = json.loads((head / "metrics.json").read_text())
    assert {"accuracy", "macro_f1", "labels", "per_class", "confusion_matrix", "per_language", "transfer"} <= set(
        metrics
    )
    assert metrics["n"] == 160 and metrics["evaluated_on"] == "evaluation file"
    low, high = metrics["macro_f1_ci"]
    assert low < metrics["macro_f1"] < high
    assert all(len(v["macro_f1_ci"]) == 2 for v in metrics["per_language"].values())
    assert "text='text' label='label' language=language" in err
    stages = re.findall(r"^\[[0-9.]+ s\] (.+)$", err, re.MULTILINE)  # not a terminal: a line per stage
    assert stages == [
        "embedding", "training (logistic regression)", "embedding evaluation data", "finding translations", "measuring",
        "cross-lingual transfer", "looking for label errors", "how many more rows", "done",
    ]  # fmt: skip
    config = json.loads((head / "config.json").read_text())
    assert config["head"]["config"]["kind"] == "logreg"
    assert config["training"]["rows"]["test"] == 0  # the --eval file measures: the training file's rows all learn

    out = tmp_path / "pred.csv"
    code, err = run(capsys, "predict", str(head), str(test_csv), "--output", str(out))
    assert code == 0, err
    rows = list(csv.DictReader(out.open(encoding="utf-8-sig")))
    assert len(rows) == 160 and set(rows[0]) >= {"text", "label", "predicted_label", "confidence", "prob_neutral"}

    assert main(["evaluate", str(head), str(test_csv)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["macro_f1"] == metrics["macro_f1"]

    assert main(["predict", str(head), "--text", "I love this so much!"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and lines[0].split()[1] == "positive"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "{awkward}/one_class.csv", "--output", "{tmp}/h"], "only one class"),
        (["train", "{awkward}/utf8.csv", "--output", "{tmp}/h", "--label-column", "stars"], "named 'stars'"),
        (["predict", "{tmp}", "{awkward}/utf8.csv", "--output", "{tmp}/p.csv"], "is not a saved classifier"),
        (["evaluate", "{tmp}/missing", "{awkward}/utf8.csv"], "is not a folder"),
    ],
)
def test_train_predict_evaluate_user_errors(tmp_path, capsys, args, message):
    argv = [a.format(awkward=TEST_DATA / "awkward", tmp=tmp_path) for a in args]
    code, err = run(capsys, *argv)
    assert code == 2 and message in err and err.startswith("error: "), err


def test_an_output_that_is_an_input_is_refused_before_any_work(trained, umsab_files, tmp_path, capsys, monkeypatch):
    """`predict HEAD in.csv --output in.csv` silently replaced the input; now no spelling of it gets through."""
    head = trained.classifier.save(tmp_path / "head")
    source = tmp_path / "in.csv"
    source.write_bytes(umsab_files[1].read_bytes())
    (tmp_path / "linked.csv").hardlink_to(source)
    monkeypatch.chdir(tmp_path)
    for output in (str(source), "in.csv", "./sub/../in.csv", "linked.csv"):
        (tmp_path / "sub").mkdir(exist_ok=True)
        code, err = run(capsys, "predict", str(head), "in.csv", "--output", output, "--overwrite")
        assert code == 2 and "is also an input" in err, err
    assert source.read_bytes() == umsab_files[1].read_bytes()
    code, err = run(capsys, "map", "in.csv", "--output", "map.html", "--coords", "in.csv")
    assert code == 2 and "is also an input" in err


def test_existing_outputs_are_replaced_only_with_overwrite(tmp_path, capsys):
    src = tmp_path / "in.txt"
    src.write_text("bonjour\n")
    out = tmp_path / "out.npy"
    out.write_bytes(b"keep me")
    code, err = run(capsys, "embed", str(src), "--output", str(out))
    assert code == 2 and "already exists; choose another name, or add --overwrite" in err
    assert out.read_bytes() == b"keep me"
    code, err = run(capsys, "embed", str(src), "--output", str(out), "--overwrite")
    assert code == 0, err
    assert np.load(out).shape == (1, 384)


def test_train_checks_its_output_folder_before_training(umsab_files, tmp_path, capsys, monkeypatch):
    """`train ... --output EXISTING_FILE` failed with a traceback after minutes of work."""
    import xlmr_demo.training

    def no_training(*args, **kwargs):
        raise AssertionError("training started before the output was checked")

    monkeypatch.setattr(xlmr_demo.training, "train_classifier", no_training)
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "cat.jpg").write_bytes(b"\xff\xd8")
    cases = [
        ([str(notes)], "is a file; give a folder"),
        ([str(photos)], "already exists; choose another folder, or add --overwrite"),
        ([str(photos), "--overwrite"], "is not a folder this command wrote"),
        ([str(umsab_files[0].parent)], "holds an input (train.csv)"),
    ]
    for output, message in cases:
        code, err = run(capsys, "train", str(umsab_files[0]), "--output", *output)
        assert code == 2 and message in err and err.count("\n") == 1, err
    assert notes.read_text() == "mine" and (photos / "cat.jpg").exists()


def test_a_seed_outside_what_the_generators_take_is_an_argument_error(capsys):
    for seed in ("99999999999", "-1", "1e400"):
        with pytest.raises(SystemExit) as stop:
            main(["train", "data.csv", "--output", "head", "--seed", seed])
        assert stop.value.code == 2
    assert "--seed: expected" in capsys.readouterr().err


def test_kill_removes_the_half_written_output(tmp_path):
    """SIGTERM stops a command like Ctrl-C: temporary files are removed, nothing half-written remains."""
    script = tmp_path / "killed.py"
    script.write_text(
        "import argparse, os, signal, sys, time\n"
        "from pathlib import Path\n"
        "from xlmr_demo.commands import run_cli\n"
        "from xlmr_demo.writers import write_file_atomically\n"
        "def write(tmp):\n"
        "    tmp.write_text('half')\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    time.sleep(30)\n"
        "parser = argparse.ArgumentParser()\n"
        "parser.set_defaults(run=lambda args: write_file_atomically(Path(sys.argv[1]), write))\n"
        "sys.exit(run_cli(parser, []))\n"
    )
    out = tmp_path / "out" / "vectors.npy"
    out.parent.mkdir()
    proc = subprocess.run(
        [sys.executable, str(script), str(out)], capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert proc.returncode == 130 and proc.stderr.startswith("error: interrupted"), proc.stderr
    assert list(out.parent.iterdir()) == []
