"""Reading user files into a table of strings: CSV/TSV/semicolon, Excel, JSON Lines, Parquet, plain text.

Every cell comes back as ``str`` or ``None`` (empty / missing), never a number: labels such as
``007`` or ``1.0`` keep their spelling, and nothing is guessed silently. Encodings are detected
(UTF-8 with or without BOM, UTF-16 with BOM, else Windows-1252, said in :attr:`Table.notes`),
delimiters sniffed, and every way a file can be wrong ends as a :class:`UserError` that says what
was expected and what was found.

Files may come from anyone (see :mod:`xlmr_demo.limits`), so reading is bounded and linear: text
is parsed as a stream and refused at the first row or column over the limit; Excel and Parquet
sizes are read from their metadata before any cell is; zip archives are checked by their entry
count and declared sizes before they are opened; nested JSON is refused past a depth.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import struct
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, TypeVar

from . import limits as _limits
from .errors import UserError, failure_site
from .limits import Limits, over_limit
from .table import Table, columns_text, short

DELIMITERS = ",;\t|"
ZIP_ENTRY_BYTES = 1024  # a central-directory entry: 46 bytes, its name and extras; real ones are far smaller
# openpyxl builds each part of a workbook other than its sheets (styles, themes, ...) as a whole XML tree in
# memory, about 25x the part's size: a 190 MB styles.xml took 4.6 GB. Excel's own are kilobytes.
XLSX_PART_BYTES = 8 * 2**20
SNIFF_CHARS = 65536  # the delimiter is chosen on the first 64K characters (at most 50 lines)
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_log = logging.getLogger(__name__)
T = TypeVar("T")


def decode_bytes(raw: bytes, name: str, notes: list[str] | None = None) -> str:
    """Decode text: UTF-16 (BOM), UTF-8 (BOM optional), else Windows-1252 with a note; refuse binary."""
    if raw.startswith(_UTF16_BOMS):
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


def read_text(path: Path, name: str, notes: list[str], parse: Callable[[IO[str]], T]) -> T:
    """``parse`` the decoded text of ``path``, given as a stream of lines (``newline=""``).

    UTF-8 and UTF-16 files are streamed, so ``parse`` can stop at a limit without the whole file in
    memory; a file that is not UTF-8 is decoded whole by :func:`decode_bytes` (Windows-1252, said
    in ``notes``, or a clear error) and parsed again.
    """
    with path.open("rb") as fh:
        head = fh.read(65536)
    if head.startswith(_UTF16_BOMS):
        try:
            with path.open(encoding="utf-16", newline="") as fh:
                return parse(fh)
        except UnicodeDecodeError as exc:
            raise UserError(f"{name} starts like UTF-16 text but is not valid UTF-16.") from exc
    if b"\x00" in head:
        raise UserError(f"{name} looks like a binary file, not text (it contains NUL bytes).")
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            return parse(fh)
    except UnicodeDecodeError:
        pass
    return parse(io.StringIO(decode_bytes(path.read_bytes(), name, notes), newline=""))


def text_lines(stream: IO[str]) -> Iterator[str]:
    """Lines without their ending; \\r\\n, \\r and \\n end a line (not U+2028 or form feeds, as splitlines would)."""
    for line in stream:
        if line.endswith("\r\n"):
            yield line[:-2]
        elif line.endswith(("\n", "\r")):
            yield line[:-1]
        else:
            yield line


def _complete_lines(sample: str, limit: int = 50) -> list[str]:
    lines = sample.splitlines() if "\n" in sample or "\r" in sample else [sample]
    if len(lines) > 1 and not sample.endswith(("\n", "\r")):
        lines = lines[:-1]  # the last line was cut by the sample's end
    return lines[:limit]


def sniff_delimiter(sample: str, default: str = ",") -> str:
    """The delimiter among , ; TAB | that splits the first lines into the most consistent columns.

    Each candidate parses the sample as CSV (quotes respected); the winner gives the most lines with
    the most common width, that width above one. Linear in the sample (``csv.Sniffer`` takes
    seconds on 64 KB of crafted quotes); ties go to ``default``, then to the order of DELIMITERS.
    """
    lines = [line for line in _complete_lines(sample) if line.strip()]
    best, best_score = default, (0, 0)
    for delimiter in sorted(DELIMITERS, key=lambda d: d != default):
        try:
            widths = [len(r) for r in csv.reader(lines, delimiter=delimiter)]
        except csv.Error:
            continue
        if not widths:
            continue
        width, agreeing = Counter(widths).most_common(1)[0]
        score = (agreeing, width) if width > 1 else (0, 0)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _field_limit(cell_chars: int) -> None:
    # csv refuses fields over its limit (131,072 by default) with its own error; keep it above ours
    csv.field_size_limit(max(csv.field_size_limit(), cell_chars + 1))


def _too_many_rows(name: str, bound: Limits, width: int) -> UserError:
    if width and bound.rows * width > bound.cells:
        return over_limit(
            f"{name} has {width:,} columns and more than {bound.cells // width:,} rows, over the limit of "
            f"{bound.cells:,} cells (rows x columns).",
            "cells",
        )
    return over_limit(f"{name} has more than {bound.rows:,} rows; the limit is {bound.rows:,}.", "rows")


def _too_many_chars(name: str, bound: Limits) -> UserError:
    return over_limit(f"{name} holds more than {bound.chars:,} characters; the limit is {bound.chars:,}.", "chars")


def _too_many_columns(name: str, n: int, bound: Limits) -> UserError:
    return over_limit(f"{name} has {n:,} columns; the limit is {bound.columns:,}.", "columns")


def parse_delimited(stream: Iterable[str], name: str, delimiter: str, bound: Limits) -> Table:
    """Parse delimited text with a header row; ragged rows, broken quoting and sizes over ``bound`` are errors."""
    _field_limit(bound.cell_chars)
    reader = csv.reader(stream, delimiter=delimiter, strict=True)
    header: list[str] | None = None
    rows: list[list[str | None]] = []
    max_rows = bound.rows
    chars = 0
    try:
        for r in reader:
            if not r:  # csv yields [] for empty lines
                continue
            if header is None:
                if len(r) > bound.columns:
                    raise _too_many_columns(name, len(r), bound)
                header = [h.strip() for h in r]
                max_rows = min(bound.rows, bound.cells // len(header))
                continue
            if len(r) != len(header):
                raise UserError(
                    f"{name}: row {len(rows) + 2} has {len(r)} fields but the header has {len(header)} "
                    f"(separator {_delimiter_name(delimiter)}). Check for unquoted separators or quotes."
                )
            if len(rows) >= max_rows:
                raise _too_many_rows(name, bound, len(header))
            chars += sum(map(len, r))
            if chars > bound.chars:
                raise _too_many_chars(name, bound)
            rows.append([c if c.strip() else None for c in r])
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            raise UserError(
                f"{name}: a cell near line {reader.line_num} is longer than {csv.field_size_limit():,} characters; "
                "a quote is probably not closed."
            ) from exc
        raise UserError(f"{name} is not a well-formed table near line {reader.line_num}: {exc}.") from exc
    if header is None:
        raise UserError(f"{name} is empty.")
    return Table(columns=header, rows=rows)


def _delimiter_name(delimiter: str) -> str:
    return {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}.get(delimiter, repr(delimiter))


def _read_delimited(path: Path, name: str, default: str, bound: Limits, notes: list[str]) -> Table:
    chosen: list[str] = []

    def parse(stream: IO[str]) -> Table:
        delimiter = sniff_delimiter(stream.read(SNIFF_CHARS), default)
        stream.seek(0)
        chosen[:] = [delimiter]
        return parse_delimited(stream, name, delimiter, bound)

    table = read_text(path, name, notes, parse)
    if chosen[0] != default:
        notes.append(f"{name} is separated by {_delimiter_name(chosen[0])}s.")
    return table


def check_zip(path: Path, name: str, bound: Limits, what: str) -> zipfile.ZipFile:
    """Open ``path`` as a zip archive once its entry count and unpacked size are within ``bound``.

    The count is read from the archive's last bytes (its end record) before the central directory
    is parsed, so a zip of 100,000 empty entries costs nothing to refuse. Sizes are the declared
    ones, which :mod:`zipfile` also enforces while reading.
    """
    directory = _zip_directory(path)
    if directory is None:
        raise UserError(f"{name} is not {what}.")
    entries, directory_bytes = directory
    # the count may lie; the directory's size says how many entries zipfile would parse
    entries = max(entries, directory_bytes // ZIP_ENTRY_BYTES)
    if entries > bound.zip_entries:
        raise over_limit(
            f"{name} holds {entries:,} files; the limit is {bound.zip_entries:,} ({what} holds far fewer).",
            "zip_entries",
        )
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, EOFError) as exc:
        raise UserError(f"{name} is not {what}.") from exc
    if len(archive.infolist()) > bound.zip_entries:
        archive.close()
        raise over_limit(f"{name} holds more than {bound.zip_entries:,} files.", "zip_entries")
    unzipped = sum(info.file_size for info in archive.infolist())
    if unzipped > bound.unzipped_bytes:
        archive.close()
        raise over_limit(
            f"{name} unpacks to {unzipped / 2**20:,.0f} MiB, over the {bound.unzipped_mb:,} MiB limit.", "unzipped_mb"
        )
    return archive


def _zip_directory(path: Path) -> tuple[int, int] | None:
    """(entries, bytes) of the central directory, as the end record declares them; None if not a zip."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        fh.seek(max(0, size - 65557))  # the record is 22 bytes plus a comment of at most 65,535
        tail = fh.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        return None
    total, directory = struct.unpack_from("<HI", tail, at + 10)
    if total != 0xFFFF and directory != 0xFFFFFFFF:
        return total, directory
    # zip64: a locator just before the end record points at the zip64 end record, which holds the count
    if at < 20 or tail[at - 20 : at - 16] != b"PK\x06\x07":
        return None
    (offset,) = struct.unpack_from("<Q", tail, at - 12)
    with path.open("rb") as fh:
        fh.seek(min(offset, size))
        record = fh.read(56)
    if len(record) < 48 or record[:4] != b"PK\x06\x06":
        return None
    return struct.unpack_from("<QQ", record, 32)


def _read_xlsx(path: Path, name: str, bound: Limits) -> Table:
    with check_zip(path, name, bound, "a valid Excel .xlsx file") as archive:
        for info in archive.infolist():
            streamed = info.filename.startswith("xl/worksheets/") or info.filename == "xl/sharedStrings.xml"
            if not streamed and info.file_size > XLSX_PART_BYTES:
                raise UserError(
                    f"{name}: its part {short(info.filename)} unpacks to {info.file_size / 2**20:,.0f} MiB; "
                    f"a workbook's parts other than its sheets hold at most {XLSX_PART_BYTES // 2**20} MiB here. "
                    "Save the sheet as CSV and upload that."
                )
    try:
        values, sheets = _xlsx_values(path, name, bound)
    except UserError:
        raise
    except Exception as exc:  # openpyxl and the XML parser raise many types for corrupt or hostile files
        raise UserError(f"{name} could not be read as an Excel workbook ({type(exc).__name__}).") from exc
    values = [r for r in values if any(c.strip() for c in r)]
    if not values:
        raise UserError(f"{name}: the first sheet is empty.")
    width = max(len(r) for r in values)
    values = [r + [""] * (width - len(r)) for r in values]
    header = [h.strip() or f"column_{j + 1}" for j, h in enumerate(values[0])]
    table = Table(columns=header, rows=[[c if c.strip() else None for c in r] for r in values[1:]])
    if len(sheets) > 1:
        table.notes.append(f"{name} has {len(sheets)} sheets; read the first, {short(sheets[0])!r}.")
    return table


def _xlsx_values(path: Path, name: str, bound: Limits) -> tuple[list[list[str]], list[str]]:
    """The first sheet's rows as text, within ``bound``, and the names of all sheets."""
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = book.worksheets[0]
        declared_rows, declared_columns = sheet.max_row, sheet.max_column  # from the sheet's dimension tag
        if declared_columns and declared_columns > bound.columns:
            raise _too_many_columns(name, declared_columns, bound)
        if declared_rows and declared_rows - 1 > bound.rows:
            raise _too_many_rows(name, bound, 0)
        # openpyxl stops at the declared last row: a sheet that declares A1:B2 would lose its other rows
        sheet.reset_dimensions()
        values: list[list[str]] = []
        cells = chars = 0
        for row in sheet.iter_rows(values_only=True):  # rows the dimension tag did not declare are counted too
            if len(row) > bound.columns:
                raise _too_many_columns(name, len(row), bound)
            cells += len(row)
            if len(values) > bound.rows or cells > bound.cells:
                raise _too_many_rows(name, bound, len(row))
            texts = ["" if v is None else str(v) for v in row]
            chars += sum(map(len, texts))  # shared strings: one 100,000-character cell may fill every row
            if chars > bound.chars:
                raise _too_many_chars(name, bound)
            values.append(texts)
        return values, book.sheetnames
    finally:
        book.close()


def _json_depth_error(name: str, where: str, bound: Limits) -> UserError:
    return over_limit(
        f"{name}: {where} nests values more than {bound.json_depth} levels deep; the limit is {bound.json_depth}.",
        "json_depth",
    )


def _deeper_than(value, limit: int) -> bool:
    """Whether a parsed JSON value nests more than ``limit`` levels (iterative: no recursion to exhaust)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def _json_record(text: str, name: str, where: str, bound: Limits):
    try:
        record = json.loads(text)
    except RecursionError as exc:
        raise _json_depth_error(name, where, bound) from exc
    except json.JSONDecodeError as exc:
        raise UserError(f"{name}: {where} is not valid JSON ({exc.msg}).") from exc
    except ValueError as exc:  # Python refuses integers of more than 4,300 digits
        raise UserError(f"{name}: {where} holds a number too long to read.") from exc
    if _deeper_than(record, bound.json_depth):
        raise _json_depth_error(name, where, bound)
    return record


def _records_of_array(text: str, name: str, bound: Limits) -> Iterator[object]:
    """The elements of a JSON array, one at a time (so a row limit stops the parse)."""
    decoder = json.JSONDecoder()
    at = text.index("[") + 1
    n = len(text)

    def skip(i: int) -> int:
        while i < n and text[i] in " \t\r\n":
            i += 1
        return i

    at = skip(at)
    if at < n and text[at] == "]":
        return
    while True:
        try:
            value, at = decoder.raw_decode(text, at)
        except RecursionError as exc:
            raise _json_depth_error(name, "an element of the array", bound) from exc
        except json.JSONDecodeError as exc:
            raise UserError(f"{name} is not valid JSON: {exc.msg} at line {exc.lineno}.") from exc
        except ValueError as exc:
            raise UserError(f"{name} holds a number too long to read.") from exc
        if _deeper_than(value, bound.json_depth):
            raise _json_depth_error(name, "an element of the array", bound)
        yield value
        at = skip(at)
        if at < n and text[at] == ",":
            at = skip(at + 1)
            continue
        if at < n and text[at] == "]":
            return
        raise UserError(f"{name} is not valid JSON: expected ',' or ']' at character {at:,}.")


def _read_json(path: Path, name: str, bound: Limits, notes: list[str]) -> Table:
    def parse(stream: IO[str]) -> Table:
        start = stream.read(4096).lstrip()
        stream.seek(0)
        if start.startswith("["):  # a JSON array of objects (the file is within the size limit)
            records: Iterable = _records_of_array(stream.read(), name, bound)
        else:
            records = (
                _json_record(line, name, f"line {i}", bound)
                for i, line in enumerate(text_lines(stream), start=1)
                if line.strip()
            )
        return _records_table(records, name, bound)

    return read_text(path, name, notes, parse)


def _records_table(records: Iterable, name: str, bound: Limits) -> Table:
    kept: list[dict] = []
    columns: dict[str, None] = {}
    for record in records:
        if not isinstance(record, dict):
            raise UserError(f'{name}: expected one JSON object per line, like {{"text": ..., "label": ...}}.')
        columns.update(dict.fromkeys(record))
        if len(columns) > bound.columns:
            raise _too_many_columns(name, len(columns), bound)
        if len(kept) >= bound.rows or (len(kept) + 1) * len(columns) > bound.cells:
            raise _too_many_rows(name, bound, len(columns))
        kept.append(record)
    if not kept:
        raise UserError(f"{name} has no records.")
    names = list(columns)
    return Table(columns=names, rows=[[_cell(r.get(c)) for c in names] for r in kept])


def _cell(value) -> str | None:
    """A cell as text; None, NaN and blank become None. Whole floats keep their spelling ("1.0")."""
    if value is None:
        return None
    if isinstance(value, float) and value != value:  # NaN
        return None
    if isinstance(value, (bytes, bytearray, memoryview)):
        text = bytes(value).decode("utf-8", errors="replace")
    elif isinstance(value, (dict, list, tuple)):
        text = json.dumps(value, ensure_ascii=False, default=str)
    else:
        text = str(value)
    return text if text.strip() else None


def _type_depth(arrow_type) -> int:
    depth, stack = 0, [(arrow_type, 1)]
    while stack:
        t, d = stack.pop()
        depth = max(depth, d)
        stack.extend((t.field(i).type, d + 1) for i in range(getattr(t, "num_fields", 0)))
    return depth


def _read_parquet(path: Path, name: str, bound: Limits) -> Table:
    import pyarrow.parquet as pq

    try:
        schema = pq.ParquetFile(path).schema
        leaves = [schema.column(i) for i in range(len(schema))]
        # text stays dictionary-encoded as stored: expanded, a 2 KB file of one repeated string took 50 GB
        as_stored = [leaf.path for leaf in leaves if leaf.physical_type in ("BYTE_ARRAY", "FIXED_LEN_BYTE_ARRAY")]
        parquet = pq.ParquetFile(path, read_dictionary=as_stored)
        meta = parquet.metadata
        columns = list(parquet.schema_arrow.names)
        unpacked = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
        # values per leaf column: more than rows when cells hold lists (1 KB can hold 100 million zeros)
        values = [sum(meta.row_group(g).column(j).num_values for g in range(meta.num_row_groups))
                  for j in range(meta.num_columns)]  # fmt: skip
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ...
        raise UserError(f"{name} is not a valid Parquet file ({type(exc).__name__}).") from exc
    if len(columns) > bound.columns:
        raise _too_many_columns(name, len(columns), bound)
    if meta.num_rows > bound.rows or meta.num_rows * max(1, len(columns)) > bound.cells:
        raise _too_many_rows(name, bound, len(columns))
    if sum(values) > bound.cells:
        raise over_limit(
            f"{name} holds {sum(values):,} values (lists inside cells count each element); the limit is "
            f"{bound.cells:,}.",
            "cells",
        )
    if unpacked > bound.unzipped_bytes:
        raise over_limit(
            f"{name} unpacks to {unpacked / 2**20:,.0f} MiB, over the {bound.unzipped_mb:,} MiB limit.", "unzipped_mb"
        )
    if any(_type_depth(f.type) > bound.json_depth for f in parquet.schema_arrow):
        raise _json_depth_error(name, "a column's type", bound)
    try:
        data = parquet.read()
        chars = sum(_text_size(data.column(j)) for j in range(len(columns)))
    except Exception as exc:
        raise UserError(f"{name} is not a valid Parquet file ({type(exc).__name__}).") from exc
    # dictionary encoding stores a repeated value once: a 5 KB file can spell out to gigabytes
    if chars > bound.chars:
        raise _too_many_chars(name, bound)
    cells = [_parquet_column(data.column(j), c, name) for j, c in enumerate(columns)]
    return Table(columns=columns, rows=[list(r) for r in zip(*cells, strict=True)] if cells else [])


def _text_size(array) -> int:
    """An upper bound of the characters an Arrow array's values take as text, read from its encoding.

    Nothing is spelled out: a dictionary-encoded column costs its dictionary's lengths taken by row,
    a list column its elements' sizes, so the bound is known before any Python string exists.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(array, pa.ChunkedArray):
        return sum(_text_size(c) for c in array.chunks)
    kind, n = array.type, len(array)
    types = pa.types
    if types.is_dictionary(kind):
        values = array.dictionary
        if types.is_string(values.type) or types.is_large_string(values.type) or types.is_binary(values.type):
            lengths = pc.utf8_length(values) if not types.is_binary(values.type) else pc.binary_length(values)
            return int(pc.sum(pc.take(lengths, array.indices)).as_py() or 0)
        return _text_size(values) * (n - array.null_count)  # each row at most the whole dictionary
    if types.is_string(kind) or types.is_large_string(kind):
        return int(pc.sum(pc.utf8_length(array)).as_py() or 0)
    if types.is_binary(kind) or types.is_large_binary(kind) or types.is_fixed_size_binary(kind):
        return int(pc.sum(pc.binary_length(array)).as_py() or 0)
    if types.is_map(kind):
        return _text_size(array.keys) + _text_size(array.items) + 8 * len(array.keys) + 2 * n
    if types.is_list(kind) or types.is_large_list(kind) or types.is_fixed_size_list(kind):
        values = array.flatten()
        return _text_size(values) + 4 * len(values) + 2 * n
    if types.is_struct(kind):
        names = sum(len(kind.field(i).name) + 6 for i in range(kind.num_fields))
        return sum(_text_size(array.field(i)) for i in range(kind.num_fields)) + (names + 2) * n
    if getattr(kind, "num_fields", 0):
        raise ValueError(f"unsupported nested type {kind}")  # unions, list views: never seen in user tables
    return 80 * n  # numbers, dates, decimals, booleans: short spellings


def _parquet_column(column, title: str, name: str) -> list[str | None]:
    """One Parquet column as text cells, whatever its type (dates, decimals, bytes, lists, structs, ...)."""
    try:
        return [_cell(v) for v in column.to_pylist()]
    except Exception:  # values Python cannot hold (dates out of range, odd extension types): let Arrow spell them
        import pyarrow as pa

        try:
            return [_cell(v) for v in column.cast(pa.string()).to_pylist()]
        except Exception as exc:
            raise UserError(
                f"{name}: column {short(title)!r} holds values of type {column.type} that cannot be read as text."
            ) from exc


def read_lines(path: str | Path, bound: Limits | None = None) -> tuple[list[str], list[str]]:
    """The lines of a text file (one text per line) and what the reader decided (notes), within ``bound``."""
    bound = bound or _limits.current()
    path = check_file(path, bound)
    name = path.name

    def parse(stream: IO[str]) -> list[str]:
        lines: list[str] = []
        for line in text_lines(stream):
            if len(lines) >= bound.rows:
                raise over_limit(f"{name} has more than {bound.rows:,} lines; the limit is {bound.rows:,}.", "rows")
            if len(line) > bound.cell_chars:
                raise over_limit(
                    f"{name}: line {len(lines) + 1} has {len(line):,} characters; the limit is {bound.cell_chars:,}.",
                    "cell_chars",
                )
            lines.append(line)
        return lines

    notes: list[str] = []
    return read_text(path, name, notes, parse), notes


def check_file(path: str | Path, bound: Limits | None = None) -> Path:
    """``path`` as a Path, if it names a non-empty file within the size limit."""
    bound = bound or _limits.current()
    path = Path(path)
    if not path.exists():
        raise UserError(f"File not found: {path}")
    if not path.is_file():
        raise UserError(f"{path} is not a file.")
    size = path.stat().st_size
    if size == 0:
        raise UserError(f"{path.name} is empty.")
    if size > bound.file_bytes:
        raise over_limit(f"{path.name} is {size / 2**20:,.0f} MiB; the limit is {bound.file_mb:,} MiB.", "file_mb")
    return path


def read_table(path: str | Path, bound: Limits | None = None) -> Table:
    """Read a user's file into a :class:`Table`, within ``bound`` (default: :func:`xlmr_demo.limits.current`).

    Formats by extension: ``.xlsx``, ``.parquet``, ``.jsonl``/``.ndjson``/``.json``, and delimited
    text for anything else (``.csv``, ``.tsv``, ``.txt``, ...), whose delimiter is sniffed.
    """
    bound = bound or _limits.current()
    path = check_file(path, bound)
    name = path.name
    suffix = path.suffix.lower()
    notes: list[str] = []
    try:
        if suffix in (".xlsx", ".xlsm"):
            table = _read_xlsx(path, name, bound)
        elif suffix == ".xls":
            raise UserError(f"{name} is an old Excel 97-2003 file; save it as .xlsx or .csv.")
        elif suffix == ".parquet":
            table = _read_parquet(path, name, bound)
        elif suffix in (".jsonl", ".ndjson", ".json"):
            table = _read_json(path, name, bound, notes)
        else:
            table = _read_delimited(path, name, "\t" if suffix in (".tsv", ".tab") else ",", bound, notes)
    except UserError:
        raise
    except (RecursionError, MemoryError, OSError, ValueError, TypeError, KeyError, IndexError, EOFError) as exc:
        # a reader failing on a user's file is a problem with the file: say so, keep the details in the log
        # (in public mode which reader failed and where, not the file's name or what it held)
        if _limits.public_mode():
            _log.warning("could not read an upload: %s", failure_site(exc))
        else:
            _log.warning("could not read %s", name, exc_info=True)
        raise UserError(
            f"{name} could not be read ({type(exc).__name__}); check that it is a valid {suffix} file."
        ) from exc
    table.notes[:0] = notes
    _check_shape(table, name, bound)
    return table


def _check_shape(table: Table, name: str, bound: Limits) -> None:
    if not table.columns:
        raise UserError(f"{name} has no columns.")
    duplicates = sorted(c for c, n in Counter(table.columns).items() if n > 1)
    if duplicates:
        raise UserError(f"{name} has repeated column names: {columns_text(duplicates)}. Rename them so each is unique.")
    longest = max(table.columns, key=len)
    if len(longest) > bound.name_chars:
        raise over_limit(
            f"{name} has a column name of {len(longest):,} characters ({short(longest)!r}); the limit is "
            f"{bound.name_chars:,}.",
            "name_chars",
        )
    if not table.rows:
        raise UserError(f"{name} has a header but no rows.")
    for i, row in enumerate(table.rows, start=2):
        if max(len(c) if c else 0 for c in row) > bound.cell_chars:
            j = next(j for j, c in enumerate(row) if c and len(c) > bound.cell_chars)
            raise over_limit(
                f"{name}: the cell in row {i}, column {short(table.columns[j])!r} has {len(row[j]):,} characters "
                f"(limit {bound.cell_chars:,}); a quote is probably not closed.",
                "cell_chars",
            )
