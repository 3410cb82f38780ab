"""Where languages meet, layer by layer: translation retrieval at every depth of the encoder.

An encoder reads a text through a stack of layers (12 for the embedded model and ``xlm-roberta-base``),
each rewriting every piece's vector. Low layers still know mostly which pieces a text has, so a German
sentence sits near other German sentences; somewhere up the stack the vectors start to stand for
meaning, and a sentence sits nearest its translation. :func:`layer_sweep` measures where: at every
layer, from the word embeddings up, each row's vector is the mean of its pieces' vectors (mean pooling,
as the embedded model's own sentence vector is made from the last layer), and a row *finds its
translation* when its most similar row in another language is one of its translations. Per language
pair the figure is the share found in both directions, as in the Tatoeba benchmark.

Translations are the rows' meaning groups (:mod:`xlmr_demo.groups`): a group column when the file has
one, otherwise the pairs the model's own sentence vectors find. Found pairs are mutual nearest
neighbours of the last layer, so there the last layer finds them all by construction: the result
says so, and the climb below it is the measurement.

The same figure with each language's mean vector taken out (``centred``) separates two reasons a layer
can fail: a language-wide offset (which centring removes) and vectors that do not yet carry meaning.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from .encoders import Encoder, EncodeStats, embed, load_encoder
from .errors import UserError
from .groups import find_groups, group_codes, join_groups, text_groups
from .limits import current as current_limits
from .maps import MapData
from .metrics import share_interval
from .models import EMBEDDED_NAME
from .progress import Progress, Step

#: Pooled vectors held at once, all layers together (float32): 256 MB. Larger files are sampled, groups kept.
LAYER_CELLS = 64_000_000
#: Similarities computed at once while matching (float32): ~100 MB.
BLOCK_CELLS = 25_000_000


@dataclass(frozen=True)
class LayerScore:
    """Translation retrieval at one layer (0: the word embeddings, before any layer)."""

    layer: int
    accuracy: float  # share of the queries whose most similar row in the other language is a translation
    ci: list[float] | None  # its 95% interval, resampling the meaning groups
    centred: float  # the same with each language's mean vector taken out
    per_language: dict[str, float]  # the queries from each language
    per_pair: dict[str, float]  # "de – en": both directions pooled


@dataclass
class LayerSweep:
    """Translation retrieval at every layer of one model, on one set of rows."""

    model: str
    scores: list[LayerScore]
    rows: int  # rows embedded (candidates)
    queries: int  # (row, other language) pairs where the row has a translation in that language
    per_language_queries: dict[str, int]
    per_pair_queries: dict[str, int]
    grouping: str  # "column" (given) or "found" (by the model's sentence vectors)
    notes: list[str] = field(default_factory=list)

    @property
    def best(self) -> LayerScore:
        return max(self.scores, key=lambda s: s.accuracy)

    def lined_up(self, share: float = 0.9) -> LayerScore:
        """The first layer that finds at least ``share`` of what the best layer finds."""
        return next(s for s in self.scores if s.accuracy >= share * self.best.accuracy)

    def to_json(self) -> dict:
        return {
            "model": self.model,
            "rows": self.rows,
            "queries": self.queries,
            "grouping": self.grouping,
            "notes": self.notes,
            "per_language_queries": self.per_language_queries,
            "per_pair_queries": self.per_pair_queries,
            "layers": [
                {
                    "layer": s.layer,
                    "name": layer_name(s.layer),
                    "accuracy": _round(s.accuracy),
                    "ci": s.ci,
                    "centred_accuracy": _round(s.centred),
                    "per_language": _rounded(s.per_language),
                    "per_pair": _rounded(s.per_pair),
                }
                for s in self.scores
            ],
        }


def layer_name(layer: int) -> str:
    return "embeddings" if layer == 0 else f"layer {layer}"


def _round(x: float) -> float:
    return round(float(x), 4)


def _rounded(values: Mapping[str, float]) -> dict[str, float]:
    return {k: _round(v) for k, v in values.items()}


def layer_vectors(encoder: Encoder, texts: list[str], progress: Progress | None = None) -> np.ndarray:
    """Mean-pooled, unit-length vectors of ``texts`` at every layer: float32 ``(layers + 1, n, dim)``, input order.

    The encoder's own inputs (its prompt, its length limit); layer 0 is the word embeddings.
    """
    import torch

    network = encoder.model[0].auto_model
    n_layers, dim = network.config.num_hidden_layers, network.config.hidden_size
    out = np.empty((n_layers + 1, len(texts), dim), dtype=np.float32)
    done = 0
    for rows, features in encoder.batches(texts, EncodeStats()):
        inputs = {k: features[k] for k in ("input_ids", "attention_mask", "token_type_ids") if k in features}
        with torch.inference_mode():
            hidden = network(**inputs, output_hidden_states=True).hidden_states
            mask = inputs["attention_mask"].unsqueeze(-1).float()
            for layer, states in enumerate(hidden):
                pooled = (states.float() * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)
                out[layer, rows] = torch.nn.functional.normalize(pooled, p=2, dim=1).cpu().numpy()
        done += len(rows)
        if progress:
            progress(Step("reading every layer", done, len(texts)))
    return out


def _centred(X: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """``X`` with each language's mean vector taken out, rows back to unit length."""
    means = np.stack([X[codes == c].mean(axis=0) for c in range(int(codes.max()) + 1)])
    Y = X - means[codes]
    return Y / np.maximum(np.linalg.norm(Y, axis=1, keepdims=True), 1e-12)


@dataclass(frozen=True)
class _Queries:
    """Who looks for whom: per ordered language pair (a, b), the rows of a with a translation in b."""

    language_codes: np.ndarray  # per row
    group_codes: np.ndarray  # per row
    pairs: list[tuple[int, int, np.ndarray, np.ndarray]]  # (a, b, query rows in a, candidate rows in b)


def _queries(languages: list[str], groups: list[str]) -> _Queries:
    names = sorted(set(languages))
    codes = np.array([names.index(lang) for lang in languages])
    gcodes = group_codes(groups)
    pairs = []
    for a in range(len(names)):
        rows_a = np.flatnonzero(codes == a)
        for b in range(len(names)):
            if a == b:
                continue
            rows_b = np.flatnonzero(codes == b)
            present = np.zeros(int(gcodes.max()) + 1, bool)
            present[gcodes[rows_b]] = True
            asking = rows_a[present[gcodes[rows_a]]]
            if len(asking):
                pairs.append((a, b, asking, rows_b))
    return _Queries(codes, gcodes, pairs)


def _hits(X: np.ndarray, queries: _Queries) -> list[np.ndarray]:
    """Per ordered pair of :class:`_Queries`: whether each query's most similar candidate is a translation."""
    out = []
    for _, _, asking, candidates in queries.pairs:
        C = X[candidates]
        found = np.empty(len(asking), bool)
        step = max(1, BLOCK_CELLS // len(candidates))
        for start in range(0, len(asking), step):
            block = asking[start : start + step]
            nearest = candidates[np.argmax(X[block] @ C.T, axis=1)]
            found[start : start + len(block)] = queries.group_codes[nearest] == queries.group_codes[block]
        out.append(found)
    return out


def _score(layer: int, X: np.ndarray, queries: _Queries, names: list[str]) -> LayerScore:
    hits = _hits(X, queries)
    centred = np.concatenate(_hits(_centred(X, queries.language_codes), queries))
    every = np.concatenate(hits)
    asked_groups = np.concatenate([queries.group_codes[asking] for _, _, asking, _ in queries.pairs])
    per_language, per_pair = {}, {}
    for code, name in enumerate(names):
        mine = [h for (a, _, _, _), h in zip(queries.pairs, hits, strict=True) if a == code]
        if mine:
            per_language[name] = float(np.concatenate(mine).mean())
    for a, b, pooled in _pairs(queries, hits):
        per_pair[f"{names[a]} – {names[b]}"] = float(pooled.mean())
    return LayerScore(
        layer=layer,
        accuracy=float(every.mean()),
        ci=share_interval(every, asked_groups.astype(str).tolist()),
        centred=float(centred.mean()),
        per_language=per_language,
        per_pair=per_pair,
    )


def _pairs(queries: _Queries, values: list[np.ndarray]):
    """(a, b, both directions' values pooled) for each unordered language pair a < b."""
    by_pair: dict[tuple[int, int], list[np.ndarray]] = {}
    for (a, b, _, _), v in zip(queries.pairs, values, strict=True):
        by_pair.setdefault((min(a, b), max(a, b)), []).append(v)
    for (a, b), parts in sorted(by_pair.items()):
        yield a, b, np.concatenate(parts)


def max_rows(encoder: Encoder) -> int:
    """Rows one sweep holds at once: every layer's vectors within :data:`LAYER_CELLS`, and the map's cap."""
    config = encoder.model[0].auto_model.config
    fits = LAYER_CELLS // ((config.num_hidden_layers + 1) * config.hidden_size)
    cap = current_limits().map_points
    return int(min(fits, cap) if cap else fits)


def with_translations(
    data: MapData, encoder: Encoder, progress: Progress | None = None
) -> tuple[MapData, str]:  # fmt: skip
    """``data`` ready for a sweep: at most :func:`max_rows` rows (a seeded sample, a meaning group taken or left
    whole, noted), every row with a meaning group, and where the groups come from: its group column ("column"),
    or translations found by ``encoder``'s sentence vectors ("found")."""
    limit = max_rows(encoder)
    if len(data.texts) > limit:
        data = data.sample(limit)
    if data.groups is not None:
        given = [f"c{g}" if g else f"row{i}" for i, g in enumerate(data.groups)]
        copies = text_groups(data.texts)  # rows with one text are one meaning, whatever the column says
        links = [(int(c[1:]), i) for i, c in enumerate(copies) if int(c[1:]) != i]
        return replace(data, groups=join_groups(len(given), links, given)), "column"
    X = embed(data.texts, encoder, progress=progress).embeddings
    return replace(data, groups=find_groups(X, data.texts, data.languages, progress).groups), "found"


def layer_sweep(
    data: MapData, model: str | Encoder = EMBEDDED_NAME, progress: Progress | None = None,
    grouping: str | None = None,
) -> LayerSweep:  # fmt: skip
    """Translation retrieval at every layer of ``model`` on ``data``'s rows (see the module docstring).

    ``grouping``: None, and the rows are prepared by :func:`with_translations`; else ``data`` was (comparing two
    models on the same translations) and this says where its groups come from.
    """
    encoder = model if isinstance(model, Encoder) else load_encoder(model)
    if grouping is None:
        data, grouping = with_translations(data, encoder, progress)
    elif len(data.texts) > max_rows(encoder):  # prepared for a smaller model: its groups stay whole
        data = data.sample(max_rows(encoder))
    notes = list(data.notes)
    found, source = list(data.groups), grouping
    largest = max(Counter(found).values())
    if largest > max(2, len(found) // 2) and largest > len(set(data.languages)):
        raise UserError(
            f"One group holds {largest:,} of the {len(found):,} rows, so it cannot be a column of translations "
            "(a group is one meaning, in a row or two per language; rows with the same text count as one). "
            "Choose the column that pairs each sentence with its translations, or none to let the model find them."
        )
    queries = _queries(data.languages, found)
    if not queries.pairs:
        raise UserError(
            "No row has a translation in another language of the file, so there is nothing to line up. "
            "This needs the same sentences in several languages: a group column (rows of one meaning share a "
            "value), or translations the model can find."
        )
    if source == "found":
        notes.append(
            "Translations were found by the model's own sentence vectors (no group column): the last layer finds "
            "nearly all of them by construction; the climb below it is what this measures."
        )
    names = sorted(set(data.languages))
    alone = [names[c] for c in range(len(names)) if not any(a == c for a, _, _, _ in queries.pairs)]
    if alone:
        shown = ", ".join(alone[:10]) + (f" and {len(alone) - 10} more" if len(alone) > 10 else "")
        notes.append(
            f"No row in {shown} has a translation in another language here: their rows are only candidates "
            "(a wrong answer others can land on), not measured."
        )
    vectors = layer_vectors(encoder, data.texts, progress)
    scores = []
    for layer in range(len(vectors)):
        scores.append(_score(layer, vectors[layer], queries, names))
        if progress:
            progress(Step("matching translations", layer + 1, len(vectors)))
    counts = {}
    for a, _, asking, _ in queries.pairs:
        counts[names[a]] = counts.get(names[a], 0) + len(asking)
    pair_counts = {f"{names[a]} – {names[b]}": len(v) for a, b, v in _pairs(queries, [q[2] for q in queries.pairs])}
    return LayerSweep(
        model=encoder.name,
        scores=scores,
        rows=len(data.texts),
        queries=sum(len(q[2]) for q in queries.pairs),
        per_language_queries=counts,
        per_pair_queries=pair_counts,
        grouping=source,
        notes=notes,
    )
