"""Reading user files: plain text (one text per line) and delimited tables (CSV, TSV).

Everything a user's file can get wrong ends as a :class:`~xlmr_demo.errors.UserError` that says
what was expected and what was found.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from .errors import UserError

#: Column names taken as the text column when none is given, in order of preference.
TEXT_COLUMN_NAMES = ("text", "sentence", "sentences", "content", "body", "message", "review", "tweet", "comment")
TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t", ".tab": "\t"}
UNSUPPORTED_SUFFIXES = (".xlsx", ".xls", ".parquet", ".json", ".jsonl", ".zip", ".gz", ".npy", ".pdf", ".docx")
MAX_FILE_BYTES = 500 * 1024 * 1024  # beyond this, use the batch API in chunks instead of one file


@dataclass(frozen=True)
class Texts:
    """Non-blank texts of a file, in file order, with where they came from."""

    texts: list[str]
    rows: list[int]  # 1-based line (txt) or data-row (table) number of each text
    column: str | None = None  # the table column read, None for .txt
    blank_rows: list[int] = field(default_factory=list)  # rows skipped because empty or whitespace


def decode_bytes(raw: bytes, name: str) -> str:
    """Decode a text file: UTF-8 (BOM or not) or UTF-16 with a BOM; anything else is refused."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise UserError(f"{name} starts like UTF-16 text but is not valid UTF-16.") from exc
    if b"\x00" in raw[:8192]:
        raise UserError(f"{name} looks like a binary file, not text (it contains NUL bytes).")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise UserError(
            f"{name} is not UTF-8 text: undecodable byte 0x{raw[exc.start]:02x} on line {line}. "
            "Save the file as UTF-8 and try again."
        ) from exc


def _read_bytes(path: Path) -> bytes:
    if not path.exists():
        raise UserError(f"File not found: {path}")
    if path.is_dir():
        raise UserError(f"{path} is a folder; expected a file.")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise UserError(f"{path.name} is {size / 2**20:.0f} MiB; the limit is {MAX_FILE_BYTES // 2**20} MiB.")
    return path.read_bytes()


def _choose_column(header: list[str], body: list[list[str]], name: str) -> str:
    lowered = {h.strip().lower(): h for h in header}
    for candidate in TEXT_COLUMN_NAMES:
        if candidate in lowered:
            return lowered[candidate]
    if len(header) == 1:
        return header[0]

    def mean_letters(j: int) -> float:  # text columns are long and not numbers
        cells = [r[j] for r in body[:1000] if j < len(r)]
        return sum(sum(ch.isalpha() for ch in c) for c in cells) / max(1, len(cells))

    scores = [mean_letters(j) for j in range(len(header))]
    best = max(range(len(header)), key=scores.__getitem__)
    if scores[best] == 0:
        raise UserError(f"{name} has no column that holds text; found columns: {', '.join(header)}.")
    return header[best]


def read_table(text: str, name: str, delimiter: str) -> tuple[list[str], list[list[str]]]:
    """Parse delimited text into a header and rows; ragged rows and bad quoting are errors."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise UserError(f"{name} is not a well-formed table near line {reader.line_num}: {exc}.") from exc
    rows = [r for r in rows if r]  # csv yields [] for empty lines
    if not rows:
        raise UserError(f"{name} is empty.")
    header = [h.strip() for h in rows[0]]
    if len(set(header)) != len(header):
        raise UserError(f"{name} has repeated column names: {', '.join(header)}.")
    for i, r in enumerate(rows[1:], start=2):
        if len(r) != len(header):
            raise UserError(f"{name}: row {i} has {len(r)} fields but the header has {len(header)}.")
    return header, rows[1:]


def _lines(text: str) -> list[str]:
    """Split on line ends only (not on U+2028, form feeds or other separators that ``splitlines`` uses)."""
    lines = re.split(r"\r\n|\r|\n", text)
    return lines[:-1] if lines and lines[-1] == "" else lines


def read_texts(path: str | Path, column: str | None = None) -> Texts:
    """Texts to embed from ``path``: ``.csv``/``.tsv`` (one column) or any other text file (one per line).

    Plain text covers ``.txt`` and extension-less or per-language files such as Tatoeba's
    ``tatoeba.deu-eng.deu``. Blank texts are skipped and reported in :attr:`Texts.blank_rows`; a
    file with no text at all is an error.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in UNSUPPORTED_SUFFIXES:
        raise UserError(f"{path.name}: {suffix} files are not supported here; use .txt, .csv or .tsv.")
    text = decode_bytes(_read_bytes(path), path.name)
    if suffix not in TABLE_SUFFIXES:
        if column is not None:
            raise UserError("--column applies to CSV/TSV files; a plain text file has one text per line.")
        cells, chosen = _lines(text), None
    else:
        header, body = read_table(text, path.name, TABLE_SUFFIXES[suffix])
        if column is None:
            chosen = _choose_column(header, body, path.name)
        elif column in header:
            chosen = column
        else:
            raise UserError(f"Expected a column named {column!r}; found columns: {', '.join(header)}.")
        j = header.index(chosen)
        cells = [r[j] for r in body]
    texts, rows, blank = [], [], []
    for i, cell in enumerate(cells, start=1):
        (rows if cell.strip() else blank).append(i)
        if cell.strip():
            texts.append(cell)
    if not texts:
        raise UserError(f"{path.name} has no text to embed" + (" (every row is blank)." if blank else "."))
    return Texts(texts=texts, rows=rows, column=chosen, blank_rows=blank)
