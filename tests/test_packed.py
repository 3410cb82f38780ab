"""Packed encoding (xlmr_demo.packed): the padded forward's vectors, without the padding."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from xlmr_demo.encoders import Encoder, EncoderConfig, EncodeStats
from xlmr_demo.packed import packed_forward, token_batches

from .conftest import tatoeba


@pytest.fixture(scope="module")
def fp32(model_dir):
    return Encoder(EncoderConfig(precision="fp32"))


@pytest.fixture(scope="module")
def texts():
    """Eight languages' sentences of very different lengths, a one-word text and one longer than the model reads."""
    foreign = [s for lang in ("ara", "jpn", "hin", "rus") for s in tatoeba(lang, 40)[0]]
    return [*foreign, *tatoeba("deu", 40)[1], "Hallo", "Ein sehr langer Satz über das Wetter. " * 120]


def padded(texts: list[str]) -> tuple[np.ndarray, EncodeStats]:
    """The vectors of SentenceTransformer's own padded forward, in fp32."""
    stats = EncodeStats()
    return Encoder(EncoderConfig(precision="fp32", packed=False)).encode(texts, stats=stats), stats


def test_packed_vectors_are_the_padded_forwards(fp32, texts):
    assert fp32.packed is not None  # the embedded model is covered
    stats = EncodeStats()
    packed = fp32.encode(texts, stats=stats)
    reference, reference_stats = padded(texts)
    assert np.abs(packed - reference).max() < 1e-5
    assert stats.truncated_rows == reference_stats.truncated_rows == [len(texts) - 1]
    assert stats.n_tokens == reference_stats.n_tokens
    # a text's vector is its own: alone, or among others of other lengths
    assert np.abs(fp32.encode(texts[:1])[0] - packed[0]).max() < 1e-5


def test_the_cut_keeps_the_tokenizers_last_token(fp32, texts):
    ids, lengths = fp32.inputs(texts[-2:])
    expected = fp32.tokenizer([fp32.prompt + t for t in texts[-2:]], truncation=True, max_length=fp32.max_length)
    assert ids == expected["input_ids"]
    assert lengths[1] > fp32.max_length == len(ids[1])


def test_batches_hold_every_text_once_longest_first_within_the_budget():
    lengths = np.array([3, 700, 12, 12, 5, 12, 40, 3])
    batches = list(token_batches(lengths, budget=50))
    assert sorted(np.concatenate(batches).tolist()) == list(range(len(lengths)))
    assert batches[0].tolist() == [1]  # longer than the budget: alone
    assert all(lengths[b].sum() <= 50 for b in batches[1:])
    order = np.concatenate(batches)
    assert (np.diff(lengths[order]) <= 0).all()  # equal lengths side by side


@pytest.fixture(scope="module")
def tiny_xlmr(model_dir, tmp_path_factory):
    """A small random XLM-RoBERTa (positions after the padding index, unlike the embedded BERT) with the embedded
    model's tokenizer, under CLS pooling and a Dense head, as LaBSE is built."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Dense, Normalize, Transformer
    from sentence_transformers.sentence_transformer.modules import Pooling
    from transformers import XLMRobertaConfig, XLMRobertaModel

    folder = tmp_path_factory.mktemp("tiny_xlmr")
    config = XLMRobertaConfig(
        vocab_size=250_002, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
        max_position_embeddings=130, pad_token_id=1, bos_token_id=0, eos_token_id=2,
    )  # fmt: skip
    XLMRobertaModel(config, add_pooling_layer=False).save_pretrained(folder)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "sentencepiece.bpe.model"):
        if (model_dir / name).exists():
            shutil.copy(model_dir / name, folder / name)
    transformer = Transformer(str(folder), max_seq_length=128)
    modules = [transformer, Pooling(32, "cls"), Dense(32, 16), Normalize()]
    return SentenceTransformer(modules=modules, device="cpu").eval()


def test_xlm_roberta_positions_and_a_dense_head_match_the_padded_forward(tiny_xlmr, texts):
    import torch

    forward = packed_forward(tiny_xlmr)
    assert forward is not None and forward.first_position == 2
    sample = texts[:6] + texts[-2:]
    ids = tiny_xlmr.tokenizer(sample, truncation=True, max_length=128)["input_ids"]
    with torch.inference_mode():
        reference = tiny_xlmr.forward(tiny_xlmr.preprocess(sample))["sentence_embedding"]
        order = next(token_batches(np.array([len(r) for r in ids]), budget=10**6))
        packed = torch.empty_like(reference)
        packed[torch.from_numpy(order)] = forward([ids[i] for i in order])
    assert (packed - reference).abs().max().item() < 1e-5


def test_other_poolings_fall_back_to_padding(tiny_xlmr):
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling

    assert packed_forward(SentenceTransformer(modules=[tiny_xlmr[0], Pooling(32, "max")], device="cpu")) is None
