"""The map: from a file of parallel sentences to an offline HTML page that renders."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from xlmr_demo.cli import main
from xlmr_demo.errors import UserError
from xlmr_demo.maps import build_map, load_map_data, map_data_from_table
from xlmr_demo.projection import ProjectionConfig
from xlmr_demo.table import Table
from xlmr_demo.views import centroid_figure, map_figure, summary_lines

from .conftest import ROOT, SAMPLE

CHROMIUM = "/usr/bin/chromium"


def test_sample_data_is_parallel_in_eight_languages():
    rows = list(csv.DictReader(SAMPLE.open(encoding="utf-8")))
    meanings = {r["pair_id"] for r in rows}
    languages = {r["language"] for r in rows}
    assert len(meanings) >= 40 and len(languages) >= 6 and {"ar", "zh", "hi", "ru"} <= languages
    assert len(rows) == len(meanings) * len(languages)
    assert len({r["topic"] for r in rows}) >= 4


def test_columns_are_detected():
    data = load_map_data(SAMPLE)
    assert len(data.texts) == 384 and data.groups is not None
    assert set(data.languages) == {"en", "fr", "de", "es", "ru", "ar", "zh", "hi"}
    assert set(data.columns) == {"topic"}


def test_a_sample_map_aligns_translations_and_groups_topics(encoder):
    result = build_map(load_map_data(SAMPLE), color="topic")
    assert result.projection.coords.shape == (384, 2)
    assert result.rate_full >= 0.9 and result.rate_map >= 0.8
    assert set(result.alignment) == {"en", "fr", "de", "es", "ru", "ar", "zh", "hi"}
    assert result.label_column == "topic" and result.label_separability["accuracy"] > 0.8
    traces = map_figure(result).to_dict()["data"]
    assert traces[0]["name"] == "translations" and {t["name"] for t in traces[1:]} == {
        "weather", "food", "travel", "work", "health", "technology"}  # fmt: skip
    assert "<b>language</b>: " in traces[1]["hovertext"][0]
    assert centroid_figure(result).to_dict()["data"][0]["zmin"] == 0  # no exaggerated contrast
    lines = summary_lines(result)
    assert lines[0].startswith("Drawn with t-SNE") and "group by what they say" in lines[1]
    assert "By language, the map is mixed" in lines[-2]  # centred: languages interleave
    assert lines[-1].startswith("By topic, the map is strongly grouped")
    assert any(line.startswith("The same per language") for line in lines)


def test_hover_text_is_escaped_and_truncated(encoder):
    rows = [[f"<script>alert({i})</script> " + "word " * 60, "en" if i % 2 else "fr", str(i // 2)] for i in range(20)]
    data = map_data_from_table(Table(["text", "language", "pair_id"], rows), "t")
    result = build_map(data, config=ProjectionConfig(method="pca"))
    hover = map_figure(result).to_dict()["data"][1]["hovertext"][0]
    assert "<script>" not in hover and "&lt;script&gt;" in hover and hover.endswith("…")


def test_three_dimensional_map_and_missing_pair_ids(encoder):
    rows = [["hello there", "en", "1"], ["bonjour", "fr", "1"], ["good bye", "en", ""], ["adieu", "fr", None]] * 5
    data = map_data_from_table(Table(["text", "language", "pair_id"], rows), "t")
    result = build_map(data, config=ProjectionConfig(dims=3))
    assert result.projection.coords.shape == (20, 3)
    assert map_figure(result).to_dict()["data"][1]["type"] == "scatter3d"


def test_colouring_by_an_unknown_column_is_a_user_error(encoder):
    with pytest.raises(UserError, match="Cannot colour by 'stars'; choose language or one of: topic"):
        build_map(load_map_data(SAMPLE), color="stars")


def test_cli_writes_html_and_coordinates(tmp_path, capsys, encoder):
    html, coords = tmp_path / "map.html", tmp_path / "coords.csv"
    assert main(["map", str(SAMPLE), "--output", str(html), "--coords", str(coords), "--method", "pca"]) == 0
    err = capsys.readouterr().err
    assert "Drawn with PCA" in err and "average position was taken out first" in err
    page = html.read_text(encoding="utf-8")
    assert "Plotly.newPlot" in page and '<script src="http' not in page  # plotly.js inlined: works offline
    rows = list(csv.DictReader(coords.open(encoding="utf-8-sig")))
    assert (
        len(rows) == 384
        and {"x", "y", "pair_id", "topic"} <= set(rows[0])
        and float(rows[0]["x"]) == float(rows[0]["x"])
    )
    parquet = tmp_path / "coords.parquet"  # for maps of millions: float32 coordinates, text cells as strings
    assert main(["map", str(SAMPLE), "--output", str(html), "--coords", str(parquet), "--method", "pca",
                 "--overwrite"]) == 0  # fmt: skip
    table = pq.read_table(parquet)
    assert table.num_rows == 384 and table.column_names == list(rows[0])
    assert np.allclose(table.column("x").to_numpy(), [float(r["x"]) for r in rows], atol=1e-5)


@pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian's chromium is not installed (CI installs it)")
def test_map_html_renders_in_headless_chromium(tmp_path, encoder):
    playwright = pytest.importorskip("playwright.sync_api")
    html = tmp_path / "map.html"
    assert main(["map", str(SAMPLE), "--output", str(html)]) == 0
    shot = Path(ROOT / "tests" / "_artifacts")
    shot.mkdir(exist_ok=True)
    with playwright.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(html.as_uri())
        page.locator(".js-plotly-plot .scatterlayer .point").first.wait_for(timeout=30_000)
        points = page.locator(".js-plotly-plot .scatterlayer .point").count()
        page.screenshot(path=str(shot / "map.png"), full_page=True)
        browser.close()
    assert not errors and points == 384
    assert (shot / "map.png").stat().st_size > 20_000


def test_map_can_colour_by_a_classifiers_predictions_and_correctness(tmp_path, capsys, encoder):
    head = tmp_path / "head"
    assert main(["train", str(SAMPLE), "--label-column", "topic", "--output", str(head)]) == 0
    coords = tmp_path / "coords.csv"
    argv = ["map", str(SAMPLE), "--head", str(head), "--color", "correct", "--output", str(tmp_path / "m.html"),
            "--coords", str(coords), "--method", "pca"]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    rows = list(csv.DictReader(coords.open(encoding="utf-8-sig")))
    assert {r["correct"] for r in rows} <= {"yes", "no"}
    accuracy = sum(r["correct"] == "yes" for r in rows) / len(rows)
    assert accuracy > 0.8  # 8 languages x 48 meanings, 6 topics: an easy task for the embedded model
    assert all(r["correct"] == ("yes" if r["predicted_label"] == r["topic"] else "no") for r in rows)


def test_a_map_can_show_some_languages_only(encoder):
    data = load_map_data(SAMPLE)
    shown = data.keep_languages(["fr", "zh"])
    assert set(shown.languages) == {"fr", "zh"} and len(shown.texts) == 96
    kept = [t for t, lang in zip(data.columns["topic"], data.languages, strict=True) if lang in ("fr", "zh")]
    assert shown.columns["topic"] == kept
    assert shown.notes[-1] == "Showing 2 of 8 languages (96 of 384 rows)."
    assert data.keep_languages([]) is data
    with pytest.raises(UserError, match="No row is in the languages chosen"):
        data.keep_languages(["xx"])


def test_a_map_of_300000_points_draws_their_density_and_a_sample_as_dots(tmp_path, encoder):
    """Maps of millions: the page shows where every point lies (binned) and 20,000 of them with their texts."""
    import plotly.graph_objects as go
    import plotly.io

    from xlmr_demo.plots import DOTS_SHOWN, embedding_map

    rng = np.random.default_rng(0)
    n = 300_000
    centres = rng.normal(0, 10, (12, 2))
    which = rng.integers(0, 12, n)
    coords = (centres[which] + rng.normal(0, 1, (n, 2))).astype(np.float32)
    languages = [f"l{k}" for k in which]
    languages[123] = "rare"  # one point of its own: its colour is in the legend even when not among the dots
    figure = embedding_map(coords, languages, texts=[f"text {i}" for i in range(n)], groups=[None] * n)
    density, *dots = figure.data
    assert isinstance(density, go.Heatmap) and np.nansum(np.expm1(np.asarray(density.z, float))) == pytest.approx(n)
    assert sum(len(t.x) for t in dots) == DOTS_SHOWN and all(isinstance(t, go.Scattergl) for t in dots)
    assert {t.name for t in dots} == set(languages) and "a sample of 20,000" in figure.layout.title.text
    html = tmp_path / "big.html"
    plotly.io.write_html(figure, html, include_plotlyjs=True)
    assert html.stat().st_size < 12_000_000  # 300,000 dots with tooltips would be ~60 MB
