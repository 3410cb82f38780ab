"""Texts to embed from a user's file: one column of a table, or one text per line of a text file."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path

from .errors import UserError
from .tables import Table, columns_text, read_lines, read_table

#: Column names taken as the text column when none is given, in order of preference.
TEXT_COLUMN_NAMES = ("text", "sentence", "sentences", "content", "body", "message", "review", "tweet", "comment")
#: Extensions read as tables; any other file is plain text, one text per line.
TABLE_FILES = (".csv", ".tsv", ".tab", ".xlsx", ".xlsm", ".xls", ".parquet", ".jsonl", ".ndjson", ".json")


@dataclass(frozen=True)
class Texts:
    """Non-blank texts of a file, in file order, with where they came from."""

    texts: list[str]
    rows: list[int]  # 1-based line (text file) or data-row (table) number of each text
    column: str | None = None  # the table column read, None for a text file
    blank_rows: list[int] = field(default_factory=list)  # rows skipped because empty or whitespace
    notes: list[str] = field(default_factory=list)  # what the reader decided on the user's behalf


_LETTER = re.compile(r"[^\W\d_]")  # a letter in any script (a word character that is no digit or underscore)


def letter_share(cells: list[str | None]) -> float:
    """Mean letters per cell among the first 500 non-empty cells: high for text columns, zero for numbers and ids."""
    sample = list(itertools.islice((c for c in cells if c), 500))
    return len(_LETTER.findall("\n".join(sample))) / max(1, len(sample))


def guess_text_column(table: Table, name: str) -> str:
    """A column called text, sentence, review, ... or else the most text-like column."""
    lowered = {c.strip().lower(): c for c in table.columns}
    for candidate in TEXT_COLUMN_NAMES:
        if candidate in lowered:
            return lowered[candidate]
    scores = {c: letter_share(table.column(c)) for c in table.columns}
    best = max(table.columns, key=scores.__getitem__)
    if scores[best] == 0:
        raise UserError(f"{name} has no column that holds text; found columns: {columns_text(table.columns)}.")
    return best


def read_texts(path: str | Path, column: str | None = None) -> Texts:
    """Texts to embed from ``path``.

    Tables (CSV, TSV, Excel, JSON Lines, Parquet) give one column, ``column`` or a guessed one. Any
    other file is plain text, one text per line (``.txt``, or Tatoeba's ``tatoeba.deu-eng.deu``).
    Blank texts are skipped and reported in :attr:`Texts.blank_rows`; no text at all is an error.
    """
    path = Path(path)
    if path.suffix.lower() in TABLE_FILES:
        table = read_table(path)
        notes = list(table.notes)
        if column is None:
            chosen = guess_text_column(table, path.name)
        elif column in table.columns:
            chosen = column
        else:
            raise UserError(f"Expected a column named {column!r}; found columns: {columns_text(table.columns)}.")
        cells = [c or "" for c in table.column(chosen)]
    else:
        if column is not None:
            raise UserError("--column applies to tables (CSV, TSV, Excel, ...); a text file has one text per line.")
        cells, notes = read_lines(path)
        chosen = None
    texts, rows, blank = [], [], []
    for i, cell in enumerate(cells, start=1):
        if cell.strip():
            texts.append(cell)
            rows.append(i)
        else:
            blank.append(i)
    if not texts:
        raise UserError(f"{path.name} has no text to embed" + (" (every row is blank)." if blank else "."))
    return Texts(texts=texts, rows=rows, column=chosen, blank_rows=blank, notes=notes)
