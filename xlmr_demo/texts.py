"""Texts to embed from a user's file: one column of a table, or one text per line of a text file."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .columns import detect_columns
from .errors import UserError
from .readers import read_lines, read_table

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
        chosen = detect_columns(table, path.name, roles=("text",), text=column).text
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
