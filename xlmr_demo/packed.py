"""Sentence embeddings without padding: the encoder run on the tokens of many texts laid end to end.

A padded batch (what ``SentenceTransformer.forward`` takes) runs every layer on ``texts x longest``
positions and masks the padding in attention. Sorted by length, the padding is small, but the batches
stay small too (32 texts of 18 tokens: linear layers of 576 rows, where bfloat16 on AMX reaches half its
speed of 4,000 rows), and the masked attention is the slowest kind. Here the texts of a batch are laid
end to end: the linear layers, layer norms and GELU run once on all of its tokens (up to
:data:`TOKENS_PER_BATCH`), the query, key and value projections as one matrix product, and attention
runs once per group of texts of the same length, with no mask at all. In fp32 the vectors are those of
the padded forward to 1e-6 (``tests/test_packed.py``); ``bench/results/encode.md`` has the speed.

Covered: BERT, RoBERTa and XLM-RoBERTa encoders (absolute positions, exact GELU) under mean or CLS
pooling, optionally followed by Dense and Normalize modules (LaBSE's head). :func:`packed_forward`
returns None for anything else, and the caller runs the padded forward.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch  # this module is imported only where the network loads

#: Tokens per batch: measured on 2 cores (Xeon with AMX, bf16): 2,048 and 4,096 equally fast, 8,192 slower
TOKENS_PER_BATCH = 4096
#: A batch's rows (tokens) are rounded up to a multiple of this with zero rows, which every layer but attention
#: (never shown them) computes and the pooling drops: fewer distinct matrix shapes for oneDNN to compile a
#: kernel for. Measured (2 cores, AMX, bf16): the first pass over 2,000 new sentences 10% faster, later ones 0-3% slower
ROWS_MULTIPLE = 256
_FAMILIES = {"bert": 0, "roberta": 1, "xlm-roberta": 1}  # model type -> positions start after padding_idx?
_HEADS = ("Dense", "Normalize")


def token_batches(lengths: np.ndarray, budget: int = TOKENS_PER_BATCH) -> Iterator[np.ndarray]:
    """Row indices of batches of at most ``budget`` tokens (a longer text alone), longest texts first, each
    batch's rows in order of decreasing length, so that texts of equal length sit side by side."""
    order = np.argsort(-np.asarray(lengths), kind="stable")
    start = 0
    while start < len(order):
        total, end = 0, start
        while end < len(order) and (end == start or total + lengths[order[end]] <= budget):
            total += int(lengths[order[end]])
            end += 1
        yield order[start:end]
        start = end


class PackedForward:
    """The encoder stack of ``network`` (a Hugging Face BERT-family model in eval mode) on packed texts.

    Call it with the token ids of texts (special tokens included, longest first as :func:`token_batches`
    orders them): returns their pooled vectors, float32, shape (texts, dim), through ``heads`` when given.
    """

    def __init__(self, network, pooling: str, heads: Sequence[torch.nn.Module] = ()) -> None:
        config = network.config
        self.embeddings = network.embeddings
        self.layers = list(network.encoder.layer)
        self.heads_count = config.num_attention_heads
        self.head_dim = config.hidden_size // config.num_attention_heads
        self.first_position = config.pad_token_id + 1 if _FAMILIES[config.model_type] else 0
        self.pooling = pooling
        self.heads = list(heads)
        self.qkv = [self._fused(layer.attention.self) for layer in self.layers]

    @staticmethod
    def _fused(attention) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Query, key and value weights as one matrix (None where they are not plain linear layers: int8)."""
        parts = (attention.query, attention.key, attention.value)
        if not all(type(p) is torch.nn.Linear and p.bias is not None for p in parts):
            return None
        return torch.cat([p.weight for p in parts]).contiguous(), torch.cat([p.bias for p in parts])

    def _attention(self, x: torch.Tensor, layer, fused, groups: list[tuple[int, int, int]]) -> torch.Tensor:
        if fused is None:
            a = layer.attention.self
            qkv = torch.cat([a.query(x), a.key(x), a.value(x)], dim=-1)
        else:
            qkv = torch.nn.functional.linear(x, *fused)
        heads, dim = self.heads_count, self.head_dim
        out = []
        for start, count, length in groups:
            q, k, v = qkv[start : start + count * length].view(count, length, 3, heads, dim).permute(2, 0, 3, 1, 4)
            context = torch.nn.functional.scaled_dot_product_attention(q, k, v)
            out.append(context.transpose(1, 2).reshape(count * length, heads * dim))
        return out[0] if len(out) == 1 else torch.cat(out)

    def __call__(self, ids: Sequence[Sequence[int]]) -> torch.Tensor:
        emb = self.embeddings
        device = emb.word_embeddings.weight.device
        lengths = [len(row) for row in ids]
        groups, start, i = [], 0, 0  # (first token, texts, length) per run of equal lengths
        while i < len(lengths):
            j = i
            while j < len(lengths) and lengths[j] == lengths[i]:
                j += 1
            groups.append((start, j - i, lengths[i]))
            start += (j - i) * lengths[i]
            i = j
        flat = torch.tensor([t for row in ids for t in row], device=device)
        positions = torch.cat([torch.arange(n, device=device) for n in lengths]) + self.first_position
        x = emb.word_embeddings(flat) + emb.position_embeddings(positions) + emb.token_type_embeddings.weight[0]
        x = emb.LayerNorm(x)
        real = len(flat)
        spare = -real % ROWS_MULTIPLE
        if spare:
            x = torch.cat([x, x.new_zeros(spare, x.shape[1])])
        for layer, fused in zip(self.layers, self.qkv, strict=True):
            context = self._attention(x, layer, fused, groups)
            if spare:
                context = torch.cat([context, context.new_zeros(spare, context.shape[1])])
            attended = layer.attention.output.dense(context)
            x = layer.attention.output.LayerNorm(x + attended)
            hidden = layer.intermediate.intermediate_act_fn(layer.intermediate.dense(x))
            x = layer.output.LayerNorm(x + layer.output.dense(hidden))
        x = x[:real]
        counts = torch.tensor(lengths, device=device)
        if self.pooling == "cls":
            pooled = x[torch.cumsum(counts, 0) - counts]
        else:
            text_of = torch.repeat_interleave(torch.arange(len(lengths), device=device), counts)
            summed = torch.zeros(len(lengths), x.shape[1], device=device).index_add_(0, text_of, x.float())
            pooled = summed / counts[:, None]
        if not self.heads:
            return pooled.float()
        features = {"sentence_embedding": pooled.to(x.dtype)}
        for head in self.heads:
            features = head(features)
        return features["sentence_embedding"].float()


def packed_forward(model) -> PackedForward | None:
    """A :class:`PackedForward` for ``model`` (a loaded ``SentenceTransformer``), or None where its
    architecture, pooling or head is one this module does not cover (the caller then pads)."""
    modules = list(model)
    if len(modules) < 2 or type(modules[0]).__name__ != "Transformer" or type(modules[1]).__name__ != "Pooling":
        return None
    network, pooling = modules[0].auto_model, modules[1]
    config = getattr(network, "config", None)
    mode = pooling.pooling_mode
    if (
        config is None
        or config.model_type not in _FAMILIES
        or getattr(config, "position_embedding_type", "absolute") != "absolute"
        or config.hidden_act != "gelu"
        or getattr(config, "is_decoder", False)
        or getattr(modules[0], "do_lower_case", False)
        or mode not in ("mean", "cls")
        or not pooling.include_prompt
        or any(type(m).__name__ not in _HEADS for m in modules[2:])
        or not hasattr(network, "embeddings")
        or not hasattr(network, "encoder")
    ):
        return None
    return PackedForward(network, mode, modules[2:])
