"""The disk cache: a second embedding of the same texts is served without the model."""

from __future__ import annotations

import numpy as np

from xlmr_demo.cache import EmbeddingCache
from xlmr_demo.encoders import Encoder, EncoderConfig, embed


def test_cache_round_trip_keeps_vectors_and_token_counts(tmp_path):
    cache = EmbeddingCache("fp-test", root=tmp_path)
    vectors = np.random.default_rng(0).normal(size=(3, 8)).astype(np.float32)
    cache.put(["a", "b", "ç"], vectors, [3, 4, 5])
    found, got, n_tokens = cache.get(["ç", "missing", "a", "a"])
    assert found.tolist() == [True, False, True, True]
    np.testing.assert_array_equal(got[[0, 2, 3]], vectors[[2, 0, 0]])
    assert not got[1].any()
    assert n_tokens.tolist() == [5, 0, 3, 3]
    assert len(cache) == 3


def test_empty_cache_finds_nothing(tmp_path):
    found, vectors, _ = EmbeddingCache("fp-empty", root=tmp_path).get(["x"])
    assert not found.any() and vectors is None


def test_second_embed_comes_from_disk_without_loading_the_model(encoder):
    texts = ["Der Hund bellt.", "The dog barks.", "Der Hund bellt.", "word " * 600]
    first = embed(texts, model=encoder)
    assert first.n_cached == 0 and first.truncated_rows == [3]
    fresh = Encoder(EncoderConfig())  # a new process would start like this
    second = embed(texts, model=fresh)
    assert fresh._model is None, "a full cache hit must not load the network"
    assert second.n_cached == 4 and second.truncated_rows == [3]
    np.testing.assert_array_equal(second.embeddings, first.embeddings)


def test_partial_hits_encode_only_the_new_texts(encoder):
    embed(["Il pleut."], model=encoder)
    result = embed(["Il pleut.", "Es regnet.", "It is raining."], model=encoder)
    assert result.n_cached == 1
    vectors = result.embeddings
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(vectors, encoder.encode(["Il pleut.", "Es regnet.", "It is raining."]), atol=2e-3)


def test_no_cache_mode_writes_nothing(encoder, cache_root):
    embed(["unique sentence for the no-cache test"], model=encoder, cache=False)
    again = embed(["unique sentence for the no-cache test"], model=encoder)
    assert again.n_cached == 0
