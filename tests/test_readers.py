"""Every awkward file in tests/data/awkward gives the right table or one clear error."""

from __future__ import annotations

import pytest

from xlmr_demo.errors import UserError
from xlmr_demo.limits import Limits
from xlmr_demo.readers import read_table

from .conftest import TEST_DATA

AWKWARD = TEST_DATA / "awkward"
ENGLISH_FRENCH_SPANISH = ["I love it", "terrible service", "C'est génial", "Nul à chier", "muy bueno", "muy malo"]

READABLE = {
    # file: (columns, first column's cells or None to skip, a note that must be said or None)
    "utf8.csv": (["text", "label"], ENGLISH_FRENCH_SPANISH, None),
    "utf8_bom.csv": (["text", "label"], ENGLISH_FRENCH_SPANISH, None),
    "utf16le_bom.csv": (["text", "label"], ENGLISH_FRENCH_SPANISH, None),
    "utf16be_bom.tsv": (["text", "label"], ENGLISH_FRENCH_SPANISH, None),
    "crlf.csv": (["text", "label"], ENGLISH_FRENCH_SPANISH, None),
    "pipe.txt": (["text", "label"], ENGLISH_FRENCH_SPANISH, "separated by pipes"),
    "semicolon.csv": (["text", "label"], None, "separated by semicolons"),
    "cp1252.csv": (["text", "label"], ["café crème", "à éviter", "€ cher", "super été"], "Windows-1252"),
    "multiline_quoted.csv": (["text", "label"], ["line one\nline two", 'say "hi"', "ok", "bad"], None),
    "rtl_emoji.csv": (
        ["text", "label"],
        ["أحب هذا المنتج 😍", "خدمة سيئة جدا 😡", "שירות מעולה 👍", "גרוע מאוד 👎"],
        None,
    ),
    "formulas.csv": (["text", "label"], ['=HYPERLINK("http://evil")', "+1+1", "-2", "@SUM(A1)", "plain", "fine"], None),
    "data.jsonl": (["text", "label"], ["bien", "mal", "gut", "schlecht"], None),
    "data.xlsx": (["text", "label", "n"], ["bonjour", "au revoir", "hola", "adiós"], None),
    "data.parquet": (["text", "label", "score"], ["good", "bad", None, "fine", "awful", "nice"], None),
    "blank_texts.csv": (["text", "label"], ["good", None, None, "bad", "ok", "no"], None),
}

UNREADABLE = {
    "empty.csv": "is empty",
    "header_only.csv": "has a header but no rows",
    "ragged.csv": "row 3 has 4 fields but the header has 2",
    "unterminated_quote.csv": "not a well-formed table",
    "binary_junk.csv": "looks like a binary file",
    "zip_bomb.xlsx": "unpacks to 600 MiB",
    "not_really.xlsx": "not a valid Excel .xlsx file",
    "old.xls": "old Excel 97-2003 file",
    "huge_cell.csv": "a quote is probably not closed",
    "duplicate_columns.csv": "repeated column names: text",
    "bad.jsonl": "line 3 is not valid JSON",
    "corrupt.parquet": "not a valid Parquet file",
}


@pytest.mark.parametrize("name", sorted(READABLE))
def test_readable_files(name):
    columns, first, note = READABLE[name]
    table = read_table(AWKWARD / name)
    assert table.columns == columns
    if first is not None:
        assert table.column(columns[0]) == first
    if note:
        assert any(note in n for n in table.notes), table.notes


def test_semicolon_file_keeps_quoted_commas():
    assert read_table(AWKWARD / "semicolon.csv").column("text")[2] == "C'est génial, vraiment"


def test_cells_keep_their_spelling():
    table = read_table(AWKWARD / "data.xlsx")
    assert table.column("n") == ["1", "2", "3", "4"]  # never 1.0


@pytest.mark.parametrize("name", sorted(UNREADABLE))
def test_unreadable_files_are_one_clear_error(name):
    with pytest.raises(UserError, match=UNREADABLE[name]):
        read_table(AWKWARD / name)


def test_row_limit_is_enforced(tmp_path):
    path = tmp_path / "big.csv"
    path.write_text("text,label\n" + "x,y\n" * 11)
    with pytest.raises(UserError, match="more than 10 rows; the limit is 10"):
        read_table(path, Limits(rows=10))
    path.write_text("text,label\n" + "x,y\n" * 10)
    assert len(read_table(path, Limits(rows=10))) == 10


def test_every_awkward_file_is_covered():
    files = {p.name for p in AWKWARD.iterdir() if p.suffix != ".py"}
    from .test_dataset import DATASET_CASES

    assert len(files) >= 30
    assert files <= set(READABLE) | set(UNREADABLE) | set(DATASET_CASES), files - set(READABLE) - set(UNREADABLE)
