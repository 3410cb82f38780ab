"""Named clusters of a map, in any language: found in the model's dimensions, named by words of one language."""

from __future__ import annotations

import csv
from collections import Counter

import numpy as np
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import normalized_mutual_info_score

from xlmr_demo.cli import main
from xlmr_demo.clusters import auto_clusters, find_clusters, words_of
from xlmr_demo.encoders import embed
from xlmr_demo.errors import UserError
from xlmr_demo.maps import MapData, build_map, load_map_data, write_coords
from xlmr_demo.projection import ProjectionConfig
from xlmr_demo.views import map_figure, summary_lines

from .conftest import SAMPLE, sib

LANGUAGES = ("spa_Latn", "pol_Latn", "kor_Hang", "ukr_Cyrl")


@pytest.fixture(scope="module")
def sib_rows(encoder):
    rows = sib(LANGUAGES, 150)  # the same 150 sentences in four languages and three scripts
    texts = [r[3] for r in rows]
    return rows, texts, embed(texts).embeddings


def test_clusters_of_a_parallel_file_follow_its_topics_and_mix_its_languages(sib_rows):
    rows, texts, X = sib_rows
    topics, languages = [r[2] for r in rows], [r[1] for r in rows]
    found = find_clusters(X, languages, texts, "embedded", k=7, names_language="sp")
    assert normalized_mutual_info_score(topics, found.labels) > 0.3  # chance is about 0.01
    assert sum(found.sizes) == len(rows) and found.sizes == sorted(found.sizes, reverse=True)
    for mix in found.languages:  # by meaning, not by language: each cluster holds the four languages alike
        assert len(mix) == 4 and max(mix.values()) <= 0.4 * sum(mix.values())
    # named with Spanish words, each found in the cluster's Spanish rows
    for c, words in enumerate(found.words):
        spanish = " ".join(t for t, lang, label in zip(texts, languages, found.labels, strict=True)
                           if lang == "sp" and label == c).casefold()  # fmt: skip
        assert len(words) == 3 and all(w in spanish for w in words), (c, words)
    assert found.names_language == "sp"
    named_in_korean = find_clusters(X, languages, texts, "embedded", k=7, names_language="ko")
    assert all(any("\uac00" <= ch <= "\ud7a3" for ch in name) for name in named_in_korean.names)  # Hangul
    assert (named_in_korean.labels == found.labels).all()  # the names change, not the clusters


def test_a_language_the_file_lacks_names_clusters_in_its_most_common_language(sib_rows):
    rows, texts, X = sib_rows
    languages = [r[1] for r in rows[:450]]  # spanish, polish and korean: 150 rows each, spanish first
    found = find_clusters(X[:450], languages, texts[:450], "embedded", k=4, names_language="en")
    assert found.names_language == "sp"


def test_words_are_cut_as_each_script_is_written():
    assert words_of("L'été, à 10 h: Été!") == ["l'été", "été"]  # case folded, numbers and short words out
    assert words_of("東京の天気") == ["東京", "京の", "の天", "天気"]  # no spaces: two-character pieces
    assert words_of("الطقس جميل اليوم") == ["الطقس", "جميل", "اليوم"]


def test_the_number_of_clusters_follows_the_rows_and_is_bounded(sib_rows):
    assert [auto_clusters(n) for n in (10, 384, 8032, 10**6)] == [2, 4, 18, 20]
    rows, texts, X = sib_rows
    for asked in (51, 1, 2.5, "abc", 10**30):
        with pytest.raises(UserError, match="whole number of clusters from 2 to 50"):
            find_clusters(X, [r[1] for r in rows], texts, "embedded", k=asked)
    with pytest.raises(UserError, match="too few for 7 clusters"):
        find_clusters(X[:10], [r[1] for r in rows[:10]], texts[:10], "embedded", k=7)


def test_a_map_shows_names_colours_by_cluster_and_writes_both_columns(tmp_path, encoder):
    data = load_map_data(SAMPLE)
    result = build_map(data, config=ProjectionConfig(method="pca"), color="cluster")
    clusters = result.clusters
    assert clusters is not None and len(clusters.sizes) == auto_clusters(384)
    english = [words_of(t) for t, lang in zip(data.texts, data.languages, strict=True) if lang == "en"]
    common = {w for w, n in Counter(w for words in english for w in set(words)).items() if n >= 3}  # of 48 rows
    assert not common & {w for words in clusters.words for w in words}  # names say something: no "you", "can"
    figure = map_figure(result).to_dict()
    assert {a["text"] for a in figure["layout"]["annotations"]} == set(clusters.names)
    assert {t["name"] for t in figure["data"][1:]} == set(clusters.names)  # one colour per cluster
    write_coords(result, tmp_path / "coords.parquet")  # what Embedding Atlas opens
    table = pq.read_table(tmp_path / "coords.parquet").to_pydict()
    assert table["cluster_name"] == clusters.row_names()
    assert table["cluster"] == [str(c + 1) for c in clusters.labels]


def test_a_files_own_cluster_column_is_kept_beside_the_found_ones(tmp_path, encoder):
    data = load_map_data(SAMPLE)
    data.columns["cluster"] = ["mine"] * len(data.texts)
    result = build_map(data, config=ProjectionConfig(method="pca"), clusters=3, color="cluster")
    assert result.colours() == ["mine"] * len(data.texts)  # colouring by the file's column, as asked
    write_coords(result, tmp_path / "coords.csv")
    rows = list(csv.DictReader((tmp_path / "coords.csv").open(encoding="utf-8-sig")))
    assert rows[0]["cluster"] == "mine" and {r["cluster_found"] for r in rows} == {"1", "2", "3"}


def test_cli_lists_clusters_and_adds_them_to_the_coordinates(tmp_path, capsys, encoder):
    coords = tmp_path / "coords.csv"
    argv = ["map", str(SAMPLE), "-o", str(tmp_path / "m.html"), "--coords", str(coords), "--method", "pca",
            "--clusters", "5", "--names-language", "fr"]  # fmt: skip
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "cluster\tnamed by\trows\tshare\tlanguages" in err
    rows = list(csv.DictReader(coords.open(encoding="utf-8-sig")))
    assert {r["cluster"] for r in rows} == {"1", "2", "3", "4", "5"}
    names = {r["cluster_name"] for r in rows}
    french = " ".join(r["text"] for r in rows if r["language"] == "fr").casefold()
    assert all(w in french for name in names for w in name.split(" · "))
    assert main([*argv[:-2], "--clusters", "1", "--overwrite"]) == 2
    assert "whole number of clusters from 2 to 50" in capsys.readouterr().err


def test_a_files_own_columns_of_those_names_are_never_overwritten(tmp_path, encoder):
    data = load_map_data(SAMPLE)
    for name in ("cluster", "cluster_found", "cluster_name"):
        data.columns[name] = ["mine"] * len(data.texts)
    result = build_map(data, config=ProjectionConfig(method="pca"), color="cluster")  # the file's column
    assert result.clusters is None and set(result.colours()) == {"mine"}
    result = build_map(data, config=ProjectionConfig(method="pca"), clusters=2)
    write_coords(result, tmp_path / "coords.csv")
    row = next(csv.DictReader((tmp_path / "coords.csv").open(encoding="utf-8-sig")))
    assert row["cluster"] == row["cluster_found"] == row["cluster_name"] == "mine"
    assert row["cluster_found_found"] in {"1", "2"} and row["cluster_name_found_found"] in result.clusters.names


def test_identical_rows_leave_no_empty_cluster_and_a_fallback_language_is_said(encoder):
    data = MapData(["the same words"] * 10 + ["other words here"] * 2, ["fr"] * 12)
    result = build_map(data, config=ProjectionConfig(method="pca"), clusters=3, names_language="en")
    assert 0 not in result.clusters.sizes and sum(result.clusters.sizes) == 12
    assert "no row is in en: fr is the file's most common language" in result.clusters.words_about()
    assert result.clusters.words_about() in summary_lines(result)


def test_few_rows_get_clusters_even_without_words_to_name_them(encoder):
    texts = ["a", "b", "c", "d", "1", "2"]
    data = MapData(texts, ["en"] * 6)
    result = build_map(data, config=ProjectionConfig(method="pca"), clusters=2)
    assert result.clusters.names == ["cluster 1", "cluster 2"] and np.bincount(result.clusters.labels).sum() == 6
