"""Named-entity scores: entity-level precision/recall/F1 (as seqeval and CoNLL's conlleval) and a token report.

An entity is a maximal run of tags ``B-X I-X I-X ...``; an ``I-X`` that does not continue an entity
of type X starts a new one (conlleval's lenient reading of IOB, seqeval's default mode). A
predicted entity counts only if its type and both boundaries match a true one exactly.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from sklearn.metrics import classification_report


def split_tag(tag: str) -> tuple[str, str]:
    """("B" | "I" | "O", entity type) of an IOB tag."""
    if tag == "O" or "-" not in tag:
        return "O", ""
    prefix, _, kind = tag.partition("-")
    return prefix, kind


def entities(tags: Sequence[str]) -> set[tuple[str, int, int]]:
    """{(type, first index, last index)} of one sentence's tags."""
    found = set()
    start, kind = None, ""
    for i, tag in enumerate([*tags, "O"]):
        prefix, this = split_tag(tag)
        continues = prefix == "I" and start is not None and this == kind
        if start is not None and not continues:
            found.add((kind, start, i - 1))
            start = None
        if prefix in ("B", "I") and not continues:
            start, kind = i, this
    return found


def entity_scores(truth: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> dict:
    """Per entity type and micro-averaged: precision, recall, F1, support (true entities)."""
    if len(truth) != len(predicted):
        raise ValueError("truth and predictions have different numbers of sentences")
    true_n, pred_n, hit_n = Counter(), Counter(), Counter()
    for t_tags, p_tags in zip(truth, predicted, strict=True):
        t, p = entities(t_tags), entities(p_tags)
        true_n.update(e[0] for e in t)
        pred_n.update(e[0] for e in p)
        hit_n.update(e[0] for e in t & p)

    def prf(hit: int, pred: int, true: int) -> dict:
        precision = hit / pred if pred else 0.0
        recall = hit / true if true else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4), "support": true}

    kinds = sorted(set(true_n) | set(pred_n))
    per_type = {k: prf(hit_n[k], pred_n[k], true_n[k]) for k in kinds}
    micro = prf(sum(hit_n.values()), sum(pred_n.values()), sum(true_n.values()))
    return {"per_type": per_type, "micro": micro, "predicted": sum(pred_n.values())}


def entity_report(scores: dict) -> str:
    """The entity scores in the layout of seqeval's ``classification_report``."""
    width = max(9, *(len(k) for k in scores["per_type"]))
    lines = [f"{'':>{width}}  precision    recall  f1-score   support", ""]
    for kind, r in scores["per_type"].items():
        lines.append(f"{kind:>{width}}  {r['precision']:9.3f} {r['recall']:9.3f} {r['f1']:9.3f} {r['support']:9d}")
    m = scores["micro"]
    lines += ["", f"{'micro avg':>{width}}  {m['precision']:9.3f} {m['recall']:9.3f} {m['f1']:9.3f} {m['support']:9d}"]
    return "\n".join(lines)


def token_report(truth: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]], tags: Sequence[str]) -> str:
    """Per-tag precision/recall/F1 over words, as in the seed article (scikit-learn's report, 3 digits).

    Its "micro avg" counts every "O" word, so it runs far above the entity F1; read the entity report first.
    """
    flat_t = [tag for sent in truth for tag in sent]
    flat_p = [tag for sent in predicted for tag in sent]
    named = sorted((t for t in set(tags) | set(flat_t) if t != "O"), key=lambda t: (split_tag(t)[1], t))
    order = [*named, "O"]
    return classification_report(flat_t, flat_p, labels=order, digits=3, zero_division=0)
