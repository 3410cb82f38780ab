"""Writes the awkward input files next to this script (run once; the files are committed).

    python tests/data/awkward/make_files.py

Each file is one way a user's upload can be malformed, hostile or just unusual; tests/test_tables.py
and tests/test_dataset.py say what each must give.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

HERE = Path(__file__).parent
OK_ROWS = (
    "text,label\nI love it,pos\nterrible service,neg\nC'est génial,pos\nNul à chier,neg\nmuy bueno,pos\nmuy malo,neg\n"
)


def write(name: str, data: str | bytes, encoding: str = "utf-8") -> None:
    (HERE / name).write_bytes(data if isinstance(data, bytes) else data.encode(encoding))


def main() -> None:
    write("utf8.csv", OK_ROWS)
    write("utf8_bom.csv", b"\xef\xbb\xbf" + OK_ROWS.encode())
    write("utf16le_bom.csv", OK_ROWS, "utf-16")  # Python writes a BOM, little-endian here
    write("utf16be_bom.tsv", b"\xfe\xff" + OK_ROWS.replace(",", "\t").encode("utf-16-be"))
    write("cp1252.csv", "text,label\ncafé crème,pos\nà éviter,neg\n€ cher,neg\nsuper été,pos\n", "cp1252")
    write("semicolon.csv", OK_ROWS.replace(",", ";").replace("C'est génial;pos", '"C\'est génial, vraiment";pos'))
    write("pipe.txt", OK_ROWS.replace(",", "|"))
    write("crlf.csv", OK_ROWS.replace("\n", "\r\n"))
    write("multiline_quoted.csv", 'text,label\n"line one\nline two",pos\n"say ""hi""",neg\nok,pos\nbad,neg\n')
    write("ragged.csv", "text,label\nfine,pos\ntoo,many,fields,here\n")
    write("unterminated_quote.csv", 'text,label\n"never closed,pos\nnext,neg\n')
    write("binary_junk.csv", bytes(range(256)) * 64)
    write("not_really.xlsx", OK_ROWS)
    write("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504)
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_BZIP2) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\x00" * (600 * 1024 * 1024))
    write("zip_bomb.xlsx", bomb.getvalue())
    write("one_class.csv", "text,label\na,pos\nb,pos\nc,pos\n")
    write("huge_cell.csv", "text,label\n" + "x" * 150_000 + ",pos\nshort,neg\n")
    write(
        "formulas.csv",
        'text,label\n=HYPERLINK("http://evil"),pos\n+1+1,neg\n-2,pos\n@SUM(A1),neg\nplain,pos\nfine,neg\n',
    )
    write(
        "rtl_emoji.csv",
        "text,label\nأحب هذا المنتج 😍,pos\nخدمة سيئة جدا 😡,neg\nשירות מעולה 👍,pos\nגרוע מאוד 👎,neg\n",
    )
    write(
        "blank_labels.csv",
        "text,label\ngood,pos\nbad,neg\nno label,\nnan label,NaN\nnull label,null\nfine,pos\nawful,neg\n",
    )
    write("numeric_labels.csv", "text,stars\ngreat,5\ngood,4\nbad,1\nawful,1\nsuper,5\nnice,4\n")
    write("id_like_labels.csv", "text,label\n" + "".join(f"text {i},id-{i:05d}\n" for i in range(30)))
    write("continuous_labels.csv", "text,label\n" + "".join(f"text {i},{i * 0.137:.3f}\n" for i in range(40)))
    write("header_only.csv", "text,label\n")
    write("empty.csv", "")
    write("blank_texts.csv", "text,label\ngood,pos\n,neg\n   ,pos\nbad,neg\nok,pos\nno,neg\n")
    write(
        "conflicting_duplicates.csv",
        "text,label\nsame text,pos\nsame text,neg\nSAME TEXT ,pos\nother,neg\nmore,pos\nless,neg\n",
    )
    write("tiny_class.csv", "text,label\na,pos\nb,pos\nc,neg\nd,neg\ne,rare\n")
    write(
        "small_class.csv",
        "text,label\n" + "".join(f"p{i},pos\nn{i},neg\n" for i in range(6)) + "r1,rare\nr2,rare\nr3,rare\n",
    )
    write("duplicate_columns.csv", "text,text,label\na,b,pos\n")
    write(
        "data.jsonl",
        "".join(
            json.dumps({"text": t, "label": lab}, ensure_ascii=False) + "\n"
            for t, lab in [("bien", "pos"), ("mal", "neg"), ("gut", "pos"), ("schlecht", "neg")]
        ),
    )
    write("bad.jsonl", '{"text": "ok", "label": "pos"}\n{"text": "ok2", "label": "neg"}\n{"text": broken\n')
    write("corrupt.parquet", b"PAR1" + b"garbage" * 10)
    write("no_text_column.csv", "a,b\n1,2\n3,4\n5,6\n")
    write(
        "split_column.csv",
        "text,label,split\n"
        + "".join(
            f"good {i},pos,{s}\nbad {i},neg,{s}\n" for i, s in enumerate(["train"] * 6 + ["dev"] * 2 + ["test"] * 2)
        ),
    )
    write("bad_split_values.csv", "text,label,split\na,pos,train\nb,neg,train\nc,pos,later\nd,neg,test\n")
    write("nan_text.csv", "text,label\nNaN,pos\nreal text,neg\nmore,pos\nless,neg\nplus,pos\n")
    import openpyxl
    import pyarrow as pa
    import pyarrow.parquet as pq

    book = openpyxl.Workbook()
    sheet = book.active
    for row in [
        ("text", "label", "n"),
        ("bonjour", "greeting", 1),
        ("au revoir", "farewell", 2),
        ("hola", "greeting", 3),
        ("adiós", "farewell", 4),
    ]:
        sheet.append(row)
    book.save(HERE / "data.xlsx")
    columns = {
        "text": ["good", "bad", None, "fine", "awful", "nice"],
        "label": ["pos", "neg", "pos", "pos", "neg", "pos"],
        "score": [1.0, 0.0, None, 0.5, 0.1, 0.9],
    }
    pq.write_table(pa.table(columns), HERE / "data.parquet")


if __name__ == "__main__":
    main()
