"""Readers of user files: what goes in comes back out, whatever the text."""

from __future__ import annotations

import csv
import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xlmr_demo.texts import read_texts

# any Unicode text but NUL (binary marker) and lone surrogates (not encodable as UTF-8)
cell_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40)


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(cells=st.lists(cell_text, min_size=1, max_size=15), delimiter=st.sampled_from([",", "\t"]))
def test_any_table_round_trips_through_the_reader(tmp_path, cells, delimiter):
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter)
    writer.writerow(["id", "text"])
    writer.writerows([str(i), c] for i, c in enumerate(cells))
    path = tmp_path / ("t.csv" if delimiter == "," else "t.tsv")
    path.write_text(buffer.getvalue(), encoding="utf-8", newline="")
    kept = [(i + 1, c) for i, c in enumerate(cells) if c.strip()]
    if not kept:
        return  # an all-blank column is an error, covered in test_cli
    data = read_texts(path, column="text")
    assert data.texts == [c for _, c in kept]
    assert data.rows == [i for i, _ in kept]
    assert len(data.blank_rows) == len(cells) - len(kept)


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(
    lines=st.lists(
        st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r\n"), max_size=30), min_size=1
    )
)
def test_any_text_file_gives_its_non_blank_lines(tmp_path, lines):
    """Lines end at \\n, \\r\\n or \\r only; U+2028, form feeds and the like stay inside a text."""
    path = tmp_path / "lines.txt"
    path.write_text("\n".join(lines), encoding="utf-8")
    expected = [line for line in lines if line.strip()]
    if not expected:
        return
    assert read_texts(path).texts == expected
