"""Reading user files into a table of strings: CSV/TSV/semicolon, Excel, JSON Lines, Parquet, plain text.

Every cell comes back as ``str`` or ``None`` (empty / missing), never a number: labels such as
``007`` or ``1.0`` keep their spelling, and nothing is guessed silently. Encodings are detected
(UTF-8 with or without BOM, UTF-16 with BOM, else Windows-1252, said in :attr:`Table.notes`),
delimiters sniffed, and every way a file can be wrong ends as a :class:`UserError` that says what
was expected and what was found.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from .errors import UserError

MAX_FILE_BYTES = 200 * 1024 * 1024  # 200 MiB on disk
MAX_UNZIPPED_BYTES = 500 * 1024 * 1024  # an .xlsx is a zip: refuse bombs before opening them
MAX_CELL_CHARS = 100_000  # a longer cell is almost surely a broken quote, not a text
DELIMITERS = ",;\t|"


@dataclass
class Table:
    """A rectangular table of optional strings with its column names, as read from a file."""

    columns: list[str]
    rows: list[list[str | None]]
    notes: list[str] = field(default_factory=list)  # what the reader decided on the user's behalf

    def column(self, name: str) -> list[str | None]:
        j = self.columns.index(name)
        return [r[j] for r in self.rows]

    def __len__(self) -> int:
        return len(self.rows)


def check_columns(table: Table, **given: str | None) -> None:
    """Each ``role=name`` given must be a column of ``table``."""
    for role, name in given.items():
        if name is not None and name not in table.columns:
            raise UserError(f"Expected a {role} column named {name!r}; found columns: {', '.join(table.columns)}.")


def rows_text(rows: list[int], limit: int = 8) -> str:
    """Row numbers for a message: "3, 7, 9 and 12 more"."""
    shown = ", ".join(map(str, rows[:limit]))
    return shown + (f" and {len(rows) - limit} more" if len(rows) > limit else "")


def decode_bytes(raw: bytes, name: str, notes: list[str] | None = None) -> str:
    """Decode text: UTF-16 (BOM), UTF-8 (BOM optional), else Windows-1252 with a note; refuse binary."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise UserError(f"{name} starts like UTF-16 text but is not valid UTF-16.") from exc
    if b"\x00" in raw[:65536]:
        raise UserError(f"{name} looks like a binary file, not text (it contains NUL bytes).")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        utf8_error = exc
    try:
        text = raw.decode("cp1252")
    except UnicodeDecodeError:
        line = raw[: utf8_error.start].count(b"\n") + 1
        raise UserError(
            f"{name} is not UTF-8 text: undecodable byte 0x{raw[utf8_error.start]:02x} on line {line}. "
            "Save the file as UTF-8 and try again."
        ) from utf8_error
    controls = sum(1 for ch in text[:65536] if ord(ch) < 32 and ch not in "\t\r\n")
    if controls > max(8, len(text[:65536]) // 100):
        raise UserError(f"{name} looks like a binary file, not text.")
    if notes is not None:
        notes.append(f"{name} is not UTF-8; read it as Windows-1252 (Western European).")
    return text


def lines_of(text: str) -> list[str]:
    """Split on line ends only (not on U+2028, form feeds or other separators that ``splitlines`` uses)."""
    lines = re.split(r"\r\n|\r|\n", text)
    return lines[:-1] if lines and lines[-1] == "" else lines


def sniff_delimiter(text: str, default: str = ",") -> str:
    """The delimiter among , ; TAB | that splits the first lines into the most consistent columns."""
    sample = "\n".join(lines_of(text[:65536])[:50])
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        return default


def parse_delimited(text: str, name: str, delimiter: str) -> Table:
    """Parse delimited text with a header row; ragged rows and broken quoting are errors."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        rows = [r for r in reader if r]  # csv yields [] for empty lines
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            raise UserError(
                f"{name}: a cell near line {reader.line_num} is longer than {csv.field_size_limit():,} characters; "
                "a quote is probably not closed."
            ) from exc
        raise UserError(f"{name} is not a well-formed table near line {reader.line_num}: {exc}.") from exc
    if not rows:
        raise UserError(f"{name} is empty.")
    header = [h.strip() for h in rows[0]]
    for i, r in enumerate(rows[1:], start=2):
        if len(r) != len(header):
            raise UserError(
                f"{name}: row {i} has {len(r)} fields but the header has {len(header)} "
                f"(separator {_delimiter_name(delimiter)}). Check for unquoted separators or quotes."
            )
    return Table(columns=header, rows=[[c if c.strip() else None for c in r] for r in rows[1:]])


def _delimiter_name(delimiter: str) -> str:
    return {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}.get(delimiter, repr(delimiter))


def _read_xlsx(path: Path) -> Table:
    try:
        with zipfile.ZipFile(path) as archive:
            unzipped = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile as exc:
        raise UserError(f"{path.name} is not a valid Excel .xlsx file.") from exc
    if unzipped > MAX_UNZIPPED_BYTES:
        raise UserError(
            f"{path.name} unpacks to {unzipped / 2**20:.0f} MiB, over the {MAX_UNZIPPED_BYTES // 2**20} MiB limit."
        )
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for corrupt files
        raise UserError(f"{path.name} could not be read as an Excel workbook ({type(exc).__name__}).") from exc
    sheet = book.worksheets[0]
    values = [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    book.close()
    values = [r for r in values if any(c.strip() for c in r)]
    if not values:
        raise UserError(f"{path.name}: the first sheet is empty.")
    width = max(len(r) for r in values)
    values = [r + [""] * (width - len(r)) for r in values]
    header = [h.strip() or f"column_{j + 1}" for j, h in enumerate(values[0])]
    table = Table(columns=header, rows=[[c if c.strip() else None for c in r] for r in values[1:]])
    if len(book.sheetnames) > 1:
        table.notes.append(f"{path.name} has {len(book.sheetnames)} sheets; read the first, {book.sheetnames[0]!r}.")
    return table


def _read_jsonl(text: str, name: str) -> Table:
    records: list[dict] = []
    stripped = text.lstrip()
    if stripped.startswith("["):  # a JSON array of objects
        try:
            records = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise UserError(f"{name} is not valid JSON: {exc.msg} at line {exc.lineno}.") from exc
    else:
        for i, line in enumerate(lines_of(text), start=1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise UserError(f"{name}: line {i} is not valid JSON ({exc.msg}).") from exc
    if not records:
        raise UserError(f"{name} has no records.")
    if not all(isinstance(r, dict) for r in records):
        raise UserError(f'{name}: expected one JSON object per line, like {{"text": ..., "label": ...}}.')
    columns = list(dict.fromkeys(k for r in records for k in r))
    return Table(columns=columns, rows=[[_cell(r.get(c)) for c in columns] for r in records])


def _cell(value) -> str | None:
    """A cell as text; None, NaN and blank become None. Whole floats keep their spelling ("1.0")."""
    if value is None:
        return None
    if isinstance(value, float) and value != value:  # NaN
        return None
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    text = str(value)
    return text if text.strip() else None


def _read_parquet(path: Path) -> Table:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ...
        raise UserError(f"{path.name} is not a valid Parquet file ({type(exc).__name__}).") from exc
    data = parquet.read().to_pylist()
    columns = parquet.schema_arrow.names
    return Table(columns=list(columns), rows=[[_cell(r.get(c)) for c in columns] for r in data])


def check_file(path: str | Path) -> Path:
    """``path`` as a Path, if it names a non-empty file within the size limit."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"File not found: {path}")
    if not path.is_file():
        raise UserError(f"{path} is not a file.")
    size = path.stat().st_size
    if size == 0:
        raise UserError(f"{path.name} is empty.")
    if size > MAX_FILE_BYTES:
        raise UserError(f"{path.name} is {size / 2**20:.0f} MiB; the limit is {MAX_FILE_BYTES // 2**20} MiB.")
    return path


def read_table(path: str | Path, max_rows: int | None = None) -> Table:
    """Read a user's file into a :class:`Table`.

    Formats by extension: ``.xlsx``, ``.parquet``, ``.jsonl``/``.ndjson``/``.json``, and delimited
    text for anything else (``.csv``, ``.tsv``, ``.txt``, ...), whose delimiter is sniffed.
    """
    path = check_file(path)
    suffix = path.suffix.lower()
    notes: list[str] = []
    if suffix in (".xlsx", ".xlsm"):
        table = _read_xlsx(path)
    elif suffix == ".xls":
        raise UserError(f"{path.name} is an old Excel 97-2003 file; save it as .xlsx or .csv.")
    elif suffix == ".parquet":
        table = _read_parquet(path)
    else:
        text = decode_bytes(path.read_bytes(), path.name, notes)
        if suffix in (".jsonl", ".ndjson", ".json"):
            table = _read_jsonl(text, path.name)
        else:
            default = "\t" if suffix in (".tsv", ".tab") else ","
            delimiter = sniff_delimiter(text, default)
            table = parse_delimited(text, path.name, delimiter)
            if delimiter != default:
                notes.append(f"{path.name} is separated by {_delimiter_name(delimiter)}s.")
    table.notes[:0] = notes
    _check_shape(table, path.name, max_rows)
    return table


def _check_shape(table: Table, name: str, max_rows: int | None) -> None:
    if not table.columns:
        raise UserError(f"{name} has no columns.")
    duplicates = sorted({c for c in table.columns if table.columns.count(c) > 1})
    if duplicates:
        raise UserError(f"{name} has repeated column names: {', '.join(duplicates)}. Rename them so each is unique.")
    if not table.rows:
        raise UserError(f"{name} has a header but no rows.")
    if max_rows is not None and len(table.rows) > max_rows:
        raise UserError(
            f"{name} has {len(table.rows):,} rows; the limit is {max_rows:,}. Use a sample or raise the limit."
        )
    for i, row in enumerate(table.rows, start=2):
        for j, cell in enumerate(row):
            if cell is not None and len(cell) > MAX_CELL_CHARS:
                raise UserError(
                    f"{name}: the cell in row {i}, column {table.columns[j]!r} has {len(cell):,} characters "
                    f"(limit {MAX_CELL_CHARS:,}); a quote is probably not closed."
                )
