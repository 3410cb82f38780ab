"""The encoder contract on the real embedded model."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from xlmr_demo.encoders import Encoder, EncoderConfig, EncodeStats, embed, load_encoder
from xlmr_demo.errors import UserError

from .conftest import tatoeba


def test_encode_returns_normalised_float32_rows_in_input_order(encoder):
    texts = ["The cat sleeps.", "Le chat dort.", "Stock markets fell sharply.", "猫が寝ている。"]
    vectors = encoder.encode(texts)
    assert vectors.shape == (4, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    reversed_vectors = encoder.encode(texts[::-1])
    np.testing.assert_allclose(reversed_vectors[::-1], vectors, atol=2e-3)  # batch composition barely matters


def test_empty_input_gives_an_empty_matrix(encoder):
    assert encoder.encode([]).shape == (0, 384)


def test_translations_are_nearest_neighbours(encoder):
    german, english = tatoeba("deu", 100)
    g, e = encoder.encode(german), encoder.encode(english)
    accuracy = ((g @ e.T).argmax(axis=1) == np.arange(100)).mean()
    assert accuracy >= 0.93


def test_same_meaning_beats_same_language(encoder):
    cat_en, cat_fr, stocks_en = encoder.encode(["The cat is sleeping.", "Le chat dort.", "Stock prices fell today."])
    assert cat_en @ cat_fr > cat_en @ stocks_en + 0.05


def test_progress_reports_every_batch_up_to_the_total(model_dir):
    calls = []
    padded = Encoder(EncoderConfig(batch_size=4, packed=False))
    padded.encode([f"sentence {i}" for i in range(10)], progress=lambda step: calls.append((step.done, step.total)))
    assert calls == [(4, 10), (8, 10), (10, 10)]
    calls.clear()
    packed = Encoder(EncoderConfig())  # batches of at most 4,096 tokens: eight texts of 512
    packed.encode([f"word{i} " * 600 for i in range(20)], progress=lambda step: calls.append((step.done, step.total)))
    assert calls == [(8, 20), (16, 20), (20, 20)]


def test_long_texts_are_truncated_and_counted(encoder):
    stats = EncodeStats()
    long_text = "word " * 1000
    vectors = encoder.encode(["short", long_text, "also short"], stats=stats)
    assert stats.truncated_rows == [1]
    assert stats.lengths[1] > encoder.max_length == 512
    assert stats.n_tokens == int(stats.lengths[0] + stats.lengths[2] + 512)
    np.testing.assert_allclose(np.linalg.norm(vectors[1]), 1.0, atol=1e-5)


def test_a_plain_transformers_folder_gets_mean_pooling(model_dir, tmp_path, encoder):
    """Without sentence-transformers files the XLM-R convention applies: masked mean pooling, no prompt."""
    plain = tmp_path / "plain"
    plain.mkdir()
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(model_dir / name, plain / name)
    (plain / "model.safetensors").symlink_to(model_dir / "model.safetensors")
    other = Encoder(EncoderConfig(model=str(plain), precision=encoder.precision))
    assert other.prompt == "" and other.max_length == 512
    texts = ["query: Bonjour tout le monde", "query: 今日は晴れです"]
    np.testing.assert_allclose(other.encode(texts), encoder.encode([t[len("query: ") :] for t in texts]), atol=2e-3)
    assert other.fingerprint != encoder.fingerprint


def test_the_embedded_model_answers_to_its_aliases(model_dir):
    assert Encoder(EncoderConfig(model="intfloat/multilingual-e5-small")).fingerprint == load_encoder().fingerprint


def test_fingerprint_follows_what_the_vectors_mean_and_the_cache_key_their_arithmetic(model_dir):
    base = Encoder(EncoderConfig(precision="fp32"))
    assert Encoder(EncoderConfig(precision="fp32")).cache_key == base.cache_key
    assert Encoder(EncoderConfig(precision="fp32", prompt="passage: ")).fingerprint != base.fingerprint
    assert Encoder(EncoderConfig(precision="fp32", max_length=128)).fingerprint != base.fingerprint
    bf16 = Encoder(EncoderConfig(precision="bf16"))
    assert bf16.fingerprint == base.fingerprint and bf16.cache_key != base.cache_key
    padded = Encoder(EncoderConfig(precision="bf16", packed=False))  # differs from packed bf16 in the 3rd decimal
    assert padded.fingerprint == base.fingerprint and padded.cache_key not in (bf16.cache_key, base.cache_key)


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("/no/such/folder", "no such folder"),
        ("./relative/missing", "no such folder"),
        ("not a valid id!!", "not a valid Hugging Face model id"),
        ("xlm-roberta-base", "Without a network only the embedded model"),  # HF_HUB_OFFLINE=1 in tests
    ],
)
def test_unusable_model_names_are_user_errors(model, message):
    with pytest.raises(UserError, match=message):
        Encoder(EncoderConfig(model=model))


def test_a_folder_without_a_model_is_a_user_error(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(UserError, match="not a model folder"):
        Encoder(EncoderConfig(model=str(tmp_path)))


def test_a_broken_model_folder_is_a_user_error(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert", "hidden_size": 8}))
    with pytest.raises(UserError, match="Could not load model"):
        Encoder(EncoderConfig(model=str(tmp_path))).encode(["x"])


@pytest.mark.parametrize("kwargs", [{"batch_size": 0}, {"precision": "fp8"}, {"max_length": 2}])
def test_config_rejects_nonsense(kwargs):
    with pytest.raises(ValueError):
        EncoderConfig(**kwargs)


def test_the_package_exposes_embed_lazily():
    import xlmr_demo
    from xlmr_demo import encoders

    assert xlmr_demo.embed is encoders.embed and xlmr_demo.Encoder is encoders.Encoder
    assert set(xlmr_demo.__all__) == set(xlmr_demo._LAZY) | {"UserError"}
    assert all(getattr(xlmr_demo, name) is not None for name in xlmr_demo.__all__)


def test_very_long_texts_are_cut_before_tokenising_without_changing_what_the_model_reads(encoder):
    """A 20 MB paste was tokenised whole (71 s, +1.6 GB) to read its first 512 tokens."""
    tokenizer = encoder.tokenizer
    sentence = "Le train de nuit pour Vienne part à 22 h 40 depuis le quai numéro sept. "
    cases = [
        sentence * 1_000,  # 72,000 characters of ordinary text
        " " * 100_000 + "hello world " * 10_000,  # spaces the tokenizer collapses: the cut must look further
        "猫がソファで寝ている。" * 6_000,  # no spaces at all
    ]
    for text in cases:
        cut = encoder.cut([text])[0]
        assert len(cut) < len(text) and text.startswith(cut)
        read = tokenizer(encoder.prompt + text, truncation=True, max_length=encoder.max_length)["input_ids"]
        assert tokenizer(encoder.prompt + cut, truncation=True, max_length=encoder.max_length)["input_ids"] == read
    assert encoder.cut(["short"]) == ["short"]


def test_a_20_megabyte_text_is_embedded_as_its_beginning_and_said_to_be_truncated(encoder):
    sentence = "Das Wetter ist heute schön und warm. "
    text = sentence * (20_000_000 // len(sentence))
    result = embed([text, sentence * 100], encoder, cache=False)
    assert result.truncated_rows == [0, 1]
    np.testing.assert_allclose(result.embeddings[0], result.embeddings[1], atol=1e-5)


def test_a_text_that_normalises_to_nothing_is_cut_regardless_and_said_to_be_truncated(encoder):
    """50 MB of spaces took 46 s to tokenise; zero-width characters normalise away too."""
    for text in (" " * 5_000_000 + "a", "\u200b" * 1_000_000):
        (cut,) = encoder.cut([text])
        assert len(cut) < 200_000 and text.startswith(cut)
        assert encoder.token_lengths([text])[0] > encoder.max_length
