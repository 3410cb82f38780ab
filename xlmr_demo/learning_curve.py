"""How many more rows? The learning curve of the data at hand, read forward.

The same head is trained again on a quarter, a half and three quarters of the training rows (each class
sampled alike, seeded, meaning groups kept whole) and measured on the same rows as the headline. Macro-F1
against the training rows per class is fitted as ``a + b * log(rows)`` (over the four points, the last one
the headline's own): each doubling of the rows has added about ``b * log 2``. Read forward, that says roughly how
many rows per class the next few points would take, and the same fit per language and per class says where
new rows would pay most. Extrapolation is rough by nature (curves flatten): the page says so and gives the
points it rests on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .dataset import Dataset, strata_of
from .metrics import measure
from .progress import Progress, Step

FRACTIONS = (0.25, 0.5, 0.75)
#: The gains the page prices: the next 2 and 5 points of macro-F1.
GAINS = (0.02, 0.05)
#: A curve rising less than this per doubling of the rows is flat: more of the same rows will not help much.
FLAT = 0.005
#: A class or language is priced when each point of its curve rests on at least this many measured rows.
MIN_ROWS = 20


@dataclass(frozen=True)
class Curve:
    """Scores at growing training sizes, and the fit ``score = a + b * log(rows per class)``."""

    rows: list[float]  # training rows per class (the median class) at each point
    scores: list[float]
    per_doubling: float  # b * log 2: what doubling the rows added
    noise: float = 0.0  # half the width of the last score's 95% interval

    @property
    def readable(self) -> bool:
        """Whether the curve rises, and by more than the noise of one point: else reading it forward says
        nothing (four points that go up and down within the interval of each)."""
        return self.per_doubling >= FLAT and self.scores[-1] - self.scores[0] > self.noise

    def rows_for(self, gain: float) -> float | None:
        """Rows per class for ``gain`` more than the last point (None where the curve is not :attr:`readable`)."""
        if not self.readable:
            return None
        return float(self.rows[-1] * 2 ** (gain / self.per_doubling))

    def to_json(self) -> dict:
        return {
            "rows_per_class": [round(r, 1) for r in self.rows],
            "scores": [round(s, 4) for s in self.scores],
            "per_doubling": round(self.per_doubling, 4),
            "noise": round(self.noise, 4),
            "readable": self.readable,
            **{f"rows_per_class_for_{round(g * 100)}_points": _rounded(self.rows_for(g)) for g in GAINS},
        }


def _rounded(value: float | None) -> int | None:
    return None if value is None else round(value)


def fit_curve(rows: Sequence[float], scores: Sequence[float], interval: Sequence[float] | None = None) -> Curve:
    """The least-squares fit of ``scores`` on ``log(rows)``; ``interval``: the last score's 95% interval."""
    x, y = np.log(np.asarray(rows, dtype=float)), np.asarray(scores, dtype=float)
    slope = float(np.polyfit(x, y, 1)[0]) if len(set(x.tolist())) > 1 else 0.0
    noise = (interval[1] - interval[0]) / 2 if interval else 0.0
    return Curve(list(map(float, rows)), list(map(float, y)), slope * float(np.log(2)), float(noise))


def subsample(dataset: Dataset, train: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """``fraction`` of the ``train`` rows, each meaning group whole, each class sampled alike (a group counts for
    its rows' most common class; with several labels per row, each row's rarest label), seeded."""
    strata = np.asarray(strata_of(dataset), dtype=object)[train]
    groups = np.asarray(dataset.groups, dtype=object)[train]
    members: dict[str, list[int]] = {}
    for k, g in enumerate(groups.tolist()):
        members.setdefault(g, []).append(k)
    by_stratum: dict[str, list[str]] = {}
    for g, rows in members.items():
        by_stratum.setdefault(Counter(strata[rows].tolist()).most_common(1)[0][0], []).append(g)
    rng = np.random.default_rng(seed)
    keep = []
    for stratum in sorted(by_stratum):
        units = by_stratum[stratum]
        for i in rng.permutation(len(units))[: max(1, round(fraction * len(units)))]:
            keep += members[units[i]]
    return train[np.sort(keep)]


def learning_curve(
    dataset: Dataset,
    evaluation: tuple[Sequence, Sequence[str]],
    fit_and_predict: Callable[[np.ndarray], list],
    headline: dict,
    seed: int = 0,
    progress: Progress | None = None,
    also_learnt: np.ndarray | None = None,
) -> dict:
    """The learning curve of ``dataset``'s training rows: ``fit_and_predict(rows)`` trains the head on those
    training rows and predicts the measured rows, whose truth and languages ``evaluation`` holds; the last point
    is ``headline`` (their metrics, all the training rows). Overall, per language, per class. ``also_learnt``: rows
    the head learns from besides the training rows (a prototypes head's validation rows), counted in the sizes."""
    extra = np.zeros(0, dtype=np.int64) if also_learnt is None else also_learnt
    train = dataset.indices("train")
    truth, languages = evaluation
    labels = headline["labels"]
    points, sizes = [], []
    for k, fraction in enumerate(FRACTIONS):
        if progress:
            progress(Step("how many more rows", k, len(FRACTIONS)))
        rows = subsample(dataset, train, fraction, seed)
        points.append(measure(list(truth), fit_and_predict(rows), labels, list(languages), None, seed))
        sizes.append(_per_class(dataset, np.concatenate([rows, extra])))
    points.append(headline)
    sizes.append(_per_class(dataset, np.concatenate([train, extra])))
    if progress:
        progress(Step("how many more rows", len(FRACTIONS), len(FRACTIONS)))
    overall = fit_curve(sizes, [p["macro_f1"] for p in points], headline.get("macro_f1_ci"))
    per_language = {
        lang: fit_curve(sizes, [p["per_language"][lang]["macro_f1"] for p in points], v.get("macro_f1_ci"))
        for lang, v in headline.get("per_language", {}).items()
        if v["n"] >= MIN_ROWS and all(lang in p.get("per_language", {}) for p in points)
    }
    per_class = {
        c: fit_curve(sizes, [p["per_class"][c]["f1"] for p in points], v.get("f1_ci"))
        for c, v in headline["per_class"].items()
        if v["support"] >= MIN_ROWS
    }
    return {
        "overall": overall.to_json(),
        "per_language": {k: v.to_json() for k, v in per_language.items()},
        "per_class": {k: v.to_json() for k, v in per_class.items()},
    }


def _per_class(dataset: Dataset, rows: np.ndarray) -> float:
    """Training rows per class, the median class (each label of a row counting for it)."""
    targets = dataset.targets
    counts = Counter(label for i in rows for label in (targets[i] if dataset.multi_label else (targets[i],)))
    return float(np.median(list(counts.values())))


__all__ = ["FRACTIONS", "Curve", "fit_curve", "learning_curve", "subsample"]
