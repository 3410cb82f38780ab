"""Embed & compare: the similarity backend and its heatmap."""

from __future__ import annotations

import numpy as np
import pytest

from xlmr_demo.compare import MAX_SENTENCES, parse_sentences, similarity
from xlmr_demo.errors import UserError
from xlmr_demo.plots import similarity_heatmap


def test_parse_sentences_drops_blank_lines():
    assert parse_sentences(" a \n\n b\r\n\t\n") == ["a", "b"]


def test_similarity_finds_the_translation_pairs(encoder):
    texts = [
        "The weather is nice today.",
        "Il fait beau aujourd'hui.",
        "I lost my keys.",
        "Ich habe meine Schlüssel verloren.",
    ]
    result = similarity(texts)
    assert result.matrix.shape == (4, 4)
    np.testing.assert_allclose(np.diag(result.matrix), 1.0, atol=1e-5)
    np.testing.assert_allclose(result.matrix, result.matrix.T, atol=1e-6)
    top_two = {frozenset(p[:2]) for p in result.most_similar_pairs(2)}
    assert top_two == {frozenset(texts[:2]), frozenset(texts[2:])}


@pytest.mark.parametrize(("texts", "message"), [(["alone"], "at least two"), (["x"] * (MAX_SENTENCES + 1), "at most")])
def test_similarity_refuses_unreadable_sizes(texts, message):
    with pytest.raises(UserError, match=message):
        similarity(texts)


def test_heatmap_labels_are_unique_escaped_and_truncated():
    texts = ["<b>same</b>", "<b>same</b>", "x" * 100]
    matrix = np.array([[1, 0.9, 0.1], [0.9, 1, 0.2], [0.1, 0.2, 1]], dtype=np.float32)
    figure = similarity_heatmap(matrix, texts)
    trace = figure.to_dict()["data"][0]
    assert trace["type"] == "heatmap"
    assert len(set(trace["x"])) == 3
    assert trace["x"][0] == "1. &lt;b&gt;same&lt;/b&gt;"
    assert trace["x"][2].endswith("…") and len(trace["x"][2]) < 50
    assert "x" * 100 in trace["hovertext"][2][2]  # the full text on hover
    np.testing.assert_allclose(figure.data[0].z, matrix, atol=1e-3)
    assert 0.05 <= trace["zmin"] <= 0.1 and trace["zmax"] == 1.0  # the scale spans the off-diagonal values
