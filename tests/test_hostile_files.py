"""Files an anonymous visitor could send: each is refused (or read) within its bounds, before the work it guards.

One test per attack on the readers found by trying the public app as a visitor would (issue 10),
plus the attacks that already held and must keep holding.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import tracemalloc
import zipfile

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from xlmr_demo.columns import detect_columns
from xlmr_demo.errors import UserError
from xlmr_demo.limits import Limits
from xlmr_demo.readers import read_lines, read_table, sniff_delimiter


def _peak_mib(fn) -> float:
    """Peak memory Python allocated while ``fn`` ran, in MiB."""
    tracemalloc.start()
    with contextlib.suppress(UserError):
        fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def test_thirty_thousand_columns_are_refused_at_the_header(tmp_path):
    path = tmp_path / "wide.csv"
    path.write_text(",".join(f"c{i}" for i in range(30_000)) + "\n" + ",".join("x" * 30_000) + "\n")
    with pytest.raises(UserError, match="has 30,000 columns; the limit is 1,000"):
        read_table(path)


def test_eleven_million_tiny_rows_are_refused_while_streaming(tmp_path):
    path = tmp_path / "tall.csv"
    path.write_bytes(b"t\n" + b"a\n" * 11_000_000)  # 22 MB
    with pytest.raises(UserError, match="more than 200,000 rows; the limit is 200,000"):
        read_table(path)
    # the file is never held whole: less memory than the file itself (the rows kept cost ~16 MiB)
    assert _peak_mib(lambda: read_table(path)) < 22
    with pytest.raises(UserError, match="more than 200,000 lines"):
        read_lines(path)  # `embed` reads .txt files line by line, under the same bound


def test_the_cells_bound_stops_a_table_of_many_short_columns(tmp_path):
    path = tmp_path / "cells.csv"
    path.write_text(",".join(f"c{i}" for i in range(100)) + "\n" + ("," * 99 + "\n") * 60_000)
    with pytest.raises(UserError, match="100 columns and more than 50,000 rows, over the limit of 5,000,000 cells"):
        read_table(path)


def test_a_parquet_file_of_ten_million_rows_is_refused_from_its_metadata(tmp_path, monkeypatch):
    path = tmp_path / "rows.parquet"
    pq.write_table(pa.table({"text": pa.array(["x"] * 10_000_000).dictionary_encode()}), path)
    assert path.stat().st_size < 200_000  # dictionary encoding: a small file of many rows

    def no_reading(*args, **kwargs):
        raise AssertionError("the rows were read before the row count was checked")

    monkeypatch.setattr(pq.ParquetFile, "read", no_reading)
    with pytest.raises(UserError, match="more than 200,000 rows"):
        read_table(path)


def test_a_parquet_file_that_unpacks_beyond_the_bound_is_refused(tmp_path):
    path = tmp_path / "big.parquet"
    pq.write_table(pa.table({"text": ["é" * 1000] * 3000}), path, use_dictionary=False)
    with pytest.raises(UserError, match=r"unpacks to \d MiB, over the 1 MiB limit"):
        read_table(path, Limits(unzipped_mb=1))


def test_odd_parquet_types_are_read_as_text(tmp_path):
    import datetime
    import decimal

    path = tmp_path / "odd.parquet"
    table = pa.table(
        {
            "text": ["hello", "world"],
            "when": pa.array([datetime.datetime(2024, 5, 1, 12, 30), None]),
            "price": pa.array([decimal.Decimal("1.50"), None]),
            "raw": pa.array([b"caf\xc3\xa9", b"\xff"]),
            "tags": pa.array([["a", "b"], []]),
            "info": pa.array([{"x": 1, "y": "z"}, None]),
            "pairs": pa.array([[("k", 1)], None], type=pa.map_(pa.string(), pa.int64())),
            "half": pa.array([1.5, None], type=pa.float16()),
            "flag": [True, False],
        }
    )
    pq.write_table(table, path)
    rows = read_table(path).rows
    assert rows[0] == ["hello", "2024-05-01 12:30:00", "1.50", "café", '["a", "b"]', '{"x": 1, "y": "z"}',
                       '[["k", 1]]', "1.5", "True"]  # fmt: skip
    assert rows[1][3] == "\ufffd" and rows[1][4] == "[]"


def test_deeply_nested_json_lines_are_refused_not_recursed(tmp_path):
    for depth in (40, 5_000, 100_000):  # beyond the limit; beyond Python's recursion limit; far beyond
        path = tmp_path / f"deep{depth}.jsonl"
        path.write_text('{"text": "a", "x": ' + "[" * depth + "]" * depth + "}\n")
        with pytest.raises(UserError, match="line 1 nests values more than 32 levels deep"):
            read_table(path)
    ok = tmp_path / "ok.jsonl"
    ok.write_text('{"text": "a", "x": ' + "[" * 31 + "]" * 31 + "}\n")
    assert read_table(ok).columns == ["text", "x"]


def test_a_deep_json_array_and_a_5000_digit_number_are_plain_errors(tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text('[{"text": "a"}, ' + "[" * 50_000 + "]" * 50_000 + "]")
    with pytest.raises(UserError, match="an element of the array nests values more than 32 levels"):
        read_table(deep)
    digits = tmp_path / "digits.jsonl"
    digits.write_text('{"text": "a", "n": ' + "7" * 5000 + "}\n")
    with pytest.raises(UserError, match="line 1 holds a number too long to read"):
        read_table(digits)


def test_a_json_array_of_millions_of_records_is_refused_while_parsing(tmp_path):
    path = tmp_path / "many.json"
    path.write_text("[" + ",".join(['{"t": "x"}'] * 1_000_000) + "]")
    with pytest.raises(UserError, match="more than 200,000 rows"):
        read_table(path)


def test_crafted_quotes_do_not_fool_the_delimiter_sniffer():
    """csv.Sniffer took 10 s on 64 KB of '",' pairs (quadratic regexes); ours parses each candidate once."""
    assert sniff_delimiter('",' * 32_768) == ","
    assert sniff_delimiter("a;b\n1;2\n3;4\n") == ";"
    assert sniff_delimiter('text|label\n"a, b"|pos\n') == "|"
    assert sniff_delimiter("one text per line\nno separators\n") == ","


def _zip(entries: dict[str, bytes], n_empty: int = 0) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
        for i in range(n_empty):
            archive.writestr(f"e{i}", b"")
    return buffer.getvalue()


def test_a_zip_of_a_hundred_thousand_entries_is_refused_by_its_count(tmp_path):
    path = tmp_path / "many.xlsx"
    path.write_bytes(_zip({}, n_empty=100_000))  # zip64: the count sits in the zip64 end record
    with pytest.raises(UserError, match="holds 100,000 files; the limit is 1,000"):
        read_table(path)


def test_billion_laughs_in_a_workbook_is_refused(tmp_path):
    import openpyxl

    book = openpyxl.Workbook()
    book.active.append(["text", "label"])
    book.active.append(["hello", "pos"])
    buffer = io.BytesIO()
    book.save(buffer)
    source = zipfile.ZipFile(buffer)
    entities = '<!ENTITY lol0 "lol">' + "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))
    sheet = (
        f'<?xml version="1.0"?><!DOCTYPE lolz [{entities}]><worksheet '
        'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1">'
        '<c r="A1" t="inlineStr"><is><t>&lol9;</t></is></c></row></sheetData></worksheet>'
    )
    files = {n: source.read(n) for n in source.namelist()}
    files["xl/worksheets/sheet1.xml"] = sheet.encode()
    path = tmp_path / "laughs.xlsx"
    path.write_bytes(_zip(files))
    with pytest.raises(UserError, match="could not be read as an Excel workbook"):
        read_table(path)


def test_column_detection_on_the_widest_allowed_table_reads_each_column_a_few_times(tmp_path):
    import random

    rng = random.Random(0)
    header = ["text", "label", *(f"n{i}" for i in range(998))]
    rows = [[f"some words {rng.random()}", rng.choice("ab"), *(str(rng.random()) for _ in range(998))]
            for _ in range(200)]  # fmt: skip
    path = tmp_path / "wide.csv"
    path.write_text("\n".join(",".join(r) for r in [header, *rows]))
    table = read_table(path)
    mapping = detect_columns(table, "wide.csv")
    assert (mapping.text, mapping.label) == ("text", "label")


def test_a_giant_column_name_is_refused_and_never_repeated_whole(tmp_path):
    """Every page and message shows column names: a 40,000-character key would be sent back in each."""
    path = tmp_path / "key.jsonl"
    path.write_text(json.dumps({"text": "a", "k" * 40_000: "b"}) + "\n")
    with pytest.raises(UserError, match="column name of 40,000 characters") as refused:
        read_table(path)
    assert len(str(refused.value)) < 300


def test_a_few_kilobytes_that_repeat_a_long_value_are_refused_before_it_is_spelled_out(tmp_path):
    """Parquet dictionaries and Excel shared strings store a value once: 5 KB spelled out to 20 GB."""
    import openpyxl

    parquet = tmp_path / "dictionary.parquet"
    indices = pa.array(np.zeros(200_000, np.int32))  # every row refers to the one value (never spelled out here)
    pq.write_table(pa.table({"text": pa.DictionaryArray.from_arrays(indices, pa.array(["x" * 100_000]))}), parquet)
    assert parquet.stat().st_size < 10_000
    assert _peak_mib(lambda: read_table(parquet)) < 50
    with pytest.raises(UserError, match="holds more than 200,000,000 characters"):
        read_table(parquet)
    book = openpyxl.Workbook()
    book.active.append(["text", "label"])
    for _ in range(40):
        book.active.append(["y" * 30_000, "label"])  # Excel's cells hold at most 32,767 characters
    workbook = tmp_path / "shared.xlsx"
    book.save(workbook)
    assert workbook.stat().st_size < 100_000
    with pytest.raises(UserError, match="holds more than 1,000,000 characters"):
        read_table(workbook, Limits(chars=1_000_000))


def test_rows_beyond_a_workbooks_declared_dimension_are_read(tmp_path):
    import openpyxl

    book = openpyxl.Workbook()
    for i in range(50):
        book.active.append([f"text {i}", "label"])
    honest = tmp_path / "honest.xlsx"
    book.save(honest)
    lying = tmp_path / "lying.xlsx"
    with zipfile.ZipFile(honest) as source, zipfile.ZipFile(lying, "w") as target:
        for name in source.namelist():
            data = source.read(name)
            if name == "xl/worksheets/sheet1.xml":
                data = re.sub(rb'<dimension ref="A1:B50"\s*/>', b'<dimension ref="A1:B2"/>', data)
                assert b'ref="A1:B2"' in data
            target.writestr(name, data)
    assert len(read_table(lying)) == 49


def test_a_zip_that_lies_about_its_entry_count_is_caught_by_its_directory_size(tmp_path):
    path = tmp_path / "lying.xlsx"
    path.write_bytes(_zip({}, n_empty=30_000))  # a directory of 1.6 MB: zipfile would parse every entry
    data = bytearray(path.read_bytes())
    end = data.rfind(b"PK\x05\x06")
    data[end + 8 : end + 12] = (4).to_bytes(2, "little") * 2  # "4 entries", on this disk and in all
    path.write_bytes(bytes(data))
    with pytest.raises(UserError, match="the limit is 1,000"):
        read_table(path)


def test_thousands_of_labels_that_unicode_normalisation_would_blow_up_are_refused_first():
    """U+FDFA is one character that NFKC spells as 18: 50,000 such labels would be normalised to 90M characters."""
    from xlmr_demo.dataset import prepare_dataset
    from xlmr_demo.table import Table

    rows = [[f"text {i}", "\ufdfa" * 100 + str(i // 2), "ar"] for i in range(100_000)]  # each twice: not an ID
    table = Table(columns=["text", "label", "language"], rows=rows)
    peak = _peak_mib(lambda: prepare_dataset(table, "labels.csv"))
    with pytest.raises(UserError, match="has 50,000 different labels; the limit is 200 classes"):
        prepare_dataset(table, "labels.csv")
    assert peak < 40  # 10 MiB measured; normalising every label first took 197 MiB and 44 s
