"""Projections and alignment measures: seeded, cached, honest about small or broken input."""

from __future__ import annotations

import numpy as np
import pytest

from xlmr_demo import projection
from xlmr_demo.encoders import embed
from xlmr_demo.errors import UserError
from xlmr_demo.projection import (
    ProjectionConfig,
    alignment,
    center_languages,
    centroid_similarity,
    neighbour_rate,
    project,
    separability,
)

from .conftest import tatoeba, umsab


@pytest.fixture(scope="module")
def parallel(encoder):
    """English + German/French/Chinese/Arabic Tatoeba pairs, 40 meanings per language pair."""
    texts, langs, groups = [], [], []
    for lang in ("deu", "fra", "cmn", "ara"):
        foreign, english = tatoeba(lang, 40)
        texts += foreign + english
        langs += [lang] * 40 + ["eng"] * 40
        groups += [f"{lang}{i}" for i in range(40)] * 2
    return encoder.encode(texts), np.array(langs, dtype=object), np.array(groups, dtype=object)


def test_centering_removes_each_language_mean(parallel):
    X, langs, _ = parallel
    C = center_languages(X, langs)
    np.testing.assert_allclose(np.linalg.norm(C, axis=1), 1.0, atol=1e-5)
    raw_gap = np.linalg.norm(X[langs == "cmn"].mean(0) - X[langs == "deu"].mean(0))
    centred_gap = np.linalg.norm(C[langs == "cmn"].mean(0) - C[langs == "deu"].mean(0))
    assert centred_gap < raw_gap / 3


def test_translations_are_neighbours_in_full_dimensions_and_more_so_centred(parallel):
    X, langs, groups = parallel
    raw = neighbour_rate(X, langs, groups)
    centred = neighbour_rate(center_languages(X, langs), langs, groups)
    assert 0.6 < raw < centred <= 1.0


def test_default_map_keeps_most_translation_neighbours(parallel, cache_root):
    X, langs, groups = parallel
    default = project(X, ProjectionConfig(), langs)
    assert default.method == "tsne" and default.centered and default.coords.shape == (320, 2)
    plain_umap = project(
        X, ProjectionConfig(method="umap", n_neighbors=15, min_dist=0.1, center_languages=False), langs
    )
    assert neighbour_rate(default.coords, langs, groups) > neighbour_rate(plain_umap.coords, langs, groups) + 0.2


@pytest.mark.parametrize("method", ["pca", "tsne", "umap"])
def test_projections_are_seeded_and_cached(parallel, method):
    X, langs, _ = parallel
    config = ProjectionConfig(method=method, dims=3)
    first = project(X, config, langs, cache=False)
    again = project(X, config, langs, cache=False)
    np.testing.assert_allclose(first.coords, again.coords, atol=1e-4)
    assert first.coords.shape == (320, 3) and first.method == method
    cached = project(X, config, langs)
    np.testing.assert_array_equal(project(X, config, langs).coords, cached.coords)


@pytest.mark.parametrize("n", [1, 2, 3, 14])
def test_tiny_inputs_fall_back_to_pca_with_a_note(n):
    X = np.random.default_rng(0).normal(size=(n, 8)).astype(np.float32)
    result = project(X, ProjectionConfig(method="umap"), cache=False)
    assert result.coords.shape == (n, 2) and np.isfinite(result.coords).all()
    assert result.method == "pca" and "used PCA" in result.notes[-1]


def test_duplicates_share_a_position_and_one_language_still_maps():
    X = np.repeat(np.random.default_rng(1).normal(size=(20, 8)).astype(np.float32), 3, axis=0)
    result = project(X, ProjectionConfig(), ["en"] * 60, cache=False)
    assert result.method == "tsne" and not result.centered
    assert np.isfinite(result.coords).all()
    np.testing.assert_array_equal(result.coords[0], result.coords[2])
    assert result.notes[:2] == [
        "Only one language: nothing to centre.",
        "40 duplicate row(s) share the position of their first copy.",
    ]


def test_nan_vectors_are_a_user_error():
    X = np.zeros((20, 4), np.float32)
    X[[3, 7]] = np.nan
    with pytest.raises(UserError, match=r"2 embedding\(s\) contain NaN or infinite values \(rows 4, 8\)"):
        project(X)


def test_alignment_is_per_language_and_skips_rows_without_pairs(parallel):
    X, langs, groups = parallel
    partial = groups.copy()
    partial[langs == "ara"] = None  # Arabic rows lose their ids; their English partners have no translation left
    overall, scores = alignment(X, langs, partial)
    assert set(scores) == {"deu", "fra", "cmn", "eng"}
    assert overall == neighbour_rate(X, langs, partial)
    assert all(0.5 < s <= 1 for s in scores.values())
    assert neighbour_rate(X, langs, [None] * len(X)) is None


@pytest.mark.parametrize(("dims", "metric"), [(384, "cosine"), (2, "euclidean")])
def test_nearest_other_language_is_the_brute_force_answer(dims, metric, monkeypatch):
    """Blocks of rows against chunks of all rows (embeddings; small chunks here, so rows cross several), a k-d
    tree per language (map coordinates): the same answer as every distance computed, centred rows included."""
    from sklearn.metrics import pairwise_distances

    rng = np.random.default_rng(0)
    X = rng.normal(size=(3_000, dims)).astype(np.float32) + 0.3  # not unit length: the cosine normalises
    languages, rows = rng.integers(0, 4, len(X)), np.sort(rng.choice(len(X), 500, replace=False))
    monkeypatch.setattr(projection, "_QUERY_ROWS", 128)
    monkeypatch.setattr(projection, "_CHUNK_ROWS", 700)
    d = pairwise_distances(X[rows], X, metric=metric)
    d[languages[rows, None] == languages[None, :]] = np.inf
    found = projection._nearest_other_language(X, languages, metric, rows)
    np.testing.assert_array_equal(found, d.argmin(axis=1))


def test_centroid_similarity_and_separability(parallel):
    X, langs, _ = parallel
    names, matrix = centroid_similarity(X, langs)
    assert names == ["ara", "cmn", "deu", "eng", "fra"]
    np.testing.assert_allclose(np.diag(matrix), 1.0, atol=1e-5)
    raw = separability(X, langs)
    centred = separability(center_languages(X, langs), langs)
    assert raw["chance"] == 0.5  # English is half of the rows
    assert centred["accuracy"] < raw["accuracy"]  # centring removes language structure
    assert separability(X, ["same"] * len(X)) is None


def tatoeba_among_tweets(points: int) -> tuple[list[str], list[str], list[str | None]]:
    """The eight Tatoeba languages with English (8 of every 10 points: at 20,000, all 16,000 sentences) among
    UMSAB tweets."""
    texts, langs, groups = [], [], []
    for lang in ("deu", "fra", "spa", "cmn", "rus", "ara", "hin", "jpn"):
        foreign, english = tatoeba(lang, points // 20)
        texts += foreign + english
        langs += [lang] * len(foreign) + ["eng"] * len(english)
        groups += [f"{lang}{i}" for i in range(len(foreign))] * 2
    tweets = [(t, lang) for t, _, lang in umsab("train", 1000)][: points - len(texts)]
    texts += [t for t, _ in tweets]
    langs += [lang for _, lang in tweets]
    groups += [None] * len(tweets)
    return texts, langs, groups


@pytest.mark.parametrize("points", [2_000, pytest.param(20_000, marks=pytest.mark.slow)])
def test_a_large_map_keeps_nine_tenths_of_the_translation_neighbours(encoder, points):
    texts, langs, groups = tatoeba_among_tweets(points)
    X = embed(texts, model=encoder).embeddings
    result = project(X, ProjectionConfig(), langs, cache=False)
    assert result.method == "tsne" and result.coords.shape == (points, 2)
    full = neighbour_rate(X, langs, groups)
    kept = neighbour_rate(result.coords, langs, groups)
    assert kept >= 0.9 * full, (kept, full)


def test_maps_above_the_large_map_threshold_take_the_fast_path_and_keep_translations(encoder, monkeypatch):
    """The large-map recipe (PCA before an approximate neighbour search, fewer steps), forced at 2,000 points: seeded,
    cached apart from the small-map path, and it keeps nine tenths of the full-dimensional translation neighbours."""
    texts, langs, groups = tatoeba_among_tweets(2_000)
    X = embed(texts, model=encoder).embeddings
    small = project(X, ProjectionConfig(), langs)
    monkeypatch.setattr(projection, "LARGE_MAP_POINTS", 1_000)
    large = project(X, ProjectionConfig(), langs)
    assert large.method == "tsne" and large.coords.shape == (2_000, 2)
    assert any("large maps" in note for note in large.notes) and not any("large maps" in n for n in small.notes)
    assert not np.allclose(large.coords, small.coords)  # not the small map's cached coordinates
    np.testing.assert_array_equal(project(X, ProjectionConfig(), langs, cache=False).coords, large.coords)
    full = neighbour_rate(X, langs, groups)
    kept = neighbour_rate(large.coords, langs, groups)
    assert kept >= 0.9 * full, (kept, full)
