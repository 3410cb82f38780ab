"""Questioning a map: rows found by meaning and by words, picked out by a selection, relabelled."""

from __future__ import annotations

import shutil

import pytest

from xlmr_demo.cli import main
from xlmr_demo.corrections import corrected_table
from xlmr_demo.errors import UserError
from xlmr_demo.maps import MapData, build_map, load_map_data
from xlmr_demo.plots import PALETTE
from xlmr_demo.projection import ProjectionConfig
from xlmr_demo.readers import read_table
from xlmr_demo.search import counts_words, find_on_map, fold, relabel_decisions, rows_table, selected_rows
from xlmr_demo.views import map_figure, write_map_html

from .conftest import SAMPLE


@pytest.fixture(scope="module")
def sample_map(encoder):
    return build_map(load_map_data(SAMPLE), config=ProjectionConfig(method="pca"), clusters=4)


def test_a_query_in_one_language_finds_the_same_meaning_in_every_other(sample_map):
    found = find_on_map(sample_map, "Le train a eu deux heures de retard")  # no row says this
    topics = sample_map.data.columns["topic"]
    nearest = found.rows[:10]
    assert sum(topics[i] == "travel" for i in nearest) >= 8
    assert len({sample_map.data.languages[i] for i in nearest}) >= 5  # across languages, not only French
    assert not found.by_words.any() and found.by_meaning.sum() == 25
    assert list(found.similarity) == sorted(found.similarity, reverse=True)


def test_words_are_found_whatever_their_accents_and_case(sample_map):
    texts = sample_map.data.texts
    found = find_on_map(sample_map, "PARAPLUIE")  # "parapluie" in a French row
    assert found.by_words.sum() >= 1
    assert all("parapluie" in fold(texts[i]) for i in found.rows[found.by_words])
    assert fold("Éte  À") == "ete  a" and fold("Ｔｅｓｔ") == "test"
    for meaningless in ("!!!", "\u200b", "  "):  # nothing to mean or to match
        with pytest.raises(UserError, match="Type words"):
            find_on_map(sample_map, meaningless)
    accented = find_on_map(sample_map, "metéo")  # the file writes météo
    assert any("météo" in texts[i] for i in accented.rows[accented.by_words])
    table = rows_table(sample_map, found.rows, found)
    assert table.columns == ["row", "language", "topic", "found cluster", "similarity", "found by", "text"]
    assert {r[5] for r in table.rows} <= {"words", "meaning", "words and meaning"}


def test_found_rows_are_lit_and_the_rest_greyed(sample_map):
    found = find_on_map(sample_map, "football")
    lit = [False] * len(sample_map.data.texts)
    for i in found.rows:
        lit[i] = True
    traces = map_figure(sample_map, lit).to_dict()["data"][1:]  # 2D: found rows selected, the rest grey
    shown = sorted(t["customdata"][j] for t in traces for j in t["selectedpoints"])
    assert shown == sorted(found.rows.tolist()) and all(t["unselected"]["marker"]["color"] == "#d9d9d9" for t in traces)
    assert {t["marker"]["color"] for t in traces} == set(PALETTE[: len(traces)])  # the legend keeps its colours
    deep = build_map(sample_map.data, config=ProjectionConfig(method="pca", dims=3))  # 3D: colours per point
    traces = map_figure(deep, lit).to_dict()["data"][1:]
    colours = [(row, colour) for t in traces for row, colour in zip(t["customdata"], t["marker"]["color"], strict=True)]
    assert len(colours) == len(lit) and all((colour != "#d9d9d9") == lit[row] for row, colour in colours)


def test_a_selection_becomes_rows_counts_and_a_relabelling(sample_map):
    rows = selected_rows(sample_map, "3, 1 2 2")
    assert rows.tolist() == [1, 2, 3]
    words = counts_words(sample_map, rows)
    assert words.startswith("**3 rows selected.**") and "By topic: weather 3." in words and "By language:" in words
    decisions = relabel_decisions(sample_map, rows, "  rain  ")
    assert decisions == {2: "rain", 3: "rain", 4: "rain"}  # the file's data rows, 1-based
    table = read_table(SAMPLE)
    fixed = corrected_table(table, "topic", decisions)
    assert [r[2] for r in fixed.rows[:5]] == ["weather", "rain", "rain", "rain", "weather"]
    assert selected_rows(sample_map, "0 " * 500).tolist() == [0]  # a point named again and again is one point
    hostile = [("7 x", "not a list"), ("999", "another map"), ("-1", "not a list"), ("+3", "not a list"),
               ("1_0", "not a list"), ("٣", "not a list"), ("9" * 20, "not a list")]  # fmt: skip
    for typed, message in hostile:
        with pytest.raises(UserError, match=message):
            selected_rows(sample_map, typed)
    with pytest.raises(UserError, match="Type the label"):
        relabel_decisions(sample_map, rows, " ")
    for word in ("remove", " Keep "):  # the corrections' own words would delete rows or do nothing
        with pytest.raises(UserError, match="a word the corrections use"):
            relabel_decisions(sample_map, rows, word)
    with pytest.raises(UserError, match="Select rows on the map first"):
        relabel_decisions(sample_map, selected_rows(sample_map, ""), "rain")


def test_the_shared_page_starts_with_the_search_and_searches_by_words(tmp_path, sample_map):
    found = find_on_map(sample_map, "الطقس")  # Arabic: "the weather"
    page = write_map_html(sample_map, tmp_path / "m.html", found).read_text(encoding="utf-8")
    hostile = write_map_html(sample_map, tmp_path / "h.html", find_on_map(sample_map, "<img src=x onerror=alert(9)>"))
    assert "<img src=x" not in hostile.read_text(encoding="utf-8")  # the query is escaped like any cell
    assert 'id="search"' in page and "const TEXTS = [" in page and page.count("<h2>Clusters</h2>") == 1
    assert "rows found.</b>" in page and 'dir="auto"' in page
    assert "unicode-bidi:plaintext" in page  # right-to-left cells run right to left


def test_no_cell_can_end_or_keep_open_the_pages_script(tmp_path, encoder):
    texts = ["note <!--<script> here", "</script><script>alert(1)</script>", "plain words", "more plain words"]
    result = build_map(MapData(texts, ["en"] * 4), config=ProjectionConfig(method="pca"))
    page = write_map_html(result, tmp_path / "m.html").read_text(encoding="utf-8")
    script = page[page.index("const TEXTS = ") :]
    assert "<" not in script[: script.index(";")] and "\\u003c!--\\u003cscript>" in script


def test_cli_search_lists_rows_on_stdout(tmp_path, capsys, encoder):
    argv = ["map", str(SAMPLE), "-o", str(tmp_path / "m.html"), "--method", "pca", "--search", "umbrella"]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0] == "row\tlanguage\ttopic\tsimilarity\tfound by\ttext"
    assert len(lines) >= 26 and "rows found." in err
    assert main([*argv[:-1], "  ", "--overwrite"]) == 2
    assert "Type words to look for" in capsys.readouterr().err


CHROMIUM = "/usr/bin/chromium"
#: a cell's space left and right of its text, in pixels
GAPS = """td => { const r = document.createRange(); r.selectNodeContents(td); const t = r.getBoundingClientRect();
const c = td.getBoundingClientRect(); return [t.left - c.left, c.right - t.right]; }"""
RIGHT_TO_LEFT = SAMPLE.parents[1] / "tests" / "data" / "right_to_left.csv"  # written for this project


@pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian's chromium is not installed (CI installs it)")
def test_the_shared_page_searches_offline_and_runs_right_to_left_text_right_to_left(tmp_path, encoder):
    playwright = pytest.importorskip("playwright.sync_api")
    result = build_map(load_map_data(RIGHT_TO_LEFT), config=ProjectionConfig(method="pca"), clusters=2)
    page_file = write_map_html(result, tmp_path / "m.html", find_on_map(result, "גשם"))  # Hebrew: "rain"
    with playwright.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort())  # offline
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(page_file.as_uri())
        page.locator("#map .scatterlayer .point").first.wait_for(timeout=30_000)
        page.fill("#search", "SALT")  # the English row, whatever its case
        page.get_by_text("1 of the points shown hold these words").wait_for(timeout=10_000)
        assert page.locator("#found-rows li").all_inner_texts() == ["This soup needs a little more salt."]
        points = "document.getElementById('map').data.filter(t => t.customdata)"  # not the translations' lines
        lit = page.evaluate(f"() => {points}.flatMap(t => (t.selectedpoints || []).map(j => t.customdata[j]))")
        assert [result.data.texts[r] for r in lit] == ["This soup needs a little more salt."]  # the rest grey
        page.fill("#search", "")
        assert page.evaluate(f"() => {points}.every(t => t.selectedpoints == null)")  # all in colour again
        for text in ["עומד לרדת גשם", "ستمطر", "بارش"]:  # Hebrew, Arabic, Urdu: flush right
            left, right = page.locator("td", has_text=text).first.evaluate(GAPS)
            assert right < 12 < left, (text, left, right)  # the padding on the right, the space on the left
        left, right = page.locator("td", has_text="It is going to rain").first.evaluate(GAPS)
        assert left < 12 < right  # left to right stays flush left
        page.screenshot(path=str(tmp_path / "rtl.png"), full_page=True)
        browser.close()
    assert not errors
