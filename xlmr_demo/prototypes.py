"""Classes as points among the sentence vectors: made from label names, a few examples or both, and compared
with texts after two corrections that need no labels and work the same in every language.

What zero-shot classification (no examples) and few-shot heads (a few examples per class, with the label
names as a prior) share. Measured in ``bench/zero_shot.py`` and ``bench/few_shot.py``:

1. **Each language's own centre taken out.** A text's similarity to a class mixes what it says with what
   language it says it in: Portuguese texts sit nearer to some English label sentences than Polish ones,
   whatever their topic. Each language's average vector (over the rows being classified, where that language
   has :data:`LANGUAGE_ROWS` of them, spread over the classes; else a fallback centre) is subtracted.
2. **One round of class centres from the texts themselves.** Each class's point moves to the average of the
   texts that lean to it (soft assignment at :data:`TEMPERATURE`), once, where there are at least
   :data:`REFINE_ROWS` rows per class: a label sentence or eight examples are few points; the texts that match
   them say where the class really lies (the old point counting as :data:`NAME_ROWS` texts, so that a class
   few texts lean to stays put). No label of those texts is read.

Answers therefore depend on the batch of texts asked about: a whole file is classified as one batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: What a label name becomes before it is embedded (the model reads it in any language).
TEMPLATE = "This text is about {}."
#: A language's own centre is taken from the rows being classified when it has this many of them.
LANGUAGE_ROWS = 30
#: Class centres are refined from the texts when there are this many rows per class.
REFINE_ROWS = 10
#: Softness of the refinement's assignment, in cosine similarity: a text 0.02 nearer to one class than to
#: another counts e (2.7) times as much for it.
TEMPERATURE = 0.02
#: Softness of the shares shown as each row's confidence. No temperature is right for every task without labels
#: to fit it on: the one whose shares matched how often they were right was 0.05 on SIB topics and above 0.1 on
#: UMSAB sentiment; 0.08 keeps the mismatch of either under 17 points (0.02 was off by 33: see
#: bench/results/zero_shot.md). Pages say these shares are similarities, not trained probabilities.
SHOWN_TEMPERATURE = 0.08
#: How many examples a label name counts for in a class's point, where the names mean something: on SIB topics
#: and UMSAB sentiment a name was worth 16 examples or more (bench/results/few_shot.md).
NAME_ROWS = 16
#: The names are used when they alone find the examples' classes more often than chance, at this p-value.
NAMES_P = 0.05


def unit(X: np.ndarray) -> np.ndarray:
    """Rows of ``X`` scaled to length 1 (zero rows stay zero)."""
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.where(norms > 0, norms, 1)


def soft_assignment(S: np.ndarray, temperature: float = TEMPERATURE) -> np.ndarray:
    """Rows of ``S`` (similarities) as shares summing to 1: a softmax at ``temperature``."""
    A = np.exp((S - S.max(axis=1, keepdims=True)) / temperature)
    return A / A.sum(axis=1, keepdims=True)


def centred_by_language(
    X: np.ndarray, languages: Sequence[str], fallback: np.ndarray, own: Sequence[str] | None = None
) -> np.ndarray:  # fmt: skip
    """``X`` with each language's centre taken out: its own rows' mean for the languages in ``own`` (default:
    those with :data:`LANGUAGE_ROWS` rows), ``fallback`` for the others."""
    languages = np.asarray(languages, dtype=object)
    out = X - fallback
    values, counts = np.unique(languages, return_counts=True)
    for lang in values[counts >= LANGUAGE_ROWS] if own is None else own:
        rows = languages == lang
        out[rows] = X[rows] - X[rows].mean(axis=0)
    return out


@dataclass(frozen=True)
class Comparison:
    """Texts compared with class points, and what the comparison did."""

    S: np.ndarray  # (n, k) similarities
    own: list[str]  # languages compared from their own centre
    leaning: dict[str, tuple[int, float]]  # languages that were not: the class most of their rows lean to, share
    refined: bool  # whether the class points moved to the texts


def lean_bound(k: int) -> float:
    """The share of a language's rows one of ``k`` classes may draw before that language's own average stops
    being its centre: halfway between an even spread and all rows."""
    return 1 / k + 0.5 * (1 - 1 / k)


def similarities(X: np.ndarray, languages: Sequence[str], points: np.ndarray, fallback: np.ndarray) -> Comparison:
    """Each row of ``X`` against each class point (:class:`Comparison`).

    A language's own centre is taken out where it has :data:`LANGUAGE_ROWS` different texts whose classes, as
    they lean from ``fallback`` (the comparison without any language's own centre), are spread: no class draws
    more than :func:`lean_bound` of them. A file of one topic has that topic for its average, and taking it out
    would take out what the texts say: of SIB-200's science rows alone (each language a file) 0.16 were found
    without this guard, 0.77 with it; a file two-thirds science still loses (0.53 against 0.65 for the naive
    comparison): ``bench/results/zero_shot.md``. Then, with :data:`REFINE_ROWS` rows per class, each class's point
    moves once to the texts that lean to it, its own point counting as :data:`NAME_ROWS` of them (so a class few
    texts lean to stays near its point).
    """
    X = np.asarray(X, dtype=np.float64)
    languages = np.asarray(languages, dtype=object)
    k = len(points)
    leans = (unit(X - fallback) @ points.T).argmax(axis=1)
    own, leaning = [], {}
    for lang in sorted(set(languages.tolist())):
        rows = languages == lang
        if rows.sum() < LANGUAGE_ROWS or len({x.tobytes() for x in X[rows]}) < LANGUAGE_ROWS:
            continue
        counts = np.bincount(leans[rows], minlength=k)
        if counts.max() / rows.sum() <= lean_bound(k):
            own.append(lang)
        else:
            leaning[lang] = (int(counts.argmax()), float(counts.max() / rows.sum()))
    Xc = unit(centred_by_language(X, languages, fallback, own))
    S = Xc @ points.T
    if len(X) < REFINE_ROWS * k:
        return Comparison(S, own, leaning, False)
    centres = soft_assignment(S).T @ Xc + NAME_ROWS * points
    return Comparison(Xc @ unit(centres).T, own, leaning, True)


def name_vectors(names: Sequence[str], encoder, descriptions: dict[str, str] | None = None) -> np.ndarray:
    """(len(names), dim) unit vectors: each name in :data:`TEMPLATE`, plus its description's where one is given.

    Both sides of a comparison get the model's *query* prompt (E5's convention for symmetric tasks; its
    *passage* prompt on the label side measured worse on both benchmarks: ``bench/results/zero_shot.md``).
    """
    from .encoders import embed

    descriptions = descriptions or {}
    vectors = embed([TEMPLATE.format(n) for n in names], encoder).embeddings.astype(np.float64)
    described = [i for i, n in enumerate(names) if n in descriptions]
    if described:
        vectors[described] += embed([descriptions[names[i]] for i in described], encoder).embeddings
    return unit(vectors)


def class_points(
    X: np.ndarray, targets: np.ndarray, n_classes: int, languages: Sequence[str], names: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, int]:
    """Each class's point from its examples ``X`` (``targets``: class indices), centred as texts are: (points
    (k, dim), the examples' overall centre (a fallback for texts too few to give their own), how many examples
    each name counted for: :data:`NAME_ROWS` where the names mean something here, 0 without ``names`` or where
    they do not (:func:`names_mean_something`))."""
    X = np.asarray(X, dtype=np.float64)
    centre = X.mean(axis=0)
    Xc = unit(centred_by_language(X, languages, centre))
    points = np.zeros((n_classes, X.shape[1]))
    np.add.at(points, targets, Xc)
    name_rows = NAME_ROWS if names is not None and names_mean_something(Xc, targets, names) else 0
    if name_rows:
        points += name_rows * names
    return unit(points), centre, name_rows


def names_mean_something(Xc: np.ndarray, targets: np.ndarray, names: np.ndarray) -> bool:
    """Whether the label names alone find the examples' classes (``Xc``: centred unit vectors) more often than
    always guessing the largest class would, beyond chance (one-sided binomial test, p < :data:`NAMES_P`; with too
    few examples for the test to pass at all, more often than that guess would on average).

    Names such as "0", "1", "2" (or names swapped between classes) find no more than chance, and would only
    pull the examples' points together: they are left out.
    """
    from scipy.stats import binom

    hits = int(np.sum((Xc @ names.T).argmax(axis=1) == targets))
    guess = np.bincount(targets).max() / len(targets)
    if binom.sf(len(targets) - 1, len(targets), guess) >= NAMES_P:  # too few examples for any evidence: lean
        return hits > guess * len(targets)  # on whether the names do better than the guess would on average
    return bool(binom.sf(hits - 1, len(targets), guess) < NAMES_P)


__all__ = [
    "LANGUAGE_ROWS",
    "NAMES_P",
    "NAME_ROWS",
    "REFINE_ROWS",
    "SHOWN_TEMPERATURE",
    "TEMPERATURE",
    "TEMPLATE",
    "Comparison",
    "centred_by_language",
    "class_points",
    "lean_bound",
    "name_vectors",
    "names_mean_something",
    "similarities",
    "soft_assignment",
    "unit",
]
