"""Writing files: outputs checked before work, atomic writes, tables as CSV or Excel."""

from __future__ import annotations

import csv
import itertools
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from .table import Table


def same_path(a: str | Path, b: str | Path) -> bool:
    """Whether ``a`` and ``b`` name the same file or folder (links and relative spellings included)."""
    a, b = Path(a), Path(b)
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def output_file(
    path: str | Path, suffixes: tuple[str, ...], what: str, *, inputs: Iterable[str | Path] = (), overwrite: bool = True
) -> Path:
    """Check, before any work, that ``path`` can be written as a ``what`` file with one of ``suffixes``.

    An output that is also one of ``inputs`` is always refused (it would replace the input); an
    existing file is refused unless ``overwrite`` (the command line's ``--overwrite``).
    """
    from .errors import UserError

    path = Path(path)
    if path.suffix.lower() not in suffixes:
        wanted = " or ".join(suffixes)
        raise UserError(
            f"{what} is written as {wanted}, not {path.suffix or 'a file without extension'} ({path.name})."
        )
    if not path.parent.is_dir():
        raise UserError(f"Cannot write {path}: folder {path.parent} does not exist.")
    if path.is_dir():
        raise UserError(f"{what} {path} is a folder; give a file name.")
    if any(same_path(path, source) for source in inputs):
        raise UserError(f"{what} {path} is also an input: writing it would replace that input. Choose another name.")
    if path.exists() and not overwrite:
        raise UserError(f"{path} already exists; choose another name, or add --overwrite to replace it.")
    return path


def output_folder(
    path: str | Path, what: str, *, replaceable: Callable[[Path], bool], inputs: Iterable[str | Path] = (),
    overwrite: bool = False,
) -> Path:  # fmt: skip
    """Check, before any work, that folder ``path`` can be written.

    A new or empty folder always can. An existing one only with ``overwrite``, and only if
    ``replaceable(path)`` says it holds what we write (a saved classifier), never an unrelated folder;
    a folder that holds one of ``inputs`` never.
    """
    from .errors import UserError

    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UserError(f"{what} {path} is a file; give a folder.")
    for source in inputs:
        if same_path(path, source) or Path(source).resolve().is_relative_to(path.resolve()):
            raise UserError(f"{what} {path} holds an input ({Path(source).name}); choose another folder.")
    if path.is_dir() and any(path.iterdir()):
        if not overwrite:
            raise UserError(f"{path} already exists; choose another folder, or add --overwrite to replace it.")
        if not replaceable(path):
            raise UserError(f"{path} is not a folder this command wrote, so it is not replaced. Choose another folder.")
    return path


def write_file_atomically(path: Path, write: Callable[[Path], object]) -> Path:
    """Write ``path`` through a temporary sibling renamed into place: readers never see half a file."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)  # mkstemp makes it owner-only; a saved model or table is an ordinary file
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


def save_npy(path: Path, array) -> Path:
    """Write ``array`` as a .npy file, atomically."""
    import numpy as np

    def write(tmp: Path) -> None:
        with tmp.open("wb") as fh:  # a file object: np.save would append .npy to a path
            np.save(fh, array)

    return write_file_atomically(path, write)


def write_dir_atomically(target: Path, fill: Callable[[Path], None], replace: bool = False) -> Path:
    """Create directory ``target`` by filling a temporary sibling and renaming it into place.

    Readers therefore see either no directory or a complete one, even if the writer is killed
    half-way or two processes race (the loser's copy is discarded). An existing ``target`` is kept
    as it is, unless ``replace``: then it is swapped for the new one, and removed.
    """
    if target.is_dir() and not replace:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    old = None
    try:
        fill(tmp)
        os.chmod(tmp, 0o755)  # mkdtemp makes it owner-only; a saved model is an ordinary folder
        if replace and target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
            os.replace(target, old / target.name)
        try:
            os.rename(tmp, target)
        except OSError:
            if not target.is_dir():  # a real failure, not a lost race
                raise
    finally:
        for leftover in (tmp, old):
            if leftover is not None and leftover.exists():
                shutil.rmtree(leftover, ignore_errors=True)
    return target


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # what spreadsheets may execute as a formula


NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def neutralise(cell: str) -> str:
    """Prefix a cell that a spreadsheet would run as a formula with ``'`` (CSV injection).

    Plain numbers such as ``-6.3`` are left alone: a spreadsheet reads them as numbers, not formulas.
    """
    if cell.startswith(FORMULA_STARTS) and not NUMBER.fullmatch(cell):
        return "'" + cell
    return cell


def neutralised_cells(table: Table) -> int:
    """How many cells of ``table`` :func:`write_table` prefixes with ``'``."""
    cells = itertools.chain(table.columns, (c for row in table.rows for c in row if c))
    return sum(neutralise(c) != c for c in cells)


TABLE_SUFFIXES = (".csv", ".tsv", ".xlsx")
EXCEL_MAX_CHARS = 32_767  # characters in one cell
EXCEL_MAX_ROWS = 1_048_576  # rows in a sheet, the header included
EXCEL_MAX_COLUMNS = 16_384
# characters a workbook cannot hold (XML 1.0 forbids them): openpyxl refuses the whole file
EXCEL_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def excel_text(cell: str | None) -> str:
    """``cell`` as an Excel workbook can hold it: control characters removed, cut at 32,767 characters."""
    cell = EXCEL_ILLEGAL.sub("", cell or "")
    return cell if len(cell) <= EXCEL_MAX_CHARS else cell[: EXCEL_MAX_CHARS - 1] + "…"


def write_table(table: Table, path: str | Path) -> Path:
    """Write ``table`` atomically: CSV (TSV for .tsv) with formula-like cells neutralised, or an
    Excel workbook (.xlsx) whose every cell is text, so nothing in it runs as a formula."""
    path = output_file(path, TABLE_SUFFIXES, "A table")
    if path.suffix.lower() == ".xlsx":
        return write_file_atomically(path, lambda tmp: _write_xlsx(table, tmp))
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","

    def write(tmp: Path) -> None:
        with tmp.open("w", encoding="utf-8-sig", newline="") as fh:  # BOM: Excel then reads UTF-8
            writer = csv.writer(fh, delimiter=delimiter)
            writer.writerow([neutralise(c) for c in table.columns])
            writer.writerows([neutralise(c or "") for c in row] for row in table.rows)

    return write_file_atomically(path, write)


def _write_xlsx(table: Table, path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    from .errors import UserError

    if len(table) + 1 > EXCEL_MAX_ROWS or len(table.columns) > EXCEL_MAX_COLUMNS:
        raise UserError(
            f"{len(table):,} rows and {len(table.columns):,} columns do not fit in an Excel sheet "
            f"({EXCEL_MAX_ROWS - 1:,} rows and {EXCEL_MAX_COLUMNS:,} columns at most); download a CSV instead."
        )
    book = Workbook(write_only=True)  # rows streamed to disk, not held as cell objects
    sheet = book.create_sheet("predictions")

    def text_cells(values) -> list:
        cells = []
        for value in values:
            cell = WriteOnlyCell(sheet, value=excel_text(value))
            cell.data_type = "s"  # text even when it starts with "=": never a formula
            cells.append(cell)
        return cells

    sheet.append(text_cells(table.columns))
    for row in table.rows:
        sheet.append(text_cells(row))
    book.save(path)
