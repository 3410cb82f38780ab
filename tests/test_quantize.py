"""int8 encoding (xlmr_demo.quantize): faithful to fp32 on real translations, independent of batching."""

from __future__ import annotations

import numpy as np
import pytest

from xlmr_demo.encoders import Encoder, EncoderConfig
from xlmr_demo.quantize import Int8Linear

from .conftest import tatoeba


def retrieval(X: np.ndarray, n: int) -> float:
    """Tatoeba accuracy, both directions averaged, for rows [foreign..., english...] of n pairs."""
    sim = X[:n] @ X[n:].T
    return float(((sim.argmax(1) == np.arange(n)).mean() + (sim.argmax(0) == np.arange(n)).mean()) / 2)


@pytest.fixture(scope="module")
def pairs():
    out = {}
    for lang in ("ara", "jpn"):  # the two languages where the model retrieves worst: the most room to lose
        foreign, english = tatoeba(lang, 300)
        out[lang] = foreign + english
    return out


@pytest.fixture(scope="module")
def int8(model_dir):
    return Encoder(EncoderConfig(precision="int8"))


def test_int8_replaces_every_linear_layer_of_the_encoder(int8):
    import torch

    network = int8.model[0].auto_model
    assert not any(isinstance(m, torch.nn.Linear) for m in network.modules())
    assert sum(isinstance(m, Int8Linear) for m in network.modules()) == 12 * 6  # q, k, v, out, ffn in, ffn out
    assert int8.cache_key.endswith("-int8-cpu")


def test_int8_retrieves_translations_as_fp32_does(int8, pairs, model_dir):
    fp32 = Encoder(EncoderConfig(precision="fp32"))
    for lang, texts in pairs.items():
        a, b = fp32.encode(texts), int8.encode(texts)
        cos = (a * b).sum(axis=1)
        assert cos.min() > 0.98 and cos.mean() > 0.995, lang
        # 300 pairs: one pair is a sixth of a point; the bench measures 0.3 on all 16,000 sentences
        assert abs(retrieval(a, 300) - retrieval(b, 300)) <= 0.01, lang


def test_a_texts_int8_vector_does_not_depend_on_the_other_texts_of_its_batch(int8, pairs):
    texts = pairs["ara"][:64]
    together = int8.encode(texts)
    alone = np.stack([int8.encode([t])[0] for t in texts[:16]])
    assert (together[:16] * alone).sum(axis=1).min() > 0.999
